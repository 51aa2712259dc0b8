"""Per-patch power spectra, batched: one FFT call per batch of patches, then one matrix product.

Each patch has its mean removed and a 2D Hann window applied; its periodogram
(normalised by the window's energy, so white noise of variance s^2 has power
s^2) is reduced to every band statistic at once by multiplying with a fixed
weight matrix. The same code runs on NumPy and CuPy (``xp``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.fft

from icestat.backend import cpu_threads
from icestat.features.registry import DOG_SIGMAS_PX, ICE_BAND_A, N_SPECTRUM_SHELLS, REFERENCE_BAND_A

HIGH_BAND = (0.25, 0.5)  # cycles / px
LOW_BAND = (0.03, 0.1)
THON_BAND = (0.1, 0.4)
ANISOTROPY_BAND = (0.05, 0.4)
_TINY = 1e-20
#: Names of the columns :func:`spectrum_features` returns, in order.
SPECTRUM_COLUMNS = tuple(f"spectrum_shell_{s}" for s in range(N_SPECTRUM_SHELLS)) + (
    "spectrum_slope",
    "spectrum_high_low_ratio",
    "spectrum_iciness",
    "spectrum_thon_contrast",
    "spectrum_anisotropy",
)
#: Names of the band-pass energies :func:`dog_energies` returns, in order.
DOG_COLUMNS = tuple(f"dog_energy_s{sigma}" for sigma in DOG_SIGMAS_PX)
_DOG_RATIO = 1.6


@dataclass(frozen=True)
class SpectrumWeights:
    """The weight matrix turning a flattened ``rfft2`` periodogram into band statistics.

    Columns: shell means (``n_shells``), fine radial means for the Thon band,
    high, low, ice and reference band means, the three power-weighted
    second moments ``kx^2, ky^2, kx ky`` over the anisotropy band, and one
    column per difference-of-Gaussians scale (the mean over the full plane of
    the power times the squared DoG transfer function).
    """

    matrix: np.ndarray  # (patch_px * (patch_px // 2 + 1), n_columns), float32; NumPy or CuPy
    shell_centres: np.ndarray  # cycles / px
    thon_centres: np.ndarray  # cycles / px
    ice_resolved: bool


@lru_cache(maxsize=32)
def spectrum_weights(patch_px: int, pixel_size_A: float | None) -> SpectrumWeights:
    """The weights for square patches of `patch_px` (pixel size for the Å bands, if known).

    Built once for each patch size and pixel size (a few milliseconds each time, per micrograph, before) and
    shared: its arrays are read-only.
    """
    ky = np.fft.fftfreq(patch_px)[:, None]
    kx = np.fft.rfftfreq(patch_px)[None, :]
    k = np.hypot(ky, kx)
    # each rfft column but kx = 0 and kx = Nyquist stands for two frequencies of the full plane
    multiplicity = np.where((kx == 0) | (kx == 0.5), 1.0, 2.0) * np.ones_like(k)

    def mean_of(mask):
        weights = multiplicity * mask
        total = weights.sum()
        return (weights / total if total > 0 else weights).ravel()

    shell_edges = np.geomspace(1 / patch_px, 0.5, N_SPECTRUM_SHELLS + 1)
    columns = [mean_of((k >= lo) & (k < hi) if i < N_SPECTRUM_SHELLS - 1 else (k >= lo) & (k <= hi))
               for i, (lo, hi) in enumerate(zip(shell_edges[:-1], shell_edges[1:]))]
    thon_edges = np.arange(THON_BAND[0], THON_BAND[1] + 1e-9, 1 / patch_px)
    columns += [mean_of((k >= lo) & (k < hi)) for lo, hi in zip(thon_edges[:-1], thon_edges[1:])]
    columns += [mean_of((k >= lo) & (k <= hi)) for lo, hi in (HIGH_BAND, LOW_BAND)]
    ice_resolved = False
    if pixel_size_A is not None:
        ice = (k >= pixel_size_A / ICE_BAND_A[1]) & (k <= pixel_size_A / ICE_BAND_A[0]) & (k <= 0.5)
        reference = (k >= pixel_size_A / REFERENCE_BAND_A[1]) & (k <= pixel_size_A / REFERENCE_BAND_A[0]) & (k > 0)
        ice_resolved = bool(ice.any() and reference.any())
        columns += [mean_of(ice), mean_of(reference)]
    else:
        columns += [np.zeros(k.size), np.zeros(k.size)]
    band = (k >= ANISOTROPY_BAND[0]) & (k <= ANISOTROPY_BAND[1])
    kx_full, ky_full = np.broadcast_to(kx, k.shape), np.broadcast_to(ky, k.shape)
    columns += [(multiplicity * band * moment).ravel() for moment in (kx_full**2, ky_full**2, kx_full * ky_full)]
    for sigma in DOG_SIGMAS_PX:
        transfer = np.exp(-2 * np.pi**2 * sigma**2 * k**2) - np.exp(-2 * np.pi**2 * (_DOG_RATIO * sigma) ** 2 * k**2)
        columns.append((multiplicity * transfer**2 / patch_px**2).ravel())
    return SpectrumWeights(
        matrix=_read_only(np.stack(columns, axis=1).astype(np.float32)),
        shell_centres=_read_only(np.sqrt(shell_edges[:-1] * shell_edges[1:])),
        thon_centres=_read_only(0.5 * (thon_edges[:-1] + thon_edges[1:])),
        ice_resolved=ice_resolved,
    )


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def hann_window(patch_px: int) -> np.ndarray:
    """The 2D Hann window that every patch is multiplied by before its FFT, ``(patch_px, patch_px)`` float32."""
    return np.outer(np.hanning(patch_px), np.hanning(patch_px)).astype(np.float32)


def periodograms(windowed, xp=np):
    """Periodograms of windowed patches ``(n, p, p)`` on the rfft half plane, flattened ``(n, p*(p//2+1))``."""
    n, patch_px, _ = windowed.shape
    if xp is np:  # scipy.fft keeps float32 and uses the cores given (every one outside a cluster's workers)
        spectrum = scipy.fft.rfft2(windowed, workers=cpu_threads())
    else:
        spectrum = xp.fft.rfft2(windowed)
    power = (spectrum.real**2 + spectrum.imag**2) / float((hann_window(patch_px) ** 2).sum())
    return power.reshape(n, -1).astype(xp.float32)


def band_statistics(periodograms, weights: SpectrumWeights, xp=np):
    """Every band statistic of flattened periodograms ``(n, m)``: one matrix product, ``(n, columns)``."""
    return periodograms @ xp.asarray(weights.matrix)


def dog_energies(stats, xp=np):
    """Mean squared difference-of-Gaussians response of each windowed patch, ``(n, len(DOG_COLUMNS))``."""
    return stats[:, -len(DOG_COLUMNS):].astype(xp.float32)


def spectrum_features(stats, weights: SpectrumWeights, xp=np):
    """Turn band statistics (from :func:`band_statistics`) into the spectrum features ``(n, len(SPECTRUM_COLUMNS))``."""
    n_shells, n_thon = N_SPECTRUM_SHELLS, len(weights.thon_centres)
    shells = xp.log10(stats[:, :n_shells] + _TINY)
    thon = xp.log10(stats[:, n_shells:n_shells + n_thon] + _TINY)
    high, low, ice, reference, kxx, kyy, kxy = (stats[:, n_shells + n_thon + i] for i in range(7))

    log_k = xp.asarray(np.log10(weights.shell_centres))
    slope = _fitted_slope(log_k, shells, xp)
    trend = _detrended_spread(xp.asarray(weights.thon_centres), thon, xp)
    high_low = xp.log10((high + _TINY) / (low + _TINY))
    if weights.ice_resolved:
        iciness = xp.log10((ice + _TINY) / (reference + _TINY))
    else:
        iciness = xp.full(high.shape, xp.nan)
    spread = xp.sqrt(((kxx - kyy) / 2) ** 2 + kxy**2)
    anisotropy = 2 * spread / xp.maximum(kxx + kyy, _TINY)
    return xp.concatenate(
        [shells, xp.stack([slope, high_low, iciness, trend, anisotropy], axis=1)], axis=1
    ).astype(xp.float32)


def _fitted_slope(x, y, xp):
    """Least-squares slope of each row of `y` against `x`."""
    x_centred = x - x.mean()
    return (y - y.mean(axis=1, keepdims=True)) @ x_centred / float((x_centred**2).sum())


def _detrended_spread(x, y, xp):
    """Standard deviation of each row of `y` around its least-squares line in `x`."""
    slope = _fitted_slope(x, y, xp)
    intercept = y.mean(axis=1) - slope * x.mean()
    residual = y - (intercept[:, None] + slope[:, None] * x[None, :])
    return residual.std(axis=1)
