"""fill_contamination: particles enclosed by contamination are contamination; nothing else changes."""

from __future__ import annotations

import numpy as np

from icestat.classes import CONTAMINATION, ICE, PARTICLE
from icestat.contamination import fill_contamination


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
