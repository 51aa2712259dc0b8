"""Carbon decided per region (icestat.carbon) on hand-made probability maps and images with known answers."""

import numpy as np
import pytest
from scipy import ndimage

from icestat.carbon import MIN_CARBON_FRACTION, consolidate_carbon, local_mean_and_sd
from icestat.classes import CARBON, CONTAMINATION, ICE, IGNORE, PARTICLE
from icestat.settings import SegmentationSettings

SIDE_PX = 200
PATCH_PX = SegmentationSettings().patch_px


def _probabilities(labels: np.ndarray, confidence: float = 0.7) -> np.ndarray:
    """Class probabilities whose most probable class is `labels`, the rest shared evenly."""
    probabilities = np.full((4,) + labels.shape, (1 - confidence) / 3, dtype=np.float32)
    for code in range(4):
        probabilities[code][labels == code] = confidence
    return probabilities


@pytest.fixture
def film(rng):
    """A micrograph whose left 40 % is carbon film: darker and smoother than the ice with its dark particles."""
    image = rng.normal(0.0, 1.0, (SIDE_PX, SIDE_PX))
    particles = rng.integers(0, SIDE_PX, size=(60, 2))
    for y, x in particles:
        image[max(0, y - 3):y + 3, max(0, x - 3):x + 3] -= 2.0
    truth = np.zeros((SIDE_PX, SIDE_PX), dtype=np.int8)
    truth[:, :80] = CARBON
    image[:, :80] = rng.normal(-1.5, 0.6, (SIDE_PX, 80))
    return image.astype(np.float32), truth


def test_small_carbon_regions_are_given_to_the_other_classes():
    labels = np.zeros((SIDE_PX, SIDE_PX), dtype=np.int8)
    labels[150:180, 20:40] = PARTICLE
    side_px = int(np.sqrt(MIN_CARBON_FRACTION * labels.size)) - 2   # just under the smallest film region
    labels[10:10 + side_px, 10:10 + side_px] = CARBON
    probabilities = _probabilities(labels)
    probabilities[PARTICLE, 10:10 + side_px, 10:10 + side_px] += 0.05   # the runner-up there is particle
    result = consolidate_carbon(np.zeros((SIDE_PX, SIDE_PX)), probabilities, PATCH_PX)
    np.testing.assert_allclose(result.sum(axis=0), 1.0, rtol=1e-5)
    region = (slice(10, 10 + side_px), slice(10, 10 + side_px))
    assert (result[CARBON][region] == 0).all()
    assert (result.argmax(axis=0)[region] == PARTICLE).all()
    outside = np.ones(labels.shape, dtype=bool)
    outside[region] = False
    np.testing.assert_array_equal(result[:, outside], probabilities[:, outside])   # the rest is untouched


def test_a_large_carbon_region_is_completed_from_the_micrograph_itself(film):
    image, truth = film
    called = truth.copy()
    called[60:140, 0:70] = ICE        # a gap in the film, open to the micrograph's edge
    called[20:30, 30:40] = ICE        # a hole inside it
    called[170:180, 50:60] = CONTAMINATION
    result = consolidate_carbon(image, _probabilities(called), PATCH_PX)
    np.testing.assert_allclose(result.sum(axis=0), 1.0, rtol=1e-5)
    labels = result.argmax(axis=0)
    carbon, found = truth == CARBON, labels == CARBON
    assert (found & carbon).sum() / (found | carbon).sum() > 0.9   # IoU: the gap and the hole are film again
    assert np.mean(found[:, 100:]) < 0.01                        # and the film did not spread into the ice
    assert (labels[170:180, 50:60] == CONTAMINATION).all()      # contamination stays contamination


def test_without_carbon_nothing_changes(film):
    image, _ = film
    labels = np.zeros(image.shape, dtype=np.int8)
    labels[50:60, 50:60] = PARTICLE
    probabilities = _probabilities(labels)
    np.testing.assert_array_equal(consolidate_carbon(image, probabilities, PATCH_PX), probabilities)


@pytest.mark.parametrize("sigma_px, offset", [(1.5, 0.0), (4.0, 1000.0), (32.0, 3.0)])   # 32: wider than the image
def test_local_mean_and_sd_match_a_weighted_sum_per_pixel(rng, sigma_px, offset):
    image = offset + rng.normal(size=(24, 30))
    radius = int(4 * sigma_px + 0.5)                   # scipy's truncation
    offsets = np.arange(-radius, radius + 1)
    weights_1d = np.exp(-0.5 * (offsets / sigma_px) ** 2)
    weights = np.outer(weights_1d, weights_1d) / weights_1d.sum() ** 2
    padded = np.pad(image, radius, mode="symmetric")   # scipy's "reflect"
    expected = np.zeros(image.shape + (2,))
    for y in range(image.shape[0]):
        for x in range(image.shape[1]):
            window = padded[y:y + 2 * radius + 1, x:x + 2 * radius + 1]
            mean = (weights * window).sum()
            expected[y, x] = mean, np.sqrt(max((weights * window**2).sum() - mean**2, 0.0))
    np.testing.assert_allclose(local_mean_and_sd(image, sigma_px), expected, rtol=1e-6, atol=1e-5)


@pytest.mark.shared_data
def test_the_real_film_of_a_hole_edge_is_completed_from_a_partial_detection(working_regions):
    # EMPIAR-10017 15_27_22: carbon film beyond a hole's edge over 13 % of the micrograph. Only a patchy part of it
    # is called carbon (as a classifier trained elsewhere does); the per-micrograph model must find the rest.
    working, truth = working_regions("15_27_22")
    carbon = truth == CARBON
    patchy = ndimage.gaussian_filter(np.random.default_rng(0).normal(size=carbon.shape), 6) > 0
    called = np.where(carbon & patchy, CARBON, np.where(truth == PARTICLE, PARTICLE, ICE))
    assert 0.3 < (called == CARBON).sum() / carbon.sum() < 0.7
    labels = consolidate_carbon(working.data, _probabilities(called), PATCH_PX).argmax(axis=0)
    scored = truth != IGNORE
    found = labels == CARBON
    assert (found & carbon & scored).sum() / ((found | carbon) & scored).sum() > 0.9   # IoU of the film
