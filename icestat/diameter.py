"""The particle diameter, estimated from the bumps of a segmentation's particle evidence, per micrograph and per run.

What :func:`icestat.pick.pick` picks with when the diameter is not given
(:func:`estimate_diameter_px`, bounded by the spacing of the picks it makes:
:func:`spacing_bound_px`), and what a batch settles the micrographs whose
own estimate strays with (:func:`run_diameter`, :func:`far_from_run_diameter`);
and the diameter a user gives, in pixels (:func:`given_diameter_px`).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import KDTree
from skimage.transform import downscale_local_mean

from icestat.classes import CARBON, CONTAMINATION
from icestat.evidence import particle_evidence
from icestat.micrograph import Micrograph
from icestat.model import IceModel
from icestat.scale_space import blob_maxima
from icestat.segment import Segmentation, segment, segmented_for_diameter, with_particle_diameter
from icestat.settings import MAX_WORKING_DIAMETER_PX

#: Widths of the scale space the diameter is read from, in working pixels: ``SMALLEST_WIDTH_PX`` times powers of
#: ``WIDTH_STEP``, up to ``WIDEST_WIDTH_PX`` (particles up to 114 working pixels, 800 Å at the default 7 Å per
#: pixel) or a width answering most to a disk of ``MAX_DIAMETER_SIDE_FRACTION`` of the image's shorter side.
SMALLEST_WIDTH_PX = 2.0
WIDEST_WIDTH_PX = 41.0
WIDTH_STEP = 2 ** 0.25
#: The evidence is binned by this first (averaged): its bumps are smooth, and the estimate is as good in a quarter of
#: the time (0.17 s on 2 cores for a 1024-px working image; particles of 70 Å, 10 px, are too small for the patches
#: to tell their size anyway).
EVIDENCE_BIN = 2
#: Wider is a region labelled particle (a model calling most of a packed micrograph particle can make one solid
#: region of it), not a particle, and picking with its diameter would reject every candidate as too near the edge.
MAX_DIAMETER_SIDE_FRACTION = 1 / 3
#: A bump of particle evidence counts when its scale-normalised Laplacian of Gaussian answers at least this: a
#: disk of evidence a answers 2a / e at its own width, so this keeps bumps at least about 0.27 high. Lower lets the
#: faint speckle of an unsure model in (particles of 400-550 Å that the shipped model took for ice: estimates 0.35-
#: 0.6 of the truth at 0.15), higher drops the bumps of an unsure model's real particles (EMPIAR-10028 and 10059 with
#: the recipe retrained without them: none at 0.3 on some micrographs; benchmarks/README.md).
MIN_BUMP_RESPONSE = 0.2
#: Where neither the working scale nor the coarser look has ``MIN_BUMPS`` bumps at ``MIN_BUMP_RESPONSE``,
#: :func:`segment_at_estimated_diameter` takes the working scale's bumps down to this: the faint bumps of sparse
#: particles at a low dose or of particles among debris, which the averaged networks of the refiner leave lower
#: (simulated 150 Å particles, 5 per micrograph at 15 e/Å²: an estimate on 5 of 5 micrographs, median 1.11 of the
#: truth, not 2 of 5; in ice of 0.2 rad debris 5 of 5 at 0.96, not 2 of 5 at 1.94). Taken first, this bar would let
#: speckle lower estimates where the particles are clear (0.65 of the truth, not 0.96, on EMPIAR-10059 with the
#: recipe retrained without it). Empty ice then has an estimate too, from its speckle (benchmarks/README.md).
FAINT_BUMP_RESPONSE = 0.1
#: Fewer bumps than this are no estimate: one bump of an unsure model's speckle on ice set 400 Å particles, which
#: the shipped model called contamination, at 0.48 of their diameter (F1 0); with no estimate there, the coarser
#: look (:func:`segment_at_estimated_diameter`) found them at 0.84 (F1 1.00). Five fixed a second such micrograph
#: but lost the estimates of sparse ones (isolated particles make faint bumps: 6 particles of 150 Å, 2 bumps) and
#: of some of EMPIAR-10028's (benchmarks/README.md).
MIN_BUMPS = 2
#: A particle's diameter over the width at which its bump answers most: a disk's, ``2 sqrt 2``.
DIAMETER_PER_WIDTH = 2 * np.sqrt(2)
#: Where the particle evidence at the model's working scale gives no estimate (fewer than ``MIN_BUMPS`` bumps), the
#: micrograph is segmented again this many times coarser and the diameter estimated there
#: (:func:`segment_at_estimated_diameter`): simulated particles of 400-550 Å, which the shipped model takes for ice
#: or contamination at 7 Å per working pixel (no estimate on 4 of 4 micrographs), were estimated at 0.72-0.90 of
#: their diameter at 14 Å (benchmarks/README.md).
COARSER_RETRY = 2.0
#: Where more than this fraction of a micrograph is labelled particle, the particles touch and merge, and the
#: estimated diameter is less reliable (a warning says so): 0.87-1.44 of the manifest's diameters on the micrographs
#: of EMPIAR-10059, all crowded, with the shipped model (1.33-1.44 of its one particle, median; 1.05-1.08 once
#: bounded by the picks' spacing, :func:`spacing_bound_px`); 0.90-0.98 on those of 10028, none crowded.
CROWDED_PARTICLE_FRACTION = 0.5
#: In a run of micrographs of one specimen, those whose own estimate is more than this factor off the run's
#: diameter (:func:`run_diameter`) are picked with the run's: F1 is flat within about 0.8-1.15 of the true
#: diameter and falls beyond (benchmarks/results/picking.md).
RUN_DIAMETER_TOLERANCE = 1.2
#: :func:`spacing_bound_px` needs at least this many picks: the median distance to the nearest of fewer says too
#: little about how close particles lie (and a sparse micrograph's picks are far apart anyway).
MIN_SPACED_PICKS = 10
#: What :func:`icestat.pick.pick` logs (a warning) when it estimates the diameter on a crowded micrograph.
CROWDED_WARNING = ("%s: crowded (%.0f%% labelled particle), so the estimated particle diameter (%.0f px) is "
                   "unreliable; give the diameter")


def given_diameter_px(diameter_A: float | None, diameter_px: float | None, pixel_size_A: float | None,
                      path: str) -> float | None:
    """The particle diameter a user gave, in pixels of the micrograph at `path` (None when none was given).

    Parameters
    ----------
    diameter_A, diameter_px : float or None
        The diameter in ångström (``--diameter-A``) or in pixels (``--diameter-px``); at most one is given.
    pixel_size_A : float or None
        The micrograph's pixel size.
    path : str
        The micrograph, named in the error.

    Raises
    ------
    ValueError
        If the diameter is in ångström and the pixel size is unknown.

    Examples
    --------
    >>> given_diameter_px(150.0, None, 1.5, "mic.mrc"), given_diameter_px(None, 80.0, None, "mic.png")
    (100.0, 80.0)
    >>> given_diameter_px(150.0, None, None, "mic.png")
    Traceback (most recent call last):
    ValueError: mic.png: pixel size unknown, so --diameter-A cannot be used; give --pixel-size-A or --diameter-px
    """
    if diameter_A is None:
        return diameter_px
    if pixel_size_A is None:
        raise ValueError(f"{path}: pixel size unknown, so --diameter-A cannot be used; "
                         "give --pixel-size-A or --diameter-px")
    return diameter_A / pixel_size_A


def estimate_diameter_px(segmentation: Segmentation, min_response: float = MIN_BUMP_RESPONSE) -> float:
    """Particle diameter in original pixels, from the bumps of the particle evidence map.

    The particle evidence (:func:`icestat.evidence.particle_evidence`) rises
    over each particle; its bumps and their widths are the maxima of its
    scale-normalised Laplacian of Gaussian over position and width
    (:func:`icestat.scale_space.blob_maxima`), at least `min_response`
    high and not centred on carbon or contamination, at least ``MIN_BUMPS``
    of them. The estimate is their diameters' median weighted by response,
    ``DIAMETER_PER_WIDTH`` times the width. Unlike the sizes of the regions labelled particle (the estimator
    before), the widths do not shrink with a model unsure of a specimen it
    never saw (its evidence lower, the labelled cores smaller), and touching
    particles, merged into one region, still make a bump each. Estimate over
    true diameter, median over a dataset (benchmarks/results/picking.md), with
    each specimen held out (the recipe retrained without it): EMPIAR-10017 0.78,
    10028 0.93, 10059 1.19; with the shipped model 0.87, 0.96 and 1.33-1.44
    (where particles touch, their merged bumps overstate them: :func:`icestat.pick.pick`
    bounds the estimate by the spacing of its picks, :func:`spacing_bound_px`, which
    makes these 0.80, 0.91, 0.99 and 0.83, 0.93-0.96, 1.05-1.08;
    the truth each set's one particle, read from its masks' single disks; against
    the manifest's medians of merged blobs, as measured before 2026-12-06, 0.75,
    0.93, 0.96 held out, and the regions, with the model of then: 0.72, 1.17,
    0.64). On fresh
    simulations (benchmarks/results/particle_size.md) 0.8-1.1 for 150-300 Å,
    1.4-1.5 for 100 Å, 1.9-2.2 for 70 Å (narrower than the patches resolve; bounded by
    the picks' spacing, 1.35-1.42 and 1.57-1.63) and
    none for 400-550 Å, which the shipped model takes for ice or contamination
    at the default working scale (:func:`segment_at_estimated_diameter` looks again
    on a coarser image where there is no estimate); so give the diameter when it is
    known. Over a run of micrographs of one specimen, :func:`run_diameter` is
    steadier.

    Parameters
    ----------
    segmentation : Segmentation
    min_response : float
        The least response of a bump counted (``MIN_BUMP_RESPONSE``, or ``FAINT_BUMP_RESPONSE`` as a last resort).

    Returns
    -------
    float
        The estimate, NaN when there are fewer than ``MIN_BUMPS`` such bumps.
    """
    evidence = downscale_local_mean(particle_evidence(segmentation), (EVIDENCE_BIN, EVIDENCE_BIN))
    widest_px = min(WIDEST_WIDTH_PX, MAX_DIAMETER_SIDE_FRACTION * min(evidence.shape) * EVIDENCE_BIN / DIAMETER_PER_WIDTH)
    n_widths = int(np.floor(np.log(widest_px / SMALLEST_WIDTH_PX) / np.log(WIDTH_STEP))) + 1
    if n_widths < 3:
        return float("nan")
    widths_px = SMALLEST_WIDTH_PX * WIDTH_STEP ** np.arange(n_widths)
    sigma_px, rows, cols, responses = blob_maxima(evidence, widths_px / EVIDENCE_BIN, min_response)
    labels = segmentation.working_labels[rows * EVIDENCE_BIN, cols * EVIDENCE_BIN]   # each bin's first pixel's
    kept = (labels != CARBON) & (labels != CONTAMINATION)
    if np.count_nonzero(kept) < MIN_BUMPS:
        return float("nan")
    diameters = DIAMETER_PER_WIDTH * EVIDENCE_BIN * sigma_px[kept]
    weights = responses[kept].astype(np.float64)
    order = np.argsort(diameters)
    weighted_median = diameters[order][np.searchsorted(np.cumsum(weights[order]), weights.sum() / 2)]
    return float(weighted_median * np.mean(segmentation.working.scale))


def spacing_bound_px(x_px, y_px) -> float:
    """The most a particle's diameter can be, judged by how close a micrograph's picks lie: their median spacing.

    Particles do not overlap, so the centres of most real picks lie at least a
    diameter from their nearest neighbour; the median of those distances
    bounds the diameter from above (the median, not the least, so that a few
    picks on the same particle or on noise do not pull it down). Where the
    particles touch, it is about their diameter: what an estimate from the
    particle evidence, whose bumps merge there, overstates
    (:func:`icestat.pick.pick` picks again with the bound where it is lower).

    Parameters
    ----------
    x_px, y_px : array_like (n,)
        The picks' centres, in pixels.

    Returns
    -------
    float
        The median distance from each pick to its nearest neighbour, in pixels;
        infinite with fewer than ``MIN_SPACED_PICKS`` picks.

    Examples
    --------
    >>> rows, cols = np.mgrid[:4, :5] * 30.0   # 20 picks on a grid 30 px apart
    >>> spacing_bound_px(cols.ravel(), rows.ravel())
    30.0
    >>> spacing_bound_px([0.0, 30.0], [0.0, 0.0])
    inf
    """
    centres = np.column_stack([np.asarray(x_px, dtype=np.float64), np.asarray(y_px, dtype=np.float64)])
    if len(centres) < MIN_SPACED_PICKS:
        return float("inf")
    distances, _ = KDTree(centres).query(centres, k=2)
    return float(np.median(distances[:, 1]))


def segment_at_estimated_diameter(micrograph: Micrograph, model: IceModel, device: str = "cpu", refine: bool = True,
                                  segmentation: Segmentation | None = None,
                                  faint_bumps: bool = True) -> tuple[Segmentation, float | None]:
    """A micrograph segmented for picking with its estimated particle diameter, and the estimate.

    Segmented at the model's working scale, and the diameter estimated there
    (:func:`estimate_diameter_px`); contamination blobs smaller than a
    particle of that diameter are then made particle, as a given diameter
    makes them (:func:`icestat.segment.with_particle_diameter`; the shipped
    model calls some particles of 220-400 Å contamination: with an estimate
    of 0.85-0.89 of their diameter F1 rose from 0.71-0.97 to 1.00 on
    benchmarks/particle_size.py's simulations, and was the same on
    ../shared/data). Where there is no estimate there (fewer than
    ``MIN_BUMPS`` bumps of particle evidence), the micrograph is segmented again ``COARSER_RETRY`` times coarser
    and, where the diameter can be estimated there, segmented as that
    estimate, given, would have it (:func:`icestat.segment.segmented_for_diameter`:
    coarser where the particles are wider than
    :data:`~icestat.settings.MAX_WORKING_DIAMETER_PX` working pixels, and
    contamination smaller than a particle counted as particle). Where there
    is none there either, the working scale's bumps down to
    ``FAINT_BUMP_RESPONSE`` give the estimate, as the first one would (unless
    `faint_bumps` is False). What
    ``icestat pick`` picks with its own estimate. Segmenting coarser where an
    estimate at the working scale is wider than that was tried and not kept
    (benchmarks/README.md).

    Parameters
    ----------
    micrograph : Micrograph
    model : IceModel
    device, refine
        As for :func:`icestat.segment.segment`.
    segmentation : Segmentation, optional
        The micrograph segmented by `model` at its working scale (without a
        diameter), where already made; made here when None.
    faint_bumps : bool
        Take the faint bumps as the last resort. ``icestat pick`` does not: in a
        run, a micrograph without an estimate is picked with the run's diameter
        (:func:`run_diameter`), which the speckle of empty holes, estimated from
        faint bumps at 1.3-2.5 times a real specimen's diameter, would pull up.

    Returns
    -------
    segmentation : Segmentation
        At the model's working scale, or coarser where an estimate made on the coarser look asks for it.
    diameter_px : float or None
        The estimate in pixels of the micrograph, None where there is none
        (:func:`icestat.pick.pick` then picks nothing).
    """
    if segmentation is None:
        segmentation = segment(micrograph, model, device, refine)
    diameter_px = estimate_diameter_px(segmentation)
    if np.isfinite(diameter_px):
        return with_particle_diameter(segmentation, diameter_px), diameter_px
    coarser_px = COARSER_RETRY * MAX_WORKING_DIAMETER_PX * model.settings.bin_factor(micrograph)
    diameter_px = estimate_diameter_px(segment(micrograph, model, device, refine, particle_diameter_px=coarser_px))
    if np.isfinite(diameter_px):
        return segmented_for_diameter(segmentation, micrograph, model, diameter_px, device, refine), diameter_px
    if faint_bumps:
        diameter_px = estimate_diameter_px(segmentation, FAINT_BUMP_RESPONSE)
        if np.isfinite(diameter_px):
            return with_particle_diameter(segmentation, diameter_px), diameter_px
    return segmentation, None


def run_diameter(estimates) -> float:
    """One particle diameter for a run of micrographs of one specimen, from each micrograph's own estimate.

    The median of the estimates (:func:`estimate_diameter_px` bounded by the
    spacing of the picks, as :func:`icestat.pick.pick` makes them) of the micrographs that have one. A
    single micrograph's estimate strays, the median over its set less so: 0.80 / 0.91 / 0.99 of the one particle of
    EMPIAR-10017 / 10028 / 10059 with the recipe retrained without it (benchmarks/results/picking.md). Crowded
    micrographs (:func:`is_crowded`) count as the others: they were left out while their estimates overstated
    the particles (1.19 of 10059's, all its micrographs crowded); bounded by the spacing of their picks they no
    longer do, and a lone uncrowded micrograph, one too noisy for its picks to bound its estimate, would have
    set the run's diameter (tests/test_cli_pick.py).

    Parameters
    ----------
    estimates : array_like of float
        Each micrograph's estimate (in pixels where the micrographs share a
        pixel size, else in ångström), NaN where it had none.

    Returns
    -------
    float
        The run's diameter in the unit of `estimates`, NaN when no micrograph has one.

    Examples
    --------
    >>> run_diameter([60.0, 64.0, 12.0, 70.0, float("nan")])
    62.0
    """
    estimates = np.asarray(estimates, dtype=np.float64)
    known = estimates[np.isfinite(estimates)]
    return float(np.median(known)) if len(known) else float("nan")


def is_crowded(particle_fraction: float) -> bool:
    """Whether a micrograph with this fraction labelled particle is crowded: more than ``CROWDED_PARTICLE_FRACTION``.

    Its particles touch and merge, so its own estimated diameter is unreliable.
    """
    return bool(particle_fraction > CROWDED_PARTICLE_FRACTION)


def far_from_run_diameter(diameters, run_diameter: float) -> np.ndarray:
    """Which diameters are more than ``RUN_DIAMETER_TOLERANCE`` times off `run_diameter` (NaN ones are).

    Examples
    --------
    >>> far_from_run_diameter([52.0, 60.0, 74.0, float("nan")], 60.0)
    array([False, False,  True,  True])
    """
    ratio = np.asarray(diameters, dtype=np.float64) / run_diameter
    return ~((ratio >= 1 / RUN_DIAMETER_TOLERANCE) & (ratio <= RUN_DIAMETER_TOLERANCE))
