"""Array operations that run on NumPy or CuPy alike (``xp``): global statistics, quantisation, neighbours."""

from __future__ import annotations

import numpy as np

from icestat.prepare import subsample


def quantile_edges(image, n_levels: int, xp=np):
    """The ``n_levels - 1`` inner edges of equal-population grey-level bins, from a subsample, in the image's dtype."""
    return xp.quantile(subsample(image).astype(xp.float64), xp.linspace(0, 1, n_levels + 1)[1:-1]).astype(image.dtype)


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


def window_means(values, size: int, xp=np):
    """Mean over the ``size x size`` patches centred on each patch, ignoring NaN; the grid edge is replicated.

    Parameters
    ----------
    values : array (rows, cols, features)
    size : int
        Odd window side, in patches.

    Returns
    -------
    array of the same shape (float64)
    """
    if size < 1 or size % 2 == 0:
        raise ValueError(f"the window side must be a positive odd number of patches, got {size}")
    half = size // 2
    padded = xp.pad(values, ((half, half), (half, half), (0, 0)), mode="edge")
    finite = xp.isfinite(padded)
    rows, cols = values.shape[:2]

    def box_sums(array):  # summed-area table, then each window's sum from its four corners
        table = xp.pad(array.astype(xp.float64).cumsum(0).cumsum(1), ((1, 0), (1, 0), (0, 0)))
        return (table[size:size + rows, size:size + cols] - table[:rows, size:size + cols]
                - table[size:size + rows, :cols] + table[:rows, :cols])

    total, count = box_sums(xp.where(finite, padded, 0)), box_sums(finite)
    with np.errstate(invalid="ignore", divide="ignore"):
        return xp.where(count > 0, total / xp.maximum(count, 1), xp.nan)
