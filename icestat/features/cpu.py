"""Numba CPU kernels: one patch per parallel iteration, reading the image in place (no patch copies).

Every kernel takes ``(image, row_starts, col_starts, patch_px, ..., out)`` and
fills ``out[i, j, ...]`` for patch ``(i, j)``; :mod:`icestat.features.gpu` has
the same kernels for CUDA. What is computed per patch is written once, in
:mod:`icestat.features.patch_bodies`, and compiled here for the CPU. Slow,
obviously-correct references live in ``tests/reference.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from icestat.features import patch_bodies

_moments = njit(cache=True)(patch_bodies.moments)
_gradient_stats = njit(cache=True)(patch_bodies.gradient_stats)
_histogram = njit(cache=True)(patch_bodies.histogram)
_cooccurrences = njit(cache=True)(patch_bodies.cooccurrences)
_haralick = njit(cache=True)(patch_bodies.haralick)


@njit(parallel=True, cache=True)
def patch_moments(image, row_starts, col_starts, patch_px, out):
    """Mean, standard deviation, skewness and excess kurtosis of each patch (two passes, float64)."""
    for index in prange(row_starts.size * col_starts.size):
        i = index // col_starts.size
        j = index % col_starts.size
        _moments(image, row_starts[i], col_starts[j], patch_px, out, i, j)


@njit(parallel=True, cache=True)
def patch_percentiles(image, row_starts, col_starts, patch_px, step, quantiles, out):
    """Percentiles (``quantiles`` in [0, 1]) of each patch's pixels on a ``step``-px lattice (float32 image).

    Interpolated linearly between order statistics, as ``numpy.percentile``;
    the pixels are ordered by a radix sort (:func:`_radix_sorted`), 7x faster
    than ``np.sort`` on 1024 values.
    """
    side = (patch_px + step - 1) // step
    n_values = side * side
    for index in prange(row_starts.size * col_starts.size):
        i = index // col_starts.size
        j = index % col_starts.size
        values = np.empty(n_values, np.float32)
        k = 0
        for r in range(row_starts[i], row_starts[i] + patch_px, step):
            for c in range(col_starts[j], col_starts[j] + patch_px, step):
                values[k] = image[r, c]
                k += 1
        ordered = _radix_sorted(values)
        for q in range(quantiles.size):
            position = quantiles[q] * (n_values - 1)
            below = int(np.floor(position))
            above = min(below + 1, n_values - 1)
            fraction = position - below
            out[i, j, q] = ordered[below] + fraction * (ordered[above] - ordered[below])


@njit(cache=True)
def _radix_sorted(values):
    """`values` (float32, 1D, no NaN) sorted ascending: a least-significant-digit radix sort, a byte at a time.

    Each float's bits become an unsigned key that orders as the float does
    (negative floats: all bits flipped; others: the sign bit set).
    """
    n_values = values.size
    bits = values.view(np.uint32)
    keys = np.empty(n_values, np.uint32)
    spare = np.empty(n_values, np.uint32)
    for k in range(n_values):
        keys[k] = ~bits[k] if bits[k] & 0x80000000 else bits[k] | 0x80000000
    starts = np.empty(256, np.int64)
    for shift in range(0, 32, 8):
        starts[:] = 0
        for k in range(n_values):
            starts[(keys[k] >> shift) & 0xFF] += 1
        total = 0
        for digit in range(256):
            count = starts[digit]
            starts[digit] = total
            total += count
        for k in range(n_values):
            digit = (keys[k] >> shift) & 0xFF
            spare[starts[digit]] = keys[k]
            starts[digit] += 1
        keys, spare = spare, keys
    for k in range(n_values):
        keys[k] = keys[k] & 0x7FFFFFFF if keys[k] & 0x80000000 else ~keys[k]
    return keys.view(np.float32)


@njit(parallel=True, cache=True)
def windowed_patches(image, row_starts, col_starts, patch_px, window, out):
    """Each patch less its mean (float64) times `window`, into ``out[i * col_starts.size + j]`` (float32).

    What the FFTs of the spectrum features take, made from the image in place (no patch copies).
    """
    for index in prange(row_starts.size * col_starts.size):
        top = row_starts[index // col_starts.size]
        left = col_starts[index % col_starts.size]
        total = 0.0
        for r in range(patch_px):
            for c in range(patch_px):
                total += float(image[top + r, left + c])
        mean = total / (patch_px * patch_px)
        for r in range(patch_px):
            for c in range(patch_px):
                out[index, r, c] = np.float32(float(image[top + r, left + c]) - mean) * window[r, c]


@njit(parallel=True, cache=True)
def sobel(image, gx, gy):
    """Sobel derivatives along columns (gx) and rows (gy), mirrored at the edges as ``scipy.ndimage.sobel``."""
    rows, cols = image.shape
    for r in prange(rows):
        up = _mirror(r - 1, rows)
        down = _mirror(r + 1, rows)
        for c in range(cols):
            left = _mirror(c - 1, cols)
            right = _mirror(c + 1, cols)
            a = float(image[up, left])
            b = float(image[up, c])
            d = float(image[up, right])
            e = float(image[r, left])
            f = float(image[r, right])
            g = float(image[down, left])
            h = float(image[down, c])
            k = float(image[down, right])
            gx[r, c] = (d + 2 * f + k) - (a + 2 * e + g)
            gy[r, c] = (g + 2 * h + k) - (a + 2 * b + d)


@njit(cache=True)
def _mirror(index, length):
    """scipy.ndimage's 'reflect' boundary for a step of one pixel (the edge pixel repeats)."""
    if index < 0:
        return 0
    if index >= length:
        return length - 1
    return index


@njit(parallel=True, cache=True)
def quantise(image, edges, out):
    """Grey level of each pixel: the number of ``edges`` (sorted) not above it, as ``searchsorted(side='right')``."""
    rows, cols = image.shape
    for r in prange(rows):
        for c in range(cols):
            value = image[r, c]
            level = 0
            for e in range(edges.size):  # a count, not a binary search: 4x faster for 15 edges
                level += edges[e] <= value
            out[r, c] = level


@njit(parallel=True, cache=True)
def patch_gradient_stats(gx, gy, edge_threshold2, row_starts, col_starts, patch_px, out):
    """Patch means of gx^2, gy^2, gx*gy and of (gx^2 + gy^2 > edge_threshold2): ``out`` (4, rows, cols)."""
    for index in prange(row_starts.size * col_starts.size):
        i = index // col_starts.size
        j = index % col_starts.size
        _gradient_stats(gx, gy, edge_threshold2, row_starts[i], col_starts[j], patch_px, out, i, j)


@njit(parallel=True, cache=True)
def patch_histograms(codes, row_starts, col_starts, patch_px, n_codes, out):
    """Fraction of each patch's pixels holding each code ``0 .. n_codes - 1``: ``out`` (rows, cols, n_codes)."""
    for index in prange(row_starts.size * col_starts.size):
        i = index // col_starts.size
        j = index % col_starts.size
        _histogram(codes, row_starts[i], col_starts[j], patch_px, n_codes, out, i, j)


def lbp_codes(image, out):
    """Uniform local binary pattern codes (8 neighbours, radius 1), exactly as scikit-image computes them.

    Neighbours on the unit circle are interpolated bilinearly (zero outside
    the image); a pattern with at most two 0/1 changes (not wrapping round)
    gets its number of ones, any other the code 9.
    """
    _lbp_codes(image, patch_bodies.lbp_circle_offsets(), out)


@njit(parallel=True, cache=True)
def _lbp_codes(image, offsets, out):
    """:func:`lbp_codes` with the neighbours' offsets (:func:`icestat.features.patch_bodies.lbp_circle_offsets`)."""
    rows, cols = image.shape
    for r in prange(rows):
        bits = np.zeros(8, np.int64)
        for c in range(cols):
            centre = float(image[r, c])
            for p in range(8):
                value = _bilinear(image, r + offsets[p, 0], c + offsets[p, 1])
                bits[p] = 1 if value - centre >= 0 else 0
            out[r, c] = _uniform_code(bits)


@njit(cache=True)
def _bilinear(image, r, c):
    """scikit-image's bilinear interpolation with zero outside the image."""
    min_r = np.floor(r)
    min_c = np.floor(c)
    max_r = np.ceil(r)
    max_c = np.ceil(c)
    dr = r - min_r
    dc = c - min_c
    top = (1 - dc) * _pixel(image, min_r, min_c) + dc * _pixel(image, min_r, max_c)
    bottom = (1 - dc) * _pixel(image, max_r, min_c) + dc * _pixel(image, max_r, max_c)
    return (1 - dr) * top + dr * bottom


@njit(cache=True)
def _pixel(image, r, c):
    ri = int(r)
    ci = int(c)
    if ri < 0 or ci < 0 or ri >= image.shape[0] or ci >= image.shape[1]:
        return 0.0
    return float(image[ri, ci])


@njit(cache=True)
def _uniform_code(bits):
    changes = 0
    ones = 0
    for p in range(8):
        ones += bits[p]
        if p < 7 and bits[p] != bits[p + 1]:
            changes += 1
    return ones if changes <= 2 else 9


def glcm_features(levels, row_starts, col_starts, patch_px, offsets, n_levels, out):
    """Haralick features of the symmetric, normalised grey-level co-occurrence matrix of each patch.

    Parameters
    ----------
    levels : 2D integer array
        The image quantised to ``0 .. n_levels - 1``.
    offsets : (n_offsets, 2) integer array
        ``(row, column)`` displacement of each pixel pair.
    out : (rows, cols, n_offsets, 5) array
        Contrast, homogeneity, energy, correlation, entropy (natural log) per offset.
    """
    _glcm_features(levels, row_starts, col_starts, patch_px, offsets, n_levels,
                   patch_bodies.x_log_x_table(patch_px), out)


@njit(parallel=True, cache=True)
def _glcm_features(levels, row_starts, col_starts, patch_px, offsets, n_levels, x_log_x, out):
    """:func:`glcm_features` with the table of ``k log k`` (:func:`icestat.features.patch_bodies.x_log_x_table`)."""
    for index in prange(row_starts.size * col_starts.size):
        i = index // col_starts.size
        j = index % col_starts.size
        counts = np.empty((n_levels, n_levels))
        for o in range(offsets.shape[0]):
            _cooccurrences(levels, row_starts[i], col_starts[j], patch_px, offsets[o, 0], offsets[o, 1], n_levels,
                           counts)
            _haralick(counts, n_levels, x_log_x, out, i, j, o)
