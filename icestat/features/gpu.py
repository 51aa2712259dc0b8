"""CUDA kernels (numba.cuda) with the signatures of :mod:`icestat.features.cpu`, and their launchers.

One thread per patch (per patch and offset for the co-occurrence matrix). The
arrays may be CuPy arrays (they stay on the device) or, under the CUDA
simulator (``NUMBA_ENABLE_CUDASIM=1``), NumPy arrays.
"""

from __future__ import annotations

import math

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


def _blocks(n_threads: int) -> int:
    return max(1, (n_threads + _THREADS_PER_BLOCK - 1) // _THREADS_PER_BLOCK)


def patch_moments(image, row_starts, col_starts, patch_px, out):
    """CUDA twin of :func:`icestat.features.cpu.patch_moments`."""
    _patch_moments[_blocks(row_starts.size * col_starts.size), _THREADS_PER_BLOCK](
        image, row_starts, col_starts, patch_px, out
    )


def glcm_features(levels, row_starts, col_starts, patch_px, offsets, n_levels, out):
    """CUDA twin of :func:`icestat.features.cpu.glcm_features` (``n_levels`` at most 16)."""
    if n_levels > MAX_GLCM_LEVELS:
        raise ValueError(f"the CUDA co-occurrence kernel holds at most {MAX_GLCM_LEVELS} grey levels")
    n_threads = row_starts.size * col_starts.size * offsets.shape[0]
    _glcm_features[_blocks(n_threads), _THREADS_PER_BLOCK](
        levels, row_starts, col_starts, patch_px, offsets, n_levels, out
    )
