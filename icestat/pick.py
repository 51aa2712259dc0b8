"""pick(): particle centres from a segmentation, scored by the ice model.

Particles are compact non-ice blobs inside ice. On the working image, the
refined probability of the particle class is filtered with a scale-normalised
Laplacian of Gaussian at the particle's scale (sigma = radius / sqrt 2, where a
disk of that radius answers most strongly). Its local maxima, at least a
minimum distance apart, are the candidate centres. Each candidate's score is
its response divided by that of an ideal particle (a disk of probability 1 on
ice), times the probability that the disk around it is neither carbon nor
contamination, so every score lies in [0, 1]. Candidates on carbon or
contamination, or closer than a particle radius to the micrograph's edge, are
rejected; the rest at or above the threshold are the picks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage
from skimage.feature import peak_local_max
from skimage.measure import regionprops

from icestat.classes import CARBON, CONTAMINATION, PARTICLE
from icestat.coords import pick_table
from icestat.segment import Segmentation

#: Default score threshold of :func:`pick`.
DEFAULT_THRESHOLD = 0.35
#: Candidates at least this many particle radii apart survive non-maximum suppression.
MIN_DISTANCE_RADII = 1.0
#: A candidate is rejected when the mean probability of carbon or contamination over its disk is above this.
MAX_EXCLUDED_PROBABILITY = 0.5
#: Non-ice blobs used to estimate the diameter: at least this solid (area / convex area) ...
MIN_BLOB_SOLIDITY = 0.85
#: ... and at least this many working pixels.
MIN_BLOB_AREA_PX = 12
#: Width of the detecting Laplacian of Gaussian, in particle radii.
SIGMA_RADII = 1 / np.sqrt(2.0)


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
        Candidates above the threshold rejected for lying on ``carbon``,
        ``contamination``, or too near the ``edge``.
    """

    table: pd.DataFrame
    diameter_px: float
    diameter_estimated: bool
    n_rejected: dict[str, int]

    def __len__(self) -> int:
        return len(self.table)


def pick(segmentation: Segmentation, diameter_px: float | None = None,
         threshold: float = DEFAULT_THRESHOLD) -> Picks:
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

    Returns
    -------
    Picks

    Raises
    ------
    ValueError
        If `diameter_px` is not positive or `threshold` is outside [0, 1].
    """
    if diameter_px is not None and not diameter_px > 0:
        raise ValueError(f"particle diameter must be positive, got {diameter_px} px")
    if not 0 <= threshold <= 1:
        raise ValueError(f"score threshold must be in [0, 1], got {threshold}")
    working = segmentation.working
    estimated = diameter_px is None
    if estimated:
        diameter_px = estimate_diameter_px(segmentation)
    radius_working_px = diameter_px / 2 / float(np.mean(working.scale))
    if not np.isfinite(radius_working_px) or radius_working_px < 1:
        return Picks(_empty_table(segmentation.name), float(diameter_px), estimated, _no_rejections())
    probabilities = segmentation.working_probabilities
    response = particle_response(probabilities[PARTICLE], radius_working_px, SIGMA_RADII)
    rows, cols = peak_local_max(
        response, min_distance=max(1, int(round(MIN_DISTANCE_RADII * radius_working_px))),
        threshold_abs=max(threshold, 1e-6), exclude_border=False,
    ).T
    carbon = _disk_mean_at(probabilities[CARBON], rows, cols, radius_working_px)
    contamination = _disk_mean_at(probabilities[CONTAMINATION], rows, cols, radius_working_px)
    score = response[rows, cols] * (1.0 - carbon - contamination)
    y_px, x_px = working.to_original_px(rows, cols)
    radius_px = diameter_px / 2
    on_carbon = carbon > MAX_EXCLUDED_PROBABILITY
    on_contamination = ~on_carbon & (contamination > MAX_EXCLUDED_PROBABILITY)
    near_edge = ((y_px < radius_px) | (x_px < radius_px) | (y_px > working.original_shape[0] - 1 - radius_px)
                 | (x_px > working.original_shape[1] - 1 - radius_px))
    excluded = on_carbon | on_contamination
    keep = ~excluded & ~near_edge & (score >= threshold)
    n_rejected = {
        "carbon": int(on_carbon.sum()),
        "contamination": int(on_contamination.sum()),
        "edge": int((near_edge & ~excluded).sum()),
    }
    order = np.argsort(-score[keep], kind="stable")
    table = pick_table(x_px[keep][order], y_px[keep][order], score=np.clip(score[keep][order], 0, 1),
                       diameter_px=diameter_px, micrograph=segmentation.name)
    return Picks(table, float(diameter_px), estimated, n_rejected)


def particle_response(particle_probability: np.ndarray, radius_px: float, sigma_radii: float = SIGMA_RADII) -> np.ndarray:
    """Scale-normalised Laplacian-of-Gaussian response to particles of `radius_px`, as a fraction of the ideal.

    Parameters
    ----------
    particle_probability : ndarray (h, w)
        Probability of the particle class per pixel.
    radius_px : float
        Particle radius in the same pixels.
    sigma_radii : float
        Width of the Gaussian in radii; 1 / sqrt 2 answers most strongly to
        disks of `radius_px`, narrower separates touching particles better.

    Returns
    -------
    ndarray (h, w) of float32
        ``-sigma**2 * LoG``, divided by its value at the centre of a disk of 1s
        of `radius_px` (``2 u exp(-u)`` with ``u = radius**2 / (2 sigma**2)``), clipped to [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[:64, :64]
    >>> disk = (np.hypot(yy - 32, xx - 32) <= 8).astype(float)
    >>> round(float(particle_response(disk, 8.0)[32, 32]), 2)
    1.0
    """
    sigma = sigma_radii * radius_px
    u = 0.5 / sigma_radii ** 2
    log = ndimage.gaussian_laplace(np.asarray(particle_probability, dtype=np.float32), sigma, mode="nearest")
    return np.clip(-(sigma ** 2) * log / (2 * u * np.exp(-u)), 0.0, 1.0).astype(np.float32)


def estimate_diameter_px(segmentation: Segmentation) -> float:
    """Particle diameter in original pixels, from the compact non-ice blobs of a segmentation.

    The blobs are the connected regions labelled particle on the working image;
    the solid ones (solidity at least ``MIN_BLOB_SOLIDITY``, so touching
    particles and ragged regions do not count) of at least ``MIN_BLOB_AREA_PX``
    pixels give their equivalent diameters, whose median is the estimate.

    Returns
    -------
    float
        The estimate, NaN when there is no such blob.
    """
    blobs, _ = ndimage.label(segmentation.working_labels == PARTICLE)
    diameters = [blob.equivalent_diameter_area for blob in regionprops(blobs)
                 if blob.area >= MIN_BLOB_AREA_PX and blob.solidity >= MIN_BLOB_SOLIDITY]
    if not diameters:
        return float("nan")
    return float(np.median(diameters) * np.mean(segmentation.working.scale))


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
    return {"carbon": 0, "contamination": 0, "edge": 0}
