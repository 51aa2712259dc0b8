"""Whole-image maps and per-patch aggregation that run on NumPy or CuPy alike (``xp``).

Local binary patterns, grey-level quantisation, and patch means by summed-area
tables: array operations, so one code path serves the CPU and the GPU.
"""

from __future__ import annotations

import numpy as np


def patch_means(values, row_starts, col_starts, patch_px: int, xp=np):
    """Mean of `values` over every patch, from a summed-area table (float64).

    Parameters
    ----------
    values : 2D array (or 3D: maps stacked on the first axis)
        The map(s) to average.
    row_starts, col_starts : 1D integer arrays
        Patch origins.
    patch_px : int
        Patch side.

    Returns
    -------
    array of shape (rows, cols) or (maps, rows, cols)
    """
    table = xp.cumsum(xp.cumsum(values.astype(xp.float64), axis=-1), axis=-2)
    pad = [(0, 0)] * (table.ndim - 2) + [(1, 0), (1, 0)]
    table = xp.pad(table, pad)
    top, left = row_starts[:, None], col_starts[None, :]
    bottom, right = top + patch_px, left + patch_px
    sums = (
        table[..., bottom, right] - table[..., top, right] - table[..., bottom, left] + table[..., top, left]
    )
    return sums / (patch_px * patch_px)


def quantise(image, n_levels: int, xp=np):
    """Grey levels ``0 .. n_levels - 1`` at the image's own quantiles (equal-population bins), as uint8."""
    edges = xp.quantile(image.astype(xp.float64), xp.linspace(0, 1, n_levels + 1)[1:-1])
    return xp.searchsorted(edges, image.astype(xp.float64), side="right").astype(xp.uint8)


def lbp_uniform(image, xp=np):
    """Uniform local binary pattern codes (8 neighbours, radius 1), as ``skimage.feature.local_binary_pattern``.

    Neighbours are sampled on the unit circle by bilinear interpolation (zero
    outside the image); a pattern with at most two 0/1 changes (not wrapping)
    gets its number of ones, any other pattern the code 9.

    Returns
    -------
    array of uint8, codes 0..9
    """
    image = image.astype(xp.float64)
    rows, cols = image.shape
    padded = xp.pad(image, 2)  # zeros outside, as skimage's constant mode
    r = xp.arange(rows, dtype=xp.float64)[:, None]
    c = xp.arange(cols, dtype=xp.float64)[None, :]
    bits = []
    for p in range(8):
        angle = 2 * np.pi * p / 8
        rp, cp = np.round(-np.sin(angle), 5), np.round(np.cos(angle), 5)
        sample_r, sample_c = r + rp, c + cp
        min_r, min_c = xp.floor(sample_r), xp.floor(sample_c)
        max_r, max_c = xp.ceil(sample_r), xp.ceil(sample_c)
        dr, dc = sample_r - min_r, sample_c - min_c
        # shift by the padding of 2 to index the padded image
        top_left = padded[(min_r + 2).astype(int), (min_c + 2).astype(int)]
        top_right = padded[(min_r + 2).astype(int), (max_c + 2).astype(int)]
        bottom_left = padded[(max_r + 2).astype(int), (min_c + 2).astype(int)]
        bottom_right = padded[(max_r + 2).astype(int), (max_c + 2).astype(int)]
        top = (1 - dc) * top_left + dc * top_right
        bottom = (1 - dc) * bottom_left + dc * bottom_right
        bits.append(((1 - dr) * top + dr * bottom - image) >= 0)
    changes = sum((bits[p] != bits[p + 1]).astype(xp.uint8) for p in range(7))
    ones = sum(bit.astype(xp.uint8) for bit in bits)
    return xp.where(changes <= 2, ones, 9).astype(xp.uint8)


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
