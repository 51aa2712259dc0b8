"""CUDA kernels (numba.cuda) with the signatures of :mod:`icestat.features.cpu`, and their launchers.

One thread per patch, each running the per-patch computation of
:mod:`icestat.features.patch_bodies` compiled as a CUDA device function; the
co-occurrence matrices (one block per patch counting every offset's pairs into
shared memory), the percentiles (one block per patch sorting its pixels in shared
memory), the windowed patches for the FFTs (one block per patch) and the LBP
codes (one thread per pixel) are written here. The arrays
may be CuPy arrays (they stay on the device) or, under the CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``), NumPy arrays.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from numba import cuda, float32, float64, int32

from icestat.features import patch_bodies
from icestat.features.registry import GLCM_ANGLES_DEG, GLCM_DISTANCES_PX
from icestat.features.registry import GLCM_LEVELS as MAX_GLCM_LEVELS

_moments = cuda.jit(device=True)(patch_bodies.moments)
_gradient_stats = cuda.jit(device=True)(patch_bodies.gradient_stats)
_histogram = cuda.jit(device=True)(patch_bodies.histogram)
_haralick = cuda.jit(device=True)(patch_bodies.haralick)

_THREADS_PER_BLOCK = 128
_MAX_GLCM_OFFSETS = len(GLCM_DISTANCES_PX) * len(GLCM_ANGLES_DEG)
#: numba's low-occupancy warning (after its terminal highlighting).
_LOW_OCCUPANCY_WARNING = r".*Grid size \d+ will likely result in GPU under-utilization"
#: Most pixels of one patch the percentile kernel sorts in shared memory (a 128-px patch on a 2-px lattice).
MAX_SORTED_PX = 4096


@cuda.jit
def _patch_moments(image, row_starts, col_starts, patch_px, out):
    index = cuda.grid(1)
    if index < row_starts.size * col_starts.size:
        i = index // col_starts.size
        j = index % col_starts.size
        _moments(image, row_starts[i], col_starts[j], patch_px, out, i, j)


@cuda.jit
def _glcm_features(levels, row_starts, col_starts, patch_px, offsets, n_levels, x_log_x, out):
    # one block per patch: its threads share the pixels, counting each one's pairs at every offset (one way
    # round, as patch_bodies.cooccurrences does) into shared memory; then a thread per offset takes the features
    counts = cuda.shared.array((_MAX_GLCM_OFFSETS, MAX_GLCM_LEVELS, MAX_GLCM_LEVELS), dtype=int32)
    i = cuda.blockIdx.x // col_starts.size
    j = cuda.blockIdx.x % col_starts.size
    top = row_starts[i]
    left = col_starts[j]
    n_bins = MAX_GLCM_LEVELS * MAX_GLCM_LEVELS
    for k in range(cuda.threadIdx.x, _MAX_GLCM_OFFSETS * n_bins, cuda.blockDim.x):
        counts[k // n_bins, k % n_bins // MAX_GLCM_LEVELS, k % MAX_GLCM_LEVELS] = 0
    cuda.syncthreads()
    for pixel in range(cuda.threadIdx.x, patch_px * patch_px, cuda.blockDim.x):
        r = pixel // patch_px
        c = pixel % patch_px
        a = levels[top + r, left + c]
        for o in range(offsets.shape[0]):
            partner_r = r + offsets[o, 0]
            partner_c = c + offsets[o, 1]
            if partner_r >= 0 and partner_c >= 0 and partner_r < patch_px and partner_c < patch_px:
                cuda.atomic.add(counts, (o, a, levels[top + partner_r, left + partner_c]), 1)
    cuda.syncthreads()
    if cuda.threadIdx.x < offsets.shape[0]:
        _haralick(counts[cuda.threadIdx.x], n_levels, x_log_x, out, i, j, cuda.threadIdx.x)


@cuda.jit
def _patch_percentiles(image, row_starts, col_starts, patch_px, step, sorted_px, quantiles, out):
    # one block per patch: its pixels on the lattice into shared memory, padded with +inf to sorted_px (a power of
    # two), a bitonic sort there, then numpy.percentile's linear interpolation, a thread per quantile
    values = cuda.shared.array(MAX_SORTED_PX, dtype=float32)
    i = cuda.blockIdx.x // col_starts.size
    j = cuda.blockIdx.x % col_starts.size
    side = (patch_px + step - 1) // step
    n = side * side
    for k in range(cuda.threadIdx.x, sorted_px, cuda.blockDim.x):
        values[k] = image[row_starts[i] + k // side * step, col_starts[j] + k % side * step] if k < n else math.inf
    cuda.syncthreads()
    length = 2
    while length <= sorted_px:
        stride = length // 2
        while stride > 0:
            for k in range(cuda.threadIdx.x, sorted_px, cuda.blockDim.x):
                partner = k ^ stride
                if partner > k and (values[k] > values[partner]) == ((k & length) == 0):   # ascending or not
                    values[k], values[partner] = values[partner], values[k]
            cuda.syncthreads()
            stride //= 2
        length *= 2
    q = cuda.threadIdx.x
    if q < quantiles.size:
        position = quantiles[q] * (n - 1)
        below = int(math.floor(position))
        above = below + 1 if below + 1 < n else n - 1
        out[i, j, q] = values[below] + (position - below) * (values[above] - values[below])


@cuda.jit
def _windowed_patches(image, row_starts, col_starts, patch_px, window, out):
    # one block per patch: its threads sum the pixels (float64) and the block adds the sums up (a tree in shared
    # memory; blockDim a power of two) for the mean; then each thread writes its pixels less the mean, windowed
    partial = cuda.shared.array(_THREADS_PER_BLOCK, dtype=float64)
    top = row_starts[cuda.blockIdx.x // col_starts.size]
    left = col_starts[cuda.blockIdx.x % col_starts.size]
    n_pixels = patch_px * patch_px
    total = 0.0
    for pixel in range(cuda.threadIdx.x, n_pixels, cuda.blockDim.x):
        total += float(image[top + pixel // patch_px, left + pixel % patch_px])
    partial[cuda.threadIdx.x] = total
    cuda.syncthreads()
    step = cuda.blockDim.x // 2
    while step > 0:
        if cuda.threadIdx.x < step:
            partial[cuda.threadIdx.x] += partial[cuda.threadIdx.x + step]
        cuda.syncthreads()
        step //= 2
    mean = partial[0] / n_pixels
    for pixel in range(cuda.threadIdx.x, n_pixels, cuda.blockDim.x):
        r = pixel // patch_px
        c = pixel % patch_px
        out[cuda.blockIdx.x, r, c] = float32(float(image[top + r, left + c]) - mean) * window[r, c]


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


def check_kernels() -> None:
    """Compile and run one kernel on a tiny image, or say in one line why numba cannot.

    Raises
    ------
    RuntimeError
        If numba cannot compile or launch CUDA kernels here (numba-cuda under
        NumPy 2.5 cannot compile any: it asks NumPy for ``row_stack``).
    """
    out = np.zeros((1, 1, 4))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # host arrays copied to the device: a tiny image, on purpose
            patch_moments(np.full((4, 4), 2.0, np.float32), np.zeros(1, np.int64), np.zeros(1, np.int64), 4, out)
    except Exception as err:  # whatever numba or the driver raises, as one line
        message = str(err).splitlines()[0] if str(err) else ""
        raise RuntimeError(f"numba cannot compile or run its CUDA kernels here ({type(err).__name__}: {message}); "
                           "numba-cuda needs NumPy below 2.5: pip install 'icestat[gpu]'") from None
    if out[0, 0, 0] != 2.0:
        raise RuntimeError(f"numba's CUDA kernels ran but computed a mean of {out[0, 0, 0]} for an image of 2s")


def _blocks(n_threads: int) -> int:
    return max(1, (n_threads + _THREADS_PER_BLOCK - 1) // _THREADS_PER_BLOCK)


def _launch(kernel, blocks, threads_per_block, *args) -> None:
    """Launch `kernel` without numba's warning that the grid is small for the GPU.

    One micrograph's working image has a few hundred patches, fewer than an
    H100 has room for, at every launch: a warning a user can do nothing about.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_LOW_OCCUPANCY_WARNING)
        kernel[blocks, threads_per_block](*args)


def patch_moments(image, row_starts, col_starts, patch_px, out):
    """CUDA twin of :func:`icestat.features.cpu.patch_moments`."""
    _launch(_patch_moments, _blocks(row_starts.size * col_starts.size), _THREADS_PER_BLOCK,
            image, row_starts, col_starts, patch_px, out)


def patch_percentiles(image, row_starts, col_starts, patch_px, step, quantiles, out):
    """CUDA twin of :func:`icestat.features.cpu.patch_percentiles` (at most ``MAX_SORTED_PX`` pixels per patch)."""
    n_values = ((patch_px + step - 1) // step) ** 2
    if n_values > MAX_SORTED_PX:
        raise ValueError(f"the CUDA percentile kernel sorts at most {MAX_SORTED_PX} pixels per patch, not {n_values} "
                         f"({patch_px}-px patches on a {step}-px lattice)")
    sorted_px = 1 << max(n_values - 1, 1).bit_length()   # the power of two at or above n_values
    _launch(_patch_percentiles, row_starts.size * col_starts.size, _THREADS_PER_BLOCK,
            image, row_starts, col_starts, patch_px, step, sorted_px, quantiles, out)


def windowed_patches(image, row_starts, col_starts, patch_px, window, out):
    """CUDA twin of :func:`icestat.features.cpu.windowed_patches`."""
    _launch(_windowed_patches, row_starts.size * col_starts.size, _THREADS_PER_BLOCK,
            image, row_starts, col_starts, patch_px, window, out)


def patch_gradient_stats(gx, gy, edge_threshold2, row_starts, col_starts, patch_px, out):
    """CUDA twin of :func:`icestat.features.cpu.patch_gradient_stats`."""
    _launch(_patch_gradient_stats, _blocks(row_starts.size * col_starts.size), _THREADS_PER_BLOCK,
            gx, gy, edge_threshold2, row_starts, col_starts, patch_px, out)


def patch_histograms(codes, row_starts, col_starts, patch_px, n_codes, out):
    """CUDA twin of :func:`icestat.features.cpu.patch_histograms`."""
    _launch(_patch_histograms, _blocks(row_starts.size * col_starts.size), _THREADS_PER_BLOCK,
            codes, row_starts, col_starts, patch_px, n_codes, out)


def lbp_codes(image, out):
    """CUDA twin of :func:`icestat.features.cpu.lbp_codes`."""
    blocks = ((image.shape[0] + 15) // 16, (image.shape[1] + 15) // 16)
    _launch(_lbp_codes, blocks, (16, 16), image, cuda.to_device(patch_bodies.lbp_circle_offsets()), out)


def glcm_features(levels, row_starts, col_starts, patch_px, offsets, n_levels, out):
    """CUDA twin of :func:`icestat.features.cpu.glcm_features` (at most 16 levels and 12 offsets)."""
    if n_levels > MAX_GLCM_LEVELS:
        raise ValueError(f"the CUDA co-occurrence kernel holds at most {MAX_GLCM_LEVELS} grey levels")
    if len(offsets) > _MAX_GLCM_OFFSETS:
        raise ValueError(f"the CUDA co-occurrence kernel holds at most {_MAX_GLCM_OFFSETS} offsets")
    _launch(_glcm_features, row_starts.size * col_starts.size, _THREADS_PER_BLOCK,
            levels, row_starts, col_starts, patch_px, offsets, n_levels,
            cuda.to_device(patch_bodies.x_log_x_table(patch_px)), out)
