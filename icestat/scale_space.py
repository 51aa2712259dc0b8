"""Blob responses at one scale or over many, and what white noise alone would answer there.

:func:`blob_response` is the scale-normalised Laplacian of Gaussian that
:mod:`icestat.pick` locates particles with; :func:`blob_maxima` finds blobs
and their sizes over a range of scales (what :mod:`icestat.diameter` reads the
particles' size from). :func:`white_noise_sd` estimates the
image's white (shot) noise from its finest detail, and :func:`blob_noise_sd`
turns that into the spread the response would have on noise alone: a response
over it is a signal-to-noise ratio that needs no knowledge of the specimen.
On simulated micrographs of empty ice the response's spread is that of the
noise (ratio 1.0), with particles 2-9 times it; on the 8-bit micrographs of
``../shared/data`` 2-3 (EMPIAR-10059) and 4-6 (10028) times it
(benchmarks/README.md, "A noise floor for picks").
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import scipy.fft
from scipy import ndimage

from icestat.backend import cpu_threads

#: The normal distribution's standard deviation over its median absolute deviation.
MAD_TO_SD = 1.4826


def blob_response(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """The scale-normalised Laplacian of Gaussian of `image`, positive on bright blobs of radius about sigma * sqrt 2.

    Parameters
    ----------
    image : ndarray (h, w)
    sigma_px : float
        Width of the Gaussian in pixels.

    Returns
    -------
    ndarray (h, w) of float32
        ``-sigma_px**2`` times the Laplacian of Gaussian; edges repeat.

    Examples
    --------
    >>> yy, xx = np.mgrid[:64, :64]
    >>> bright_disk = (np.hypot(yy - 30, xx - 20) <= 6).astype(np.float32)
    >>> response = blob_response(bright_disk, sigma_px=4.0)
    >>> tuple(int(i) for i in np.unravel_index(response.argmax(), response.shape))
    (30, 20)
    """
    return blob_responses(image, (sigma_px,))[0]


def blob_responses(image: np.ndarray, sigmas_px) -> list[np.ndarray]:
    """:func:`blob_response` at each of several widths, from one Fourier transform of the image.

    What ``scipy.ndimage.gaussian_laplace(image, sigma, mode="nearest")``
    gives (its own kernels: the sampled Gaussian and its second derivative, cut
    at 4 sigma), to about 3e-7 of the response's range, by FFT convolution of
    the image padded by repeating its edges: the image's transform is taken
    once and each width's kernel, separable, transforms as an outer product of
    two 1-D transforms. Two widths of a 1036-px working image take 0.034 s on 2
    cores, against 0.12 s by the filters' 8 passes.

    Parameters
    ----------
    image : ndarray (h, w)
    sigmas_px : sequence of float

    Returns
    -------
    list of ndarray (h, w) of float32
    """
    filtered = _edge_padded_filter(image, max(_kernel_radius(sigma) for sigma in sigmas_px))
    responses = []
    for sigma in sigmas_px:
        smooth, second = (_gaussian_kernel(sigma, order, _kernel_radius(sigma)) for order in (0, 2))
        laplacian = filtered(lambda shape: _separable_transfer(second, smooth, shape, np.complex64)
                             + _separable_transfer(smooth, second, shape, np.complex64))
        responses.append((-(sigma**2) * laplacian).astype(np.float32))
    return responses


def hessian_eigenvalues(image: np.ndarray, sigma_px: float) -> tuple[np.ndarray, np.ndarray]:
    """The eigenvalues of the scale-normalised Hessian of `image` smoothed by a Gaussian, the larger first.

    At a dark blob of radius about sigma * sqrt 2 both are positive (a minimum),
    at a bright one both negative; along an edge or a ridge only one is large.
    Their sum is ``-``:func:`blob_response`. The second derivatives are those of
    ``scipy.ndimage.gaussian_filter(image, sigma, order=..., mode="nearest")``
    (its kernels, cut at 4 sigma), by FFT convolution of the image padded by
    repeating its edges, from one transform of it.

    Parameters
    ----------
    image : ndarray (h, w)
    sigma_px : float
        Width of the Gaussian in pixels.

    Returns
    -------
    larger, smaller : ndarray (h, w) of float32
        ``sigma_px**2`` times the eigenvalues at each pixel.

    Examples
    --------
    >>> yy, xx = np.mgrid[:64, :64]
    >>> dark_disk, dark_band = -1.0 * (np.hypot(yy - 30, xx - 20) <= 6), -1.0 * (abs(xx - 40) <= 6)
    >>> larger, smaller = hessian_eigenvalues(dark_disk, sigma_px=4.0)
    >>> bool(larger[30, 20] > 0.1 and smaller[30, 20] > 0.1)   # curved up both ways: a dark blob
    True
    >>> larger, smaller = hessian_eigenvalues(dark_band, sigma_px=4.0)
    >>> bool(larger[30, 40] > 0.1 and abs(smaller[30, 40]) < 1e-3)   # curved across the band only
    True
    """
    radius = _kernel_radius(sigma_px)
    smooth, first, second = (_gaussian_kernel(sigma_px, order, radius) for order in (0, 1, 2))
    filtered = _edge_padded_filter(image, radius)

    def derivative(row_kernel: np.ndarray, col_kernel: np.ndarray) -> np.ndarray:
        return sigma_px**2 * filtered(lambda shape: _separable_transfer(row_kernel, col_kernel, shape, np.complex64))

    along_rows, along_cols, across = derivative(second, smooth), derivative(smooth, second), derivative(first, first)
    half_trace = (along_rows + along_cols) / 2
    root = np.sqrt(((along_rows - along_cols) / 2) ** 2 + across**2)
    return (half_trace + root).astype(np.float32), (half_trace - root).astype(np.float32)


def _edge_padded_filter(image: np.ndarray, pad: int):
    """A function applying a transfer function to `image` padded by `pad` repeated edge pixels (one forward transform).

    The function takes ``transfer(shape)``, which gives the transfer on
    ``rfft2``'s half plane of the padded `shape`, and returns the filtered
    image, its padding cut off (float32).
    """
    image = np.asarray(image, dtype=np.float32)
    padded = np.pad(image, pad, mode="edge")
    shape = tuple(scipy.fft.next_fast_len(n, real=True) for n in padded.shape)
    spectrum = scipy.fft.rfft2(padded, s=shape, workers=cpu_threads())
    rows, cols = image.shape

    def filtered(transfer) -> np.ndarray:
        out = scipy.fft.irfft2(spectrum * transfer(shape), s=shape, workers=cpu_threads())
        return out[pad:pad + rows, pad:pad + cols]

    return filtered


def gaussian_smoothed(images: np.ndarray, sigma_px: float) -> np.ndarray:
    """What ``scipy.ndimage.gaussian_filter`` gives each image of a stack (edges reflected, the kernel cut at 4 sigma).

    By FFT convolution of the images padded by reflection, the stack's forward
    transforms taken at once and the separable kernel's transform an outer
    product of two 1-D transforms: the same values to 1e-7; at sigma 16 px,
    the mean and the mean square of a 1036-px image (what
    :func:`icestat.carbon.local_mean_and_sd` smooths) take 0.05 s on 2 cores,
    against 0.11 s by ``scipy.signal.fftconvolve`` one at a time.

    Parameters
    ----------
    images : ndarray (..., h, w)
        One image or a stack of them (smoothed over the last two axes).
    sigma_px : float

    Returns
    -------
    ndarray (..., h, w) of float64
    """
    radius = _kernel_radius(sigma_px)
    taps = _gaussian_kernel(sigma_px, 0, radius)
    images = np.asarray(images, dtype=np.float64)
    padded = np.pad(images, [(0, 0)] * (images.ndim - 2) + [(radius, radius)] * 2, mode="symmetric")  # "reflect"
    shape = tuple(scipy.fft.next_fast_len(n, real=True) for n in padded.shape[-2:])
    spectrum = scipy.fft.rfft2(padded, s=shape, workers=cpu_threads())
    spectrum *= _separable_transfer(taps, taps, shape, np.complex128)
    rows, cols = images.shape[-2:]
    return scipy.fft.irfft2(spectrum, s=shape, workers=cpu_threads())[..., radius:radius + rows, radius:radius + cols]


def blob_maxima(image: np.ndarray, sigmas_px, min_response: float) -> tuple[np.ndarray, ...]:
    """Bright blobs of an image and their widths: maxima of :func:`blob_response` over position and width.

    The responses at the widths `sigmas_px` (increasing geometrically) are
    stacked; a blob is a maximum of its 3 x 3 x 3 neighbourhood (Lindeberg's
    scale selection), at least `min_response` high, at an inner width (one at
    the first or the last may lie beyond them). Its width is refined between
    the grid's by the parabola through the responses at its width and the two
    beside, in log width. A disk of radius r answers most at width
    ``r / sqrt 2``, with ``2 / e`` times its height.

    Parameters
    ----------
    image : ndarray (h, w)
    sigmas_px : sequence of float
        At least three widths in pixels, each the same factor wider than the one before.
    min_response : float
        Lowest response kept, in the image's units.

    Returns
    -------
    sigma_px, rows, cols, responses : ndarray (n,)
        Each blob's refined width, its centre and its response (at the grid's width).

    Examples
    --------
    >>> yy, xx = np.mgrid[:128, :128]
    >>> disks = (np.hypot(yy - 40, xx - 40) <= 12) | (np.hypot(yy - 90, xx - 90) <= 6)
    >>> sigma_px, rows, cols, responses = blob_maxima(disks.astype(np.float32), 2 * 2 ** (np.arange(12) / 4), 0.3)
    >>> [(int(r), int(c), round(float(s * np.sqrt(2)), 1)) for s, r, c in zip(sigma_px, rows, cols)]
    [(40, 40, 11.9), (90, 90, 6.0)]
    >>> round(float(responses[0]), 2)   # 2 / e
    0.73
    """
    sigmas_px = np.asarray(sigmas_px, dtype=np.float64)
    stack = np.stack(blob_responses(image, sigmas_px))
    width, rows, cols = local_maxima(stack, min_response).T
    inner = (width > 0) & (width < len(sigmas_px) - 1)
    width, rows, cols = width[inner], rows[inner], cols[inner]
    below, at, above = (stack[width + step, rows, cols].astype(np.float64) for step in (-1, 0, 1))
    curvature = below - 2 * at + above
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.where(curvature < 0, 0.5 * (below - above) / curvature, 0.0)
    log_step = np.log(sigmas_px[1] / sigmas_px[0])
    sigma_px = sigmas_px[width] * np.exp(np.clip(offset, -0.5, 0.5) * log_step)
    return sigma_px, rows, cols, at.astype(np.float32)


def local_maxima(stack: np.ndarray, min_value: float) -> np.ndarray:
    """Indices ``(n, ndim)`` of the elements above `min_value` that are the largest of their 3 x 3 x ... neighbourhood.

    What ``skimage.feature.peak_local_max(stack, footprint=np.ones((3,) * stack.ndim), threshold_abs=min_value,
    exclude_border=False)`` finds (edges repeated; none in a constant stack; highest first, ties in index order),
    but only the elements above `min_value` are compared with their neighbours: a fraction of a percent of
    :func:`blob_maxima`'s scale space (13 ms for 13 widths of a 496-px map on 2 cores, where skimage's maximum
    filter over the whole stack takes 61).

    Examples
    --------
    >>> local_maxima(np.array([[0.0, 3.0, 1.0], [2.0, 0.0, 0.0], [0.0, 0.0, 5.0]]), 0.5).tolist()
    [[2, 2], [0, 1]]
    """
    stack = np.asarray(stack)
    if stack.size == 0 or stack.min() == stack.max():
        return np.empty((0, stack.ndim), dtype=np.intp)
    at = np.nonzero(stack > min_value)
    padded = np.pad(stack, 1, mode="edge")   # each element's neighbours a fixed step away in the flat array
    strides = np.array(padded.strides) // padded.itemsize
    flat = padded.ravel()
    centres = np.ravel_multi_index(tuple(index + 1 for index in at), padded.shape)
    values = flat[centres]
    largest_around = values.copy()
    for steps in itertools.product((-1, 0, 1), repeat=stack.ndim):
        np.maximum(largest_around, flat[centres + int(np.dot(steps, strides))], out=largest_around)
    peak = values == largest_around
    order = np.argsort(-values[peak], kind="stable")
    return np.stack([index[peak][order] for index in at], axis=1)


def _kernel_radius(sigma_px: float) -> int:
    """Half-width of scipy.ndimage's Gaussian kernels at the default truncation (4 sigma)."""
    return int(4.0 * float(sigma_px) + 0.5)


def _gaussian_kernel(sigma_px: float, order: int, radius: int) -> np.ndarray:
    """scipy.ndimage's 1-D Gaussian kernel (order 0) or its first or second derivative, ``2 radius + 1`` taps.

    Its own taps: the filter's answer to a unit impulse (the first derivative's
    reversed, antisymmetric: it is only used in pairs, whose signs cancel).
    """
    impulse = np.zeros(2 * radius + 1)
    impulse[radius] = 1.0
    return ndimage.gaussian_filter1d(impulse, sigma_px, order=order, mode="constant")


def _separable_transfer(row_kernel: np.ndarray, col_kernel: np.ndarray, shape: tuple[int, int],
                        dtype) -> np.ndarray:
    """The transform (on ``rfft2``'s half plane of `shape`, in `dtype`) of the kernel ``outer(row_kernel, col_kernel)``
    centred at the origin: what multiplies an image's ``rfft2`` to convolve it with that kernel."""
    rows = scipy.fft.fft(_centred(row_kernel, shape[0])).astype(dtype)
    cols = scipy.fft.rfft(_centred(col_kernel, shape[1])).astype(dtype)
    return np.outer(rows, cols)


def _centred(kernel: np.ndarray, n: int) -> np.ndarray:
    """`kernel` in a zero array of length n, its centre at index 0 (wrapped round): for a circular convolution."""
    out = np.zeros(n)
    out[: len(kernel)] = kernel
    return np.roll(out, -(len(kernel) // 2))


def white_noise_sd(image: np.ndarray) -> float:
    """Standard deviation of an image's white noise, from its finest diagonal detail.

    The Haar wavelet's diagonal detail of each 2 x 2 block,
    ``(a - b - c + d) / 2``, keeps white noise at its standard deviation and
    removes what is smooth at two pixels (gradients, large objects); its
    median absolute deviation (times 1.4826) is robust to the edges and specks
    that remain (Donoho and Johnstone's estimator on the finest scale).
    Noise that is weaker at the highest frequencies than below (a low-passed
    or denoised image) is underestimated.

    Parameters
    ----------
    image : ndarray (h, w)
        At least 2 x 2.

    Returns
    -------
    float

    Examples
    --------
    >>> noise = np.random.default_rng(0).normal(0.0, 0.5, (256, 256))
    >>> ramp = np.linspace(0, 50, 256)[None, :]
    >>> round(white_noise_sd(noise + ramp), 2)
    0.5
    """
    rows, cols = (np.asarray(image.shape[:2]) // 2) * 2
    blocks = np.asarray(image[:rows, :cols], dtype=np.float64)
    detail = (blocks[0::2, 0::2] - blocks[0::2, 1::2] - blocks[1::2, 0::2] + blocks[1::2, 1::2]) / 2
    return float(MAD_TO_SD * np.median(np.abs(detail - np.median(detail))))


@functools.lru_cache(maxsize=64)
def blob_noise_sd(sigma_px: float) -> float:
    """Standard deviation of :func:`blob_response` on white noise of unit standard deviation.

    The norm of the filter's impulse response (away from the edges); about
    ``1 / (sqrt(2 pi) sigma_px)`` for wide filters.

    Examples
    --------
    >>> round(float(blob_noise_sd(8.0) * np.sqrt(2 * np.pi) * 8.0), 2)
    1.0
    """
    half_px = int(np.ceil(5 * sigma_px))
    impulse = np.zeros((2 * half_px + 1, 2 * half_px + 1), dtype=np.float32)
    impulse[half_px, half_px] = 1.0
    return float(np.sqrt(np.sum(blob_response(impulse, sigma_px).astype(np.float64) ** 2)))
