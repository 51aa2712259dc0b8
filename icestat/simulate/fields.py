"""Random fields for the simulator: smooth variations and noise with a given power spectrum."""

from __future__ import annotations

from typing import Callable

import numpy as np
import scipy.fft
from scipy import ndimage

from icestat.optics import frequency_grid

# Smooth fields are made on a grid this many times coarser, then interpolated.
_COARSE_FACTOR = 8


def smooth_field(shape: tuple[int, int], correlation_px: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth random field of zero mean and unit standard deviation.

    Parameters
    ----------
    shape : (int, int)
        Output shape.
    correlation_px : float
        Length (pixels) over which the field changes: the Gaussian smoothing scale.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    ndarray of float32
    """
    factor = max(1, min(_COARSE_FACTOR, int(correlation_px // 4)))
    coarse_shape = tuple(-(-side // factor) + 1 for side in shape)
    coarse = ndimage.gaussian_filter(rng.standard_normal(coarse_shape), correlation_px / factor, mode="wrap")
    field = ndimage.zoom(coarse, factor, order=1, grid_mode=False)[: shape[0], : shape[1]]
    field = field - field.mean()
    spread = field.std()
    return (field / spread if spread > 0 else field).astype(np.float32)


def noise_with_spectrum(
    shape: tuple[int, int],
    pixel_size_A: float,
    power_spectral_density: Callable[[np.ndarray], np.ndarray],
    rng: np.random.Generator,
) -> np.ndarray:
    """Gaussian noise whose power spectral density is ``power_spectral_density(k)``.

    Parameters
    ----------
    shape : (int, int)
        Output shape.
    pixel_size_A : float
        Pixel size.
    power_spectral_density : callable
        Maps spatial frequency magnitude (1/Å) to PSD (units² Å²): the field's
        variance is the PSD's integral over the frequencies the grid holds.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    ndarray of float32
    """
    white = rng.standard_normal(shape, dtype=np.float32)
    ky, kx = frequency_grid(shape, pixel_size_A)
    # white noise of unit variance has PSD pixel_size^2 over the band |k| < 1 / (2 pixel_size)
    gain = (np.sqrt(power_spectral_density(np.hypot(ky, kx))) / pixel_size_A).astype(np.float32)
    return scipy.fft.irfft2(scipy.fft.rfft2(white) * gain, s=shape).astype(np.float32)
