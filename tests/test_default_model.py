"""The shipped default model: it loads, describes how it was made, and segments real micrographs it never saw."""

import warnings

import numpy as np
import pytest

import icestat.segment
from icestat.bright_field import negated, segment_and_pick
from icestat.classes import CARBON, CONTAMINATION, ICE, PARTICLE
from icestat.metrics import mark_picks, pick_scores
from icestat.micrograph import Micrograph, PixelSizeWarning
from icestat.model import FORMAT_VERSION, default_model_path, load_model
from icestat.pick import pick
from icestat.polarity import opaque_majority_shown_bright
from icestat.segment import (MIN_BRIGHTER_FRACTION, MIN_REFERENCE_PATCHES, _at_patch_centres, brighter_than_ice,
                             segment, with_particle_diameter)
from icestat.settings import MAX_WORKING_DIAMETER_PX
from icestat.simulate import SimulationParams, simulate_micrograph


def test_default_model_is_shipped_with_its_recipe():
    model = load_model()
    assert default_model_path().is_file()
    assert model.refiner is not None and model.refiner.n_parameters < 1_000_000
    assert model.metadata["trained_by"] == "scripts/train_default_model.py"
    assert not any("source split: test" in name for name in model.metadata["training_micrographs"])
    assert FORMAT_VERSION == 1


@pytest.mark.shared_data
@pytest.mark.filterwarnings("ignore::icestat.micrograph.PixelSizeWarning")   # an 8-bit PNG: none needed
def test_default_model_finds_particles_on_a_held_out_specimen_micrograph(labelled_micrograph):
    # 311_10028 is in the source's test split, which the default model's recipe leaves out
    item = labelled_micrograph("311_10028.png")
    assert "311_10028" not in " ".join(load_model().metadata["training_micrographs"])
    result = segment(item.micrograph)
    non_ice = result.labels != ICE
    assert non_ice[item.particle_mask].mean() > 0.6       # particle pixels called non-ice
    assert (~non_ice)[~item.particle_mask].mean() > 0.6   # background kept as ice
    assert np.mean(result.labels == CARBON) < 0.05        # no carbon in this micrograph


@pytest.mark.shared_data
def test_default_model_sees_the_contamination_of_the_raw_micrograph(labelled_micrograph):
    # this micrograph is in the training data (the only real contamination there is):
    # a check of function, not of generalisation
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PixelSizeWarning)
        item = labelled_micrograph("Ucsf_stack_1142_DW.mrc")
    result = segment(item.micrograph)
    contamination = item.regions == CONTAMINATION
    assert (result.labels[contamination] != ICE).mean() > 0.8
    assert (result.labels[~contamination] == ICE).mean() > 0.8


def test_large_particles_of_a_known_diameter_are_segmented_coarser_and_picked_where_they_are():
    # 450 Å particles at 2.5 Å/px: 64 px wide on the 7 Å working image, which the model did not learn; told their
    # diameter (180 px), it bins until they are MAX_WORKING_DIAMETER_PX wide, and the picks come back to the
    # micrograph's pixels.
    params = SimulationParams(shape_px=(1536, 1536), pixel_size_A=2.5, n_particles=12, particle_diameter_A=450.0,
                              carbon_fraction=0.0, n_contamination=0, ice_thickness_A=585.0)
    sim = simulate_micrograph(params, seed=2)
    micrograph, diameter_px = Micrograph(sim.image, params.pixel_size_A, "large"), 180.0
    usual = segment(micrograph)
    coarser = segment(micrograph, particle_diameter_px=diameter_px)
    assert diameter_px / usual.working.scale[0] > 60
    assert diameter_px / coarser.working.scale[0] == pytest.approx(MAX_WORKING_DIAMETER_PX, rel=0.01)
    assert coarser.labels.shape == micrograph.shape
    picked = pick_scores(*mark_picks(pick(coarser, diameter_px).table, sim.picks, diameter_px / 2))
    assert picked["precision"] > 0.9 and picked["recall"] > 0.9
    # A diameter the working scale already suits keeps the scale; only contamination smaller than a particle
    # becomes particle.
    small = segment(micrograph, particle_diameter_px=40.0)
    assert small.working.scale == usual.working.scale
    np.testing.assert_array_equal(small.labels, with_particle_diameter(usual, 40.0).labels)
    changed = small.labels != usual.labels
    assert (usual.labels[changed] == CONTAMINATION).all() and (small.labels[changed] == PARTICLE).all()


def test_a_micrograph_coarser_than_the_working_scale_is_enlarged_and_its_particles_alone_picked():
    # At 10 Å/px the micrograph is enlarged to the 7 Å working scale. Its noise was measured where the enlarged image
    # holds next to none, so every candidate stood out: 1136 picks for 150 particles, precision 0.13 (now 0.79).
    params = SimulationParams(shape_px=(1024, 1024), pixel_size_A=10.0, n_particles=150, particle_diameter_A=200.0)
    sim = simulate_micrograph(params, seed=10)
    diameter_px = 20.0
    result = segment(Micrograph(sim.image, params.pixel_size_A, "coarse"), particle_diameter_px=diameter_px)
    assert result.working.scale[0] == pytest.approx(0.7, abs=0.01)   # micrograph pixels per working pixel
    picked = pick_scores(*mark_picks(pick(result, diameter_px).table, sim.picks, diameter_px / 2))
    assert picked["recall"] > 0.95 and picked["precision"] > 0.7


def test_hot_pixels_and_a_bright_column_do_not_change_the_picks():
    # a detector's defects left in a motion-corrected sum: 30 pixels at 1000 times the mean and a column 20 standard
    # deviations bright. Kept, they took the particle fraction from 0.20 to 0.08 and F1 from 0.97 to 0.60.
    params = SimulationParams(shape_px=(1024, 1024), pixel_size_A=1.4, n_particles=60, particle_diameter_A=150.0,
                              carbon_fraction=0.0, n_contamination=0)
    sim = simulate_micrograph(params, seed=4)
    defective = sim.image.astype(np.float32)
    rows, cols = np.random.default_rng(0).integers(0, 1024, (2, 30))
    defective[rows, cols] = 1000 * sim.image.mean()
    defective[:, 700] += 20 * sim.image.std()
    model, diameter_px = load_model(), 150.0 / params.pixel_size_A
    clean, hot = (segment(Micrograph(image, params.pixel_size_A, "sim"), model) for image in (sim.image, defective))
    assert hot.class_fractions()["particle"] == pytest.approx(clean.class_fractions()["particle"], abs=0.01)
    scores = [pick_scores(*mark_picks(pick(result, diameter_px).table, sim.picks, diameter_px / 2))
              for result in (clean, hot)]
    assert scores[0]["f1"] > 0.9 and scores[1]["f1"] == pytest.approx(scores[0]["f1"], abs=0.02)


def test_a_micrograph_mostly_of_film_is_segmented_again_relative_to_its_hole(monkeypatch):
    # film over three quarters of the field: relative to the majority, the model takes the film for ice, and the
    # hole, brighter, for ice too (the shipped model; an earlier one called it contamination); made relative to that
    # brighter part, the film is found
    params = SimulationParams(shape_px=(2048, 2048), pixel_size_A=1.5, n_particles=160, particle_diameter_A=180.0,
                              carbon_fraction=0.75, n_contamination=1, ice_thickness_A=400.0)
    sim = simulate_micrograph(params, seed=4)
    micrograph, diameter_px = Micrograph(sim.image, params.pixel_size_A, "film"), 180.0 / params.pixel_size_A
    with monkeypatch.context() as patched:
        patched.setattr("icestat.segment.MOSTLY_FILM_FRACTION", 1.0)   # the second segmentation never kept
        first = segment(micrograph, load_model(), particle_diameter_px=diameter_px)
    assert first.class_fractions()["carbon"] < 0.1 and brighter_than_ice(first).mean() > 0.2
    result = segment(micrograph, load_model(), particle_diameter_px=diameter_px)
    assert brighter_than_ice(result).mean() < MIN_BRIGHTER_FRACTION
    assert result.class_fractions()["carbon"] == pytest.approx(np.mean(sim.labels == CARBON), abs=0.05)
    first_f1, f1 = (pick_scores(*mark_picks(pick(made, diameter_px, polarity="dark").table, sim.picks,
                                            diameter_px / 2))["f1"] for made in (first, result))
    assert f1 > 0.95 and f1 > first_f1 + 0.05


def test_a_micrograph_mostly_of_gold_foil_is_normalised_to_its_hole_and_its_foil_excluded(monkeypatch):
    # opaque foil over 70 % of the field: normalised to that flat majority, the hole's ice lies far above anything
    # the refiner saw, and everything is called ice; normalised to the hole, the foil is found (film: it passes next
    # to nothing) and the picks in the hole are cleaner
    params = SimulationParams(shape_px=(1024, 1024), pixel_size_A=2.0, n_particles=33, particle_diameter_A=180.0,
                              carbon_fraction=0.7, film_material="gold", ice_thickness_A=400.0)
    sim = simulate_micrograph(params, seed=1)
    micrograph, diameter_px = Micrograph(sim.image, params.pixel_size_A, "gold"), 180.0 / params.pixel_size_A
    with monkeypatch.context() as patched:
        patched.setattr("icestat.segment.OPAQUE_FILM_SPREAD", np.inf)   # never normalised to the hole
        first = segment(micrograph, load_model(), particle_diameter_px=diameter_px)
    assert first.class_fractions()["ice"] > 0.9
    result = segment(micrograph, load_model(), particle_diameter_px=diameter_px)
    foil = np.mean(sim.labels == CARBON)
    fractions = result.class_fractions()
    assert fractions["carbon"] == pytest.approx(foil, abs=0.05)
    first_f1, f1 = (pick_scores(*mark_picks(pick(made, diameter_px, polarity="dark").table, sim.picks,
                                            diameter_px / 2))["f1"] for made in (first, result))
    assert f1 > 0.95 and f1 > first_f1 + 0.02


@pytest.mark.parametrize("seed", [0, 2])
def test_opaque_foil_is_film_whatever_the_model_calls_it(monkeypatch, seed):
    # 85 % gold foil, normalised to the hole: the model called the foil ice (seed 2) or contamination (seed 0), and
    # the polarity, judged over it, came out bright: nothing picked; the foil called film for what it is, the
    # polarity is judged on the hole alone and its particles are picked
    params = SimulationParams(shape_px=(1024, 1024), pixel_size_A=2.0, n_particles=20, particle_diameter_A=180.0,
                              carbon_fraction=0.85, film_material="gold", ice_thickness_A=400.0)
    sim = simulate_micrograph(params, seed=seed)
    micrograph, diameter_px = Micrograph(sim.image, params.pixel_size_A, "gold"), 180.0 / params.pixel_size_A
    with monkeypatch.context() as patched:
        patched.setattr("icestat.segment.with_film", lambda segmentation, film: segmentation)
        as_the_model_sees_it = pick(segment(micrograph, load_model(), particle_diameter_px=diameter_px), diameter_px)
    result = segment(micrograph, load_model(), particle_diameter_px=diameter_px)
    assert result.class_fractions()["carbon"] == pytest.approx(np.mean(sim.labels == CARBON), abs=0.03)
    picks = pick(result, diameter_px)
    f1 = pick_scores(*mark_picks(picks.table, sim.picks, diameter_px / 2))["f1"]
    assert picks.polarity == "dark" and f1 > 0.85
    assert pick_scores(*mark_picks(as_the_model_sees_it.table, sim.picks, diameter_px / 2))["f1"] < 0.2


def test_an_inverted_micrograph_mostly_of_gold_foil_is_picked_as_its_raw_self(monkeypatch):
    # shown bright, the foil is the brightest thing and the balance of blobs near 0 (+0.07): judged dark, nothing was
    # picked
    params = SimulationParams(shape_px=(2048, 2048), pixel_size_A=1.06, n_particles=50, particle_diameter_A=180.0,
                              carbon_fraction=0.85, film_material="gold", ice_thickness_A=400.0)
    sim = simulate_micrograph(params, seed=0)
    raw, diameter_px = Micrograph(sim.image, params.pixel_size_A, "gold"), 180.0 / params.pixel_size_A
    f1 = {}
    for name, micrograph in (("raw", raw), ("inverted", negated(raw))):
        for given in (diameter_px, None):   # estimated: none as given, so the blobs are never judged there
            _, picks = segment_and_pick(micrograph, load_model(), diameter_px=given)
            assert picks.polarity == ("dark" if name == "raw" else "bright")
            f1[name, given] = pick_scores(*mark_picks(picks.table, sim.picks, diameter_px / 2))["f1"]
    for given in (diameter_px, None):
        assert f1["inverted", given] == pytest.approx(f1["raw", given], abs=0.02) and f1["raw", given] > 0.85
    monkeypatch.setattr("icestat.polarity.opaque_majority_shown_bright", lambda image: False)
    _, judged_by_blobs = segment_and_pick(negated(raw), load_model(), diameter_px=diameter_px)
    assert judged_by_blobs.polarity == "dark"
    assert pick_scores(*mark_picks(judged_by_blobs.table, sim.picks, diameter_px / 2))["f1"] < 0.2


def test_an_inverted_micrograph_of_gold_foil_with_no_diameter_estimated_as_given_is_still_turned(monkeypatch):
    # as given, no bumps of particle evidence: no diameter, so no blobs judged; the foil shown bright says inverted
    params = SimulationParams(shape_px=(1024, 1024), pixel_size_A=2.0, n_particles=20, particle_diameter_A=150.0,
                              carbon_fraction=0.7, carbon_edge="curved", film_material="gold")
    sim = simulate_micrograph(params, seed=[90, 22, 0])
    inverted = negated(Micrograph(sim.image, params.pixel_size_A, "gold"))
    _, picks = segment_and_pick(inverted, load_model())
    assert picks.polarity == "bright"
    assert pick_scores(*mark_picks(picks.table, sim.picks, 150.0 / params.pixel_size_A / 2))["f1"] > 0.9
    monkeypatch.setattr("icestat.bright_field.opaque_majority_shown_bright", lambda image: False)
    _, unjudged = segment_and_pick(inverted, load_model())
    assert unjudged.polarity == "" and len(unjudged) == 0


@pytest.mark.parametrize("change", [dict(carbon_fraction=0.6), dict(carbon_fraction=0.3, film_material="gold"),
                                    dict(carbon_fraction=0.85, film_material="gold"), dict(n_contamination=4)])
def test_only_opaque_foil_shown_bright_looks_like_it(change):
    # a raw micrograph's darker part (film, foil, contamination) is no hole against opaque foil, whatever its size
    params = SimulationParams(shape_px=(1024, 1024), pixel_size_A=2.0, n_particles=30, particle_diameter_A=180.0,
                              carbon_edge="curved", **change)
    raw = Micrograph(simulate_micrograph(params, seed=1).image, params.pixel_size_A, "raw")
    looks_inverted = [opaque_majority_shown_bright(load_model().settings.prepare(micrograph).data)
                      for micrograph in (raw, negated(raw))]
    assert looks_inverted == [False, change == dict(carbon_fraction=0.85, film_material="gold")]


def test_a_brighter_part_of_too_few_patches_is_not_made_the_reference(monkeypatch):
    # segmented 13x binned (particles of 594 px, as icestat.diameter's coarser look asks), this astigmatic
    # micrograph's brighter part is over 5 % of the working image but 5 of its 81 patches: too few to fit the ice
    # model to (it failed with a reshape error), so the majority stays the reference
    params = SimulationParams(shape_px=(2048, 2048), pixel_size_A=1.06, n_particles=120, particle_diameter_A=150.0,
                              carbon_fraction=0.0, astigmatism_um=0.5)
    micrograph = Micrograph(simulate_micrograph(params, seed=[90, 8, 0]).image, params.pixel_size_A, "astigmatic")
    references = []
    segmented = icestat.segment._segmented
    monkeypatch.setattr("icestat.segment._segmented",
                        lambda *args, **kwargs: references.append(kwargs.get("reference")) or segmented(*args, **kwargs))
    segmentation = segment(micrograph, load_model(), particle_diameter_px=594.0)
    assert references == [None]   # segmented once, relative to the majority
    brighter = _at_patch_centres(segmentation.brighter_than_ice_mask, segmentation.features.grid)
    assert segmentation.brighter_than_ice_fraction >= MIN_BRIGHTER_FRACTION
    assert 0 < np.count_nonzero(brighter) < MIN_REFERENCE_PATCHES
    assert segmentation.class_fractions()["ice"] > 0.5
