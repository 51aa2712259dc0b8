"""Slow, obviously-correct references for the feature kernels: one patch at a time, with NumPy/SciPy/scikit-image."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats
from skimage.feature import graycomatrix, graycoprops, local_binary_pattern


def patches(image, grid):
    """Yield ``(i, j, patch)`` for every patch of the grid."""
    p = grid.patch_px
    for i, top in enumerate(grid.row_starts):
        for j, left in enumerate(grid.col_starts):
            yield i, j, image[top:top + p, left:left + p]


def windowed_patches(image, grid):
    """Every patch less its mean (float64: raw micrographs sit on large offsets), times the Hann window, float32,
    ``(n_patches, p, p)`` in row-major patch order."""
    window = np.outer(np.hanning(grid.patch_px), np.hanning(grid.patch_px))
    return np.stack([((patch - patch.mean(dtype=np.float64)) * window).astype(np.float32)
                     for _, _, patch in patches(image, grid)])


def moments(image, grid):
    out = np.zeros(grid.shape + (4,))
    for i, j, patch in patches(image.astype(np.float64), grid):
        values = patch.ravel()
        out[i, j] = [values.mean(), values.std(), stats.skew(values), stats.kurtosis(values)]
    return out


def percentiles(image, grid, quantiles, step=1):
    out = np.zeros(grid.shape + (len(quantiles),))
    for i, j, patch in patches(image, grid):
        out[i, j] = np.percentile(patch[::step, ::step].astype(np.float64), np.asarray(quantiles) * 100)
    return out


def glcm(levels, grid, distances, angles_deg, n_levels):
    """(rows, cols, distances * angles, 5) from scikit-image's graycomatrix/graycoprops, distance-major."""
    props = ("contrast", "homogeneity", "energy", "correlation", "entropy")
    out = np.zeros(grid.shape + (len(distances) * len(angles_deg), len(props)))
    for i, j, patch in patches(levels, grid):
        matrix = graycomatrix(patch, distances, np.deg2rad(angles_deg), levels=n_levels, symmetric=True, normed=True)
        for k, prop in enumerate(props):
            out[i, j, :, k] = graycoprops(matrix, prop).ravel()  # (distances, angles) -> distance-major
    return out


def gradient_stats(gx, gy, edge_threshold2, grid):
    """Patch means of gx^2, gy^2, gx*gy and of the edge indicator, ``(4, rows, cols)``."""
    gx, gy = gx.astype(np.float64), gy.astype(np.float64)
    maps = [gx * gx, gy * gy, gx * gy, (gx * gx + gy * gy > edge_threshold2).astype(np.float64)]
    out = np.zeros((4,) + grid.shape)
    for k, values in enumerate(maps):
        for i, j, patch in patches(values, grid):
            out[k, i, j] = patch.mean()
    return out


def histograms(codes, grid, n_codes):
    out = np.zeros(grid.shape + (n_codes,))
    for i, j, patch in patches(codes, grid):
        out[i, j] = np.bincount(patch.ravel(), minlength=n_codes) / patch.size
    return out


def dog_energy(patch, sigma, ratio=1.6):
    """Mean squared DoG response of the mean-removed, Hann-windowed patch, normalised by the window's energy."""
    p = patch.shape[0]
    window = np.outer(np.hanning(p), np.hanning(p))
    ky, kx = np.meshgrid(np.fft.fftfreq(p), np.fft.fftfreq(p), indexing="ij")
    k2 = kx**2 + ky**2
    transfer = np.exp(-2 * np.pi**2 * sigma**2 * k2) - np.exp(-2 * np.pi**2 * (ratio * sigma) ** 2 * k2)
    filtered = np.fft.ifft2(np.fft.fft2((patch - patch.mean()) * window) * transfer).real
    return (filtered**2).sum() / (window**2).sum()


def lbp(image):
    return local_binary_pattern(image.astype(np.float64), 8, 1, "uniform").astype(np.uint8)


def spectrum(patch, pixel_size_A, n_shells=8):
    """Spectrum features of one patch, from the full 2D FFT and explicit frequency masks."""
    p = patch.shape[0]
    window = np.outer(np.hanning(p), np.hanning(p))
    power = np.abs(np.fft.fft2((patch - patch.mean()) * window)) ** 2 / (window**2).sum()
    ky, kx = np.meshgrid(np.fft.fftfreq(p), np.fft.fftfreq(p), indexing="ij")
    k = np.hypot(ky, kx)

    def band(lo, hi, closed=True):
        mask = (k >= lo) & ((k <= hi) if closed else (k < hi))
        return power[mask].mean() if mask.any() else 0.0

    edges = np.geomspace(1 / p, 0.5, n_shells + 1)
    shells = np.log10(np.array([band(lo, hi, closed=(s == n_shells - 1))
                                for s, (lo, hi) in enumerate(zip(edges[:-1], edges[1:]))]) + 1e-20)
    slope = np.polyfit(np.log10(np.sqrt(edges[:-1] * edges[1:])), shells, 1)[0]
    high_low = np.log10((band(0.25, 0.5) + 1e-20) / (band(0.03, 0.1) + 1e-20))
    iciness = np.nan
    if pixel_size_A is not None:
        ice_mask = (k >= pixel_size_A / 3.9) & (k <= pixel_size_A / 3.5) & (k <= 0.5)
        ref_mask = (k >= pixel_size_A / 80) & (k <= pixel_size_A / 30) & (k > 0)
        if ice_mask.any() and ref_mask.any():
            iciness = np.log10((power[ice_mask].mean() + 1e-20) / (power[ref_mask].mean() + 1e-20))
    thon_edges = np.arange(0.1, 0.4 + 1e-9, 1 / p)
    centres = 0.5 * (thon_edges[:-1] + thon_edges[1:])
    profile = np.log10(np.array([band(lo, hi, closed=False) for lo, hi in zip(thon_edges[:-1], thon_edges[1:])]) + 1e-20)
    residual = profile - np.polyval(np.polyfit(centres, profile, 1), centres)
    ring = (k >= 0.05) & (k <= 0.4)
    a, c, b = (np.sum(power[ring] * m[ring]) for m in (kx**2, ky**2, kx * ky))
    anisotropy = 2 * np.sqrt(((a - c) / 2) ** 2 + b**2) / (a + c)
    return np.concatenate([shells, [slope, high_low, iciness, residual.std(), anisotropy]])


def window_means(values, size):
    rows, cols, _ = values.shape
    half = size // 2
    out = np.zeros(values.shape)
    for i in range(rows):
        for j in range(cols):
            # the grid edge is replicated: clamp each window position into the grid
            window = [values[min(max(a, 0), rows - 1), min(max(b, 0), cols - 1)]
                      for a in range(i - half, i + half + 1) for b in range(j - half, j + half + 1)]
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)   # a window of NaN only: its mean is NaN
                out[i, j] = np.nanmean(np.array(window), axis=0)
    return out


def neighbour_means(values):
    rows, cols, _ = values.shape
    padded = np.pad(values, ((1, 1), (1, 1), (0, 0)), mode="edge")
    out = np.zeros(values.shape)
    for i in range(rows):
        for j in range(cols):
            window = padded[i:i + 3, j:j + 3].reshape(9, -1)
            neighbours = np.delete(window, 4, axis=0)
            with np.errstate(all="ignore"):
                out[i, j] = np.nanmean(neighbours, axis=0)
    return out


def outlier_pixels_replaced(image, median, spread, max_sd):
    """Each pixel far from `median` and from the median of its 3 x 3 window (edges repeated) becomes that median."""
    padded = np.pad(image, 1, mode="edge")
    out = image.copy()
    for i in range(image.shape[0]):
        for j in range(image.shape[1]):
            local_median = np.median(padded[i:i + 3, j:j + 3])
            if abs(image[i, j] - median) > max_sd * spread and abs(image[i, j] - local_median) > max_sd * spread:
                out[i, j] = local_median
    return out
