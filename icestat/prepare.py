"""The working image: Fourier-resampled to a working pixel size, then robustly normalised.

Binning by Fourier cropping keeps every frequency below the new Nyquist
untouched and removes those above it (no aliasing), which is what the power
spectrum features need; the crop is taken in the cosine transform, so the
edges do not ring. Normalisation by the median and the median absolute
deviation makes grey levels and contrast of different detectors and file
formats comparable. Hot and dead pixels (isolated pixels far from everything
around them, which a detector's defects leave in a motion-corrected sum) are
replaced by the median of their neighbours first: one hot pixel binned is a
bright spot as strong as a particle. Where motion correction left a frame border without data
along the edges (:mod:`icestat.frame`), the working image covers only the
rectangle inside it.

With a CUDA device (:func:`prepare`'s ``device``) all of this runs there, on
CuPy arrays (the same functions: each works on the array module of the array
it is given), and only the small working image comes back to the host: on a
GPU node the CPU's share of each micrograph is what bounds the rate of many
picking processes sharing one GPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from icestat.backend import Device, array_module, array_module_of, cpu_threads, fft_module, on_device, to_host
from icestat.frame import FrameBorder, detect_frame_border
from icestat.micrograph import Micrograph, MicrographError
from icestat.scale_space import MAD_TO_SD

#: A spread below this fraction of an image's median is rounding, not contrast (float32 keeps 7 digits: a flat image
#: resampled varies by about 1e-7 of its level; real micrographs by 0.05 or more).
MIN_RELATIVE_SPREAD = 1e-5
#: Global statistics are taken on every n-th pixel along each axis of large images.
SUBSAMPLE_STEP = 4
#: A pixel is an outlier (:func:`replace_outlier_pixels`) where it is more than this many robust standard deviations
#: of the micrograph from both the micrograph's median and the median of its 3 x 3 neighbourhood. No pixel of the
#: denoised EMPIAR-10017 micrographs or of simulations is 10 from the median (at most 8.5); 1-4 pixels of each
#: 1024-px EMPIAR-10028 image are; contamination on the raw micrograph of ../shared/data reaches -15.8, but is no
#: further from its neighbours than they are from each other. 50 hot pixels at 1000 times the mean of a simulated
#: 4092 x 5760 micrograph took its picking F1 from 0.99 to 0.06 when they were kept.
OUTLIER_SD = 10.0
#: A micrograph coarser than the working scale asked for is enlarged to it, at most this many times: stored smaller
#: than usual (a 512-px PNG of a field usually stored at 1024 px), it then looks to the model as the images it
#: learnt from, and its particles are as wide as the model's particle evidence resolves. EMPIAR-10059 at half size,
#: pixel size unknown, the recipe retrained without it: its own estimated diameter 1.90-2.88 times the particle
#: -> 1.00-1.07, F1 0.173 -> 0.739 (as stored 0.744); 10028 at half size 0.860 -> 0.850 (as stored 0.824), with
#: the true diameter both as before (benchmarks/results/robustness.md). More would blow up a small crop of unknown
#: pixel size, taken for a whole field, far past its particles' scale.
MAX_ENLARGEMENT = 2.0


def subsample(image):
    """Every ``SUBSAMPLE_STEP``-th pixel along each axis (the whole image when small): for global statistics."""
    return image[::SUBSAMPLE_STEP, ::SUBSAMPLE_STEP] if min(image.shape) >= 64 * SUBSAMPLE_STEP else image


def robust_centre_and_spread(image, xp=None):
    """Median and robust standard deviation (1.4826 x MAD) from a subsample.

    The standard deviation stands in where the MAD is nothing but rounding (at most ``MIN_RELATIVE_SPREAD`` of the
    median): an image of few grey levels, or a flat one with a blob, resampled. On the image's device (`xp`: its
    array module, found from the image when None): 0-d arrays.
    """
    xp = array_module_of(image) if xp is None else xp
    sample = subsample(image).astype(xp.float64)
    median = xp.median(sample)
    spread = MAD_TO_SD * xp.median(xp.abs(sample - median))
    return median, xp.where(spread > MIN_RELATIVE_SPREAD * xp.abs(median), spread, sample.std())


@dataclass(frozen=True, eq=False)
class WorkingImage:
    """A micrograph prepared for feature extraction.

    Attributes
    ----------
    data : ndarray of float32
        The binned, normalised image (median 0, robust standard deviation 1) of
        the micrograph inside its frame border.
    pixel_size_A : float or None
        Working pixel size, None when the micrograph's is unknown.
    scale : (float, float)
        Micrograph pixels per working pixel along rows and columns.
    original_shape : (int, int)
        Shape of the micrograph it came from.
    frame_border : FrameBorder
        The micrograph's border without data, in its own pixels (zero widths
        where it has none).
    """

    data: np.ndarray
    pixel_size_A: float | None
    scale: tuple[float, float]
    original_shape: tuple[int, int]
    frame_border: FrameBorder = FrameBorder()

    def to_original_px(self, y_px, x_px):
        """Map working-image pixel coordinates (pixel centres) to original micrograph pixels."""
        top, _, left, _ = self.frame_border
        return ((np.asarray(y_px) + 0.5) * self.scale[0] - 0.5 + top,
                (np.asarray(x_px) + 0.5) * self.scale[1] - 0.5 + left)


def fourier_resample(image, shape: tuple[int, int]):
    """Resample `image` to `shape`: smaller by keeping only its lowest frequencies, larger by adding none.

    Done in the discrete cosine transform (DCT-II), which is the Fourier
    transform of the image mirrored at its edges: unlike a crop of the FFT,
    which wraps the image round so that unlike opposite edges meet and ring
    (Gibbs) several output pixels deep, it leaves the edges as clean as the
    inside. Shrinking (binning) crops the coefficients; enlarging pads them
    with zeros (the band-limited interpolation of the image). The mean grey
    level is kept, and output pixel ``k`` is centred where its input pixels
    are, at input position ``(k + 1/2) * n / n_out - 1/2`` along each axis (as
    :meth:`WorkingImage.to_original_px` maps it back). A CuPy array is
    resampled on its GPU (``cupyx.scipy.fft``), float32.

    Examples
    --------
    >>> import numpy as np
    >>> fourier_resample(np.full((8, 6), 3.0), (4, 3)).round(5)
    array([[3., 3., 3.],
           [3., 3., 3.],
           [3., 3., 3.],
           [3., 3., 3.]], dtype=float32)
    >>> fourier_resample(np.array([[0.0, 1.0]]), (1, 4)).round(3)   # enlarged: the cosine through the two
    array([[-0.153,  0.229,  0.771,  1.153]], dtype=float32)
    """
    rows, cols = image.shape
    new_rows, new_cols = shape
    xp = array_module_of(image)
    fft, cores = fft_module(xp), {"workers": cpu_threads()} if xp is np else {}
    # one axis at a time, resizing in between: when shrinking, the second transform runs over the kept columns
    # alone (a 4096^2 micrograph to 620^2: 0.07 -> 0.03-0.04 s on 2 cores)
    along_rows = _resized(fft.dct(xp.asarray(image, dtype=xp.float32), type=2, norm="ortho", axis=1, **cores),
                          new_cols, axis=1)
    coefficients = _resized(fft.dct(along_rows, type=2, norm="ortho", axis=0, **cores), new_rows, axis=0)
    out = fft.idctn(coefficients, type=2, norm="ortho", **cores)
    return (out * np.sqrt(new_rows * new_cols / (rows * cols))).astype(xp.float32)


def _resized(coefficients, n: int, axis: int):
    """The first `n` coefficients along `axis`, zeros added where there are fewer."""
    xp = array_module_of(coefficients)
    kept = coefficients[(slice(None),) * axis + (slice(0, n),)]
    widths = [(0, 0)] * coefficients.ndim
    widths[axis] = (0, n - kept.shape[axis])
    return xp.pad(kept, widths) if n > kept.shape[axis] else kept


def replace_outlier_pixels(image, max_sd: float = OUTLIER_SD):
    """Replace hot and dead pixels by the median of their 3 x 3 neighbourhood.

    A pixel is replaced where it is more than `max_sd` robust standard
    deviations of the image (:func:`robust_centre_and_spread`) away from both
    the image's median and that neighbourhood's median (itself included; the
    edges repeated beyond the image): single pixels, pairs and one-pixel lines
    that a detector's defects leave, but not a dark blob (contamination,
    gold), whose neighbours are as dark as it is.

    Parameters
    ----------
    image : ndarray (h, w)
        NumPy or CuPy.
    max_sd : float

    Returns
    -------
    ndarray
        `image` itself where no pixel is replaced, otherwise a copy (on its device).

    Examples
    --------
    >>> image = np.tile([[0.0, 1.0], [1.0, 0.0]], (4, 4))
    >>> image[3, 5] = 100.0
    >>> float(replace_outlier_pixels(image)[3, 5]), float(replace_outlier_pixels(image).max())
    (1.0, 1.0)
    """
    xp = array_module_of(image)
    median, spread = robust_centre_and_spread(image, xp)
    lowest, highest = (xp.asarray(median + sign * max_sd * spread, dtype=np.result_type(image.dtype, np.float32))
                        for sign in (-1, 1))
    far_from_median = (image < lowest) | (image > highest)
    if not far_from_median.any():
        return image
    rows, cols = xp.nonzero(far_from_median)
    offsets = xp.arange(-1, 2)
    neighbour_rows = xp.clip(rows[:, None, None] + offsets[None, :, None], 0, image.shape[0] - 1)
    neighbour_cols = xp.clip(cols[:, None, None] + offsets[None, None, :], 0, image.shape[1] - 1)
    local_median = xp.median(image[neighbour_rows, neighbour_cols].reshape(len(rows), 9), axis=1)
    outlier = xp.abs(image[rows, cols] - local_median) > max_sd * spread
    replaced = image.copy()
    replaced[rows[outlier], cols[outlier]] = local_median[outlier]
    return replaced


def robust_normalise(image, margin_px: int = 0):
    """Subtract the median and divide by the robust standard deviation (1.4826 x MAD).

    The statistics come from a 1/16 subsample of large images (see
    :func:`robust_centre_and_spread`, whose standard deviation stands in
    where the MAD is nothing but rounding).

    Parameters
    ----------
    image : ndarray
        Image (NumPy or CuPy; the result is on its device).
    margin_px : int
        Border excluded from the statistics (edge artefacts of some files).

    Raises
    ------
    ValueError
        If the image (within the margin) has no spread, or none beyond float32 rounding of its level
        (``MIN_RELATIVE_SPREAD``: a flat image resampled).
    """
    inner = image[margin_px: image.shape[0] - margin_px, margin_px: image.shape[1] - margin_px]
    median, spread = robust_centre_and_spread(inner)
    if spread <= MIN_RELATIVE_SPREAD * abs(float(median)):
        raise ValueError("image has no contrast to normalise")
    return ((image - np.float32(float(median))) / np.float32(float(spread))).astype(np.float32)


def applied_bin_factor(bin_factor: float | None) -> float:
    """The factor :func:`prepare` bins by when asked for `bin_factor`: 1 for None, never below ``1 / MAX_ENLARGEMENT``.

    Raises
    ------
    ValueError
        If `bin_factor` is not a positive number.

    Examples
    --------
    >>> applied_bin_factor(None), applied_bin_factor(3.5), applied_bin_factor(0.25)
    (1.0, 3.5, 0.5)
    >>> applied_bin_factor(-2)
    Traceback (most recent call last):
    ValueError: the binning factor must be a positive number, got -2
    """
    if bin_factor is None:
        return 1.0
    if not (math.isfinite(bin_factor) and bin_factor > 0):
        raise ValueError(f"the binning factor must be a positive number, got {bin_factor}")
    return max(1 / MAX_ENLARGEMENT, float(bin_factor))


def binned_shape(shape: tuple[int, int], bin_factor: float) -> tuple[int, int]:
    """The shape :func:`prepare` bins an image of `shape` to by `bin_factor` (each side even).

    Examples
    --------
    >>> binned_shape((96, 150), 3.5), binned_shape((300, 400), 0.5)
    ((26, 42), (600, 800))
    """
    return tuple(2 * int(side / bin_factor / 2) for side in shape)


def prepare(
    micrograph: Micrograph, working_pixel_size_A: float | None = None, bin_factor: float | None = None,
    device: str | Device = "cpu",
) -> WorkingImage:
    """Bin a micrograph, inside its frame border, to the working pixel size (or by a factor) and normalise it.

    Its outlier pixels (:func:`replace_outlier_pixels`) are replaced before it
    is binned. A micrograph coarser than asked for is enlarged instead, at most
    ``MAX_ENLARGEMENT`` times (:func:`fourier_resample` does both).

    Parameters
    ----------
    micrograph : Micrograph
        The micrograph.
    working_pixel_size_A : float, optional
        Target pixel size; needs the micrograph's pixel size.
    bin_factor : float, optional
        Binning factor, for micrographs of unknown pixel size (below 1: enlarge). Give one of
        the two; with neither, the image is only normalised.
    device : {"cpu", "cuda", "cuda:N"}
        Where to do it; the working image comes back to the host either way.

    Returns
    -------
    WorkingImage

    Raises
    ------
    MicrographError
        If no pixel differs from the rest but outliers.
    ValueError
        If both or a non-positive `working_pixel_size_A` or `bin_factor` are given, or the working pixel size
        without the micrograph's.
    """
    if working_pixel_size_A is not None and bin_factor is not None:
        raise ValueError("give working_pixel_size_A or bin_factor, not both")
    if working_pixel_size_A is not None:
        if not (math.isfinite(working_pixel_size_A) and working_pixel_size_A > 0):
            raise ValueError(f"the working pixel size must be a positive number of ångström, got {working_pixel_size_A}")
        if micrograph.pixel_size_A is None:
            raise ValueError(
                f"{micrograph.name}: pixel size unknown; pass it (--pixel-size-A) or bin by a factor instead"
            )
        bin_factor = working_pixel_size_A / micrograph.pixel_size_A
    bin_factor = applied_bin_factor(bin_factor)
    with on_device(device):
        recorded = replace_outlier_pixels(array_module(device).asarray(micrograph.data))
        frame_border = detect_frame_border(recorded)
        inside = recorded[frame_border.inside(micrograph.shape)]
        rows, cols = inside.shape
        binned = inside if bin_factor == 1.0 else fourier_resample(inside, binned_shape(inside.shape, bin_factor))
        try:
            data = to_host(robust_normalise(binned))
        except ValueError:
            raise MicrographError(micrograph.name, "has no contrast once its outlier pixels are replaced (nearly "
                                                   "every pixel has the same value)") from None
    scale = (rows / data.shape[0], cols / data.shape[1])
    pixel_size_A = None if micrograph.pixel_size_A is None else micrograph.pixel_size_A * scale[1]
    return WorkingImage(data, pixel_size_A, scale, micrograph.shape, frame_border)
