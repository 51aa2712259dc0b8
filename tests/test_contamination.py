"""Contamination as whole blobs: particles enclosed by contamination are contamination, contamination smaller
than a particle is particle; nothing else changes."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.measure import label, regionprops

from icestat.classes import CONTAMINATION, ICE, PARTICLE
from icestat.contamination import fill_contamination, particle_sized_contamination_as_particle
from icestat.metrics import mark_picks, pick_scores
from icestat.micrograph import Micrograph
from icestat.pick import pick
from icestat.segment import segment


def _probabilities(labels: np.ndarray, sure: float = 0.7) -> np.ndarray:
    """Class probabilities (4, h, w) whose most probable class is `labels`, the rest spread evenly."""
    probabilities = np.full((4,) + labels.shape, (1 - sure) / 3, dtype=np.float32)
    np.put_along_axis(probabilities, labels[None].astype(np.int64), sure, axis=0)
    return probabilities


def _blob_with_inside(inside_code: int) -> np.ndarray:
    """60 x 60 px of ice with a square ring of contamination (rows and columns 10..39) holding `inside_code`."""
    labels = np.full((60, 60), ICE, dtype=np.int8)
    labels[10:40, 10:40] = CONTAMINATION
    labels[15:35, 15:35] = inside_code
    return labels


def test_particles_inside_contamination_become_contamination_and_the_rest_is_untouched():
    labels = _blob_with_inside(PARTICLE)
    labels[45:52, 45:52] = PARTICLE        # a particle in the ice
    labels[40:45, 20:30] = PARTICLE        # one touching the blob from outside
    probabilities = _probabilities(labels)
    filled = fill_contamination(probabilities)
    expected = labels.copy()
    expected[15:35, 15:35] = CONTAMINATION
    np.testing.assert_array_equal(filled.argmax(axis=0), expected)
    np.testing.assert_allclose(filled.sum(axis=0), 1, atol=1e-6)
    changed = labels != expected
    np.testing.assert_array_equal(filled[:, ~changed], probabilities[:, ~changed])
    assert np.all(filled[PARTICLE, changed] == 0)
    np.testing.assert_allclose(filled[CONTAMINATION, changed], 0.7 + 0.1, atol=1e-6)


def test_ice_inside_contamination_stays_ice_with_the_particles_in_it():
    labels = _blob_with_inside(ICE)               # a ring of debris around ice (20 x 20 px)
    labels[18:24, 18:24] = PARTICLE               # a particle in it: 9 % of the hole
    labels[26:32, 26:32] = PARTICLE               # and another (18 % together)
    probabilities = _probabilities(labels)
    assert fill_contamination(probabilities) is probabilities
    labels[15:35, 15:26] = PARTICLE               # the hole mostly particle: its inside, filled
    assert (fill_contamination(_probabilities(labels)).argmax(axis=0)[15:35, 15:35] != PARTICLE).all()


def test_a_blob_cut_by_the_edge_encloses_nothing():
    labels = _blob_with_inside(PARTICLE)[10:]   # the blob starts at row 0, its inside at row 5
    labels[0:5, 15:35] = PARTICLE               # and the ring's top is cut off: the inside reaches the edge
    probabilities = _probabilities(labels)
    assert fill_contamination(probabilities) is probabilities


def _particle_sized_reference(probabilities: np.ndarray, diameter_px: float) -> np.ndarray:
    """Slow reference: blob by blob (4-connected, as scipy.ndimage.label), the small ones moved pixel by pixel."""
    moved = probabilities.copy()
    blobs = label(probabilities.argmax(axis=0) == CONTAMINATION, connectivity=1)
    for blob in regionprops(blobs):
        if blob.area < np.pi * diameter_px ** 2 / 4:
            for y, x in blob.coords:
                moved[PARTICLE, y, x] += moved[CONTAMINATION, y, x]
                moved[CONTAMINATION, y, x] = 0
    return moved


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_particle_sized_contamination_matches_the_blob_by_blob_reference(seed):
    rng = np.random.default_rng(seed)
    labels = np.where(rng.random((48, 64)) < 0.45, CONTAMINATION, rng.integers(0, 3, size=(48, 64)))
    probabilities = _probabilities(labels, sure=0.6)
    diameter_px = float(rng.uniform(1.5, 6))
    moved = particle_sized_contamination_as_particle(probabilities, diameter_px)
    np.testing.assert_allclose(moved, _particle_sized_reference(probabilities, diameter_px), atol=1e-6)
    np.testing.assert_allclose(moved.sum(axis=0), 1, atol=1e-5)
    assert not np.array_equal(moved, probabilities)   # some blobs were small, some were not
    assert (moved.argmax(axis=0) == CONTAMINATION).any()


def test_contamination_at_least_one_particle_large_stays():
    labels = np.full((40, 40), ICE, dtype=np.int8)
    labels[5:15, 5:15] = CONTAMINATION      # 100 px, a 11.3 px disk's area
    probabilities = _probabilities(labels)
    assert particle_sized_contamination_as_particle(probabilities, diameter_px=11.0) is probabilities
    moved = particle_sized_contamination_as_particle(probabilities, diameter_px=11.5)
    assert (moved.argmax(axis=0)[5:15, 5:15] == PARTICLE).all()


def test_large_particles_picked_with_their_diameter_are_not_called_contamination(large_particles):
    # the model calls the dark cores of these 300 Å particles contamination (benchmarks/results/particle_size.md),
    # and the picker rejected them there
    sim = large_particles
    micrograph, diameter_px = Micrograph(sim.image, sim.params.pixel_size_A, "large"), 187.5
    segmentation = segment(micrograph, particle_diameter_px=diameter_px)
    assert segmentation.class_fractions()["contamination"] == 0
    picked = pick_scores(*mark_picks(pick(segmentation, diameter_px).table, sim.picks, diameter_px / 2))
    assert picked["precision"] == 1 and picked["recall"] == 1
