"""Numba CPU kernels: one patch per parallel iteration, reading the image in place (no patch copies).

Every kernel takes ``(image, row_starts, col_starts, patch_px, ..., out)`` and
fills ``out[i, j, ...]`` for patch ``(i, j)``; :mod:`icestat.features.gpu` has
the same kernels for CUDA. Slow, obviously-correct references live in
``tests/reference.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def patch_moments(image, row_starts, col_starts, patch_px, out):
    """Mean, standard deviation, skewness and excess kurtosis of each patch (two passes, float64)."""
    n_pixels = patch_px * patch_px
    for index in prange(row_starts.size * col_starts.size):
        i = index // col_starts.size
        j = index % col_starts.size
        top = row_starts[i]
        left = col_starts[j]
        total = 0.0
        for r in range(top, top + patch_px):
            for c in range(left, left + patch_px):
                total += float(image[r, c])
        mean = total / n_pixels
        m2 = 0.0
        m3 = 0.0
        m4 = 0.0
        for r in range(top, top + patch_px):
            for c in range(left, left + patch_px):
                d = float(image[r, c]) - mean
                d2 = d * d
                m2 += d2
                m3 += d2 * d
                m4 += d2 * d2
        m2 /= n_pixels
        m3 /= n_pixels
        m4 /= n_pixels
        out[i, j, 0] = mean
        out[i, j, 1] = np.sqrt(m2)
        if m2 > 0:
            out[i, j, 2] = m3 / m2**1.5
            out[i, j, 3] = m4 / (m2 * m2) - 3.0
        else:
            out[i, j, 2] = 0.0
            out[i, j, 3] = 0.0


@njit(parallel=True, cache=True)
def patch_percentiles(image, row_starts, col_starts, patch_px, step, quantiles, out):
    """Percentiles (``quantiles`` in [0, 1]) of each patch's pixels on a ``step``-px lattice.

    Interpolated linearly between order statistics, as ``numpy.percentile``.
    """
    for index in prange(row_starts.size * col_starts.size):
        i = index // col_starts.size
        j = index % col_starts.size
        values = image[row_starts[i]:row_starts[i] + patch_px:step, col_starts[j]:col_starts[j] + patch_px:step]
        ordered = np.sort(values.copy().ravel())
        n = ordered.size
        for q in range(quantiles.size):
            position = quantiles[q] * (n - 1)
            below = int(np.floor(position))
            above = min(below + 1, n - 1)
            fraction = position - below
            out[i, j, q] = ordered[below] + fraction * (ordered[above] - ordered[below])


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
            out[r, c] = np.searchsorted(edges, image[r, c], side="right")


@njit(parallel=True, cache=True)
def patch_gradient_stats(gx, gy, edge_threshold2, row_starts, col_starts, patch_px, out):
    """Patch means of gx^2, gy^2, gx*gy and of (gx^2 + gy^2 > edge_threshold2): ``out`` (4, rows, cols)."""
    n_pixels = patch_px * patch_px
    for index in prange(row_starts.size * col_starts.size):
        i = index // col_starts.size
        j = index % col_starts.size
        xx = 0.0
        yy = 0.0
        xy = 0.0
        edges = 0.0
        for r in range(row_starts[i], row_starts[i] + patch_px):
            for c in range(col_starts[j], col_starts[j] + patch_px):
                x = float(gx[r, c])
                y = float(gy[r, c])
                xx += x * x
                yy += y * y
                xy += x * y
                if x * x + y * y > edge_threshold2:
                    edges += 1.0
        out[0, i, j] = xx / n_pixels
        out[1, i, j] = yy / n_pixels
        out[2, i, j] = xy / n_pixels
        out[3, i, j] = edges / n_pixels


@njit(parallel=True, cache=True)
def patch_histograms(codes, row_starts, col_starts, patch_px, n_codes, out):
    """Fraction of each patch's pixels holding each code ``0 .. n_codes - 1``: ``out`` (rows, cols, n_codes)."""
    n_pixels = patch_px * patch_px
    for index in prange(row_starts.size * col_starts.size):
        i = index // col_starts.size
        j = index % col_starts.size
        counts = np.zeros(n_codes)
        for r in range(row_starts[i], row_starts[i] + patch_px):
            for c in range(col_starts[j], col_starts[j] + patch_px):
                counts[codes[r, c]] += 1.0
        for k in range(n_codes):
            out[i, j, k] = counts[k] / n_pixels


@njit(parallel=True, cache=True)
def lbp_codes(image, out):
    """Uniform local binary pattern codes (8 neighbours, radius 1), exactly as scikit-image computes them.

    Neighbours on the unit circle are interpolated bilinearly (zero outside
    the image); a pattern with at most two 0/1 changes (not wrapping round)
    gets its number of ones, any other the code 9.
    """
    rows, cols = image.shape
    for r in prange(rows):
        bits = np.zeros(8, np.int64)
        for c in range(cols):
            centre = float(image[r, c])
            for p in range(8):
                angle = 2 * np.pi * p / 8
                sample_r = r + np.round(-np.sin(angle), 5)
                sample_c = c + np.round(np.cos(angle), 5)
                value = _bilinear(image, sample_r, sample_c)
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


@njit(parallel=True, cache=True)
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
    for index in prange(row_starts.size * col_starts.size):
        i = index // col_starts.size
        j = index % col_starts.size
        top = row_starts[i]
        left = col_starts[j]
        counts = np.zeros((n_levels, n_levels))
        for o in range(offsets.shape[0]):
            dr = offsets[o, 0]
            dc = offsets[o, 1]
            counts[:, :] = 0.0
            for r in range(max(0, -dr), patch_px - max(0, dr)):
                for c in range(max(0, -dc), patch_px - max(0, dc)):
                    counts[levels[top + r, left + c], levels[top + r + dr, left + c + dc]] += 1.0
            _haralick(counts + counts.T, out[i, j, o])  # symmetric: each pair counted both ways


@njit(cache=True)
def _haralick(counts, result):
    """Fill ``result`` with contrast, homogeneity, energy, correlation and entropy of a co-occurrence matrix."""
    n = counts.shape[0]
    total = counts.sum()
    contrast = 0.0
    homogeneity = 0.0
    asm = 0.0
    entropy = 0.0
    mean_i = 0.0
    mean_j = 0.0
    for a in range(n):
        for b in range(n):
            p = counts[a, b] / total
            d = a - b
            contrast += p * d * d
            homogeneity += p / (1.0 + d * d)
            asm += p * p
            if p > 0:
                entropy -= p * np.log(p)
            mean_i += a * p
            mean_j += b * p
    var_i = 0.0
    var_j = 0.0
    cov = 0.0
    for a in range(n):
        for b in range(n):
            p = counts[a, b] / total
            var_i += p * (a - mean_i) ** 2
            var_j += p * (b - mean_j) ** 2
            cov += p * (a - mean_i) * (b - mean_j)
    result[0] = contrast
    result[1] = homogeneity
    result[2] = np.sqrt(asm)
    std_i = np.sqrt(var_i)
    std_j = np.sqrt(var_j)
    result[3] = 1.0 if std_i < 1e-15 or std_j < 1e-15 else cov / (std_i * std_j)
    result[4] = entropy
