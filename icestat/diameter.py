"""The particle diameter, estimated from the compact non-ice blobs of a segmentation, per micrograph and per run.

What :func:`icestat.pick.pick` picks with when the diameter is not given
(:func:`estimate_diameter_px`), and what a batch settles the micrographs whose
own estimate strays with (:func:`run_diameter`, :func:`far_from_run_diameter`);
and the diameter a user gives, in pixels (:func:`given_diameter_px`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.measure import regionprops

from icestat.classes import PARTICLE
from icestat.segment import Segmentation

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
