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
