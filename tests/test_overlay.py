"""Overlay pictures: each class keeps its own colour whichever classes a micrograph has."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from icestat.classes import CARBON, CONTAMINATION, ICE, PARTICLE
from icestat.overlay import CLASS_COLOURS, MAX_SIDE_PX, PICK_COLOUR, overlay_image, shrunk


def _labels(codes):
    """A 30 x 40 label image: ice on the left, one stripe per code on the right."""
    labels = np.full((30, 40), ICE, dtype=np.int8)
    for i, code in enumerate(codes):
        labels[:, 10 * (i + 1):10 * (i + 2)] = code
    return labels


@pytest.mark.parametrize("codes", [[CONTAMINATION], [CARBON], [PARTICLE], [CARBON, CONTAMINATION],
                                   [PARTICLE, CARBON, CONTAMINATION]])
def test_each_class_is_tinted_with_its_own_colour(codes):
    image = np.random.default_rng(1).normal(size=(30, 40))
    rgb = overlay_image(image, _labels(codes)).astype(int)
    ice = rgb[:, :10]
    assert (ice[..., 0] == ice[..., 1]).all() and (ice[..., 1] == ice[..., 2]).all()  # grey, untinted
    for i, code in enumerate(codes):
        stripe = rgb[:, 10 * (i + 1):10 * (i + 2)].reshape(-1, 3)
        strongest = int(np.argmax(CLASS_COLOURS[code]))
        others = [c for c in range(3) if c != strongest]
        assert (stripe[:, strongest] > stripe[:, others].max(axis=1) + 30).all(), f"class {code}"


def test_picks_are_circled_and_large_micrographs_shrunk():
    image = np.random.default_rng(2).normal(size=(2048, 1500))
    picks = pd.DataFrame({"x_px": [700.0], "y_px": [1000.0], "diameter_px": [200.0]})
    rgb = overlay_image(image, np.zeros(image.shape, dtype=np.int8), picks)
    assert rgb.shape == (1024, 750, 3)
    yellow = np.argwhere((rgb == PICK_COLOUR).all(axis=-1))
    radii = np.hypot(yellow[:, 0] - 500, yellow[:, 1] - 350)
    assert len(yellow) > 100 and np.abs(radii - 50).max() <= 1.5


def test_labels_kept_shrunk_give_the_overlay_of_the_whole_label_map_and_others_are_refused():
    # What a record keeps for `icestat pick --overlays` (icestat.records.overlay_labels) draws the same overlay.
    rng = np.random.default_rng(3)
    image = rng.normal(size=(2100, 1300))
    labels = rng.integers(-1, 4, size=image.shape).astype(np.int8)
    picks = pd.DataFrame({"x_px": [600.0, 100.0], "y_px": [900.0, 2000.0], "diameter_px": [150.0, np.nan]})
    kept = shrunk(labels)
    assert kept.shape == (700, 434) and max(kept.shape) <= MAX_SIDE_PX
    np.testing.assert_array_equal(overlay_image(image, kept, picks), overlay_image(image, labels, picks))
    said = r"labels of shape \(434, 700\) fit neither the image, of shape \(2100, 1300\), nor it as shown, \(700, 434\)"
    with pytest.raises(ValueError, match=said):
        overlay_image(image, kept.T)
