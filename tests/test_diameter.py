"""The particle diameter estimated from a segmentation, and a micrograph segmented for its estimate."""

from __future__ import annotations

import numpy as np
import pytest

from icestat.classes import CONTAMINATION, ICE, PARTICLE
from icestat.diameter import (FAINT_BUMP_RESPONSE, MIN_BUMP_RESPONSE, MIN_SPACED_PICKS, estimate_diameter_px,
                              segment_at_estimated_diameter, spacing_bound_px)
from icestat.metrics import mark_picks, pick_scores
from icestat.micrograph import Micrograph
from icestat.model import load_model
from icestat.pick import pick
from icestat.prepare import WorkingImage
from icestat.segment import Segmentation, segment
from icestat.settings import MAX_WORKING_DIAMETER_PX
from icestat.simulate import SimulationParams, simulate_micrograph


def _micrograph(diameter_A: float, n_particles: int) -> tuple[Micrograph, np.ndarray, float]:
    """A simulated 1024^2 micrograph at 4 Å/px without carbon: (micrograph, true centres, diameter in pixels)."""
    params = SimulationParams(shape_px=(1024, 1024), pixel_size_A=4.0, n_particles=n_particles,
                              particle_diameter_A=diameter_A, carbon_fraction=0.0, n_contamination=0,
                              ice_thickness_A=max(300.0, 1.3 * diameter_A))
    sim = simulate_micrograph(params, seed=[80, int(diameter_A), 1024])
    return Micrograph(sim.image, 4.0, f"d{diameter_A:g}"), sim.picks, diameter_A / 4.0


@pytest.fixture(scope="module")
def model():
    return load_model()


def test_particles_taken_for_ice_at_the_working_scale_are_estimated_on_a_coarser_image(model):
    # 450 Å particles are 64 px wide at the shipped model's 7 Å per working pixel, wider than any it learnt: no bump
    # of particle evidence there. Twice as coarse it sees them; the estimate then sets the scale, as a given diameter.
    micrograph, truth, diameter_px = _micrograph(450.0, 12)
    at_working_scale = segment(micrograph, model)
    assert np.isnan(estimate_diameter_px(at_working_scale))
    segmentation, estimate_px = segment_at_estimated_diameter(micrograph, model, segmentation=at_working_scale)
    assert 0.75 < estimate_px / diameter_px < 1.15
    assert segmentation.working.scale[0] == pytest.approx(estimate_px / MAX_WORKING_DIAMETER_PX, rel=0.02)
    picks = pick(segmentation, estimate_px, diameter_estimated=True)
    assert picks.diameter_estimated and picks.diameter_px == estimate_px
    assert pick_scores(*mark_picks(picks.table, truth, diameter_px / 2))["f1"] > 0.8
    assert len(pick(at_working_scale)) == 0   # what picking at the working scale alone gave: nothing


def test_an_estimate_at_the_working_scale_keeps_that_segmentation(model):
    micrograph, _, diameter_px = _micrograph(150.0, 60)
    at_working_scale = segment(micrograph, model)
    segmentation, estimate_px = segment_at_estimated_diameter(micrograph, model, segmentation=at_working_scale)
    assert segmentation.working.scale == at_working_scale.working.scale
    changed = segmentation.working_labels != at_working_scale.working_labels   # only contamination made particle
    assert (at_working_scale.working_labels[changed] == CONTAMINATION).all()
    assert (segmentation.working_labels[changed] == PARTICLE).all()
    assert estimate_px == estimate_diameter_px(at_working_scale)
    assert 0.75 < estimate_px / diameter_px < 1.25
    made_here, estimate_made_here_px = segment_at_estimated_diameter(micrograph, model)
    assert estimate_made_here_px == estimate_px
    assert np.array_equal(made_here.working_probabilities, segmentation.working_probabilities)


def test_particles_taken_for_contamination_are_picked_with_an_estimate_as_with_a_given_diameter(model):
    # The shipped model calls some 300 Å particles (43 working px) contamination: dark, larger than those it learnt.
    # Told the diameter, contamination blobs smaller than a particle become particle; an estimate does the same.
    micrograph, truth, diameter_px = _micrograph(300.0, 25)
    at_working_scale = segment(micrograph, model)
    assert at_working_scale.class_fractions()["contamination"] > 0.02
    segmentation, estimate_px = segment_at_estimated_diameter(micrograph, model, segmentation=at_working_scale)
    assert segmentation.working.scale == at_working_scale.working.scale and 0.75 < estimate_px / diameter_px < 1.0
    assert segmentation.class_fractions()["contamination"] < 0.5 * at_working_scale.class_fractions()["contamination"]
    scores = [pick_scores(*mark_picks(pick(made, estimate_px, diameter_estimated=True).table, truth, diameter_px / 2))
              for made in (at_working_scale, segmentation)]
    assert scores[1]["recall"] > 0.9 and scores[1]["f1"] > scores[0]["f1"] + 0.2


def _bumps(n_bumps: int, diameter_px: float = 24.0, height: float = 1.0) -> Segmentation:
    """A 256^2 working image of ice whose particle probability has `n_bumps` disks of `diameter_px`, apart."""
    probabilities = np.zeros((4, 256, 256), dtype=np.float32)
    probabilities[ICE] = 0.5
    rows, cols = np.mgrid[:256, :256]
    for index in range(n_bumps):
        centre_row, centre_col = 64 + 128 * (index // 2), 64 + 128 * (index % 2)
        probabilities[PARTICLE][np.hypot(rows - centre_row, cols - centre_col) < diameter_px / 2] = height
    working = WorkingImage(np.zeros((256, 256), dtype=np.float32), None, (1.0, 1.0), (256, 256))
    return Segmentation("bumps", working, probabilities)


def test_one_bump_is_no_estimate_and_two_are():
    # one bump of an unsure model's speckle set 400 Å particles at a quarter of their diameter: fewer than
    # MIN_BUMPS bumps say nothing
    assert np.isnan(estimate_diameter_px(_bumps(1)))
    for n_bumps in (2, 4):
        assert estimate_diameter_px(_bumps(n_bumps)) == pytest.approx(24.0, rel=0.25)


def test_with_no_estimate_at_the_working_scale_the_coarser_look_finds_the_particles(model):
    # The shipped model calls 400 Å particles (57 working px) ice or contamination: no bump at the working scale
    micrograph, truth, diameter_px = _micrograph(400.0, 6)
    at_working_scale = segment(micrograph, model)
    assert np.isnan(estimate_diameter_px(at_working_scale))
    segmentation, estimate_px = segment_at_estimated_diameter(micrograph, model, segmentation=at_working_scale)
    assert 0.6 < estimate_px / diameter_px < 1.15
    picks = pick(segmentation, estimate_px, diameter_estimated=True)
    assert pick_scores(*mark_picks(picks.table, truth, diameter_px / 2))["f1"] > 0.8


def test_faint_bumps_count_only_at_the_faint_bar():
    # a disk of evidence of height a answers about 2a / e at its own width: 0.2 high, 0.15, between the two bars
    faint = _bumps(4, height=0.2)
    assert FAINT_BUMP_RESPONSE < 0.15 < MIN_BUMP_RESPONSE
    assert np.isnan(estimate_diameter_px(faint))
    assert estimate_diameter_px(faint, FAINT_BUMP_RESPONSE) == pytest.approx(24.0, rel=0.25)


def test_sparse_faint_particles_are_estimated_from_their_faint_bumps(model):
    # 5 particles of 150 Å at 15 e/Å² (benchmarks/specimen_conditions.py's micrograph): no MIN_BUMPS bumps at
    # MIN_BUMP_RESPONSE at the working scale nor on the coarser look, but the working scale's faint bumps tell them
    params = SimulationParams(shape_px=(2048, 2048), pixel_size_A=1.06, n_particles=5, particle_diameter_A=150.0,
                              carbon_fraction=0.0, dose_e_per_A2=15.0)
    sim = simulate_micrograph(params, seed=[90, 17, 1])
    micrograph, diameter_px = Micrograph(sim.image, params.pixel_size_A, "sparse_faint"), 150.0 / params.pixel_size_A
    at_working_scale = segment(micrograph, model)
    assert np.isnan(estimate_diameter_px(at_working_scale))
    segmentation, estimate_px = segment_at_estimated_diameter(micrograph, model, segmentation=at_working_scale)
    assert estimate_px == estimate_diameter_px(at_working_scale, FAINT_BUMP_RESPONSE)
    assert 0.8 < estimate_px / diameter_px < 1.25 and segmentation.working.scale == at_working_scale.working.scale
    picks = pick(segmentation, estimate_px, diameter_estimated=True)
    assert pick_scores(*mark_picks(picks.table, sim.picks, diameter_px / 2))["f1"] > 0.85
    # icestat pick leaves the faint bumps out (the run's diameter picks such a micrograph)
    assert segment_at_estimated_diameter(micrograph, model, segmentation=at_working_scale, faint_bumps=False)[1] is None


@pytest.mark.parametrize("seed", range(5))
def test_the_spacing_bound_is_the_median_distance_to_the_nearest_pick(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(MIN_SPACED_PICKS, 300))
    x_px, y_px = rng.uniform(0, 4096, n), rng.uniform(0, 4096, n)
    distances = np.hypot(x_px[:, None] - x_px[None, :], y_px[:, None] - y_px[None, :])
    np.fill_diagonal(distances, np.inf)
    assert spacing_bound_px(x_px, y_px) == pytest.approx(np.median(distances.min(axis=1)), rel=1e-12)
    assert spacing_bound_px(x_px[:MIN_SPACED_PICKS - 1], y_px[:MIN_SPACED_PICKS - 1]) == np.inf
