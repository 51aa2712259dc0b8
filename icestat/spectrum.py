"""Power spectra of images: the 2D periodogram and its radial average."""

from __future__ import annotations

import numpy as np
import scipy.fft

from icestat.optics import frequency_grid


def power_spectrum(image: np.ndarray) -> np.ndarray:
    """Periodogram ``|FFT(image - mean)|^2 / n_pixels`` on the ``rfft2`` half plane (float64)."""
    image = np.asarray(image, dtype=np.float64)
    spectrum = scipy.fft.rfft2(image - image.mean())
    return (spectrum.real**2 + spectrum.imag**2) / image.size


def radial_power_spectrum(
    image: np.ndarray, pixel_size_A: float, n_bins: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged power spectrum up to Nyquist.

    Parameters
    ----------
    image : ndarray
        2D image.
    pixel_size_A : float
        Pixel size.
    n_bins : int, optional
        Number of equal-width frequency shells; half the smaller side by default.

    Returns
    -------
    k_per_A : ndarray
        Centre frequency of each shell (1/Å).
    power : ndarray
        Mean periodogram value in each shell (NaN for an empty shell).

    Examples
    --------
    >>> import numpy as np
    >>> k, power = radial_power_spectrum(np.random.default_rng(0).normal(size=(128, 128)), 2.0)
    >>> len(k), round(float(k[-1]), 4), bool(abs(np.nanmean(power) - 1) < 0.05)
    (64, 0.248, True)
    """
    image = np.asarray(image)
    n_bins = n_bins or min(image.shape) // 2
    ky, kx = frequency_grid(image.shape, pixel_size_A)
    k = np.hypot(ky, kx)
    nyquist = 0.5 / pixel_size_A
    edges = np.linspace(0, nyquist, n_bins + 1)
    shell = np.digitize(k.ravel(), edges) - 1
    inside = (shell >= 0) & (shell < n_bins)
    power = power_spectrum(image).ravel()
    # the rfft half plane counts each frequency once except the kx = 0 (and Nyquist) columns; for a
    # radial mean the small bias from those columns is negligible
    totals = np.bincount(shell[inside], weights=power[inside], minlength=n_bins)
    counts = np.bincount(shell[inside], minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_power = totals / counts
    return 0.5 * (edges[:-1] + edges[1:]), mean_power
