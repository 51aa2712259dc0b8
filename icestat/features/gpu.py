"""CUDA kernels (numba.cuda) with the signatures of :mod:`icestat.features.cpu`, and their launchers.

One thread per patch (per patch and offset for the co-occurrence matrix). The
arrays may be CuPy arrays (they stay on the device) or, under the CUDA
simulator (``NUMBA_ENABLE_CUDASIM=1``), NumPy arrays.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda

from icestat.features.registry import GLCM_LEVELS as MAX_GLCM_LEVELS

_THREADS_PER_BLOCK = 128


@cuda.jit
def _patch_moments(image, row_starts, col_starts, patch_px, out):
    index = cuda.grid(1)
    if index >= row_starts.size * col_starts.size:
        return
    i = index // col_starts.size
    j = index % col_starts.size
    top = row_starts[i]
    left = col_starts[j]
    n_pixels = patch_px * patch_px
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
    out[i, j, 1] = math.sqrt(m2)
    if m2 > 0:
        out[i, j, 2] = m3 / m2**1.5
        out[i, j, 3] = m4 / (m2 * m2) - 3.0
    else:
        out[i, j, 2] = 0.0
        out[i, j, 3] = 0.0


@cuda.jit
def _glcm_features(levels, row_starts, col_starts, patch_px, offsets, n_levels, out):
    index = cuda.grid(1)
    n_patches = row_starts.size * col_starts.size
    if index >= n_patches * offsets.shape[0]:
        return
    o = index // n_patches
    patch = index % n_patches
    i = patch // col_starts.size
    j = patch % col_starts.size
    top = row_starts[i]
    left = col_starts[j]
    dr = offsets[o, 0]
    dc = offsets[o, 1]
    counts = cuda.local.array((MAX_GLCM_LEVELS, MAX_GLCM_LEVELS), dtype="float64")
    for a in range(n_levels):
        for b in range(n_levels):
            counts[a, b] = 0.0
    for r in range(max(0, -dr), patch_px - max(0, dr)):
        for c in range(max(0, -dc), patch_px - max(0, dc)):
            a = levels[top + r, left + c]
            b = levels[top + r + dr, left + c + dc]
            counts[a, b] += 1.0
            counts[b, a] += 1.0
    total = 0.0
    for a in range(n_levels):
        for b in range(n_levels):
            total += counts[a, b]
    contrast = 0.0
    homogeneity = 0.0
    asm = 0.0
    entropy = 0.0
    mean_i = 0.0
    mean_j = 0.0
    for a in range(n_levels):
        for b in range(n_levels):
            p = counts[a, b] / total
            d = a - b
            contrast += p * d * d
            homogeneity += p / (1.0 + d * d)
            asm += p * p
            if p > 0:
                entropy -= p * math.log(p)
            mean_i += a * p
            mean_j += b * p
    var_i = 0.0
    var_j = 0.0
    cov = 0.0
    for a in range(n_levels):
        for b in range(n_levels):
            p = counts[a, b] / total
            var_i += p * (a - mean_i) ** 2
            var_j += p * (b - mean_j) ** 2
            cov += p * (a - mean_i) * (b - mean_j)
    std_i = math.sqrt(var_i)
    std_j = math.sqrt(var_j)
    out[i, j, o, 0] = contrast
    out[i, j, o, 1] = homogeneity
    out[i, j, o, 2] = math.sqrt(asm)
    out[i, j, o, 3] = 1.0 if std_i < 1e-15 or std_j < 1e-15 else cov / (std_i * std_j)
    out[i, j, o, 4] = entropy


@cuda.jit
def _patch_gradient_stats(gx, gy, edge_threshold2, row_starts, col_starts, patch_px, out):
    index = cuda.grid(1)
    if index >= row_starts.size * col_starts.size:
        return
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
    n_pixels = patch_px * patch_px
    out[0, i, j] = xx / n_pixels
    out[1, i, j] = yy / n_pixels
    out[2, i, j] = xy / n_pixels
    out[3, i, j] = edges / n_pixels


@cuda.jit
def _patch_histograms(codes, row_starts, col_starts, patch_px, n_codes, out):
    index = cuda.grid(1)
    if index >= row_starts.size * col_starts.size:
        return
    i = index // col_starts.size
    j = index % col_starts.size
    for k in range(n_codes):
        out[i, j, k] = 0.0
    for r in range(row_starts[i], row_starts[i] + patch_px):
        for c in range(col_starts[j], col_starts[j] + patch_px):
            out[i, j, codes[r, c]] += 1.0 / (patch_px * patch_px)


@cuda.jit(device=True)
def _pixel(image, r, c):
    ri = int(r)
    ci = int(c)
    if ri < 0 or ci < 0 or ri >= image.shape[0] or ci >= image.shape[1]:
        return 0.0
    return float(image[ri, ci])


@cuda.jit
def _lbp_codes(image, offsets, out):
    r, c = cuda.grid(2)
    if r >= image.shape[0] or c >= image.shape[1]:
        return
    centre = float(image[r, c])
    changes = 0
    ones = 0
    previous = 0
    for p in range(8):
        sample_r = r + offsets[p, 0]
        sample_c = c + offsets[p, 1]
        min_r = math.floor(sample_r)
        min_c = math.floor(sample_c)
        max_r = math.ceil(sample_r)
        max_c = math.ceil(sample_c)
        dr = sample_r - min_r
        dc = sample_c - min_c
        top = (1 - dc) * _pixel(image, min_r, min_c) + dc * _pixel(image, min_r, max_c)
        bottom = (1 - dc) * _pixel(image, max_r, min_c) + dc * _pixel(image, max_r, max_c)
        bit = 1 if (1 - dr) * top + dr * bottom - centre >= 0 else 0
        ones += bit
        if p > 0 and bit != previous:
            changes += 1
        previous = bit
    out[r, c] = ones if changes <= 2 else 9


def _blocks(n_threads: int) -> int:
    return max(1, (n_threads + _THREADS_PER_BLOCK - 1) // _THREADS_PER_BLOCK)


def patch_moments(image, row_starts, col_starts, patch_px, out):
    """CUDA twin of :func:`icestat.features.cpu.patch_moments`."""
    _patch_moments[_blocks(row_starts.size * col_starts.size), _THREADS_PER_BLOCK](
        image, row_starts, col_starts, patch_px, out
    )


def patch_gradient_stats(gx, gy, edge_threshold2, row_starts, col_starts, patch_px, out):
    """CUDA twin of :func:`icestat.features.cpu.patch_gradient_stats`."""
    _patch_gradient_stats[_blocks(row_starts.size * col_starts.size), _THREADS_PER_BLOCK](
        gx, gy, edge_threshold2, row_starts, col_starts, patch_px, out
    )


def patch_histograms(codes, row_starts, col_starts, patch_px, n_codes, out):
    """CUDA twin of :func:`icestat.features.cpu.patch_histograms`."""
    _patch_histograms[_blocks(row_starts.size * col_starts.size), _THREADS_PER_BLOCK](
        codes, row_starts, col_starts, patch_px, n_codes, out
    )


def lbp_codes(image, out):
    """CUDA twin of :func:`icestat.features.cpu.lbp_codes`."""
    offsets = np.array(
        [[np.round(-np.sin(2 * np.pi * p / 8), 5), np.round(np.cos(2 * np.pi * p / 8), 5)] for p in range(8)]
    )
    blocks = ((image.shape[0] + 15) // 16, (image.shape[1] + 15) // 16)
    _lbp_codes[blocks, (16, 16)](image, cuda.to_device(offsets), out)


def glcm_features(levels, row_starts, col_starts, patch_px, offsets, n_levels, out):
    """CUDA twin of :func:`icestat.features.cpu.glcm_features` (``n_levels`` at most 16)."""
    if n_levels > MAX_GLCM_LEVELS:
        raise ValueError(f"the CUDA co-occurrence kernel holds at most {MAX_GLCM_LEVELS} grey levels")
    n_threads = row_starts.size * col_starts.size * offsets.shape[0]
    _glcm_features[_blocks(n_threads), _THREADS_PER_BLOCK](
        levels, row_starts, col_starts, patch_px, offsets, n_levels, out
    )
