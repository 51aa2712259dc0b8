"""segment_and_pick(): inverted micrographs segmented and picked negated, as their raw selves, with the shipped model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import icestat.bright_field
import icestat.diameter
from icestat.bright_field import MIN_AGREEMENT_GAIN, negated, negated_gain, run_voters, segment_and_pick
from icestat.metrics import mark_picks, pick_scores
from icestat.micrograph import Micrograph
from icestat.model import load_model
from icestat.polarity import MIN_BRIGHT_BALANCE
from icestat.segment import MIN_BRIGHTER_FRACTION, brighter_than_ice
from icestat.simulate import SimulationParams, simulate_micrograph

DIAMETER_PX = 75.0
#: No carbon: inverted, the particles are what stands out bright, and the shipped model agrees.
PARAMS = SimulationParams(shape_px=(768, 768), pixel_size_A=2.0, n_particles=40, particle_diameter_A=2 * DIAMETER_PX,
                          carbon_fraction=0.0)


@pytest.fixture(scope="module")
def raw():
    return Micrograph(simulate_micrograph(PARAMS, seed=12).image, PARAMS.pixel_size_A, "raw")


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture
def segmentations_made(monkeypatch):
    """The micrographs segment() is called with, in order, by segment_and_pick and the diameter's estimate (the real
    segment() still runs)."""
    made = []

    def counted(micrograph, *args, **options):
        made.append(micrograph)
        return segment(micrograph, *args, **options)

    segment = icestat.bright_field.segment
    for module in (icestat.bright_field, icestat.diameter):
        monkeypatch.setattr(module, "segment", counted)
    return made


def _same_picks(first, second) -> None:
    pd.testing.assert_frame_equal(first.table.drop(columns="micrograph"), second.table.drop(columns="micrograph"))


def test_negated_keeps_everything_but_the_sign():
    micrograph = Micrograph(np.arange(12.0).reshape(3, 4), 1.5, "toy", "MRC mode 2 (float32)", True)
    flipped = negated(micrograph)
    assert np.array_equal(flipped.data, -micrograph.data)
    assert (flipped.pixel_size_A, flipped.name, flipped.source, flipped.placeholder_pixel_size) == (
        1.5, "toy", "MRC mode 2 (float32)", True)


def test_a_raw_micrograph_is_segmented_once_and_taken_as_dark(raw, model, segmentations_made):
    segmentation, picks = segment_and_pick(raw, model, DIAMETER_PX)
    assert len(segmentations_made) == 1 and segmentations_made[0] is raw
    assert picks.polarity == "dark" and picks.bright_balance < -MIN_BRIGHT_BALANCE
    assert len(picks) >= 30 and segmentation.class_fractions()["particle"] > 0.05


def test_an_inverted_micrograph_judged_bright_is_segmented_and_picked_as_its_raw_self(raw, model, segmentations_made):
    inverted = Micrograph(-raw.data, raw.pixel_size_A, "inverted")
    segmentation, picks = segment_and_pick(inverted, model, DIAMETER_PX)
    assert picks.polarity == "bright" and picks.bright_balance > MIN_BRIGHT_BALANCE
    assert len(segmentations_made) == 2 and np.array_equal(segmentations_made[1].data, raw.data)
    raw_segmentation, raw_picks = segment_and_pick(raw, model, DIAMETER_PX)
    assert np.array_equal(segmentation.labels, raw_segmentation.labels)
    _same_picks(picks, raw_picks)
    assert (picks.table["micrograph"] == "inverted").all()


def test_said_bright_it_is_segmented_once_negated_and_said_dark_as_given(raw, model, segmentations_made):
    inverted = Micrograph(-raw.data, raw.pixel_size_A, "inverted")
    _, bright = segment_and_pick(inverted, model, DIAMETER_PX, polarity="bright")
    assert len(segmentations_made) == 1 and np.array_equal(segmentations_made[0].data, raw.data)
    assert bright.polarity == "bright" and np.isnan(bright.bright_balance)
    _, dark = segment_and_pick(raw, model, DIAMETER_PX, polarity="dark")
    assert len(segmentations_made) == 2 and segmentations_made[1] is raw
    assert dark.polarity == "dark" and np.isnan(dark.bright_balance)
    _same_picks(bright, dark)
    # Read the wrong way round, the picks are not those.
    _, wrong = segment_and_pick(inverted, model, DIAMETER_PX, polarity="dark")
    assert len(wrong) != len(dark) or not np.allclose(wrong.table["x_px"], dark.table["x_px"])


def test_an_unknown_polarity_is_refused_before_any_work(raw, model, segmentations_made):
    with pytest.raises(ValueError, match="polarity must be one of"):
        segment_and_pick(raw, model, DIAMETER_PX, polarity="negative")
    assert not segmentations_made


@pytest.mark.parametrize("diameter_px", [DIAMETER_PX, None])
def test_the_model_sees_particles_more_clearly_in_the_raw_reading(raw, model, diameter_px):
    inverted = Micrograph(-raw.data, raw.pixel_size_A, "inverted")
    assert negated_gain(inverted, model, diameter_px) > MIN_AGREEMENT_GAIN
    assert negated_gain(raw, model, diameter_px) < -MIN_AGREEMENT_GAIN


@pytest.mark.parametrize("film_fraction, warned", [(0.85, True), (0.4, False)])
def test_a_micrograph_mostly_of_film_is_warned_about(model, film_fraction, warned, caplog):
    # the adaptation takes the majority for ice: with film over 85 % of the field, the shipped model takes the film
    # and the hole's ice, brighter, for ice, and segmented relative to that hole finds no film (a hole of some 70
    # patches); with 40 % film it finds the film, darker than the ice
    params = SimulationParams(shape_px=(1024, 1024), pixel_size_A=2.0, n_particles=40, particle_diameter_A=180.0,
                              carbon_fraction=film_fraction, n_contamination=1, ice_thickness_A=400.0)
    micrograph = Micrograph(simulate_micrograph(params, seed=0).image, params.pixel_size_A, "film")
    with caplog.at_level("WARNING", logger="icestat.bright_field"):
        segmentation, _ = segment_and_pick(micrograph, model, diameter_px=90.0, polarity="dark")
    assert bool(brighter_than_ice(segmentation).mean() >= MIN_BRIGHTER_FRACTION) is warned
    assert ("mostly carbon film" in caplog.text) is warned
    if warned:
        assert "film: " in caplog.text and segmentation.class_fractions()["carbon"] < 0.1
    else:
        assert segmentation.class_fractions()["carbon"] > 0.2


def test_a_hole_in_the_ice_is_warned_about_and_the_ice_beside_it_picked(model, caplog):
    # a disk of vacuum over a quarter of the field, 1.5 times as bright as the mean, shot noise kept: brighter than
    # the ice, so flagged; segmented again relative to it, no film is found, and the picks in the ice stand (F1 0.82:
    # a few land on the vacuum's noise)
    params = SimulationParams(shape_px=(1024, 1024), pixel_size_A=2.0, n_particles=40, particle_diameter_A=180.0,
                              carbon_fraction=0.0, n_contamination=0, ice_thickness_A=400.0)
    sim = simulate_micrograph(params, seed=5)
    rows, cols = np.mgrid[:1024, :1024]
    vacuum = np.hypot(rows - 300, cols - 400) < np.sqrt(0.25 * 1024**2 / np.pi)
    image = sim.image.astype(np.float32)
    image[vacuum] = np.random.default_rng(5).poisson(1.5 * image.mean(), vacuum.sum())
    in_ice = ~vacuum[sim.picks["y_px"].astype(int), sim.picks["x_px"].astype(int)]
    with caplog.at_level("WARNING", logger="icestat.bright_field"):
        segmentation, picks = segment_and_pick(Micrograph(image, params.pixel_size_A, "holed"), model,
                                               diameter_px=90.0, polarity="dark")
    assert segmentation.brighter_than_ice_fraction >= MIN_BRIGHTER_FRACTION and "holed: " in caplog.text
    assert segmentation.class_fractions()["carbon"] < 0.1
    assert pick_scores(*mark_picks(picks.table, sim.picks[in_ice], 45.0))["f1"] > 0.75


def test_a_run_is_asked_where_most_look_inverted_counting_those_taken_as_bright():
    # Inverted simulations with carbon (benchmarks/results/polarity.md): two taken as bright, three taken as dark
    # but leaning inverted, one not leaning. Three of six leaning had been too few to ask; with the two they are five.
    polarities = ["bright", "dark", "dark", "bright", "dark", "dark"]
    skews = [0.9, 0.05, 0.3, 1.4, -0.36, 0.08]
    voters = run_voters(polarities, skews)
    assert len(voters) == 3 and set(voters) <= {0, 1, 2, 3, 5}
    assert run_voters(polarities, skews, n_voters=5) == [0, 1, 2, 3, 5]
    # A raw run with one micrograph wrongly taken as bright is not asked; nor is a run with none left dark.
    assert run_voters(["dark"] * 4 + ["bright"], [-0.5, -0.3, 0.05, -0.2, 0.4]) == []
    assert run_voters(["bright"] * 3, [0.5, 0.6, 0.7]) == []
