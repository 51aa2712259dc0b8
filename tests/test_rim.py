"""The rim of a hole in the carbon film (icestat.rim), on drawn holes and on a real hole edge."""

import numpy as np
import pytest
from scipy import ndimage

from icestat.carbon import MIN_CARBON_FRACTION, consolidate_carbon
from icestat.classes import CARBON, ICE, IGNORE, PARTICLE
from icestat.rim import _distance_from, _placed, find_hole_rim
from icestat.settings import SegmentationSettings

SIDE_PX = 200
PATCH_PX = SegmentationSettings().patch_px


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def _drawn(rng, film: np.ndarray, film_grey: float = -2.5) -> np.ndarray:
    """A noisy micrograph with dark particles in the ice, darker where `film` is."""
    image = rng.normal(0.0, 1.0, film.shape)
    for y, x in rng.integers(0, film.shape[0], size=(60, 2)):
        image[max(0, y - 3):y + 3, max(0, x - 3):x + 3] -= 2.0
    image[film] = rng.normal(film_grey, 0.6, int(film.sum()))
    return ndimage.gaussian_filter(image, 1.0).astype(np.float32)


def _outward_px(centre, radius_px, shape=(SIDE_PX, SIDE_PX)) -> np.ndarray:
    rows, cols = np.indices(shape)
    return np.hypot(rows - centre[0], cols - centre[1]) - radius_px


@pytest.fixture
def hole(rng):
    """The left edge of a hole of radius 330 px: film outside the circle, over the left ~half of the image."""
    outward = _outward_px((100, 420), 330)
    film = outward > 0
    return _drawn(rng, film), film, outward


def _sloppy_carbon(film: np.ndarray, outward: np.ndarray, seed: int = 1) -> np.ndarray:
    """Carbon probability as a classifier gives it: patchy on the film, and a bulge into the hole."""
    patchy = ndimage.gaussian_filter(np.random.default_rng(seed).normal(size=film.shape), 4) > -0.3
    probability = np.where(film, np.where(patchy, 0.8, 0.3), 0.05)
    rows, cols = np.indices(film.shape)
    bulge = (np.hypot(rows - 150, cols - 105) < 30) & ~film
    probability[bulge] = 0.8
    return probability.astype(np.float32), bulge


def test_the_rim_of_a_drawn_hole_is_found_and_bounds_the_film(hole):
    image, film, outward = hole
    carbon_probability, bulge = _sloppy_carbon(film, outward)
    rim = find_hole_rim(image, carbon_probability, PATCH_PX)
    assert rim is not None
    found = rim.film(film.shape)
    assert _iou(found, film) > 0.97
    assert not found[bulge & (outward < -PATCH_PX / 2)].any()   # the bulge into the hole is not film
    assert rim.arc_px >= 4 * PATCH_PX and rim.contrast > 0.5
    assert abs(rim.offset_px) <= PATCH_PX / 2


def test_a_straight_film_edge_is_found_on_either_side(rng):
    film = np.zeros((SIDE_PX, SIDE_PX), dtype=bool)
    film[:, 130:] = True                                        # film on the right: a circle cannot be outside of it
    image = _drawn(rng, film)
    carbon_probability = np.where(film, 0.8, 0.05).astype(np.float32)
    rim = find_hole_rim(image, carbon_probability, PATCH_PX)
    assert rim is not None
    assert _iou(rim.film(film.shape), film) > 0.97


def test_a_wavy_film_edge_is_not_a_rim(rng):
    # A torn or wavy edge: a circle fitted to one stretch of it strays from the rest (the region rule serves it).
    rows, cols = np.indices((SIDE_PX, SIDE_PX))
    film = rows > 100 + 25 * np.sin(cols / 40)
    image = _drawn(rng, film)
    carbon_probability = np.where(film, 0.8, 0.05).astype(np.float32)
    assert find_hole_rim(image, carbon_probability, PATCH_PX) is None
    round_edge = _drawn(rng, rows > 100)                        # the same film with a straight edge is taken
    assert find_hole_rim(round_edge, np.where(rows > 100, 0.8, 0.05).astype(np.float32), PATCH_PX) is not None


def test_a_dark_compact_object_is_not_a_rim(rng):
    # Contamination: dark, sharp edged, called carbon inside. Film never lies inside a circle smaller than the image.
    blob = _outward_px((100, 100), 60) < 0
    image = _drawn(rng, blob, film_grey=-4.0)
    carbon_probability = np.where(blob, 0.9, 0.05).astype(np.float32)
    assert find_hole_rim(image, carbon_probability, PATCH_PX) is None


def test_a_rim_the_classifier_does_not_back_is_not_taken(hole):
    image, film, outward = hole
    carbon_probability = np.full(film.shape, 0.05, dtype=np.float32)
    carbon_probability[(np.abs(outward) < 20)] = 0.9           # carbon called along the edge only, on both sides
    assert find_hole_rim(image, carbon_probability, PATCH_PX) is None
    assert find_hole_rim(image, np.zeros_like(carbon_probability), PATCH_PX) is None
    noise = np.random.default_rng(3).normal(size=film.shape).astype(np.float32)
    assert find_hole_rim(noise, np.where(film, 0.8, 0.05).astype(np.float32), PATCH_PX) is None   # no edge at all


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_rim_moves_to_where_calling_the_film_side_carbon_gains_most(seed):
    # The reference: for each whole offset, the sum of (p - 1/2) over the pixels deeper into the film than it.
    rng = np.random.default_rng(seed)
    probability = ndimage.gaussian_filter(rng.uniform(size=(90, 110)), 3.0)
    probability = np.clip((probability - probability.mean()) * 8 + 0.5, 0, 1)
    for _ in range(5):
        centre, radius = tuple(rng.uniform(-100, 200, 2)), float(rng.uniform(20, 150))
        from_centre = _distance_from(probability.shape, centre)
        for film_outside in (True, False):
            depth = from_centre - radius if film_outside else radius - from_centre
            offsets = np.arange(-8.0, 9.0)
            gains = [np.sum(probability[depth > offset] - 0.5) for offset in offsets]
            rim = _placed(from_centre, centre, radius, film_outside, probability, 8.5, 0)
            film = depth > offsets[np.argmax(gains)]
            if film.all() or not film.any():
                assert rim is None
            else:
                assert rim.offset_px == offsets[np.argmax(gains)]
                assert rim.contrast == pytest.approx(probability[film].mean() - probability[~film].mean())


def test_consolidation_takes_the_film_side_of_a_rim_over_regions(hole):
    image, film, outward = hole
    carbon_probability, bulge = _sloppy_carbon(film, outward)
    blotch = np.zeros(film.shape, dtype=bool)
    blotch[120:160, 150:190] = True                             # a dark blotch in the hole, larger than the smallest film
    assert blotch.mean() > MIN_CARBON_FRACTION
    carbon_probability[blotch] = 0.8
    probabilities = np.stack([1 - carbon_probability, np.zeros_like(carbon_probability), carbon_probability,
                              np.zeros_like(carbon_probability)])
    result = consolidate_carbon(image, probabilities, PATCH_PX)
    np.testing.assert_allclose(result.sum(axis=0), 1.0, rtol=1e-5)
    found = result.argmax(axis=0) == CARBON
    assert _iou(found, film) > 0.93                             # the classifier keeps a quarter patch of the bulge
    assert not found[blotch].any()
    assert not found[bulge & (outward < -PATCH_PX / 2)].any()


@pytest.mark.shared_data
def test_the_thin_film_slivers_of_a_real_hole_edge_are_found(working_regions):
    # EMPIAR-10017 16_59_12: two slivers of film (0.9 % and 0.7 % of the micrograph) beyond one hole's edge, each
    # smaller than a region of film may be. Called patchily and bulging into the thicker ice beside the edge
    # (as the classifier does), they are found whole from the edge in the image.
    working, truth = working_regions("16_59_12")
    carbon = truth == CARBON
    assert carbon.mean() < 2 * MIN_CARBON_FRACTION
    patchy = ndimage.gaussian_filter(np.random.default_rng(0).normal(size=carbon.shape), 4) > -0.3
    bulge = ndimage.binary_dilation(carbon, iterations=25) & ~carbon
    bulge[: carbon.shape[0] // 2] = False                      # the lower sliver bulges into the ice
    called = np.where((carbon & patchy) | bulge, CARBON, np.where(truth == PARTICLE, PARTICLE, ICE))
    probabilities = np.full((4,) + carbon.shape, 0.05, dtype=np.float32)
    for code in (ICE, PARTICLE, CARBON):
        probabilities[code][called == code] = 0.85
    labels = consolidate_carbon(working.data, probabilities, PATCH_PX).argmax(axis=0)
    scored = truth != IGNORE
    assert _iou((labels == CARBON) & scored, carbon & scored) > 0.8
