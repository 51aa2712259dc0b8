"""Blob responses and the white-noise references they are measured against."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from skimage.feature import blob_log, peak_local_max

from icestat.scale_space import (blob_maxima, blob_noise_sd, blob_response, blob_responses, gaussian_smoothed,
                                  hessian_eigenvalues, local_maxima, white_noise_sd)


def _haar_diagonal_reference(image):
    """The finest Haar diagonal detail, one 2 x 2 block at a time."""
    out = []
    for row in range(0, image.shape[0] - 1, 2):
        for col in range(0, image.shape[1] - 1, 2):
            a, b = float(image[row, col]), float(image[row, col + 1])
            c, d = float(image[row + 1, col]), float(image[row + 1, col + 1])
            out.append((a - b - c + d) / 2)
    return np.array(out)


@pytest.mark.parametrize("shape", [(64, 64), (47, 81)])
def test_white_noise_sd_is_the_scaled_mad_of_the_finest_diagonal_detail(shape):
    image = np.random.default_rng(3).gamma(2.0, 1.0, shape)   # skewed, so a wrong median would show
    detail = _haar_diagonal_reference(image)
    expected = 1.4826 * np.median(np.abs(detail - np.median(detail)))
    assert white_noise_sd(image) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("sd", [0.05, 1.0, 30.0])
def test_white_noise_sd_finds_the_noise_under_smooth_structure_and_specks(sd):
    rng = np.random.default_rng(int(sd * 100))
    noise = rng.normal(0.0, sd, (400, 400))
    yy, xx = np.mgrid[:400, :400]
    structure = 20 * sd * (xx / 400 + np.cos(yy / 60))                      # thickness gradients, CTF-like ripples
    for row, col in rng.integers(40, 360, (12, 2)):                        # large dark blobs (particles)
        structure -= 5 * sd * ndimage.gaussian_filter((np.hypot(yy - row, xx - col) < 15).astype(float), 2)
    image = noise + structure
    image.flat[rng.choice(image.size, 200, replace=False)] += 50 * sd     # hot pixels
    assert white_noise_sd(image) == pytest.approx(noise.std(), rel=0.05)


def test_white_noise_sd_underestimates_low_passed_noise():
    noise = np.random.default_rng(5).normal(0.0, 1.0, (300, 300))
    assert white_noise_sd(ndimage.gaussian_filter(noise, 1.5)) < 0.1 * white_noise_sd(noise)


@pytest.mark.parametrize("shape", [(96, 96), (47, 81), (3, 200)])
def test_blob_responses_are_scipys_laplacian_of_gaussian_with_edges_repeated(shape):
    # the obviously-correct version: scipy.ndimage's filters, one width at a time
    rng = np.random.default_rng(shape[0])
    image = rng.normal(size=shape).astype(np.float32)
    image[:, : shape[1] // 3] += 4.0   # a step at the edge: the padding must repeat the edge pixels, not wrap round
    sigmas = (0.7, 3.3, 9.5)
    for sigma, response in zip(sigmas, blob_responses(image, sigmas)):
        expected = -(sigma**2) * ndimage.gaussian_laplace(image, sigma, mode="nearest")
        assert response.dtype == np.float32 and response.shape == shape
        np.testing.assert_allclose(response, expected, atol=1e-6 * np.ptp(expected))


@pytest.mark.parametrize("shape, sigma_px", [((64, 64), 0.9), ((47, 81), 3.3), ((3, 120), 6.0)])
def test_hessian_eigenvalues_are_those_of_scipys_gaussian_derivatives_pixel_by_pixel(shape, sigma_px):
    # the obviously-correct version: scipy.ndimage's second derivatives, and numpy's eigenvalues of each 2 x 2 matrix
    rng = np.random.default_rng(shape[1])
    image = rng.normal(size=shape).astype(np.float32)
    image[:, : shape[1] // 3] += 4.0   # a step at the edge: the padding must repeat the edge pixels
    along_rows, along_cols, across = (sigma_px**2 * ndimage.gaussian_filter(image.astype(np.float64), sigma_px,
                                                                             order=order, mode="nearest")
                                      for order in ((2, 0), (0, 2), (1, 1)))
    expected = np.empty(shape + (2,))
    for row in range(shape[0]):
        for col in range(shape[1]):
            matrix = [[along_rows[row, col], across[row, col]], [across[row, col], along_cols[row, col]]]
            expected[row, col] = np.linalg.eigvalsh(matrix)[::-1]   # the larger first
    larger, smaller = hessian_eigenvalues(image, sigma_px)
    assert larger.dtype == smaller.dtype == np.float32 and larger.shape == smaller.shape == shape
    scale = np.abs(expected).max()
    np.testing.assert_allclose(larger, expected[..., 0], atol=1e-5 * scale)
    np.testing.assert_allclose(smaller, expected[..., 1], atol=1e-5 * scale)
    np.testing.assert_allclose(larger + smaller, -blob_response(image, sigma_px), atol=1e-5 * scale)


@pytest.mark.parametrize("sigma_px", [0.8, 2.0, 5.0])
def test_blob_noise_sd_is_the_response_spread_on_white_noise(sigma_px):
    noise = np.random.default_rng(int(sigma_px * 10)).normal(0.0, 2.0, (600, 600)).astype(np.float32)
    margin = int(5 * sigma_px)
    measured = blob_response(noise, sigma_px)[margin:-margin, margin:-margin].std()
    assert 2.0 * blob_noise_sd(sigma_px) == pytest.approx(measured, rel=0.03)


def test_blob_response_answers_bright_blobs_positively_and_dark_ones_negatively_at_their_centres():
    yy, xx = np.mgrid[:120, :120]
    image = (np.hypot(yy - 30, xx - 40) <= 7).astype(np.float32) - (np.hypot(yy - 80, xx - 90) <= 7)
    response = blob_response(image, sigma_px=7 / np.sqrt(2))
    assert np.unravel_index(response.argmax(), response.shape) == (30, 40)
    assert np.unravel_index(response.argmin(), response.shape) == (80, 90)
    assert response[30, 40] == pytest.approx(-response[80, 90], rel=1e-5)


def _random_disks(seed: int, shape=(160, 190), n=9) -> tuple[np.ndarray, list[tuple[int, int, float, float]]]:
    """Disks of random radii (3-14 px) and heights (0.5-1) at random places, apart, in faint noise.

    Each disk as (row, col, radius of a circle of its area in pixels, height).
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    image, disks = rng.normal(0.0, 0.02, shape), []
    while len(disks) < n:
        radius, row, col = rng.uniform(3, 14), rng.integers(15, shape[0] - 15), rng.integers(15, shape[1] - 15)
        if all(np.hypot(row - r, col - c) > 2.5 * (radius + other) for r, c, other, _ in disks):
            disk, height = np.hypot(yy - row, xx - col) <= radius, rng.uniform(0.5, 1.0)
            image += height * disk
            disks.append((int(row), int(col), float(np.sqrt(disk.sum() / np.pi)), height))
    return image.astype(np.float32), disks


@pytest.mark.parametrize("shape", [(7, 40, 33), (25, 31), (1, 12, 9), (3, 3, 3)])
@pytest.mark.parametrize("levels", [None, 4])
def test_local_maxima_are_skimages_peaks_in_the_same_order(shape, levels):
    rng = np.random.default_rng(sum(shape) + (levels or 0))
    stack = ndimage.gaussian_filter(rng.normal(size=shape), 1.0).astype(np.float32)
    if levels:   # plateaus and ties: neighbouring maxima of equal height, and peaks of equal height far apart
        stack = np.round(stack * levels / np.abs(stack).max()).astype(np.float32)
    for min_value in (-np.inf, 0.0, float(np.quantile(stack, 0.9))):
        expected = peak_local_max(stack, footprint=np.ones((3,) * len(shape), dtype=bool), threshold_abs=min_value,
                                  exclude_border=False)
        found = local_maxima(stack, min_value)
        assert found.shape == expected.shape
        assert np.array_equal(found, expected)


def test_local_maxima_of_a_constant_or_empty_stack_are_none():
    assert local_maxima(np.full((4, 5, 6), 2.0), 0.0).shape == (0, 3)
    assert local_maxima(np.zeros((0, 5)), 0.0).shape == (0, 2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_blob_maxima_are_skimages_scale_space_maxima_with_refined_widths(seed):
    sigmas_px = 1.5 * 2 ** (np.arange(14) / 4)
    # Framed in zeros wider than the widest kernel (4 sigma), where skimage's reflected edges and blob_maxima's
    # repeated ones are the same.
    frame_px = int(4 * sigmas_px[-1]) + 2
    image, disks = _random_disks(seed)
    image = np.pad(image, frame_px)
    disks = [(row + frame_px, col + frame_px, radius, height) for row, col, radius, height in disks]
    sigma_px, rows, cols, responses = blob_maxima(image, sigmas_px, 0.2)
    # skimage's blob_log: the same maxima of the same scale space, at the grid's widths, those at the first and
    # last width left out (blob_maxima drops them) and none pruned for overlapping.
    reference = blob_log(image, threshold=0.2, overlap=1.0, exclude_border=False,
                         min_sigma=sigmas_px[0], max_sigma=sigmas_px[-1], num_sigma=len(sigmas_px), log_scale=True)
    reference = reference[(reference[:, 2] > sigmas_px[0] * 1.01) & (reference[:, 2] < sigmas_px[-1] * 0.99)]
    assert sorted(zip(rows.tolist(), cols.tolist())) == sorted(map(tuple, reference[:, :2].astype(int).tolist()))
    grid_width = sigmas_px[np.argmin(np.abs(np.log(sigma_px[:, None] / sigmas_px[None, :])), axis=1)]
    for row, col, width in reference:
        match = (rows == row) & (cols == col)
        assert grid_width[match] == pytest.approx(width, rel=1e-6)
    assert np.all(responses >= 0.2)
    # Each disk is one blob at its centre whose refined width reads its radius within 4 %; it answers with about
    # 2 / e of its height.
    for row, col, radius, height in disks:
        near = np.hypot(rows - row, cols - col) <= 1.5
        assert near.sum() == 1
        assert sigma_px[near][0] * np.sqrt(2) == pytest.approx(radius, rel=0.04)
        assert responses[near][0] == pytest.approx(2 / np.e * height, rel=0.1)


def test_gaussian_smoothed_is_scipys_gaussian_filter(rng):
    for shape, sigma_px in (((60, 80), 0.8), ((90, 70), 32.0), ((5, 200), 10.0)):   # 32: wider than the image
        image = rng.normal(size=shape)
        np.testing.assert_allclose(gaussian_smoothed(image, sigma_px), ndimage.gaussian_filter(image, sigma_px),
                                   atol=1e-9)


def test_gaussian_smoothed_smooths_each_image_of_a_stack_alone(rng):
    stack = rng.normal(size=(3, 40, 52)) + np.array([0.0, 5.0, -100.0])[:, None, None]
    smoothed = gaussian_smoothed(stack, 4.0)
    assert smoothed.shape == stack.shape
    for image, result in zip(stack, smoothed):
        np.testing.assert_allclose(result, ndimage.gaussian_filter(image, 4.0), atol=1e-9)
