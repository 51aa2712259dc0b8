"""pick(): particle centres from a segmentation, located in the image and scored by the ice model.

Particles are compact non-ice blobs inside ice. The candidates are located at
pixel level on the working image (:mod:`icestat.candidates`: the local maxima
of a Laplacian of Gaussian at the particle's scale, turned to the particles'
polarity, in robust standard deviations of the whole image, at least
``MIN_CONTRAST`` high), so touching particles, which the patch-based
probability map merges into one region, are still told apart; on a crowded
micrograph, at a somewhat smaller scale (``CROWDED_LOCATING_FACTOR``).

Each candidate's score, in [0, 1], weighs what the image shows against what
the ice model says. Its model score is the mean particle evidence over the
core of the particle (half its radius), times the probability that the disk
around it is neither carbon nor contamination. The particle evidence is the
mean of the segmentation's (refined) particle probability and the patch
classifier's (:func:`icestat.evidence.particle_evidence`): the boundary refiner places
particles at pixel level, but on a specimen it never saw it can erase faint
ones that the patches see (benchmarks/results/specimen_transfer.md). Its contrast
score rises linearly from 0 at ``MIN_CONTRAST`` robust standard deviations to
1 at the median contrast of the micrograph's candidates that the model is sure
of (model score at least ``SURE_MODEL_SCORE``; never below
``FULL_CONTRAST``), so a candidate is judged against the particles of its own
micrograph. The score is their weighted geometric mean, the contrast weighing
``CONTRAST_WEIGHT``: on a specimen it never saw, the model's particle
probability is miscalibrated (a median of 0.12 on the TRPV1 particles of
EMPIAR-10059 with the recipe retrained without them, 0.81 on the false
candidates in the ice of EMPIAR-10017 without those), while the contrast at the
particle's scale needs no knowledge of the specimen; the model still ranks the
candidates and vetoes those it is sure are not particles
(benchmarks/results/picking.md). Where it is unsure of the candidates that
stand out most, its scores are scaled up to the micrograph
(:func:`calibrated_model_score`). Candidates whose disk is mostly carbon or
contamination, closer than a radius to the micrograph's edge, or too faint to
tell from what the image's white noise alone makes (:func:`icestat.candidates.too_faint`: what
keeps a micrograph of nothing but ice, whose relative contrast and model scores
look like anyone's, free of picks) are rejected; the rest at or above the
threshold are the picks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import ndimage

from icestat.candidates import (MIN_CONTRAST, candidate_peaks, near_edge_at, particle_response, robust_z,
                                signal_to_noise, too_faint)
from icestat.classes import CARBON, CONTAMINATION
from icestat.coords import pick_table
from icestat.diameter import CROWDED_WARNING, estimate_diameter_px, is_crowded, spacing_bound_px
from icestat.evaluate import check_threshold, scored_at_least
from icestat.evidence import particle_evidence
from icestat.polarity import check_polarity
from icestat.segment import Segmentation
from icestat.settings import check_particle_diameter_px

log = logging.getLogger(__name__)

#: Default score threshold of :func:`pick`.
DEFAULT_THRESHOLD = 0.3
#: Picks (at the default threshold) whose disks of the particle's diameter would cover more than this share of the
#: micrograph make it crowded: touching particles, whose responses at the particle's scale run together ...
CROWDED_PICK_AREA = 0.45
#: ... so its candidates are located again at this many times the diameter, the rest of picking unchanged but for the
#: narrower disks it judges them on (the diameter reported is the one given or estimated). Simulated micrographs
#: crowded with 150 Å particles (their picks covering 0.55 of the field; 0.9): F1 0.986 / 0.985 -> 1.000 / 0.991
#: and 0.926 / 0.928 -> 0.951 / 0.960. picking.md: EMPIAR-10059 (crowded TRPV1) held out 0.775 -> 0.819 (own
#: estimated diameter 0.752 -> 0.800), its specimen held out 0.731 -> 0.747 (0.731 -> 0.740); every other row within
#: 0.001 (10017, whose picks at its masks' diameter cover 0.37-0.48, too), no picks on empty ice; and a diameter
#: given too wide costs less, as its picks then cover more: 1.3 times the true one, 10017 held out 0.765 -> 0.834,
#: simulations 0.958 -> 0.975 (benchmarks/README.md). Located so everywhere, 10017 and 10028 lost 0.02 each.
CROWDED_LOCATING_FACTOR = 0.85
#: Columns of :attr:`Picks.candidates`.
CANDIDATE_COLUMNS = ("x_px", "y_px", "contrast_sd", "signal_to_noise", "particle_evidence", "carbon_probability",
                     "contamination_probability", "model_score", "score", "rejected")
#: A candidate has the full contrast score from the median contrast of the candidates with at least this model
#: score on ...
SURE_MODEL_SCORE = 0.5
#: ... or from this contrast, where that median is lower or there are no such candidates.
FULL_CONTRAST = 2.5
#: Weight of the contrast score in a candidate's score (a weighted geometric mean); the model score has the rest.
#: Chosen on a grid (0.5-0.85) at the default threshold with one specimen left out at a time (its two rows: the
#: shipped model on its held-out micrographs, the recipe retrained without it): the weight best on the others beat
#: 1/2 on the specimen never seen every time; at 2/3, specimen held out 10017 0.836 -> 0.839, 10028 0.815 -> 0.827,
#: 10059 0.692 -> 0.721, simulations 0.982 -> 0.989, for a little less on held-out micrographs of specimens the
#: model knows (10017 -0.003, 10028 -0.002, 10059 -0.018: the model knows them better than their contrast shows).
#: It had been 1/2 because more weight on the contrast put hundreds of picks on empty ice, which
#: ``MIN_SIGNAL_TO_NOISE`` (now :data:`icestat.candidates.MAX_FALSE_DISCOVERY_RATE`) keeps off (benchmarks/README.md).
CONTRAST_WEIGHT = 2 / 3
#: The particle evidence is averaged over a disk of this many radii around a candidate.
CORE_RADII = 0.5
#: A candidate is rejected when the mean probability of carbon or contamination over its disk is above this.
MAX_EXCLUDED_PROBABILITY = 0.5
#: The model does not see particles within about one of its patches of carbon film (its patches there overlap the
#: film): on simulated micrographs with 30 % film, the particle evidence at the true centres had a median of 0.04
#: within 0.7 particle diameters of the film, 0.25 at 1-1.4 and 0.55-0.60 beyond 2 (150 Å particles, 32-px patches
#: of 211 px), and 3-6 % of the particles went unpicked. Candidates closer to the film than this many patches take,
#: at least, the median particle evidence of the micrograph's candidates twice as far or farther, so that their
#: contrast decides (:func:`lifted_beside_film`): F1 on five such micrographs 0.968 -> 0.987 (a hole's rim) and
#: 0.975 -> 0.986 (a straight edge), precision 1.00 (benchmarks/results/specimen_conditions.md), picking.py's fresh
#: simulations 0.989 -> 0.994, no more picks on simulated empty ice beside film, ../shared/data within 0.001
#: (benchmarks/README.md). Contamination shadows them too, and so does opaque gold foil, which the model calls
#: contamination where it is the minority: lifted beside contamination as well, five simulations with 30 % gold foil
#: 0.951 -> 0.984 (recall 0.91 -> 0.97), with three contamination blobs 0.983 either way, and the raw micrograph with
#: contamination 6-7 more picks of 600 (20 px), none on contamination (benchmarks/results/contamination.md).
FILM_SHADOW_PATCHES = 1.0


@dataclass(frozen=True, eq=False)
class Picks:
    """The picks of one micrograph.

    Attributes
    ----------
    table : DataFrame
        Pick table (:mod:`icestat.coords`): ``x_px, y_px, score, diameter_px, micrograph``,
        centres in pixels of the original micrograph, highest score first.
    diameter_px : float
        Particle diameter used, in original pixels (NaN when it could not be estimated); an estimate is
        used bounded by its picks' spacing (:func:`pick`).
    diameter_estimated : bool
        True when the diameter was estimated (from the particle evidence and the picks' spacing) rather than given.
    n_rejected : dict of str to int
        Candidates rejected for lying on ``carbon`` or ``contamination``, too
        near the ``edge``, or for being too ``faint`` to tell from noise (each
        counted under the first of these that applies).
    polarity : {"dark", "bright"}
        Whether the particles were taken as darker or brighter than the ice (as
        said, or as ``auto`` judged it); empty when nothing was picked for
        want of a diameter.
    bright_balance : float
        What ``auto`` judged the image by (:func:`icestat.polarity.bright_balance`):
        above :data:`~icestat.polarity.MIN_BRIGHT_BALANCE` the image looks
        inverted (particles brighter than the ice). NaN when the polarity was
        said or nothing was judged.
    candidates : DataFrame
        Why each candidate was picked or not, highest score first (``CANDIDATE_COLUMNS``): its centre in pixels
        of the original micrograph (``x_px``, ``y_px``); its contrast in robust standard deviations of the
        locating response (``contrast_sd``) and its height over the image's white noise (``signal_to_noise``,
        NaN where it was rejected before that was asked); its mean particle evidence over its core
        (``particle_evidence``, raised beside film: :func:`lifted_beside_film`) and the mean probability of
        carbon and of contamination over its disk (``carbon_probability``, ``contamination_probability``); its
        model score, calibrated to the micrograph (``model_score``: :func:`calibrated_model_score`), and its
        ``score`` (:func:`candidate_score`); and ``rejected``, the reason it was left out whatever its score
        (``carbon``, ``contamination``, ``edge``, ``faint``: as counted in `n_rejected`), or empty. The picks are
        those not rejected whose score is at least the threshold.
    locating_diameter_px : float
        The diameter, in original pixels, whose scale the candidates were located at: `diameter_px`, or
        ``CROWDED_LOCATING_FACTOR`` times it on a crowded micrograph (:func:`pick`).
    """

    table: pd.DataFrame
    diameter_px: float
    diameter_estimated: bool
    n_rejected: dict[str, int]
    polarity: str
    bright_balance: float
    candidates: pd.DataFrame
    locating_diameter_px: float

    def __len__(self) -> int:
        return len(self.table)


def pick(segmentation: Segmentation, diameter_px: float | None = None,
         threshold: float = DEFAULT_THRESHOLD, polarity: str = "auto", warn_if_crowded: bool = True,
         diameter_estimated: bool = False) -> Picks:
    """Pick particles from a segmentation.

    Parameters
    ----------
    segmentation : Segmentation
        From :func:`icestat.segment.segment`.
    diameter_px : float, optional
        Particle diameter in pixels of the original micrograph; estimated from
        the widths of the bumps of particle evidence when None
        (:func:`icestat.diameter.estimate_diameter_px`), unless
        `diameter_estimated` says that was done already. An estimate wider
        than the median spacing of the picks it makes at the default threshold
        (:func:`icestat.diameter.spacing_bound_px`: touching particles,
        whose bumps of evidence merge) is replaced by that spacing, and the
        micrograph picked again with it; a diameter given is used as given. On a
        micrograph its picks would crowd (more than ``CROWDED_PICK_AREA`` of it
        covered), candidates are located at ``CROWDED_LOCATING_FACTOR`` of the
        diameter, which is still the one reported (as are the polarity and the
        balance judged at the particle's own scale).
    threshold : float
        Lowest score kept, in [0, 1].
    polarity : {"auto", "dark", "bright"}
        The particles are darker than the ice (a raw micrograph) or brighter
        (an inverted one); ``auto``: bright where the image's blobs at the
        particles' scale are mostly bright ones
        (:func:`icestat.polarity.judge_polarity`). An inverted micrograph is
        better segmented negated, as the model learnt bright-field images:
        :func:`icestat.bright_field.segment_and_pick` does that.
    warn_if_crowded : bool
        Log a warning when the diameter is estimated on a crowded micrograph
        (:func:`icestat.diameter.is_crowded`), where the
        estimate is unreliable. False where the caller settles such micrographs
        itself (a batch picks them again with the run's diameter).
    diameter_estimated : bool
        `diameter_px` is an estimate already made
        (:func:`icestat.diameter.segment_at_estimated_diameter`): reported as
        estimated, and warned about on a crowded micrograph, as one made here;
        None with this True: that estimate found none, so nothing is picked
        (and it is not made again).

    Returns
    -------
    Picks

    Raises
    ------
    ValueError
        If `diameter_px` is not positive or wider than the micrograph, `threshold` is outside [0, 1] or
        `polarity` is not one of :data:`icestat.polarity.POLARITIES`.
    """
    check_particle_diameter_px(diameter_px, segmentation.working.original_shape)
    check_threshold(threshold)
    check_polarity(polarity)
    estimated = diameter_px is None or diameter_estimated
    if diameter_px is None:
        diameter_px = float("nan") if diameter_estimated else estimate_diameter_px(segmentation)
    lowest_threshold = min(threshold, DEFAULT_THRESHOLD)   # the bound below is judged at the default threshold
    located = _located(segmentation, diameter_px, estimated, lowest_threshold, polarity)
    if estimated:
        at_default = scored_at_least(located.table, DEFAULT_THRESHOLD)
        bound_px = spacing_bound_px(at_default["x_px"], at_default["y_px"])
        if bound_px < diameter_px:
            diameter_px = bound_px
            located = _located(segmentation, diameter_px, estimated, lowest_threshold, polarity)
        particle_fraction = segmentation.class_fractions()["particle"]   # as summary.csv reports it
        if warn_if_crowded and np.isfinite(diameter_px) and is_crowded(particle_fraction):
            log.warning(CROWDED_WARNING, segmentation.name, 100 * particle_fraction, diameter_px)
    if picks_area_fraction(located.table, segmentation.working.original_shape) > CROWDED_PICK_AREA:
        judged = located   # the polarity as judged at the particle's own scale
        located = _located(segmentation, CROWDED_LOCATING_FACTOR * diameter_px, estimated, lowest_threshold,
                           judged.polarity)
        located = replace(located, table=located.table.assign(diameter_px=diameter_px), diameter_px=diameter_px,
                          bright_balance=judged.bright_balance)
    return replace(located, table=scored_at_least(located.table, threshold).reset_index(drop=True))


def picks_area_fraction(table: pd.DataFrame, shape: tuple[int, int]) -> float:
    """The share of a micrograph of `shape` that the picks of `table` scoring at least ``DEFAULT_THRESHOLD`` would
    cover, each a disk of its diameter (overlaps counted twice; 0 where the diameter is unknown).

    Examples
    --------
    >>> table = pd.DataFrame({"score": [0.9, 0.5, 0.1], "diameter_px": 20.0})   # two picks at the default threshold
    >>> round(picks_area_fraction(table, (40, 50)), 3)   # 2 * pi * 10**2 / 2000
    0.314
    """
    at_default = scored_at_least(table, DEFAULT_THRESHOLD)
    disks = float(np.nansum(np.pi / 4 * at_default["diameter_px"].to_numpy(dtype=np.float64) ** 2))
    return disks / (shape[0] * shape[1])


def _located(segmentation: Segmentation, diameter_px: float, estimated: bool, threshold: float,
             polarity: str) -> Picks:
    """The picks of :func:`pick` with this diameter (no picks where it is NaN or under 2 working pixels)."""
    working = segmentation.working
    radius_working_px = diameter_px / 2 / float(np.mean(working.scale))
    if not np.isfinite(radius_working_px) or radius_working_px < 1:
        return Picks(_empty_table(segmentation.name), float(diameter_px), estimated, _no_rejections(), "",
                     float("nan"), pd.DataFrame(columns=list(CANDIDATE_COLUMNS)), float(diameter_px))
    probabilities = segmentation.working_probabilities
    evidence = particle_evidence(segmentation)
    film = probabilities[CARBON] > MAX_EXCLUDED_PROBABILITY
    response, contrast, polarity, balance = locating_contrast(segmentation, radius_working_px, polarity, film)
    rows, cols = candidate_peaks(contrast, radius_working_px)
    particle = _disk_mean_at(evidence, rows, cols, CORE_RADII * radius_working_px)
    if segmentation.features is not None:   # the patches it was made with
        excluded_region = film | (probabilities[CONTAMINATION] > MAX_EXCLUDED_PROBABILITY)
        particle = lifted_beside_film(particle, rows, cols, excluded_region, segmentation.features.grid.patch_px)
    carbon = _disk_mean_at(probabilities[CARBON], rows, cols, radius_working_px)
    contamination = _disk_mean_at(probabilities[CONTAMINATION], rows, cols, radius_working_px)
    y_px, x_px = working.to_original_px(rows, cols)
    radius_px = diameter_px / 2
    on_carbon = carbon > MAX_EXCLUDED_PROBABILITY
    on_contamination = ~on_carbon & (contamination > MAX_EXCLUDED_PROBABILITY)
    near_edge = near_edge_at(y_px, x_px, working.original_shape, radius_px, working.frame_border)
    excluded = on_carbon | on_contamination
    faint = np.zeros_like(near_edge)
    tested = ~excluded & ~near_edge
    height = np.full(len(rows), np.nan)
    height[tested] = signal_to_noise(response[rows[tested], cols[tested]], working.data, radius_working_px,
                                     working.scale)
    faint[tested] = too_faint(height[tested])
    eligible = tested & ~faint
    contrast_sd = contrast[rows, cols]
    model_score = calibrated_model_score(contrast_sd, particle * (1.0 - carbon - contamination), eligible)
    score = np.clip(_combined_score(contrast_sd, model_score), 0, 1)
    rejected = np.select([on_carbon, on_contamination, near_edge, faint], ["carbon", "contamination", "edge", "faint"],
                         "")
    n_rejected = {reason: int((rejected == reason).sum()) for reason in _no_rejections()}
    order = np.argsort(-score, kind="stable")
    candidates = pd.DataFrame(dict(zip(CANDIDATE_COLUMNS, (
        x_px, y_px, contrast_sd, height, particle, carbon, contamination, model_score, score, rejected))))
    candidates = candidates.iloc[order].reset_index(drop=True)
    keep = candidates[(candidates["rejected"] == "") & (candidates["score"] >= threshold)]
    table = pick_table(keep["x_px"], keep["y_px"], score=keep["score"], diameter_px=diameter_px,
                       micrograph=segmentation.name)
    return Picks(table, float(diameter_px), estimated, n_rejected, polarity, balance, candidates, float(diameter_px))


def locating_contrast(segmentation: Segmentation, radius_working_px: float, polarity: str = "auto",
                      film: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, str, float]:
    """The response :func:`pick` locates candidates on, on the working image of `segmentation`.

    Returns the response (:func:`icestat.candidates.particle_response`, with
    ``auto`` polarity judged away from the carbon film the segmentation sees,
    `film`, made here when not given), the same in robust standard deviations
    of the image (:func:`icestat.candidates.robust_z`), the polarity and the
    balance it was judged by.
    """
    if film is None:
        film = segmentation.working_probabilities[CARBON] > MAX_EXCLUDED_PROBABILITY
    response, polarity, balance = particle_response(segmentation.working.data, radius_working_px, polarity,
                                                    carbon=film)
    return response, robust_z(response), polarity, balance


def lifted_beside_film(particle: np.ndarray, rows: np.ndarray, cols: np.ndarray, film: np.ndarray,
                       patch_px: float) -> np.ndarray:
    """Candidates' particle evidence, raised beside film (carbon or contamination) to what the model gives candidates
    away from it.

    Parameters
    ----------
    particle : ndarray (n,)
        Each candidate's particle evidence.
    rows, cols : ndarray (n,) of int
        The candidates, in working pixels.
    film : ndarray (h, w) of bool
        Where the segmentation has carbon film or contamination.
    patch_px : float
        Side of the model's patches, in working pixels.

    Returns
    -------
    ndarray (n,)
        `particle`, where candidates less than ``FILM_SHADOW_PATCHES`` patches
        from the film have at least the median of those twice as far or
        farther (unchanged where there is no film or no such candidate).

    Examples
    --------
    >>> film = np.zeros((10, 100), dtype=bool); film[:, 90:] = True
    >>> lifted_beside_film(np.array([0.6, 0.8, 0.1, 0.9]), np.array([5, 5, 5, 5]), np.array([5, 10, 80, 85]),
    ...                    film, 16).tolist()   # the last two within a patch of the film, the first two far from it
    [0.6, 0.8, 0.7, 0.9]
    """
    if not film.any() or not len(rows):
        return particle
    distance_px = ndimage.distance_transform_edt(~film)[rows, cols]
    near = distance_px < FILM_SHADOW_PATCHES * patch_px
    far = distance_px >= 2 * FILM_SHADOW_PATCHES * patch_px
    if not far.any():
        return particle
    return np.where(near, np.maximum(particle, np.median(particle[far])), particle)


def candidate_score(contrast: np.ndarray, model_score: np.ndarray, eligible: np.ndarray | None = None) -> np.ndarray:
    """Scores in [0, 1] of one micrograph's candidates from their `contrast` (robust SDs) and `model_score` ([0, 1]).

    The weighted geometric mean of the contrast score (weight ``CONTRAST_WEIGHT``)
    and the model score, calibrated to the micrograph
    (:func:`calibrated_model_score`, judged on the `eligible` candidates: those
    not rejected otherwise; all when None). The contrast score is 0 at
    ``MIN_CONTRAST`` and 1 from the median contrast of the candidates with a
    model score of at least ``SURE_MODEL_SCORE`` on (``FULL_CONTRAST`` where
    that is lower or there is no such candidate), linear in between.

    Examples
    --------
    >>> contrast, model_score = np.array([2.0, 9.0, 9.0, 9.0, 3.0]), np.array([0.9, 0.9, 0.9, 0.0, 0.4])
    >>> candidate_score(contrast, model_score).round(3).tolist()   # full contrast from 9, the sure ones' median
    [0.159, 0.965, 0.965, 0.0, 0.252]
    >>> candidate_score(np.array([2.0, 3.0]), np.array([0.05, 0.05])).round(3).tolist()   # an unsure model: from 2.5
    [0.5, 0.794]
    """
    return _combined_score(contrast, calibrated_model_score(contrast, model_score, eligible))


def _combined_score(contrast: np.ndarray, model_score: np.ndarray) -> np.ndarray:
    """:func:`candidate_score` of model scores calibrated already."""
    contrast = np.asarray(contrast, dtype=np.float64)
    sure = contrast[model_score >= SURE_MODEL_SCORE]
    full_contrast = max(FULL_CONTRAST, float(np.median(sure))) if len(sure) else FULL_CONTRAST
    contrast_score = np.clip((contrast - MIN_CONTRAST) / (full_contrast - MIN_CONTRAST), 0.0, 1.0)
    return contrast_score ** CONTRAST_WEIGHT * model_score ** (1.0 - CONTRAST_WEIGHT)


def calibrated_model_score(contrast: np.ndarray, model_score: np.ndarray,
                           eligible: np.ndarray | None = None) -> np.ndarray:
    """One micrograph's model scores, scaled up where the model is unsure of the candidates that stand out most.

    Where the median model score of the `eligible` candidates (all when None;
    :func:`pick` leaves out those on carbon, contamination, the edge or too
    faint, which the model rightly doubts) with at least
    ``FULL_CONTRAST`` is above 0 but below ``SURE_MODEL_SCORE``, every score
    is multiplied so that the median reaches it (then clipped to 1); otherwise
    the scores are as given. A model that never saw a specimen answers its
    particles weakly on every micrograph, so its probabilities rank the
    candidates but their level is off: with the recipe retrained without
    EMPIAR-10059, that median was 0.26-0.46 on its faint TRPV1 micrographs,
    against 0.60-0.76 on those of 10017 and 10028 whether or not the model knew
    them (F1 on 10059 0.727 -> 0.739; every other group of
    benchmarks/pick_sensitivity.py within 0.001, as many picks on empty ice;
    benchmarks/README.md). The contrast score is likewise judged against the
    micrograph's own candidates.

    Examples
    --------
    >>> calibrated_model_score(np.array([2.0, 3.0, 6.0]), np.array([0.05, 0.1, 0.2])).round(3).tolist()
    [0.167, 0.333, 0.667]
    >>> calibrated_model_score(np.array([2.0, 3.0, 6.0]), np.array([0.05, 0.6, 0.7])).tolist()   # sure: as given
    [0.05, 0.6, 0.7]
    """
    model_score = np.clip(np.asarray(model_score, dtype=np.float64), 0.0, 1.0)
    judged = np.asarray(contrast) >= FULL_CONTRAST
    if eligible is not None:
        judged &= np.asarray(eligible, dtype=bool)
    standing_out = model_score[judged]
    level = float(np.median(standing_out)) if len(standing_out) else SURE_MODEL_SCORE
    if 0 < level < SURE_MODEL_SCORE:
        return np.minimum(model_score * (SURE_MODEL_SCORE / level), 1.0)
    return model_score


def _disk_mean_at(values: np.ndarray, rows: np.ndarray, cols: np.ndarray, radius_px: float) -> np.ndarray:
    """Mean of `values` over the disk of `radius_px` around each pixel (rows, cols); edges repeat."""
    r = int(np.ceil(radius_px))
    dy, dx = np.nonzero(np.hypot(*np.mgrid[-r:r + 1, -r:r + 1]) <= radius_px)
    disk_rows = np.clip(rows[:, None] + (dy - r), 0, values.shape[0] - 1)
    disk_cols = np.clip(cols[:, None] + (dx - r), 0, values.shape[1] - 1)
    return values[disk_rows, disk_cols].mean(axis=1)


def _empty_table(name: str) -> pd.DataFrame:
    return pick_table([], [], micrograph=name)


def _no_rejections() -> dict[str, int]:
    return {"carbon": 0, "contamination": 0, "edge": 0, "faint": 0}
