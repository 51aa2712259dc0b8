"""CUDA kernels (numba.cuda) with the signatures of :mod:`icestat.features.cpu`, and their launchers.

One block of threads per patch: its threads share the patch's pixels and add
their sums up in shared memory (moments, gradient statistics, the windowed
patches' means), count into shared memory (LBP histograms; the co-occurrence
matrices, whose Haralick features a thread per offset then takes with
:func:`icestat.features.patch_bodies.haralick` compiled as a CUDA device
function) or sort there (percentiles); the LBP codes take one thread per pixel.
A thread per patch, looping over all its pixels alone, left most of the GPU
idle (a 4096x4096 micrograph has 16129 patches, an H200 room for 270336
threads). The arrays
may be CuPy arrays (they stay on the device) or, under the CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``), NumPy arrays.

The kernels are kept in numba's on-disk cache (``cache=True``; one copy per
compute capability), as the CPU kernels are: without it each process that
picks on a GPU (each Dask worker) compiled them again with its first
micrograph. The simulator ignores the cache; ``benchmarks/gpu_check.sh`` times
the first call in two fresh processes on a GPU.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from numba import cuda, float32, float64, int32

from icestat.features import patch_bodies
from icestat.features.registry import GLCM_ANGLES_DEG, GLCM_DISTANCES_PX
from icestat.features.registry import GLCM_LEVELS as MAX_GLCM_LEVELS

_haralick = cuda.jit(device=True)(patch_bodies.haralick)

_THREADS_PER_BLOCK = 128
_MAX_GLCM_OFFSETS = len(GLCM_DISTANCES_PX) * len(GLCM_ANGLES_DEG)
#: numba's low-occupancy warning (after its terminal highlighting).
_LOW_OCCUPANCY_WARNING = r".*Grid size \d+ will likely result in GPU under-utilization"
#: Most pixels of one patch the percentile kernel sorts in shared memory (a 128-px patch on a 2-px lattice).
MAX_SORTED_PX = 4096
#: Most codes the histogram kernel counts in shared memory.
MAX_CODES = 32


@cuda.jit(device=True)
def _block_patch(row_starts, col_starts):
    # the patch of this block (one block per patch, row-major over the grid): its grid row and column, and its
    # top-left pixel
    i = cuda.blockIdx.x // col_starts.size
    j = cuda.blockIdx.x % col_starts.size
    return i, j, row_starts[i], col_starts[j]


@cuda.jit(device=True)
def _block_total(partial, value):
    # the sum of every thread's value (blockDim a power of two, at most the length of the shared array partial):
    # a tree in shared memory; every thread gets it, and partial is free again when it returns
    t = cuda.threadIdx.x
    partial[t] = value
    cuda.syncthreads()
    step = cuda.blockDim.x // 2
    while step > 0:
        if t < step:
            partial[t] += partial[t + step]
        cuda.syncthreads()
        step //= 2
    total = partial[0]
    cuda.syncthreads()
    return total


@cuda.jit(device=True)
def _first_pixel(patch_px):
    # this thread's first pixel of a patch (row, column), and how far its next one is (rows, columns): each thread
    # takes every blockDim-th pixel in row-major order, stepping without a 64-bit division per pixel
    return (cuda.threadIdx.x // patch_px, cuda.threadIdx.x % patch_px,
            cuda.blockDim.x // patch_px, cuda.blockDim.x % patch_px)


@cuda.jit(device=True)
def _next_pixel(r, c, step_r, step_c, patch_px):
    # the pixel blockDim on from (r, c); the walk is over once r reaches patch_px
    r += step_r
    c += step_c
    if c >= patch_px:
        c -= patch_px
        r += 1
    return r, c


@cuda.jit(device=True)
def _patch_mean(image, top, left, patch_px, partial):
    # the mean of the patch's pixels (float64), added up over the block
    total = 0.0
    r, c, step_r, step_c = _first_pixel(patch_px)
    while r < patch_px:
        total += float(image[top + r, left + c])
        r, c = _next_pixel(r, c, step_r, step_c, patch_px)
    return _block_total(partial, total) / (patch_px * patch_px)


@cuda.jit(cache=True)
def _patch_moments(image, row_starts, col_starts, patch_px, out):
    # one block per patch, two passes as patch_bodies.moments makes them: the mean, then the central moments
    partial = cuda.shared.array(_THREADS_PER_BLOCK, dtype=float64)
    i, j, top, left = _block_patch(row_starts, col_starts)
    n_pixels = patch_px * patch_px
    mean = _patch_mean(image, top, left, patch_px, partial)
    m2 = 0.0
    m3 = 0.0
    m4 = 0.0
    r, c, step_r, step_c = _first_pixel(patch_px)
    while r < patch_px:
        d = float(image[top + r, left + c]) - mean
        d2 = d * d
        m2 += d2
        m3 += d2 * d
        m4 += d2 * d2
        r, c = _next_pixel(r, c, step_r, step_c, patch_px)
    m2 = _block_total(partial, m2) / n_pixels
    m3 = _block_total(partial, m3) / n_pixels
    m4 = _block_total(partial, m4) / n_pixels
    if cuda.threadIdx.x == 0:
        out[i, j, 0] = mean
        out[i, j, 1] = math.sqrt(m2)
        out[i, j, 2] = m3 / m2**1.5 if m2 > 0 else 0.0
        out[i, j, 3] = m4 / (m2 * m2) - 3.0 if m2 > 0 else 0.0


@cuda.jit(cache=True)
def _glcm_features(levels, row_starts, col_starts, patch_px, offsets, n_levels, x_log_x, out):
    # one block per patch: its threads share the pixels, counting each one's pairs at every offset (one way
    # round, as patch_bodies.cooccurrences does) into shared memory; then a thread per offset takes the features
    counts = cuda.shared.array((_MAX_GLCM_OFFSETS, MAX_GLCM_LEVELS, MAX_GLCM_LEVELS), dtype=int32)
    i, j, top, left = _block_patch(row_starts, col_starts)
    n_bins = MAX_GLCM_LEVELS * MAX_GLCM_LEVELS
    for k in range(cuda.threadIdx.x, _MAX_GLCM_OFFSETS * n_bins, cuda.blockDim.x):
        counts[k // n_bins, k % n_bins // MAX_GLCM_LEVELS, k % MAX_GLCM_LEVELS] = 0
    cuda.syncthreads()
    r, c, step_r, step_c = _first_pixel(patch_px)
    while r < patch_px:
        a = levels[top + r, left + c]
        for o in range(offsets.shape[0]):
            partner_r = r + offsets[o, 0]
            partner_c = c + offsets[o, 1]
            if partner_r >= 0 and partner_c >= 0 and partner_r < patch_px and partner_c < patch_px:
                cuda.atomic.add(counts, (o, a, levels[top + partner_r, left + partner_c]), 1)
        r, c = _next_pixel(r, c, step_r, step_c, patch_px)
    cuda.syncthreads()
    if cuda.threadIdx.x < offsets.shape[0]:
        _haralick(counts[cuda.threadIdx.x], n_levels, x_log_x, out, i, j, cuda.threadIdx.x)


@cuda.jit(cache=True)
def _patch_percentiles(image, row_starts, col_starts, patch_px, step, sorted_px, quantiles, out):
    # one block per patch: its pixels on the lattice into shared memory, padded with +inf to sorted_px (a power of
    # two), a bitonic sort there, then numpy.percentile's linear interpolation, a thread per quantile
    values = cuda.shared.array(MAX_SORTED_PX, dtype=float32)
    i, j, top, left = _block_patch(row_starts, col_starts)
    side = (patch_px + step - 1) // step
    n = side * side
    for k in range(cuda.threadIdx.x, sorted_px, cuda.blockDim.x):
        values[k] = image[top + k // side * step, left + k % side * step] if k < n else math.inf
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


@cuda.jit(cache=True)
def _windowed_patches(image, row_starts, col_starts, patch_px, window, out):
    # one block per patch: its threads sum the pixels (float64) for the mean, then each writes its pixels less the
    # mean, windowed
    partial = cuda.shared.array(_THREADS_PER_BLOCK, dtype=float64)
    _, _, top, left = _block_patch(row_starts, col_starts)
    mean = _patch_mean(image, top, left, patch_px, partial)
    r, c, step_r, step_c = _first_pixel(patch_px)
    while r < patch_px:
        out[cuda.blockIdx.x, r, c] = float32(float(image[top + r, left + c]) - mean) * window[r, c]
        r, c = _next_pixel(r, c, step_r, step_c, patch_px)


@cuda.jit(cache=True)
def _patch_gradient_stats(gx, gy, edge_threshold2, row_starts, col_starts, patch_px, out):
    # one block per patch: the means of patch_bodies.gradient_stats, each added up over the block
    partial = cuda.shared.array(_THREADS_PER_BLOCK, dtype=float64)
    i, j, top, left = _block_patch(row_starts, col_starts)
    n_pixels = patch_px * patch_px
    xx = 0.0
    yy = 0.0
    xy = 0.0
    edges = 0.0
    r, c, step_r, step_c = _first_pixel(patch_px)
    while r < patch_px:
        x = float(gx[top + r, left + c])
        y = float(gy[top + r, left + c])
        xx += x * x
        yy += y * y
        xy += x * y
        if x * x + y * y > edge_threshold2:
            edges += 1.0
        r, c = _next_pixel(r, c, step_r, step_c, patch_px)
    xx = _block_total(partial, xx)
    yy = _block_total(partial, yy)
    xy = _block_total(partial, xy)
    edges = _block_total(partial, edges)
    if cuda.threadIdx.x == 0:
        out[0, i, j] = xx / n_pixels
        out[1, i, j] = yy / n_pixels
        out[2, i, j] = xy / n_pixels
        out[3, i, j] = edges / n_pixels


@cuda.jit(cache=True)
def _patch_histograms(codes, row_starts, col_starts, patch_px, n_codes, out):
    # one block per patch counting its pixels' codes into shared memory, then a thread per code writes its share
    counts = cuda.shared.array(MAX_CODES, dtype=int32)
    i, j, top, left = _block_patch(row_starts, col_starts)
    if cuda.threadIdx.x < n_codes:
        counts[cuda.threadIdx.x] = 0
    cuda.syncthreads()
    r, c, step_r, step_c = _first_pixel(patch_px)
    while r < patch_px:
        cuda.atomic.add(counts, codes[top + r, left + c], 1)
        r, c = _next_pixel(r, c, step_r, step_c, patch_px)
    cuda.syncthreads()
    if cuda.threadIdx.x < n_codes:
        out[i, j, cuda.threadIdx.x] = counts[cuda.threadIdx.x] / (patch_px * patch_px)


@cuda.jit(device=True)
def _pixel(image, r, c):
    ri = int(r)
    ci = int(c)
    if ri < 0 or ci < 0 or ri >= image.shape[0] or ci >= image.shape[1]:
        return 0.0
    return float(image[ri, ci])


@cuda.jit(cache=True)
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
    _launch(_patch_moments, row_starts.size * col_starts.size, _THREADS_PER_BLOCK,
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
    _launch(_patch_gradient_stats, row_starts.size * col_starts.size, _THREADS_PER_BLOCK,
            gx, gy, edge_threshold2, row_starts, col_starts, patch_px, out)


def patch_histograms(codes, row_starts, col_starts, patch_px, n_codes, out):
    """CUDA twin of :func:`icestat.features.cpu.patch_histograms` (at most ``MAX_CODES`` codes)."""
    if n_codes > MAX_CODES:
        raise ValueError(f"the CUDA histogram kernel counts at most {MAX_CODES} codes, not {n_codes}")
    _launch(_patch_histograms, row_starts.size * col_starts.size, _THREADS_PER_BLOCK,
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
