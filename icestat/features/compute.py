"""compute_features: every selected feature of every patch, on the CPU or a CUDA GPU."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from icestat.backend import Device, array_module, ndimage_module, on_device, parse_device, to_host
from icestat.features import cpu
from icestat.features.grid import PatchGrid
from icestat.features.maps import neighbour_means, quantile_edges, window_means
from icestat.prepare import robust_centre_and_spread, subsample
from icestat.features.registry import (
    BASE_FEATURES,
    GLCM_ANGLES_DEG,
    GLCM_DISTANCES_PX,
    GLCM_LEVELS,
    GROUP_OF,
    LBP_CODES,
    PERCENTILES,
    REGION_PATCHES,
    REGION_SOURCE_GROUPS,
    select_features,
)
from icestat.features.spectra import (
    DOG_COLUMNS,
    SPECTRUM_COLUMNS,
    band_statistics,
    dog_energies,
    hann_window,
    periodograms,
    spectrum_features,
    spectrum_weights,
)

#: What a group function gives: the names of some columns and their values, ``(rows, cols, len(names))``.
Block = tuple[tuple[str, ...], object]
_EDGE_FACTOR = 3.0
#: Patches per batched FFT on the CPU: the batch's patches and spectra (about 70 MB for 64-px patches) stay small.
CPU_BATCH_PATCHES = 2048
#: Patches per batched FFT on a GPU: a 4096x4096 micrograph's 16129 64-px patches in one pass (about 0.55 GB), which
#: took 7 ms on an H200 where batches of 2048 took 10 ms (benchmarks/results/features_speed_gpu.md).
GPU_BATCH_PATCHES = 16384
#: Percentiles are taken over the patch's pixels on a lattice of this step (a quarter of them for 2).
PERCENTILE_STEP_PX = 2


@dataclass(frozen=True, eq=False)
class PatchFeatures:
    """Features of every patch of an image.

    Attributes
    ----------
    values : array (rows, cols, n_features), float32
        On the device the features were computed on (NumPy or CuPy).
    names : tuple of str
        Feature names, in the order of the last axis.
    grid : PatchGrid
        The patches.
    device : str
        Where `values` lives.
    pixel_size_A : float or None
        Pixel size of the image the features describe.
    """

    values: object
    names: tuple[str, ...]
    grid: PatchGrid
    device: str = "cpu"
    pixel_size_A: float | None = None

    def __getitem__(self, name: str):
        """The grid of one feature (on the features' device)."""
        return self.values[..., self.names.index(name)]

    def to_frame(self) -> pd.DataFrame:
        """A tidy table on the host: one row per patch, ``patch_row, patch_col, y_px, x_px`` then one column per feature."""
        values = to_host(self.values)
        rows, cols = self.grid.shape
        patch_row, patch_col = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
        y_px, x_px = self.grid.centres_px()
        frame = pd.DataFrame(
            {"patch_row": patch_row.ravel(), "patch_col": patch_col.ravel(), "y_px": y_px.ravel(), "x_px": x_px.ravel()}
        )
        features = pd.DataFrame(values.reshape(rows * cols, -1), columns=list(self.names))
        return pd.concat([frame, features], axis=1)


def compute_features(
    image,
    patch_px: int = 64,
    stride_px: int = 32,
    features=None,
    device: str | Device = "cpu",
    pixel_size_A: float | None = None,
    batch_patches: int | None = None,
) -> PatchFeatures:
    """Compute per-patch features of an image.

    Parameters
    ----------
    image : 2D array, Micrograph or WorkingImage
        NumPy or CuPy array (moved to `device` if needed), or an object with
        ``data`` and ``pixel_size_A``.
    patch_px, stride_px : int
        Patch side and step in pixels.
    features : iterable of str, optional
        Groups and/or feature names (see :func:`describe_features`); all when None.
    device : {"cpu", "cuda", "cuda:N"}
        Where to compute; the values stay there.
    pixel_size_A : float, optional
        Pixel size of `image`, for features in ångström (the iciness ratio).
    batch_patches : int, optional
        Patches per batched FFT (bounds memory); by default ``CPU_BATCH_PATCHES`` on the CPU and
        ``GPU_BATCH_PATCHES`` on a GPU.

    Returns
    -------
    PatchFeatures

    Examples
    --------
    >>> import numpy as np
    >>> image = np.random.default_rng(0).normal(size=(128, 160)).astype(np.float32)
    >>> result = compute_features(image, patch_px=32, stride_px=32, features=["intensity"])
    >>> result.values.shape[:2], result.names[:2]
    ((4, 5), ('intensity_mean', 'intensity_std'))
    """
    if hasattr(image, "data") and hasattr(image, "pixel_size_A"):
        pixel_size_A = pixel_size_A if pixel_size_A is not None else image.pixel_size_A
        image = image.data
    selected = select_features(features)
    device = parse_device(device)
    xp = array_module(device)
    with on_device(device):
        image = xp.asarray(image, dtype=xp.float32)
        if image.ndim != 2:
            raise ValueError(f"expected a 2D image, got shape {image.shape}")
        if not bool(xp.isfinite(image).all()):
            raise ValueError("the image holds NaN or infinite values")
        grid = PatchGrid(tuple(image.shape), patch_px, stride_px)
        if batch_patches is None:
            batch_patches = GPU_BATCH_PATCHES if device.is_gpu else CPU_BATCH_PATCHES
        context = _PatchContext(image, grid, device, xp, pixel_size_A, batch_patches)
        base_needed = {f.name.removeprefix("context_").removeprefix("region_") for f in selected}
        groups = {GROUP_OF[name] for name in base_needed}
        # each group gives blocks of columns, not one array per feature: on a GPU a few copies make the table,
        # not one small kernel per feature (hundreds of launches, a fifth of the time)
        blocks = [block for group in ("intensity", "gradient", "texture", "spectrum") if group in groups
                  for block in _GROUP_FUNCTIONS[group](context)]
        names = [name for block_names, _ in blocks for name in block_names]
        table = xp.concatenate([block for _, block in blocks], axis=-1)  # float64 where any block is
        column = {name: i for i, name in enumerate(names)}
        derived = []
        if any(f.group == "context" for f in selected):
            base_names = [f.name for f in BASE_FEATURES if f.name in column]
            derived.append(neighbour_means(table[..., [column[name] for name in base_names]], xp))
            names += [f"context_{name}" for name in base_names]
        if any(f.group == "region" for f in selected):
            base_names = [f.name for f in BASE_FEATURES if f.name in column and f.group in REGION_SOURCE_GROUPS]
            derived.append(window_means(table[..., [column[name] for name in base_names]], REGION_PATCHES, xp))
            names += [f"region_{name}" for name in base_names]
        column = {name: i for i, name in enumerate(names)}
        table = xp.concatenate([table] + derived, axis=-1) if derived else table
        # the selected columns in their order, cast once
        values = table[..., xp.asarray([column[f.name] for f in selected])].astype(xp.float32)
    return PatchFeatures(values, tuple(f.name for f in selected), grid, str(device), pixel_size_A)


@dataclass
class _PatchContext:
    """What the group functions share: the image on its device, the grid, the kernels, one spectral pass."""

    image: object
    grid: PatchGrid
    device: Device
    xp: object
    pixel_size_A: float | None
    batch_patches: int
    _band_stats: object = None

    def __post_init__(self):
        # patch origins on the device, made once: kernels and every FFT batch read them
        self.row_starts = self.xp.asarray(self.grid.row_starts)
        self.col_starts = self.xp.asarray(self.grid.col_starts)
        self.window = self.xp.asarray(hann_window(self.grid.patch_px))

    @property
    def kernels(self):
        if self.device.is_gpu:
            from icestat.features import gpu

            return gpu
        return cpu

    def windowed_patches(self, first_row: int, last_row: int):
        """Patches of grid rows ``first_row:last_row``, each less its mean and windowed, ``(n, p, p)`` float32."""
        row_starts, p = self.row_starts[first_row:last_row], self.grid.patch_px
        out = self.xp.empty((row_starts.size * self.col_starts.size, p, p), dtype=self.xp.float32)
        self.kernels.windowed_patches(self.image, row_starts, self.col_starts, p, self.window, out)
        return out

    def batches(self):
        """``(first_row, last_row)`` ranges of grid rows holding about ``batch_patches`` patches each."""
        step = max(1, self.batch_patches // self.grid.shape[1])
        return [(start, start + step) for start in range(0, self.grid.shape[0], step)]

    def band_stats(self):
        """Band statistics of every patch's periodogram, ``(rows, cols, columns)``; computed once."""
        if self._band_stats is None:
            weights = spectrum_weights(self.grid.patch_px, self.pixel_size_A)
            weights = replace(weights, matrix=self.xp.asarray(weights.matrix))  # to the device once, not per batch
            blocks = [band_statistics(periodograms(self.windowed_patches(a, b), self.xp), weights, self.xp)
                      for a, b in self.batches()]
            self._band_stats = (self.xp.concatenate(blocks), weights)
        return self._band_stats


def _intensity(context: _PatchContext) -> list[Block]:
    xp, grid = context.xp, context.grid
    moments = xp.zeros(grid.shape + (4,), dtype=xp.float64)
    context.kernels.patch_moments(context.image, context.row_starts, context.col_starts, grid.patch_px, moments)
    quantiles = xp.asarray(np.asarray(PERCENTILES, dtype=np.float64) / 100)
    step = PERCENTILE_STEP_PX if grid.patch_px >= 8 * PERCENTILE_STEP_PX else 1
    percentiles = xp.zeros(grid.shape + (len(PERCENTILES),), dtype=xp.float64)
    context.kernels.patch_percentiles(context.image, context.row_starts, context.col_starts, grid.patch_px, step,
                                      quantiles, percentiles)
    median, spread = robust_centre_and_spread(context.image, xp)
    contrast = xp.stack([(moments[..., 0] - median) / spread, moments[..., 1] / spread], axis=-1)
    return [(("intensity_mean", "intensity_std", "intensity_skewness", "intensity_kurtosis"), moments),
            (("contrast_mean", "contrast_std"), contrast),
            (tuple(f"intensity_p{q:02d}" for q in PERCENTILES), percentiles)]


def _gradient(context: _PatchContext) -> list[Block]:
    xp, grid = context.xp, context.grid
    if context.device.is_gpu:
        ndi = ndimage_module(xp)
        gy = ndi.sobel(context.image, axis=0, mode="reflect")
        gx = ndi.sobel(context.image, axis=1, mode="reflect")
    else:
        gx, gy = np.empty_like(context.image), np.empty_like(context.image)
        cpu.sobel(context.image, gx, gy)
    sample_x, sample_y = subsample(gx), subsample(gy)
    edge_threshold2 = float((_EDGE_FACTOR * xp.median(xp.sqrt(sample_x**2 + sample_y**2))) ** 2)
    stats = xp.zeros((4,) + grid.shape, dtype=xp.float64)
    context.kernels.patch_gradient_stats(gx, gy, edge_threshold2, context.row_starts, context.col_starts,
                                         grid.patch_px, stats)
    jxx, jyy, jxy, edges = stats
    coherence = xp.sqrt((jxx - jyy) ** 2 + 4 * jxy**2) / xp.maximum(jxx + jyy, 1e-20)
    return [(("gradient_energy", "gradient_coherence", "edge_fraction"), xp.stack([jxx + jyy, coherence, edges], -1))]


def glcm_offsets() -> np.ndarray:
    """``(row, column)`` pixel offsets of the co-occurrence matrices, distance-major, as scikit-image rounds them."""
    return np.array(
        [[round(np.sin(np.deg2rad(a)) * d), round(np.cos(np.deg2rad(a)) * d)]
         for d in GLCM_DISTANCES_PX for a in GLCM_ANGLES_DEG],
        dtype=np.int64,
    )


def distinct_glcm_offsets() -> tuple[np.ndarray, np.ndarray]:
    """The distinct offsets of :func:`glcm_offsets` and, for each of those, its index among them.

    Rounding makes some equal (45 and 135 degrees at 1 and 2 px): the co-occurrence kernel counts each distinct
    one once.
    """
    offsets, index = np.unique(glcm_offsets(), axis=0, return_inverse=True)
    return offsets, index.reshape(-1)


def _texture(context: _PatchContext) -> list[Block]:
    xp, grid, kernels = context.xp, context.grid, context.kernels
    edges = quantile_edges(context.image, GLCM_LEVELS, xp)
    if context.device.is_gpu:
        levels = xp.searchsorted(edges, context.image, side="right").astype(xp.uint8)
    else:
        levels = np.empty(context.image.shape, np.uint8)
        cpu.quantise(context.image, edges, levels)
    offsets, offset_of_angle = distinct_glcm_offsets()
    glcm = xp.zeros(grid.shape + (len(offsets), 5), dtype=xp.float64)
    kernels.glcm_features(levels, context.row_starts, context.col_starts, grid.patch_px, xp.asarray(offsets),
                          GLCM_LEVELS, glcm)
    glcm = glcm[..., xp.asarray(offset_of_angle), :]
    glcm = glcm.reshape(grid.shape + (len(GLCM_DISTANCES_PX), len(GLCM_ANGLES_DEG), 5)).mean(axis=3)
    glcm_names = tuple(f"glcm_{prop}_d{distance}" for distance in GLCM_DISTANCES_PX
                       for prop in ("contrast", "homogeneity", "energy", "correlation", "entropy"))
    codes = xp.zeros(context.image.shape, dtype=xp.uint8)
    kernels.lbp_codes(context.image, codes)
    histograms = xp.zeros(grid.shape + (LBP_CODES,), dtype=xp.float64)
    kernels.patch_histograms(codes, context.row_starts, context.col_starts, grid.patch_px, LBP_CODES, histograms)
    stats, _ = context.band_stats()
    energies = dog_energies(stats, xp).reshape(grid.shape + (len(DOG_COLUMNS),))
    return [(glcm_names, glcm.reshape(grid.shape + (len(glcm_names),))),
            (tuple(f"lbp_{code}" for code in range(LBP_CODES)), histograms), (DOG_COLUMNS, energies)]


def _spectrum(context: _PatchContext) -> list[Block]:
    stats, weights = context.band_stats()
    table = spectrum_features(stats, weights, context.xp).reshape(context.grid.shape + (len(SPECTRUM_COLUMNS),))
    return [(SPECTRUM_COLUMNS, table)]


_GROUP_FUNCTIONS = {"intensity": _intensity, "gradient": _gradient, "texture": _texture, "spectrum": _spectrum}
