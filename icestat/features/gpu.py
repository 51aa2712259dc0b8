"""CUDA kernels (numba.cuda) with the signatures of :mod:`icestat.features.cpu`, and their launchers.

One thread per patch (per patch and offset for the co-occurrence matrix), each
running the per-patch computation of :mod:`icestat.features.patch_bodies`
compiled as a CUDA device function; the LBP codes, one thread per pixel, are
written here. The arrays may be CuPy arrays (they stay on the device) or, under
the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``), NumPy arrays.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda

from icestat.features import patch_bodies
from icestat.features.registry import GLCM_LEVELS as MAX_GLCM_LEVELS

_moments = cuda.jit(device=True)(patch_bodies.moments)
_gradient_stats = cuda.jit(device=True)(patch_bodies.gradient_stats)
_histogram = cuda.jit(device=True)(patch_bodies.histogram)
_cooccurrences = cuda.jit(device=True)(patch_bodies.cooccurrences)
_haralick = cuda.jit(device=True)(patch_bodies.haralick)

_THREADS_PER_BLOCK = 128


@cuda.jit
def _patch_moments(image, row_starts, col_starts, patch_px, out):
    index = cuda.grid(1)
    if index < row_starts.size * col_starts.size:
        i = index // col_starts.size
        j = index % col_starts.size
        _moments(image, row_starts[i], col_starts[j], patch_px, out, i, j)


@cuda.jit
def _glcm_features(levels, row_starts, col_starts, patch_px, offsets, n_levels, out):
    index = cuda.grid(1)
    n_patches = row_starts.size * col_starts.size
    if index < n_patches * offsets.shape[0]:
        o = index // n_patches
        i = index % n_patches // col_starts.size
        j = index % n_patches % col_starts.size
        counts = cuda.local.array((MAX_GLCM_LEVELS, MAX_GLCM_LEVELS), dtype="float64")
        _cooccurrences(levels, row_starts[i], col_starts[j], patch_px, offsets[o, 0], offsets[o, 1], n_levels, counts)
        _haralick(counts, n_levels, out, i, j, o)


@cuda.jit
def _patch_gradient_stats(gx, gy, edge_threshold2, row_starts, col_starts, patch_px, out):
    index = cuda.grid(1)
    if index < row_starts.size * col_starts.size:
        i = index // col_starts.size
        j = index % col_starts.size
        _gradient_stats(gx, gy, edge_threshold2, row_starts[i], col_starts[j], patch_px, out, i, j)


@cuda.jit
def _patch_histograms(codes, row_starts, col_starts, patch_px, n_codes, out):
    index = cuda.grid(1)
    if index < row_starts.size * col_starts.size:
        i = index // col_starts.size
        j = index % col_starts.size
        _histogram(codes, row_starts[i], col_starts[j], patch_px, n_codes, out, i, j)


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
