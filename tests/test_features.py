"""Feature kernels against slow references (tests/reference.py), on random input and real crops; CUDA twins too."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy import ndimage

import reference
from gpu_available import why_no_gpu
from icestat import read_micrograph
from icestat.backend import parse_device
from icestat.features import PatchGrid, compute_features, describe_features, select_features
from icestat.features import cpu, gpu
from icestat.features.compute import glcm_offsets
from icestat.features.maps import neighbour_means, quantile_edges, window_means
from icestat.features.registry import (
    DOG_SIGMAS_PX,
    GLCM_ANGLES_DEG,
    GLCM_DISTANCES_PX,
    GLCM_LEVELS,
    GLCM_PROPERTIES,
    LBP_CODES,
    PERCENTILES,
)
from icestat.features.spectra import (
    band_statistics,
    dog_energies,
    hann_window,
    periodograms,
    spectrum_features,
    spectrum_weights,
)
from icestat.prepare import OUTLIER_SD, fourier_resample, prepare, replace_outlier_pixels, robust_centre_and_spread

GRID = PatchGrid((96, 112), patch_px=32, stride_px=24)  # irregular last row and column


def levels_of(image):
    """The image quantised to GLCM_LEVELS equal-population grey levels (uint8), with NumPy alone."""
    return np.searchsorted(quantile_edges(image, GLCM_LEVELS), image, side="right").astype(np.uint8)


@pytest.fixture
def random_image(rng):
    return rng.normal(size=GRID.image_shape).astype(np.float32) * 3 + 1


@pytest.fixture(scope="module")
def real_crops(shared_data):
    """Crops of real micrographs of both kinds: raw float32 MRC and denoised 8-bit JPG."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = read_micrograph(shared_data / "raw-contamination/micrographs/Ucsf_stack_1142_DW.mrc").data
        jpg = read_micrograph(shared_data / "empiar-10017/micrographs/Falcon_2012_06_12-15_27_22_0.jpg").data
    return {"raw": raw[100:196, 300:412].copy(), "jpg": jpg[2000:2096, 100:212].copy()}


def _images(random_image, real_crops):
    return {"random": random_image, **real_crops}


def test_moments_kernel_matches_reference(random_image, real_crops):
    for name, image in _images(random_image, real_crops).items():
        out = np.zeros(GRID.shape + (4,))
        cpu.patch_moments(image, GRID.row_starts, GRID.col_starts, GRID.patch_px, out)
        np.testing.assert_allclose(out, reference.moments(image, GRID), rtol=1e-6, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("step", [1, 2])
def test_percentile_kernel_matches_numpy(random_image, real_crops, step):
    quantiles = np.array(PERCENTILES) / 100
    for name, image in _images(random_image, real_crops).items():
        out = np.zeros(GRID.shape + (len(quantiles),))
        cpu.patch_percentiles(image, GRID.row_starts, GRID.col_starts, GRID.patch_px, step, quantiles, out)
        np.testing.assert_allclose(out, reference.percentiles(image, GRID, quantiles, step), rtol=1e-6, err_msg=name)


def test_radix_sort_orders_floats_as_numpy(rng):
    awkward = np.array([-0.0, 0.0, -np.inf, np.inf, 1e-45, -1e-45, -3.5, 3.5, 3.5, -3.5, 1e38, -1e38], np.float32)
    values = np.concatenate([awkward, rng.normal(size=500).astype(np.float32),
                             rng.integers(-3, 3, size=300).astype(np.float32)])
    rng.shuffle(values)
    ordered = cpu._radix_sorted(values.copy())
    np.testing.assert_array_equal(ordered, np.sort(values))
    assert np.signbit(ordered[np.flatnonzero(ordered == 0)[0]])  # -0.0 before +0.0


def test_glcm_kernel_matches_scikit_image(random_image, real_crops):
    offsets = glcm_offsets()
    for name, image in _images(random_image, real_crops).items():
        levels = levels_of(image)
        assert levels.min() == 0 and levels.max() == GLCM_LEVELS - 1
        out = np.zeros(GRID.shape + (len(offsets), 5))
        cpu.glcm_features(levels, GRID.row_starts, GRID.col_starts, GRID.patch_px, offsets, GLCM_LEVELS, out)
        expected = reference.glcm(levels, GRID, GLCM_DISTANCES_PX, GLCM_ANGLES_DEG, GLCM_LEVELS)
        np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.filterwarnings("ignore:Applying `local_binary_pattern` to floating-point images")
def test_lbp_kernel_matches_scikit_image(random_image, real_crops, rng):
    images = {**_images(random_image, real_crops), "few grey levels": rng.integers(0, 4, size=(40, 50)).astype(np.float32)}
    for name, image in images.items():
        codes = np.zeros(image.shape, np.uint8)
        cpu.lbp_codes(image, codes)
        np.testing.assert_array_equal(codes, reference.lbp(image), err_msg=name)


def test_histogram_kernel_matches_bincount(rng):
    codes = rng.integers(0, LBP_CODES, size=GRID.image_shape).astype(np.uint8)
    out = np.zeros(GRID.shape + (LBP_CODES,))
    cpu.patch_histograms(codes, GRID.row_starts, GRID.col_starts, GRID.patch_px, LBP_CODES, out)
    np.testing.assert_allclose(out, reference.histograms(codes, GRID, LBP_CODES), rtol=1e-12)


def test_sobel_and_quantise_kernels_match_scipy_and_numpy(random_image, real_crops):
    from icestat.features.maps import quantile_edges

    for name, image in _images(random_image, real_crops).items():
        gx, gy = np.empty_like(image), np.empty_like(image)
        cpu.sobel(image, gx, gy)
        np.testing.assert_allclose(gx, ndimage.sobel(image.astype(np.float64), axis=1), rtol=1e-5, atol=1e-3, err_msg=name)
        np.testing.assert_allclose(gy, ndimage.sobel(image.astype(np.float64), axis=0), rtol=1e-5, atol=1e-3, err_msg=name)
        edges = quantile_edges(image, GLCM_LEVELS)
        levels = np.empty(image.shape, np.uint8)
        cpu.quantise(image, edges, levels)
        np.testing.assert_array_equal(levels, np.searchsorted(edges, image, side="right"), err_msg=name)


def test_gradient_kernel_matches_reference(random_image, real_crops):
    for name, image in _images(random_image, real_crops).items():
        gy, gx = ndimage.sobel(image, axis=0), ndimage.sobel(image, axis=1)
        threshold2 = float(np.median(gx**2 + gy**2))
        out = np.zeros((4,) + GRID.shape)
        cpu.patch_gradient_stats(gx, gy, threshold2, GRID.row_starts, GRID.col_starts, GRID.patch_px, out)
        np.testing.assert_allclose(out, reference.gradient_stats(gx, gy, threshold2, GRID), rtol=1e-6, err_msg=name)


def test_windowed_patches_kernel_matches_numpy(random_image, real_crops):
    images = {**_images(random_image, real_crops), "raw offset": random_image + np.float32(10000)}
    for name, image in images.items():
        out = np.full((GRID.shape[0] * GRID.shape[1], GRID.patch_px, GRID.patch_px), np.nan, dtype=np.float32)
        cpu.windowed_patches(image, GRID.row_starts, GRID.col_starts, GRID.patch_px, hann_window(GRID.patch_px), out)
        np.testing.assert_allclose(out, reference.windowed_patches(image, GRID), rtol=1e-5, atol=1e-6, err_msg=name)


def test_dog_energies_match_filtering_each_patch(random_image, real_crops):
    weights = spectrum_weights(GRID.patch_px, None)
    for name, image in _images(random_image, real_crops).items():
        stack = np.stack([patch for _, _, patch in reference.patches(image, GRID)]).astype(np.float32)
        got = dog_energies(band_statistics(periodograms(reference.windowed_patches(image, GRID)), weights))
        expected = np.array([[reference.dog_energy(patch.astype(np.float64), s) for s in DOG_SIGMAS_PX]
                             for patch in stack])
        np.testing.assert_allclose(got, expected, rtol=2e-4, atol=1e-9, err_msg=name)


def test_global_statistics(rng):
    image = rng.normal(3.0, 2.0, size=(512, 512))
    median, spread = robust_centre_and_spread(image)
    assert median == pytest.approx(3.0, abs=0.02) and spread == pytest.approx(2.0, rel=0.02)
    levels = levels_of(image)
    # equal-population levels, up to the sampling error of quantiles taken on a 1/16 subsample
    assert np.bincount(levels.ravel(), minlength=GLCM_LEVELS) == pytest.approx(image.size / GLCM_LEVELS, rel=0.1)


@pytest.mark.parametrize("pixel_size_A", [None, 1.0, 4.0])
def test_spectrum_features_match_reference(random_image, real_crops, pixel_size_A):
    weights = spectrum_weights(GRID.patch_px, pixel_size_A)
    for name, image in _images(random_image, real_crops).items():
        stack = np.stack([patch for _, _, patch in reference.patches(image, GRID)]).astype(np.float32)
        got = spectrum_features(band_statistics(periodograms(reference.windowed_patches(image, GRID)), weights),
                                weights)
        expected = np.stack([reference.spectrum(patch.astype(np.float64), pixel_size_A) for patch in stack])
        np.testing.assert_allclose(got, expected, rtol=2e-4, atol=2e-4, err_msg=name)


def test_iciness_needs_a_resolving_pixel_and_a_large_enough_patch():
    assert spectrum_weights(64, 1.0).ice_resolved
    assert not spectrum_weights(64, 2.0).ice_resolved  # 3.7 Å is beyond Nyquist (4 Å)
    assert not spectrum_weights(16, 1.0).ice_resolved  # a 16 Å patch holds no 30-80 Å band
    assert not spectrum_weights(64, None).ice_resolved


def test_spectrum_weights_are_built_once_and_cannot_be_changed():
    weights = spectrum_weights(32, 1.5)
    assert spectrum_weights(32, 1.5) is weights   # every micrograph of a run shares them
    with pytest.raises(ValueError, match="read-only"):
        weights.matrix[0, 0] = 1.0   # a caller writing into them would change every later micrograph's features


def test_neighbour_means_match_reference(rng):
    values = rng.normal(size=(5, 6, 3))
    values[2, 3, 1] = np.nan
    np.testing.assert_allclose(neighbour_means(values), reference.neighbour_means(values), rtol=1e-12)


@pytest.mark.parametrize("size", [1, 3, 7])
def test_window_means_match_reference(rng, size):
    values = rng.normal(size=(6, 9, 2))
    values[2, 3, 1] = values[0, 0, 0] = np.nan
    np.testing.assert_allclose(window_means(values, size), reference.window_means(values, size), rtol=1e-10)
    with pytest.raises(ValueError, match="odd"):
        window_means(values, 4)


def test_compute_features_assembles_every_kernel(random_image):
    result = compute_features(random_image, patch_px=32, stride_px=24, pixel_size_A=1.0)
    assert result.values.shape == GRID.shape + (len(select_features()),)
    assert result.values.dtype == np.float32
    moments = reference.moments(random_image, GRID)
    np.testing.assert_allclose(result["intensity_std"], moments[..., 1], rtol=1e-5)
    np.testing.assert_allclose(
        result["context_intensity_mean"], reference.neighbour_means(moments[..., :1])[..., 0], rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(
        result["region_intensity_std"], reference.window_means(moments[..., 1:2], 7)[..., 0], rtol=1e-4, atol=1e-5
    )
    # co-occurrence: each distinct pixel offset computed once, the features the mean over the four angles
    glcm = reference.glcm(levels_of(random_image), GRID, GLCM_DISTANCES_PX, GLCM_ANGLES_DEG, GLCM_LEVELS)
    glcm = glcm.reshape(GRID.shape + (len(GLCM_DISTANCES_PX), len(GLCM_ANGLES_DEG), 5)).mean(axis=3)
    for d_index, distance in enumerate(GLCM_DISTANCES_PX):
        for p_index, prop in enumerate(GLCM_PROPERTIES):
            np.testing.assert_allclose(result[f"glcm_{prop}_d{distance}"], glcm[:, :, d_index, p_index], rtol=1e-5,
                                       atol=1e-6, err_msg=f"glcm_{prop}_d{distance}")
    frame = result.to_frame()
    assert list(frame.columns[:4]) == ["patch_row", "patch_col", "y_px", "x_px"]
    assert len(frame) == GRID.shape[0] * GRID.shape[1]
    assert frame.loc[1, "x_px"] == 24 + 15.5
    # only the spectrum's iciness may be missing, and only where it cannot be resolved
    nan_columns = set(frame.columns[frame.isna().any()])
    assert nan_columns <= {"spectrum_iciness", "context_spectrum_iciness", "region_spectrum_iciness"}


def test_feature_selection_by_group_and_name(random_image):
    result = compute_features(random_image, 32, 24, features=["gradient", "spectrum_slope"])
    assert result.names == ("gradient_energy", "gradient_coherence", "edge_fraction", "spectrum_slope")
    with pytest.raises(ValueError, match="unknown feature or group 'colour'"):
        compute_features(random_image, 32, 24, features=["colour"])
    with pytest.raises(ValueError, match="^no feature asked for: give groups"):   # was numpy's "need at least one array"
        compute_features(random_image, 32, 24, features=[])


def test_features_tell_straight_edges_and_ice_rings(rng):
    # a step edge is coherent; the ice ring raises the iciness
    image = rng.normal(size=(128, 128)).astype(np.float32)
    stepped = image.copy()
    stepped[:, 32:] += 20  # a vertical edge inside the first patch column only
    result = compute_features(stepped, 64, 64, features=["gradient_coherence"])
    assert result["gradient_coherence"][0, 0] > 0.8 > 0.2 > result["gradient_coherence"][0, 1]
    y, x = np.mgrid[:128, :128]
    ring = image + 2 * np.cos(2 * np.pi * x / 3.7) + 2 * np.cos(2 * np.pi * y / 3.7)
    plain = compute_features(image[:, 64:], 64, 64, features=["spectrum_iciness"], pixel_size_A=1.0)
    icy = compute_features(ring[:, 64:], 64, 64, features=["spectrum_iciness"], pixel_size_A=1.0)
    assert float(icy["spectrum_iciness"][0, 0]) > float(plain["spectrum_iciness"][0, 0]) + 1


def test_bad_input_is_refused(random_image):
    with pytest.raises(ValueError, match="2D"):
        compute_features(random_image[None], 32, 24)
    bad = random_image.copy()
    bad[3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        compute_features(bad, 32, 24)
    with pytest.raises(ValueError, match="smaller than one 200-px patch"):
        compute_features(random_image, 200, 24)


def test_grid_maps_between_patches_and_pixels():
    grid = PatchGrid((100, 130), patch_px=64, stride_px=32)
    assert grid.shape == (3, 4)
    y, x = grid.centres_px()
    assert (y[:, 0].tolist(), x[0].tolist()) == ([31.5, 63.5, 67.5], [31.5, 63.5, 95.5, 97.5])
    rows, cols = grid.patch_of(np.array([0.0, 99.0]), np.array([0.0, 129.0]))
    assert rows.tolist() == [0, 2] and cols.tolist() == [0, 3]
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    nearest = grid.to_pixels(values, order=0)
    assert nearest.shape == (100, 130)
    assert nearest[0, 0] == 0 and nearest[99, 129] == 11
    smooth = grid.to_pixels(values, order=1)
    assert smooth[31, 31] == pytest.approx(0, abs=0.05)  # at a patch centre: that patch's value
    assert smooth[31, 47] == pytest.approx(0.5, abs=0.05)  # half-way between two centres


@pytest.mark.parametrize("image_shape, patch_px, stride_px", [((100, 130), 64, 32), ((37, 53), 8, 5), ((64, 160), 64, 32)])
@pytest.mark.parametrize("order", [0, 1])
def test_grid_to_pixels_interpolates_as_map_coordinates(rng, image_shape, patch_px, stride_px, order):
    # the obviously-correct version: scipy's interpolation at each pixel's fractional grid position
    grid = PatchGrid(image_shape, patch_px, stride_px)
    values = rng.normal(size=grid.shape).astype(np.float32)
    values[-1, -1] = np.nan   # stays where it is (a dense matrix product would spread it everywhere)
    centre_rows, centre_cols = grid.centres_px()
    rows = np.interp(np.arange(image_shape[0]), centre_rows[:, 0], np.arange(grid.shape[0]))
    cols = np.interp(np.arange(image_shape[1]), centre_cols[0], np.arange(grid.shape[1]))
    expected = ndimage.map_coordinates(values, np.meshgrid(rows, cols, indexing="ij"), order=order, mode="nearest")
    assert np.isnan(expected).any() and not np.isnan(expected).all()
    np.testing.assert_allclose(grid.to_pixels(values, order), expected, atol=1e-6)   # NaN where it is NaN


def test_describe_features_lists_names_groups_units():
    table = describe_features()
    assert list(table.columns) == ["name", "group", "unit", "description"]
    assert table["name"].is_unique
    assert set(table["group"]) == {"intensity", "gradient", "texture", "spectrum", "context", "region"}
    assert (table["description"].str.len() > 10).all()
    assert table["name"].str.fullmatch(r"[a-z0-9_]+").all()


class TestCudaKernels:
    """The numba.cuda twins, on the CUDA simulator in CI (NUMBA_ENABLE_CUDASIM=1) or a real GPU."""

    grid = PatchGrid((24, 20), patch_px=12, stride_px=8)   # 3 x 2 patches, the last row of them at the edge, not a stride on

    @pytest.fixture(autouse=True)
    def _needs_cuda(self):
        from numba import cuda

        if not (os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" or cuda.is_available()):
            pytest.skip("no CUDA GPU and the CUDA simulator is off (NUMBA_ENABLE_CUDASIM=0)")

    def test_moments(self, rng):
        image = rng.normal(size=self.grid.image_shape).astype(np.float32)
        out = np.zeros(self.grid.shape + (4,))
        gpu.patch_moments(image, self.grid.row_starts, self.grid.col_starts, self.grid.patch_px, out)
        np.testing.assert_allclose(out, reference.moments(image, self.grid), rtol=1e-6, atol=1e-9)

    @pytest.mark.parametrize("patch_px", [5, 16, 33])
    def test_every_pixel_of_other_patch_sizes_counts(self, rng, patch_px):
        # a block's threads walk its patch blockDim pixels at a time (gpu._next_pixel): patch sides that divide the
        # block, that do not, and that leave a row's remainder to wrap at every step, all against the reference
        grid = PatchGrid((patch_px, 2 * patch_px), patch_px=patch_px, stride_px=patch_px)
        image = rng.normal(size=grid.image_shape).astype(np.float32)
        out = np.zeros(grid.shape + (4,))
        gpu.patch_moments(image, grid.row_starts, grid.col_starts, grid.patch_px, out)
        np.testing.assert_allclose(out, reference.moments(image, grid), rtol=1e-6, atol=1e-9)
        codes = rng.integers(0, LBP_CODES, size=grid.image_shape).astype(np.uint8)
        hist = np.zeros(grid.shape + (LBP_CODES,))
        gpu.patch_histograms(codes, grid.row_starts, grid.col_starts, grid.patch_px, LBP_CODES, hist)
        np.testing.assert_allclose(hist, reference.histograms(codes, grid, LBP_CODES), rtol=1e-9)

    @pytest.mark.parametrize("step", [1, 2])
    def test_percentiles(self, rng, step):
        grid = PatchGrid((12, 20), patch_px=12, stride_px=8)   # two patches: the simulator runs each block's sort slowly
        image = rng.normal(size=grid.image_shape).astype(np.float32)
        image[:4, :4] = image[4, 4]   # ties
        quantiles = np.array([0.0, 0.05, 0.5, 0.93, 1.0])
        out = np.zeros(grid.shape + (len(quantiles),))
        gpu.patch_percentiles(image, grid.row_starts, grid.col_starts, grid.patch_px, step, quantiles, out)
        np.testing.assert_allclose(out, reference.percentiles(image, grid, quantiles, step), rtol=1e-6)

    def test_glcm(self, rng):
        levels = levels_of(rng.normal(size=self.grid.image_shape))
        offsets = glcm_offsets()[:4]  # distance 1, four angles: keeps the simulator quick
        out = np.zeros(self.grid.shape + (len(offsets), 5))
        gpu.glcm_features(levels, self.grid.row_starts, self.grid.col_starts, self.grid.patch_px, offsets,
                          GLCM_LEVELS, out)
        expected = reference.glcm(levels, self.grid, (1,), GLCM_ANGLES_DEG, GLCM_LEVELS)
        np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-12)

    def test_gradient_stats_and_histograms(self, rng):
        gx, gy = rng.normal(size=(2,) + self.grid.image_shape).astype(np.float32)
        out = np.zeros((4,) + self.grid.shape)
        gpu.patch_gradient_stats(gx, gy, 1.0, self.grid.row_starts, self.grid.col_starts, self.grid.patch_px, out)
        np.testing.assert_allclose(out, reference.gradient_stats(gx, gy, 1.0, self.grid), rtol=1e-6)
        codes = rng.integers(0, LBP_CODES, size=self.grid.image_shape).astype(np.uint8)
        hist = np.zeros(self.grid.shape + (LBP_CODES,))
        gpu.patch_histograms(codes, self.grid.row_starts, self.grid.col_starts, self.grid.patch_px, LBP_CODES, hist)
        np.testing.assert_allclose(hist, reference.histograms(codes, self.grid, LBP_CODES), rtol=1e-9)

    def test_windowed_patches(self, rng):
        image = (rng.normal(size=self.grid.image_shape) + 1000).astype(np.float32)   # an offset to take away
        out = np.full((self.grid.shape[0] * self.grid.shape[1],) + (self.grid.patch_px,) * 2, np.nan, np.float32)
        gpu.windowed_patches(image, self.grid.row_starts, self.grid.col_starts, self.grid.patch_px,
                             hann_window(self.grid.patch_px), out)
        np.testing.assert_allclose(out, reference.windowed_patches(image, self.grid), rtol=1e-5, atol=1e-5)

    @pytest.mark.filterwarnings("ignore:Applying `local_binary_pattern` to floating-point images")
    def test_lbp(self, rng):
        image = rng.integers(0, 4, size=(10, 12)).astype(np.float32)  # many ties
        codes = np.zeros(image.shape, np.uint8)
        gpu.lbp_codes(image, codes)
        np.testing.assert_array_equal(codes, reference.lbp(image))

    def test_too_many_pixels_to_sort_refused(self):
        with pytest.raises(ValueError, match="at most 4096 pixels"):
            gpu.patch_percentiles(None, np.zeros(1), np.zeros(1), 256, 2, np.zeros(1), None)

    def test_check_kernels_runs_one(self):
        gpu.check_kernels()   # compiles and runs a kernel (here on the simulator, or the GPU with it off)

    def test_check_kernels_says_in_one_line_why_numba_cannot(self, monkeypatch):
        class Unusable:   # what numba-cuda does under NumPy 2.5, at the first kernel it compiles
            def __getitem__(self, launch_configuration):
                def launch(*args):
                    raise AttributeError("module 'numpy' has no attribute 'row_stack'\nmore")
                return launch

        monkeypatch.setattr(gpu, "_patch_moments", Unusable())
        with pytest.raises(RuntimeError) as caught:
            gpu.check_kernels()
        assert str(caught.value) == ("numba cannot compile or run its CUDA kernels here (AttributeError: module "
                                     "'numpy' has no attribute 'row_stack'); numba-cuda needs NumPy below 2.5: "
                                     "pip install 'icestat[gpu]'")

    def test_too_many_codes_refused(self):
        with pytest.raises(ValueError, match="at most 32 codes"):
            gpu.patch_histograms(None, np.zeros(1), np.zeros(1), 4, 33, None)

    def test_too_many_levels_refused(self):
        with pytest.raises(ValueError, match="at most 16"):
            gpu.glcm_features(None, np.zeros(1), np.zeros(1), 4, np.zeros((1, 2)), 32, None)


# Compiles every CUDA kernel to PTX for compute capability 9.0 (H100/H200) in a process with the simulator off.
# NVVM (from the CUDA toolkit) is all it needs; without a GPU the device query is answered with that capability.
_COMPILE_FOR_GPU = """
import sys
from types import SimpleNamespace
try:
    from numba.cuda.cudadrv.nvvm import NVVM
    NVVM()
except Exception as err:
    print(f"NVVM (CUDA toolkit) not found, so CUDA kernels cannot be compiled here: {err}".splitlines()[0])
    sys.exit(3)
import numba.cuda.dispatcher
from numba import cuda
numba.cuda.dispatcher.get_current_device = lambda: SimpleNamespace(compute_capability=(9, 0))
from icestat.features import gpu
signatures = {  # the types icestat.features.compute passes
    "_patch_moments": "void(float32[:, :], int64[:], int64[:], int64, float64[:, :, :])",
    "_glcm_features": "void(uint8[:, :], int64[:], int64[:], int64, int64[:, :], int64, float64[:], float64[:, :, :, :])",
    "_patch_gradient_stats": "void(float32[:, :], float32[:, :], float64, int64[:], int64[:], int64, float64[:, :, :])",
    "_patch_histograms": "void(uint8[:, :], int64[:], int64[:], int64, int64, float64[:, :, :])",
    "_lbp_codes": "void(float32[:, :], float64[:, :], uint8[:, :])",
    "_patch_percentiles": "void(float32[:, :], int64[:], int64[:], int64, int64, int64, float64[:], float64[:, :, :])",
    "_windowed_patches": "void(float32[:, :], int64[:], int64[:], int64, float32[:, :], float32[:, :, :])",
}
for name, signature in signatures.items():
    ptx, _ = cuda.compile_ptx(getattr(gpu, name).py_func, signature, cc=(9, 0))
    assert ".entry" in ptx, name
    print("compiled", name)
"""


def test_cuda_kernels_compile_for_a_real_gpu():
    """The simulator runs the kernels as Python; this checks that numba.cuda can compile them for a GPU."""
    result = subprocess.run([sys.executable, "-c", _COMPILE_FOR_GPU], capture_output=True, text=True,
                            env={**os.environ, "NUMBA_ENABLE_CUDASIM": "0"})
    if result.returncode == 3:
        pytest.skip(result.stdout.strip())
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("compiled") == 7


@pytest.mark.skipif(bool(why_no_gpu()), reason=why_no_gpu() or "a GPU is here")
def test_cupy_path_matches_cpu(random_image):
    import cupy

    on_cpu = compute_features(random_image, 32, 24, pixel_size_A=1.0)
    on_gpu = compute_features(cupy.asarray(random_image), 32, 24, device="cuda", pixel_size_A=1.0)
    assert isinstance(on_gpu.values, cupy.ndarray)
    np.testing.assert_allclose(on_gpu.values.get(), on_cpu.values, rtol=2e-3, atol=2e-3)


def test_array_module_of_a_host_array_is_numpy_without_importing_cupy():
    code = ("import sys, numpy as np; from icestat.backend import array_module_of; "
            "assert array_module_of(np.zeros(2)) is np and array_module_of([1.0]) is np; "
            "assert 'cupy' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_device_names():
    assert str(parse_device("cuda")) == "cuda:0"
    with pytest.raises(ValueError, match="unknown device"):
        parse_device("gpu")


class TestPrepare:
    def test_fourier_resample_keeps_low_frequencies_exactly(self, rng):
        # an image made only of frequencies below the new Nyquist comes out as the same function, sampled at the
        # output's pixel centres (input position (k + 1/2) * n / n_out - 1/2); the higher frequencies added vanish
        shape, small_shape = (96, 80), (32, 40)
        centres = [(np.arange(n_out) + 0.5) * n / n_out - 0.5 for n, n_out in zip(shape, small_shape)]

        def band_limited(rows_px, cols_px, frequencies, amplitudes):
            return sum(a * np.cos(np.pi * u * (rows_px[:, None] + 0.5) / shape[0])
                       * np.cos(np.pi * v * (cols_px[None, :] + 0.5) / shape[1])
                       for (u, v), a in zip(frequencies, amplitudes))

        low = [(int(u), int(v)) for u, v in zip(rng.integers(0, 32, 6), rng.integers(0, 40, 6))]
        high = [(int(u), int(v)) for u, v in zip(rng.integers(32, 96, 6), rng.integers(0, 80, 6))]
        amplitudes = rng.normal(size=6)
        pixels = [np.arange(float(n)) for n in shape]
        image = band_limited(*pixels, low, amplitudes) + band_limited(*pixels, high, amplitudes)
        np.testing.assert_allclose(fourier_resample(image, small_shape),
                                   band_limited(*centres, low, amplitudes), atol=1e-4)

    def test_fourier_resample_enlarges_to_the_same_function_and_back(self, rng):
        # an image is a sum of cosines up to its own Nyquist: enlarged, it is the same sum at the output's pixel
        # centres (input position (k + 1/2) * n / n_out - 1/2), and shrunk back, the image itself
        shape, large_shape = (24, 30), (48, 45)
        centres = [(np.arange(n_out) + 0.5) * n / n_out - 0.5 for n, n_out in zip(shape, large_shape)]
        amplitudes = rng.normal(size=shape)

        def sampled(rows_px, cols_px):
            return sum(amplitudes[u, v] * np.cos(np.pi * u * (rows_px[:, None] + 0.5) / shape[0])
                       * np.cos(np.pi * v * (cols_px[None, :] + 0.5) / shape[1])
                       for u in range(shape[0]) for v in range(shape[1]))

        image = sampled(*(np.arange(float(n)) for n in shape))
        enlarged = fourier_resample(image, large_shape)
        np.testing.assert_allclose(enlarged, sampled(*centres), atol=1e-3)
        np.testing.assert_allclose(fourier_resample(enlarged, shape), image, atol=1e-3)

    @pytest.mark.parametrize("shape, small_shape", [((640, 8), (100, 8)), ((8, 700), (8, 137))])
    def test_fourier_resample_does_not_ring_where_opposite_edges_differ(self, shape, small_shape):
        # a ramp across the image (its two ends differ as much as can be) bins to the ramp at the output's pixel
        # centres, at the edges too: a crop of the FFT rings there, 5-6 % of the ramp's range off
        axis = int(np.argmax(shape))
        ramp = np.indices(shape, dtype=float)[axis]
        centres = (np.indices(small_shape, dtype=float)[axis] + 0.5) * shape[axis] / small_shape[axis] - 0.5
        error = np.abs(fourier_resample(ramp, small_shape) - centres) / shape[axis]
        assert error.max() < 0.002

    @pytest.mark.parametrize("bin_factor", [0.5, 0.8, 2.0, 4.0, 4.675, 7.0])
    def test_a_binned_or_enlarged_blob_maps_back_to_where_it_was(self, bin_factor):
        from icestat import Micrograph

        rows, cols = np.mgrid[:700, :640]
        centre_y, centre_x = 333.0, 301.0
        blob = np.exp(-((rows - centre_y) ** 2 + (cols - centre_x) ** 2) / (2 * 15.0**2))
        working = prepare(Micrograph(1.0 + blob, pixel_size_A=1.0, name="blob"), bin_factor=bin_factor)
        weight = np.clip(working.data - np.median(working.data), 0, None)
        work_rows, work_cols = np.mgrid[:weight.shape[0], :weight.shape[1]]
        y, x = working.to_original_px((weight * work_rows).sum() / weight.sum(), (weight * work_cols).sum() / weight.sum())
        assert y == pytest.approx(centre_y, abs=0.1) and x == pytest.approx(centre_x, abs=0.1)

    def test_prepare_bins_to_the_working_pixel_size_and_normalises(self, rng):
        from icestat import Micrograph

        mic = Micrograph(rng.normal(50, 7, size=(400, 300)), pixel_size_A=1.0, name="m")
        work = prepare(mic, working_pixel_size_A=4.0)
        assert work.data.shape == (100, 74)
        assert work.pixel_size_A == pytest.approx(300 / 74)
        assert abs(np.median(work.data)) < 1e-5
        assert np.median(np.abs(work.data)) * 1.4826 == pytest.approx(1.0, rel=1e-4)
        y, x = work.to_original_px(np.array([0.0]), np.array([0.0]))
        assert y[0] == pytest.approx(1.5) and x[0] == pytest.approx(300 / 74 / 2 - 0.5)

    @pytest.mark.parametrize("asked", [{"bin_factor": -1.0}, {"bin_factor": 0.0}, {"bin_factor": float("nan")},
                                       {"working_pixel_size_A": -4.0}, {"working_pixel_size_A": 0.0}])
    def test_prepare_refuses_a_binning_that_is_not_a_positive_number(self, rng, asked):
        # not taken as the most enlargement allowed, as a negative factor was
        from icestat import Micrograph

        mic = Micrograph(rng.normal(50, 7, size=(64, 64)), pixel_size_A=1.0, name="m")
        with pytest.raises(ValueError, match="must be a positive number"):
            prepare(mic, **asked)

    def test_outlier_pixels_are_replaced_by_their_neighbourhood_median(self, rng):
        # hot and dead pixels (single, a pair, a one-pixel line, at a corner) go; a dark blob as far from the median
        # (contamination, gold) stays, as does everything of a clean image
        clean = rng.poisson(20.0, size=(48, 64)).astype(np.float32)
        assert replace_outlier_pixels(clean) is clean
        image = clean.copy()
        image[5, 7] = image[0, 0] = 5000.0
        image[20, 30:32] = 900.0
        image[:, 50] += 400.0
        image[40, 10] = -300.0
        yy, xx = np.mgrid[:48, :64]
        blob = np.hypot(yy - 32, xx - 15) <= 4.5
        image[blob] = -200.0
        median, spread = robust_centre_and_spread(image)
        expected = reference.outlier_pixels_replaced(image, median, spread, OUTLIER_SD)
        replaced = replace_outlier_pixels(image)
        np.testing.assert_array_equal(replaced, expected)
        assert replaced.max() < 60 and replaced[~blob].min() >= 0
        assert np.count_nonzero(replaced[~blob] != image[~blob]) == 2 + 2 + 48 + 1
        assert (replaced[ndimage.binary_erosion(blob)] == -200.0).all()   # a blob's edge may lose its corners

    def test_a_micrograph_flat_but_for_outlier_pixels_is_refused_naming_it(self):
        from icestat import Micrograph, MicrographError

        image = np.full((200, 200), 3.0, dtype=np.float32)
        image[25, 0] = image[120, 77] = 1e6   # not constant, so readable; flat once the hot pixels are replaced
        for bin_factor in (1.0, 2.0, 0.5):
            with pytest.raises(MicrographError, match="^hot: has no contrast once its outlier pixels are replaced"):
                prepare(Micrograph(image, pixel_size_A=None, name="hot"), bin_factor=bin_factor)

    def test_a_coarser_micrograph_is_enlarged_to_the_working_pixel_size_at_most_twice(self, rng):
        from icestat import Micrograph

        mic = Micrograph(rng.normal(50, 7, size=(100, 60)), pixel_size_A=10.0, name="m")
        assert prepare(mic, working_pixel_size_A=8.0).data.shape == (124, 74)
        assert prepare(mic, working_pixel_size_A=8.0).pixel_size_A == pytest.approx(600 / 74)
        assert prepare(mic, working_pixel_size_A=2.0).data.shape == (200, 120)   # 5x asked: twice
        assert prepare(mic, bin_factor=0.25).data.shape == (200, 120)

    def test_unknown_pixel_size_needs_a_factor(self, rng):
        from icestat import Micrograph

        mic = Micrograph(rng.normal(size=(128, 128)), name="m")
        with pytest.raises(ValueError, match="pixel size unknown"):
            prepare(mic, working_pixel_size_A=4.0)
        assert prepare(mic, bin_factor=2).data.shape == (64, 64)
