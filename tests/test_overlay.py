"""Overlay pictures: each class keeps its own colour whichever classes a micrograph has."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from icestat.classes import CARBON, CONTAMINATION, ICE, PARTICLE
from icestat.overlay import CLASS_COLOURS, PICK_COLOUR, overlay_image


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
