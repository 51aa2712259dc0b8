"""Array operations that run on NumPy or CuPy alike (``xp``): global statistics, quantisation, neighbours."""

from __future__ import annotations

import numpy as np


#: Global statistics are taken on every n-th pixel along each axis of large images.
SUBSAMPLE_STEP = 4
_MAD_TO_STD = 1.4826


def subsample(image):
    """Every ``SUBSAMPLE_STEP``-th pixel along each axis (the whole image when small): for global statistics."""
    return image[::SUBSAMPLE_STEP, ::SUBSAMPLE_STEP] if min(image.shape) >= 64 * SUBSAMPLE_STEP else image


def robust_centre_and_spread(image, xp=np):
    """Median and robust standard deviation (1.4826 x MAD, or the sd where the MAD is 0) from a subsample."""
    sample = subsample(image).astype(xp.float64)
    median = xp.median(sample)
    spread = _MAD_TO_STD * xp.median(xp.abs(sample - median))
    return median, xp.where(spread > 0, spread, sample.std())


def quantise(image, n_levels: int, xp=np):
    """Grey levels ``0 .. n_levels - 1`` at the image's own quantiles (equal-population bins, from a subsample), uint8."""
    edges = xp.quantile(subsample(image).astype(xp.float64), xp.linspace(0, 1, n_levels + 1)[1:-1])
    return xp.searchsorted(edges.astype(image.dtype), image, side="right").astype(xp.uint8)


def neighbour_means(values, xp=np):
    """Mean over the 8 neighbouring patches of each feature, ignoring NaN; the grid edge is replicated.

    Parameters
    ----------
    values : array (rows, cols, features)

    Returns
    -------
    array of the same shape
    """
    padded = xp.pad(values, ((1, 1), (1, 1), (0, 0)), mode="edge")
    finite = xp.isfinite(padded)
    filled = xp.where(finite, padded, 0)
    rows, cols = values.shape[:2]
    total = xp.zeros(values.shape, dtype=xp.float64)
    count = xp.zeros(values.shape, dtype=xp.float64)
    for dr in (0, 1, 2):
        for dc in (0, 1, 2):
            if dr == 1 and dc == 1:
                continue
            total += filled[dr:dr + rows, dc:dc + cols]
            count += finite[dr:dr + rows, dc:dc + cols]
    with np.errstate(invalid="ignore", divide="ignore"):
        return xp.where(count > 0, total / xp.maximum(count, 1), xp.nan)
