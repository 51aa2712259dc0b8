"""pick(): particle centres from a segmentation, located in the image and scored by the ice model.

Particles are compact non-ice blobs inside ice. Centres are located at pixel
level on the working image: a scale-normalised Laplacian of Gaussian at the
particle's scale, turned so that particles answer positively (dark particles,
as in a raw micrograph, unless the caller says they are bright, or the response
is skewed towards bright blobs away from carbon and the model's particle
probability agrees), in robust standard deviations of the whole image.
Its local maxima at least ``MIN_DISTANCE_RADII`` radii apart and
``MIN_CONTRAST`` standard deviations high are the candidates. Touching
particles, which the patch-based probability map merges into one region, are
still told apart this way.

Each candidate's score, in [0, 1], weighs what the image shows against what
the ice model says. Its model score is the mean particle evidence over the
core of the particle (half its radius), times the probability that the disk
around it is neither carbon nor contamination. The particle evidence is the
mean of the segmentation's (refined) particle probability and the patch
classifier's (:func:`particle_evidence`): the boundary refiner places
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
(benchmarks/results/picking.md). Candidates whose disk is mostly carbon or
contamination, closer than a radius to the micrograph's edge, or less than
``MIN_SIGNAL_TO_NOISE`` standard deviations of the image's white noise high
(:func:`signal_to_noise`: what keeps a micrograph of nothing but ice, whose
relative contrast and model scores look like anyone's, nearly free of picks)
are rejected; the rest at or above the threshold are the picks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage, stats
from skimage.feature import peak_local_max
from skimage.measure import regionprops

from icestat.classes import CARBON, CONTAMINATION, PARTICLE
from icestat.coords import pick_table
from icestat.frame import FrameBorder
from icestat.scale_space import MAD_TO_SD, blob_noise_sd, blob_response, white_noise_sd
from icestat.segment import Segmentation

log = logging.getLogger(__name__)

#: Default score threshold of :func:`pick`.
DEFAULT_THRESHOLD = 0.3
#: Width of the locating Laplacian of Gaussian, in particle radii (narrower than the 1 / sqrt 2 that answers
#: most strongly to a disk of that radius, to tell touching particles apart).
SIGMA_RADII = 0.5
#: What :func:`pick` may be told of the particles: darker than the ice (a raw bright-field micrograph), brighter
#: (an inverted micrograph), or ``auto`` (``MIN_BRIGHT_SKEW`` and ``MIN_BRIGHT_AGREEMENT``).
POLARITIES = ("auto", "dark", "bright")
#: With polarity ``auto`` the particles are taken as bright only where the image and the model both say so. The
#: image: the response to bright blobs at the particles' scale, at least a particle radius from what the model
#: calls carbon, is skewed towards bright blobs by more than this (:func:`bright_skew`). In a bright-field
#: micrograph whatever scatters (protein, carbon, contamination) is darker than the ice, so the few pixels on
#: particles make the long tail of the response on the dark side, and inverted on the bright side: -0.13 to -1.25
#: on every micrograph of ../shared/data, +0.13 to +1.25 inverted (benchmarks/results/polarity.md). Contamination
#: is judged with the ice: a model that takes large particles for it would otherwise leave only the ice between
#: them, which looks like bright blobs. Carbon the model misses speaks louder than the particles (the rim of a hole
#: answers like a bright blob): +0.20 and +0.36 on two raw simulations of six with the shipped model, and the
#: models compare.py trains on real micrographs alone (no carbon) picked simulations with carbon at 0.40-0.56
#: instead of 0.83-0.98 when the image alone decided.
MIN_BRIGHT_SKEW = 0.1
#: ... judged on at least this many pixels (dark where fewer are left) ...
MIN_JUDGED_PX = 100
#: ... and the model: the correlation of that response with its particle probability, off carbon and
#: contamination (:func:`bright_agreement`), is above this (the shipped model: -0.14 to -0.49 on raw micrographs of
#: ../shared/data, -0.18 to -0.71 on raw simulations; -0.03 to +0.24 on inverted ones, which it answers weakly). A
#: model that barely saw the specimen answers +0.03 to +0.08 either way, and a model that leans bright where the
#: image clearly says dark (the U-Net compare.py trains on EMPIAR-10017, on 10028 and 10059: +0.10 to +0.30) is
#: overruled by the image.
MIN_BRIGHT_AGREEMENT = 0.1
#: Candidates at least this many particle radii apart survive non-maximum suppression.
MIN_DISTANCE_RADII = 0.75
#: Candidates answer at least this many robust standard deviations of the image's response ...
MIN_CONTRAST = 1.5
#: ... and have the full contrast score from the median contrast of the candidates with at least this model
#: score on ...
SURE_MODEL_SCORE = 0.5
#: ... or from this contrast, where that median is lower or there are no such candidates.
FULL_CONTRAST = 2.5
#: ... and stand at least this many standard deviations of the image's white noise at their scale above the median
#: response (:func:`signal_to_noise`): the contrast above is relative to the micrograph, and on a micrograph of
#: nothing but ice it finds as many candidates as anywhere. With the shipped model, candidates on simulated empty
#: ice stood 1.5-4.5 noise standard deviations high (picks per simulated 2048^2 micrograph 315-429 -> 4-13 with
#: this rule), the true picks of the faint, 8-bit EMPIAR-10059 3.4-13 (1 % of them under 3.5; F1 unchanged within
#: 0.002, also with the recipe retrained without it), those of 10028, 10017 (denoised) and of simulations with
#: particles over 13 (benchmarks/README.md).
MIN_SIGNAL_TO_NOISE = 3.5
#: Weight of the contrast score in a candidate's score (a weighted geometric mean); the model score has the rest.
#: Chosen on a grid (0.5-0.85) at the default threshold with one specimen left out at a time (its two rows: the
#: shipped model on its held-out micrographs, the recipe retrained without it): the weight best on the others beat
#: 1/2 on the specimen never seen every time; at 2/3, specimen held out 10017 0.836 -> 0.839, 10028 0.815 -> 0.827,
#: 10059 0.692 -> 0.721, simulations 0.982 -> 0.989, for a little less on held-out micrographs of specimens the
#: model knows (10017 -0.003, 10028 -0.002, 10059 -0.018: the model knows them better than their contrast shows).
#: It had been 1/2 because more weight on the contrast put hundreds of picks on empty ice, which
#: ``MIN_SIGNAL_TO_NOISE`` now keeps off (benchmarks/README.md).
CONTRAST_WEIGHT = 2 / 3
#: The particle evidence is averaged over a disk of this many radii around a candidate.
CORE_RADII = 0.5
#: Share of the segmentation's particle probability in the particle evidence; the patch classifier's has the rest.
#: With the recipe retrained without EMPIAR-10059, F1 on its faint TRPV1 particles was 0.50 from the refined map
#: alone, 0.70 with half of each, 0.75 from the patches alone; the patches alone lose 0.09-0.18 on simulations.
#: The price of the patches' share, before ``MIN_SIGNAL_TO_NOISE``: more picks on micrographs of nothing but ice
#: (with the shipped model 315-429 per simulated 2048^2 micrograph, 55-240 from the refined map alone;
#: benchmarks/results/specimen_transfer.md).
SEGMENTATION_SHARE = 0.5
#: A candidate is rejected when the mean probability of carbon or contamination over its disk is above this.
MAX_EXCLUDED_PROBABILITY = 0.5
#: Non-ice blobs used to estimate the diameter: at least this solid (area / convex area) ...
MIN_BLOB_SOLIDITY = 0.85
#: ... and at least this many working pixels ...
MIN_BLOB_AREA_PX = 12
#: ... and an equivalent diameter of at most this fraction of the working image's shorter side: wider is a region
#: labelled particle (a model calling most of a packed micrograph particle can make one solid region of it), not a
#: particle, and picking with its diameter would reject every candidate as too near the edge.
MAX_BLOB_SIDE_FRACTION = 1 / 3
#: A particle's outline over the equivalent diameter of its segmented blob. A globular particle's projected
#: thickness falls to zero towards its outline, so the segmentation keeps its thick core: with the shipped model
#: the blobs' median equivalent diameter was 0.71 of the hand-drawn particles' on EMPIAR-10017, 0.88 on 10028,
#: 0.73 on 10059 (micrographs it did not train on) and 0.75 on fresh simulations (benchmarks/results/picking.md).
BLOB_TO_PARTICLE_DIAMETER = 4 / 3
#: Where more than this fraction of a micrograph is labelled particle, the particles have merged into one region
#: and the diameter estimated from its blobs is unreliable (a warning says so).
CROWDED_PARTICLE_FRACTION = 0.5
#: In a run of micrographs of one specimen, those whose own estimate is more than this factor off the run's
#: diameter (:func:`run_diameter`) are picked with the run's: F1 is flat within about 0.8-1.15 of the true
#: diameter and falls beyond (benchmarks/results/picking.md).
RUN_DIAMETER_TOLERANCE = 1.2
#: What :func:`pick` logs (a warning) when it estimates the diameter on a crowded micrograph.
CROWDED_WARNING = ("%s: crowded (%.0f%% labelled particle), so the estimated particle diameter (%.0f px) is "
                   "unreliable; give the diameter")


@dataclass(frozen=True, eq=False)
class Picks:
    """The picks of one micrograph.

    Attributes
    ----------
    table : DataFrame
        Pick table (:mod:`icestat.coords`): ``x_px, y_px, score, diameter_px, micrograph``,
        centres in pixels of the original micrograph, highest score first.
    diameter_px : float
        Particle diameter used, in original pixels (NaN when it could not be estimated).
    diameter_estimated : bool
        True when the diameter was estimated from the non-ice blobs rather than given.
    n_rejected : dict of str to int
        Candidates rejected for lying on ``carbon`` or ``contamination``, too
        near the ``edge``, or for being too ``faint`` to tell from noise (each
        counted under the first of these that applies).
    polarity : {"dark", "bright"}
        Whether the particles were taken as darker or brighter than the ice (as
        said, or as ``auto`` judged it); empty when nothing was picked for
        want of a diameter.
    """

    table: pd.DataFrame
    diameter_px: float
    diameter_estimated: bool
    n_rejected: dict[str, int]
    polarity: str

    def __len__(self) -> int:
        return len(self.table)


def pick(segmentation: Segmentation, diameter_px: float | None = None,
         threshold: float = DEFAULT_THRESHOLD, polarity: str = "auto", warn_if_crowded: bool = True) -> Picks:
    """Pick particles from a segmentation.

    Parameters
    ----------
    segmentation : Segmentation
        From :func:`icestat.segment.segment`.
    diameter_px : float, optional
        Particle diameter in pixels of the original micrograph; estimated from
        the sizes of the compact non-ice blobs when None
        (:func:`estimate_diameter_px`).
    threshold : float
        Lowest score kept, in [0, 1].
    polarity : {"auto", "dark", "bright"}
        The particles are darker than the ice (a raw micrograph) or brighter
        (an inverted one); ``auto``: bright where the image's response to
        bright blobs is skewed towards them and the model agrees
        (:func:`particle_response`).
    warn_if_crowded : bool
        Log a warning when the diameter is estimated on a crowded micrograph
        (more than ``CROWDED_PARTICLE_FRACTION`` labelled particle), where the
        estimate is unreliable. False where the caller settles such micrographs
        itself (a batch picks them again with the run's diameter).

    Returns
    -------
    Picks

    Raises
    ------
    ValueError
        If `diameter_px` is not positive, `threshold` is outside [0, 1] or
        `polarity` is not one of ``POLARITIES``.
    """
    if diameter_px is not None and not diameter_px > 0:
        raise ValueError(f"particle diameter must be positive, got {diameter_px} px")
    if not 0 <= threshold <= 1:
        raise ValueError(f"score threshold must be in [0, 1], got {threshold}")
    check_polarity(polarity)
    working = segmentation.working
    estimated = diameter_px is None
    if estimated:
        diameter_px = estimate_diameter_px(segmentation)
        particle_fraction = segmentation.class_fractions()["particle"]   # as summary.csv reports it
        if warn_if_crowded and particle_fraction > CROWDED_PARTICLE_FRACTION:
            log.warning(CROWDED_WARNING, segmentation.name, 100 * particle_fraction, diameter_px)
    radius_working_px = diameter_px / 2 / float(np.mean(working.scale))
    if not np.isfinite(radius_working_px) or radius_working_px < 1:
        return Picks(_empty_table(segmentation.name), float(diameter_px), estimated, _no_rejections(), "")
    probabilities = segmentation.working_probabilities
    evidence = particle_evidence(segmentation)
    response, polarity = particle_response(working.data, radius_working_px, polarity, evidence,
                                           carbon=probabilities[CARBON] > MAX_EXCLUDED_PROBABILITY,
                                           contamination=probabilities[CONTAMINATION] > MAX_EXCLUDED_PROBABILITY)
    contrast = robust_z(response)
    rows, cols = peak_local_max(
        contrast, min_distance=max(1, int(round(MIN_DISTANCE_RADII * radius_working_px))),
        threshold_abs=MIN_CONTRAST, exclude_border=False,
    ).T
    particle = _disk_mean_at(evidence, rows, cols, CORE_RADII * radius_working_px)
    carbon = _disk_mean_at(probabilities[CARBON], rows, cols, radius_working_px)
    contamination = _disk_mean_at(probabilities[CONTAMINATION], rows, cols, radius_working_px)
    score = candidate_score(contrast[rows, cols], particle * (1.0 - carbon - contamination))
    y_px, x_px = working.to_original_px(rows, cols)
    radius_px = diameter_px / 2
    on_carbon = carbon > MAX_EXCLUDED_PROBABILITY
    on_contamination = ~on_carbon & (contamination > MAX_EXCLUDED_PROBABILITY)
    near_edge = near_edge_at(y_px, x_px, working.original_shape, radius_px, working.frame_border)
    faint = signal_to_noise(response[rows, cols], working.data, radius_working_px) < MIN_SIGNAL_TO_NOISE
    excluded = on_carbon | on_contamination
    keep = ~excluded & ~near_edge & ~faint & (score >= threshold)
    n_rejected = {
        "carbon": int(on_carbon.sum()),
        "contamination": int(on_contamination.sum()),
        "edge": int((near_edge & ~excluded).sum()),
        "faint": int((faint & ~near_edge & ~excluded).sum()),
    }
    order = np.argsort(-score[keep], kind="stable")
    table = pick_table(x_px[keep][order], y_px[keep][order], score=np.clip(score[keep][order], 0, 1),
                       diameter_px=diameter_px, micrograph=segmentation.name)
    return Picks(table, float(diameter_px), estimated, n_rejected, polarity)


def particle_evidence(segmentation: Segmentation) -> np.ndarray:
    """Particle evidence per working pixel, in [0, 1]: what candidates are scored by.

    ``SEGMENTATION_SHARE`` of the segmentation's particle probability plus the
    rest of the patch classifier's, interpolated
    (:attr:`~icestat.segment.Segmentation.patch_particle_probability`); the
    segmentation's alone when it was made without patches. Where the
    segmentation is the patches' (``refine=False``) the two are the same.
    """
    segmented = segmentation.working_probabilities[PARTICLE]
    from_patches = segmentation.patch_particle_probability
    if from_patches is None:
        return segmented
    return (SEGMENTATION_SHARE * segmented + (1.0 - SEGMENTATION_SHARE) * from_patches).astype(np.float32)


def check_polarity(polarity: str) -> None:
    """Raise ValueError unless `polarity` is one of ``POLARITIES``."""
    if polarity not in POLARITIES:
        raise ValueError(f"particle polarity must be one of {', '.join(POLARITIES)}, got {polarity!r}")


def particle_response(image: np.ndarray, radius_px: float, polarity: str = "auto",
                      particle_probability: np.ndarray | None = None, carbon: np.ndarray | None = None,
                      contamination: np.ndarray | None = None) -> tuple[np.ndarray, str]:
    """How much each pixel looks like the centre of a particle of `radius_px`, in the image's grey levels.

    Parameters
    ----------
    image : ndarray (h, w)
        The (working) image.
    radius_px : float
        Particle radius in pixels.
    polarity : {"auto", "dark", "bright"}
        Whether the particles are darker or brighter than the ice; ``auto``:
        bright where the skewness of the response to bright blobs away from
        `carbon` (:func:`bright_skew`) is above ``MIN_BRIGHT_SKEW`` and its
        correlation with `particle_probability` away from `carbon` and
        `contamination` (:func:`bright_agreement`) is above
        ``MIN_BRIGHT_AGREEMENT``; else dark.
    particle_probability : ndarray (h, w), optional
        The model's particle probability (or evidence) per pixel; without it
        the skewness alone decides.
    carbon, contamination : ndarray (h, w) of bool, optional
        Where the model sees carbon and contamination, whose edges answer the
        filter strongly but say nothing of the particles' polarity (none when None).

    Returns
    -------
    response : ndarray (h, w) of float32
        The scale-normalised Laplacian of Gaussian (:func:`icestat.scale_space.blob_response`,
        sigma = ``SIGMA_RADII`` radii), minus its median, turned to answer to
        blobs of the particles' polarity.
    polarity : {"dark", "bright"}
        The particles' polarity: `polarity` itself unless that is ``auto``.

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[:96, :96]
    >>> dark_disk = -(np.hypot(yy - 40, xx - 50) <= 8).astype(float)
    >>> noisy = dark_disk + np.random.default_rng(0).normal(0, 0.2, dark_disk.shape)
    >>> response, polarity = particle_response(noisy, radius_px=8.0)
    >>> contrast = robust_z(response)
    >>> row, col = np.unravel_index(contrast.argmax(), contrast.shape)
    >>> polarity, bool(np.hypot(row - 40, col - 50) <= 1.5), bool(contrast.max() > 5)
    ('dark', True, True)
    >>> response, polarity = particle_response(-noisy, radius_px=8.0)   # inverted: the disk is bright, and found
    >>> row, col = np.unravel_index(response.argmax(), response.shape)
    >>> polarity, bool(np.hypot(row - 40, col - 50) <= 1.5)
    ('bright', True)
    """
    check_polarity(polarity)
    bright = blob_response(image, SIGMA_RADII * radius_px)
    if polarity == "auto":
        nowhere = np.zeros(bright.shape, dtype=bool)
        carbon = nowhere if carbon is None else carbon
        contamination = nowhere if contamination is None else contamination
        says_bright = bright_skew(bright, radius_px, ~carbon) > MIN_BRIGHT_SKEW
        if says_bright and particle_probability is not None:
            says_bright = bright_agreement(bright, particle_probability, ~carbon & ~contamination) > MIN_BRIGHT_AGREEMENT
        polarity = "bright" if says_bright else "dark"
    turned = bright if polarity == "bright" else -bright
    return turned - np.median(turned), polarity


def bright_skew(bright: np.ndarray, radius_px: float, judged_where: np.ndarray | None = None) -> float:
    """Skewness of the response to bright blobs where judged, at least `radius_px` from the pixels not judged.

    What the ``auto`` polarity of :func:`particle_response` compares with
    ``MIN_BRIGHT_SKEW``: positive where the blobs that stand out of the ice are
    bright. Taken on every 2nd row and column; the pixels within a radius of
    those not judged (carbon) answer to their edges.

    Parameters
    ----------
    bright : ndarray (h, w)
        The response to bright blobs (:func:`icestat.scale_space.blob_response`).
    radius_px : float
        Particle radius in pixels.
    judged_where : ndarray (h, w) of bool, optional
        Where to judge; everywhere when None.

    Returns
    -------
    float
        NaN when fewer than ``MIN_JUDGED_PX`` pixels are judged or the response is constant there.

    Examples
    --------
    >>> yy, xx = np.mgrid[:128, :128]
    >>> dark_disks = -sum(np.hypot(yy - row, xx - col) <= 6 for row, col in [(30, 30), (30, 90), (90, 60)])
    >>> noisy = dark_disks + np.random.default_rng(0).normal(0, 0.3, dark_disks.shape)
    >>> bright = blob_response(noisy, 3.0)
    >>> bool(bright_skew(bright, 6.0) < -MIN_BRIGHT_SKEW), bool(bright_skew(-bright, 6.0) > MIN_BRIGHT_SKEW)
    (True, True)
    """
    if judged_where is None or np.all(judged_where):   # nothing to keep away from
        judged = np.ones(bright.shape, dtype=bool)
    else:
        judged = ndimage.binary_erosion(judged_where, iterations=max(1, int(round(radius_px))), border_value=1)
    samples = np.asarray(bright)[::2, ::2][judged[::2, ::2]].astype(np.float64)
    if len(samples) < MIN_JUDGED_PX or not samples.std() > 0:
        return float("nan")
    return float(stats.skew(samples))


def bright_agreement(bright: np.ndarray, particle_probability: np.ndarray, judged_where: np.ndarray | None) -> float:
    """Correlation of `bright` with `particle_probability` on every 4th row and column where judged (NaN if undecided).

    What the ``auto`` polarity of :func:`particle_response` compares with ``MIN_BRIGHT_AGREEMENT``; `bright` is the
    response to bright blobs (:func:`icestat.scale_space.blob_response`); judged everywhere when `judged_where` is None.
    """
    judged = np.ones(bright.shape, dtype=bool) if judged_where is None else np.asarray(judged_where, dtype=bool)
    samples = bright[::4, ::4][judged[::4, ::4]], np.asarray(particle_probability)[::4, ::4][judged[::4, ::4]]
    if len(samples[0]) < 2:   # nothing judged
        return float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):   # NaN for a constant probability map
        return float(np.corrcoef(*samples)[0, 1])


def signal_to_noise(response: np.ndarray, image: np.ndarray, radius_px: float) -> np.ndarray:
    """Values of a :func:`particle_response` of `image` in standard deviations of what its white noise alone would give.

    Parameters
    ----------
    response : ndarray
        Values of :func:`particle_response` (the whole map, or at candidates).
    image : ndarray (h, w)
        The image it was computed from (its noise is estimated by
        :func:`icestat.scale_space.white_noise_sd`).
    radius_px : float
        The particle radius it was computed with, in pixels.

    Returns
    -------
    ndarray of float32, shaped like `response`
        Infinite (NaN where the response is 0) when the image has no noise at
        its finest scale: nothing is then too faint.

    Examples
    --------
    >>> import numpy as np
    >>> noise = np.random.default_rng(1).normal(0.0, 1.0, (256, 256)).astype(np.float32)
    >>> snr = signal_to_noise(particle_response(noise, 8.0)[0], noise, 8.0)
    >>> round(float(snr.std()), 1)   # noise alone: one standard deviation
    1.0
    """
    noise_sd = white_noise_sd(image) * blob_noise_sd(SIGMA_RADII * radius_px)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.asarray(response, dtype=np.float32) / np.float32(noise_sd)).astype(np.float32)


def candidate_score(contrast: np.ndarray, model_score: np.ndarray) -> np.ndarray:
    """Scores in [0, 1] of one micrograph's candidates from their `contrast` (robust SDs) and `model_score` ([0, 1]).

    The weighted geometric mean of the contrast score (weight ``CONTRAST_WEIGHT``)
    and the model score. The contrast score is 0 at ``MIN_CONTRAST`` and 1 from
    the median contrast of the candidates with a model score of at least
    ``SURE_MODEL_SCORE`` on (``FULL_CONTRAST`` where that is lower or there is
    no such candidate), linear in between.

    Examples
    --------
    >>> contrast, model_score = np.array([2.0, 9.0, 9.0, 9.0, 3.0]), np.array([0.9, 0.9, 0.9, 0.0, 0.4])
    >>> candidate_score(contrast, model_score).round(3).tolist()   # full contrast from 9, the sure ones' median
    [0.159, 0.965, 0.965, 0.0, 0.252]
    >>> candidate_score(np.array([2.0, 3.0]), np.array([0.05, 0.05])).round(3).tolist()   # none sure: from 2.5
    [0.232, 0.368]
    """
    contrast, model_score = np.asarray(contrast, dtype=np.float64), np.clip(model_score, 0.0, 1.0)
    sure = contrast[model_score >= SURE_MODEL_SCORE]
    full_contrast = max(FULL_CONTRAST, float(np.median(sure))) if len(sure) else FULL_CONTRAST
    contrast_score = np.clip((contrast - MIN_CONTRAST) / (full_contrast - MIN_CONTRAST), 0.0, 1.0)
    return contrast_score ** CONTRAST_WEIGHT * model_score ** (1.0 - CONTRAST_WEIGHT)


def robust_z(response: np.ndarray) -> np.ndarray:
    """A response map minus its median, over 1.4826 times its median absolute deviation (zeros without spread).

    Examples
    --------
    >>> [round(float(z), 2) for z in robust_z(np.array([0.0, 1.0, 2.0, 3.0, 10.0]))]
    [-1.35, -0.67, 0.0, 0.67, 5.4]
    """
    centre = np.median(response)
    spread = MAD_TO_SD * np.median(np.abs(response - centre))
    return ((response - centre) / spread if spread > 0 else np.zeros_like(response)).astype(np.float32)


def near_edge_at(y_px, x_px, shape: tuple[int, int], radius_px: float,
                 frame_border: FrameBorder = FrameBorder()) -> np.ndarray:
    """True for the centres (in pixels of an image of `shape`) closer than `radius_px` to the edge of its data.

    The data end at the image's edge, or at its frame border (:mod:`icestat.frame`) where it has one.

    Examples
    --------
    >>> near_edge_at([50, 50, 50], [5, 30, 95], (100, 100), 10, FrameBorder(left_px=15)).tolist()
    [True, False, True]
    """
    y_px, x_px = np.asarray(y_px), np.asarray(x_px)
    top, bottom, left, right = frame_border
    return ((y_px < top + radius_px) | (x_px < left + radius_px) | (y_px > shape[0] - 1 - bottom - radius_px)
            | (x_px > shape[1] - 1 - right - radius_px))


def estimate_diameter_px(segmentation: Segmentation) -> float:
    """Particle diameter in original pixels, from the compact non-ice blobs of a segmentation.

    The blobs are the connected regions labelled particle on the working image;
    the solid ones (solidity at least ``MIN_BLOB_SOLIDITY``, so touching
    particles and ragged regions do not count) of at least ``MIN_BLOB_AREA_PX``
    pixels and at most ``MAX_BLOB_SIDE_FRACTION`` of the image's shorter side
    across give their equivalent diameters, whose median weighted by area (so
    that specks of noise count little), times ``BLOB_TO_PARTICLE_DIAMETER``
    (segmented blobs are the particles' thick cores), is the estimate. With the
    shipped model it has been 0.95-1.2 of the true diameter in the median over
    a dataset and 0.7-1.3 on single micrographs, but anything from 0.1 to 1.2 on
    crowded ones (more than ``CROWDED_PARTICLE_FRACTION`` labelled particle,
    where the solid blobs are fragments between merged particles); so give the
    diameter when it is known. Over a run of micrographs of one specimen,
    :func:`run_diameter` is steadier.

    Returns
    -------
    float
        The estimate, NaN when there is no such blob.
    """
    blobs, _ = ndimage.label(segmentation.working_labels == PARTICLE)
    widest_px = MAX_BLOB_SIDE_FRACTION * min(blobs.shape)
    solid = [blob for blob in regionprops(blobs) if blob.area >= MIN_BLOB_AREA_PX and blob.solidity >= MIN_BLOB_SOLIDITY
             and blob.equivalent_diameter_area <= widest_px]
    if not solid:
        return float("nan")
    diameters = np.array([blob.equivalent_diameter_area for blob in solid])
    areas = np.array([blob.area for blob in solid], dtype=np.float64)
    order = np.argsort(diameters)
    weighted_median = diameters[order][np.searchsorted(np.cumsum(areas[order]), areas.sum() / 2)]
    return float(BLOB_TO_PARTICLE_DIAMETER * weighted_median * np.mean(segmentation.working.scale))


def run_diameter(estimates, particle_fractions) -> float:
    """One particle diameter for a run of micrographs of one specimen, from each micrograph's own estimate.

    The median of the estimates (:func:`estimate_diameter_px`) of the
    micrographs that are not crowded (at most ``CROWDED_PARTICLE_FRACTION``
    labelled particle), or of all of them when every one is crowded. A single
    micrograph's estimate strays (0.7-1.3 of the truth) and on a crowded one
    can be a fraction of it (0.14-0.49 on half the micrographs of EMPIAR-10028
    with the model retrained without it; the run's median, 1.22). A bias
    shared by every micrograph stays (0.75 on EMPIAR-10017 without it, every
    micrograph crowded; benchmarks/results/picking.md).

    Parameters
    ----------
    estimates : array_like of float
        Each micrograph's estimate (in pixels where the micrographs share a
        pixel size, else in ångström), NaN where it had none.
    particle_fractions : array_like of float
        Each micrograph's fraction labelled particle.

    Returns
    -------
    float
        The run's diameter in the unit of `estimates`, NaN when no micrograph has one.

    Examples
    --------
    >>> run_diameter([60.0, 64.0, 12.0, 70.0, float("nan")], [0.2, 0.3, 0.7, 0.3, 0.1])
    64.0
    >>> run_diameter([30.0, 12.0, 20.0], [0.6, 0.7, 0.8])
    20.0
    """
    chosen = np.asarray(estimates, dtype=np.float64)[run_diameter_basis(estimates, particle_fractions)]
    return float(np.median(chosen)) if len(chosen) else float("nan")


def run_diameter_basis(estimates, particle_fractions) -> np.ndarray:
    """Which micrographs :func:`run_diameter` takes the median over.

    Those with an estimate that are not crowded, or all those with an
    estimate when every one is crowded.

    Parameters
    ----------
    estimates, particle_fractions : array_like of float
        As for :func:`run_diameter`.

    Returns
    -------
    numpy.ndarray of bool
        One per micrograph.
    """
    known = np.isfinite(np.asarray(estimates, dtype=np.float64))
    uncrowded = known & (np.asarray(particle_fractions) <= CROWDED_PARTICLE_FRACTION)
    return uncrowded if uncrowded.any() else known


def far_from_run_diameter(diameters, run_diameter: float) -> np.ndarray:
    """Which diameters are more than ``RUN_DIAMETER_TOLERANCE`` times off `run_diameter` (NaN ones are).

    Examples
    --------
    >>> far_from_run_diameter([52.0, 60.0, 74.0, float("nan")], 60.0)
    array([False, False,  True,  True])
    """
    ratio = np.asarray(diameters, dtype=np.float64) / run_diameter
    return ~((ratio >= 1 / RUN_DIAMETER_TOLERANCE) & (ratio <= RUN_DIAMETER_TOLERANCE))


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
