"""pick() on hand-made segmentations whose particles, carbon and edges are known."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage, stats
from scipy.spatial.distance import cdist

from icestat.candidates import (MAX_FALSE_DISCOVERY_RATE, MIN_CONTRAST, NOISE_P_VALUE_LAMBDA, SIGMA_RADII,
                                WHOLE_PARTICLE_SIGMA_RADII, candidate_peaks, near_edge_at, noise_candidate_heights,
                                particle_response, robust_z, signal_to_noise, too_faint)
from icestat.classes import CARBON, CONTAMINATION, ICE, PARTICLE
from icestat.features import PatchFeatures, PatchGrid
from icestat.frame import FrameBorder
from icestat.diameter import estimate_diameter_px
import icestat.pick
from icestat.pick import (CANDIDATE_COLUMNS, CROWDED_LOCATING_FACTOR, CROWDED_PICK_AREA, candidate_score,
                          locating_contrast, pick, picks_area_fraction)
from icestat.polarity import MIN_BRIGHT_BALANCE, bright_balance, judge_polarity
from icestat.prepare import WorkingImage, fourier_resample
from icestat.scale_space import blob_response
from icestat.segment import Segmentation

RADIUS_WORKING_PX = 8
SCALE = 2.0  # original pixels per working pixel
IN_ICE = [(40, 40), (40, 100), (100, 60), (150, 40), (150, 100)]
TOUCHING = [(100, 105), (100, 119)]   # 14 px apart: one merged blob in the probability map
ON_CARBON = [(60, 175)]
NEAR_EDGE = [(180, 3)]


def _segmentation(bright_particles: bool = False, seed: int = 0, frame_border=FrameBorder(),
                  segmented_radius_px: float = RADIUS_WORKING_PX, noise_sd: float = 0.3) -> Segmentation:
    """A 200 x 200 working image at 2 original px per pixel: dark balls (1 deep) in noisy ice, carbon on the right.

    The particle probability is high on the disks of `segmented_radius_px` working pixels around the balls' centres.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:200, :200]
    disks = np.zeros((200, 200), dtype=bool)
    thickness = np.zeros((200, 200))
    for row, col in IN_ICE + TOUCHING + ON_CARBON + NEAR_EDGE:
        distance = np.hypot(yy - row, xx - col)
        disks |= distance <= segmented_radius_px
        thickness += np.sqrt(np.clip(RADIUS_WORKING_PX ** 2 - distance ** 2, 0, None)) / RADIUS_WORKING_PX
    carbon = xx >= 150
    image = rng.normal(0.0, noise_sd, (200, 200)) - thickness - 0.5 * carbon
    if bright_particles:
        image = -image
    probabilities = np.zeros((4, 200, 200), dtype=np.float32)
    probabilities[PARTICLE] = np.where(disks, 0.85, 0.05)
    probabilities[CARBON] = np.where(carbon, 0.9, 0.0)
    probabilities[PARTICLE][carbon] = np.where(disks[carbon], 0.1, 0.0)
    probabilities[ICE] = 1 - probabilities[PARTICLE] - probabilities[CARBON]
    top, bottom, left, right = frame_border   # original pixels around the 400 x 400 the working image covers
    original_shape = (400 + top + bottom, 400 + left + right)
    working = WorkingImage(image.astype(np.float32), 2.0, (SCALE, SCALE), original_shape, frame_border)
    return Segmentation("synthetic", working, probabilities, probabilities.mean(axis=(1, 2)), None)


def _original_px(row, col):
    return (row + 0.5) * SCALE - 0.5, (col + 0.5) * SCALE - 0.5


def _found(picks, centres, tolerance_px=4.0):
    """How many of `centres` (working px) have a pick within `tolerance_px` original pixels."""
    xy = picks.table[["x_px", "y_px"]].to_numpy()
    found = 0
    for row, col in centres:
        y, x = _original_px(row, col)
        found += bool(len(xy)) and np.hypot(xy[:, 0] - x, xy[:, 1] - y).min() <= tolerance_px
    return found


def test_picks_every_particle_in_ice_and_only_those():
    picks = pick(_segmentation(), diameter_px=2 * RADIUS_WORKING_PX * SCALE)
    assert _found(picks, IN_ICE) == len(IN_ICE)
    assert _found(picks, TOUCHING) == 2          # located in the image, not in the merged probability blob
    assert _found(picks, ON_CARBON, 20) == 0 and picks.n_rejected["carbon"] >= 1
    assert _found(picks, NEAR_EDGE, 20) == 0 and picks.n_rejected["edge"] >= 1
    assert len(picks) == len(IN_ICE) + len(TOUCHING)
    scores = picks.table["score"].to_numpy()
    assert np.all((0 <= scores) & (scores <= 1)) and np.all(np.diff(scores) <= 0)
    assert scores.min() > 0.5  # 0.85 particle probability in the core, no carbon around
    assert (picks.table["diameter_px"] == 32).all() and (picks.table["micrograph"] == "synthetic").all()
    assert not picks.diameter_estimated


def test_every_candidate_says_why_it_was_picked_or_not():
    segmentation = _segmentation()
    picks = pick(segmentation, diameter_px=2 * RADIUS_WORKING_PX * SCALE, threshold=0.6)
    candidates = picks.candidates
    assert list(candidates.columns) == list(CANDIDATE_COLUMNS) and np.all(np.diff(candidates["score"]) <= 0)
    picked = candidates[(candidates["rejected"] == "") & (candidates["score"] >= 0.6)]
    np.testing.assert_array_equal(picked[["x_px", "y_px", "score"]].to_numpy(),
                                  picks.table[["x_px", "y_px", "score"]].to_numpy())
    reasons = candidates["rejected"].value_counts()
    assert {reason: int(reasons.get(reason, 0)) for reason in picks.n_rejected} == picks.n_rejected
    by_place = {reason: candidates[candidates["rejected"] == reason] for reason in ("carbon", "edge")}
    for reason, centres in (("carbon", ON_CARBON), ("edge", NEAR_EDGE)):
        (y, x), = (_original_px(*centre) for centre in centres)
        assert np.hypot(by_place[reason]["x_px"] - x, by_place[reason]["y_px"] - y).min() <= 4
    assert (by_place["carbon"]["carbon_probability"] > 0.5).all()
    # each value as its own function gives it, at the candidate's place in the working image
    rows, cols = (np.rint((candidates[axis] + 0.5) / SCALE - 0.5).astype(int) for axis in ("y_px", "x_px"))
    response, contrast, _, _ = locating_contrast(segmentation, RADIUS_WORKING_PX)
    np.testing.assert_allclose(candidates["contrast_sd"], contrast[rows, cols])
    tested = candidates["rejected"].isin(["", "faint"])
    np.testing.assert_allclose(candidates.loc[tested, "signal_to_noise"],
                               signal_to_noise(response[rows[tested], cols[tested]], segmentation.working.data,
                                               RADIUS_WORKING_PX))
    assert candidates.loc[~tested, "signal_to_noise"].isna().all()
    np.testing.assert_allclose(candidates["score"], candidate_score(
        candidates["contrast_sd"], candidates["particle_evidence"] * (1 - candidates["carbon_probability"]
                                                                      - candidates["contamination_probability"]),
        candidates["rejected"] == ""))
    assert candidates.loc[candidates["rejected"] == "", "particle_evidence"].gt(0.5).sum() >= len(IN_ICE)


def test_picks_inside_a_frame_border_land_in_the_micrograph_and_keep_off_the_border():
    diameter_px = 2 * RADIUS_WORKING_PX * SCALE
    plain = pick(_segmentation(), diameter_px=diameter_px).table.sort_values(["x_px", "y_px"])
    framed = pick(_segmentation(frame_border=FrameBorder(top_px=30, left_px=70)), diameter_px=diameter_px)
    assert framed.n_rejected["edge"] >= 1      # the particle 3 working px from the border, as from an edge
    shifted = framed.table.sort_values(["x_px", "y_px"])
    np.testing.assert_allclose(shifted["x_px"].to_numpy(), plain["x_px"].to_numpy() + 70)
    np.testing.assert_allclose(shifted["y_px"].to_numpy(), plain["y_px"].to_numpy() + 30)


def test_bright_particles_are_picked_the_same_way():
    dark, bright = pick(_segmentation(), diameter_px=32), pick(_segmentation(bright_particles=True), diameter_px=32)
    assert len(dark) == len(bright)
    np.testing.assert_allclose(dark.table.sort_values("x_px")[["x_px", "y_px"]].to_numpy(),
                               bright.table.sort_values("x_px")[["x_px", "y_px"]].to_numpy(), atol=2.0)


IN_HOLE = [(100, 100), (80, 70), (120, 130), (75, 125), (125, 75)]


def _in_a_hole() -> Segmentation:
    """Five dark balls in a round hole (radius 50 working px) of carbon 2 deeper than the ice, which the model sees.

    The hole is a bright disk in dark carbon: at the particles' scale its rim answers the Laplacian of Gaussian more
    than the particles do (the response over the whole image is skewed towards bright blobs), but it curves one way
    only.
    """
    yy, xx = np.mgrid[:200, :200]
    thickness, disks = np.zeros((200, 200)), np.zeros((200, 200), dtype=bool)
    for row, col in IN_HOLE:
        distance = np.hypot(yy - row, xx - col)
        disks |= distance <= RADIUS_WORKING_PX
        thickness += np.sqrt(np.clip(RADIUS_WORKING_PX ** 2 - distance ** 2, 0, None)) / RADIUS_WORKING_PX
    carbon = np.hypot(yy - 100, xx - 100) > 50
    image = (np.random.default_rng(0).normal(0.0, 0.3, (200, 200)) - thickness - 2.0 * carbon).astype(np.float32)
    probabilities = np.zeros((4, 200, 200), dtype=np.float32)
    probabilities[PARTICLE] = np.where(disks, 0.85, 0.05)
    probabilities[CARBON] = np.where(carbon, 0.95, 0.0)
    probabilities[PARTICLE][carbon] = 0.0
    probabilities[ICE] = 1 - probabilities[PARTICLE] - probabilities[CARBON]
    working = WorkingImage(image, 2.0, (SCALE, SCALE), (400, 400), FrameBorder())
    return Segmentation("hole", working, probabilities, probabilities.mean(axis=(1, 2)), None)


def test_a_holes_rim_does_not_make_a_raw_micrograph_look_inverted():
    segmentation = _in_a_hole()
    image = segmentation.working.data
    bright = blob_response(image, SIGMA_RADII * RADIUS_WORKING_PX)
    assert stats.skew(bright.ravel()) > 0.1   # the rim outweighs the particles in the Laplacian's skewness ...
    in_ice = segmentation.working_probabilities[CARBON] <= 0.5
    for judged_where in (None, in_ice):   # ... but not in the balance of blobs, with the carbon or without it
        assert bright_balance(image, RADIUS_WORKING_PX, judged_where) < -MIN_BRIGHT_BALANCE
        assert bright_balance(-image, RADIUS_WORKING_PX, judged_where) > MIN_BRIGHT_BALANCE
    picks = pick(segmentation, diameter_px=2 * RADIUS_WORKING_PX * SCALE)
    assert picks.polarity == "dark" and _found(picks, IN_HOLE) == len(IN_HOLE)
    assert len(picks) <= len(IN_HOLE) + 1
    # A model that misses the carbon: the image alone still says dark.
    probabilities = segmentation.working_probabilities.copy()
    probabilities[ICE] += probabilities[CARBON]
    probabilities[CARBON] = 0.0
    blind = pick(Segmentation("blind to carbon", segmentation.working, probabilities, None, None),
                 diameter_px=2 * RADIUS_WORKING_PX * SCALE)
    assert blind.polarity == "dark" and _found(blind, IN_HOLE) == len(IN_HOLE)


def _unknown_specimen(segmentation: Segmentation, lean: float) -> Segmentation:
    """`segmentation` as a model that does not know the specimen sees it: a particle probability of noise leaning
    towards bright blobs (`lean` > 0) or dark ones."""
    bright = blob_response(segmentation.working.data, SIGMA_RADII * RADIUS_WORKING_PX)
    noise = np.random.default_rng(1).normal(0.0, 1.0, bright.shape)
    probabilities = segmentation.working_probabilities.copy()
    probabilities[PARTICLE] = np.clip(0.2 + 0.04 * (noise + lean * bright / bright.std()), 0, 1)
    probabilities[ICE] = 1 - probabilities[PARTICLE] - probabilities[CARBON]
    return Segmentation("unknown specimen", segmentation.working, probabilities, None, None)


@pytest.mark.parametrize("lean", [-0.5, 0.06, 0.5])
def test_the_image_decides_the_polarity_whichever_way_the_model_leans(lean):
    # A model leaning towards the bright blobs of a raw micrograph (as the U-Net compare.py trains on EMPIAR-10017 did
    # on 10028 and 10059), barely answering (the recipe trained on 10028 alone, on 10017) or leaning the other way.
    diameter_px = 2 * RADIUS_WORKING_PX * SCALE
    for bright_particles in (False, True):
        picks = pick(_unknown_specimen(_segmentation(bright_particles=bright_particles), lean), diameter_px)
        assert picks.polarity == ("bright" if bright_particles else "dark")
        assert (picks.bright_balance > MIN_BRIGHT_BALANCE) == bright_particles
        assert _found(picks, IN_ICE) == len(IN_ICE)


def test_the_polarity_said_overrides_the_image():
    diameter_px = 2 * RADIUS_WORKING_PX * SCALE
    dark, inverted = _segmentation(), _segmentation(bright_particles=True)
    assert _found(pick(dark, diameter_px, polarity="dark"), IN_ICE) == len(IN_ICE)
    assert _found(pick(inverted, diameter_px, polarity="bright"), IN_ICE) == len(IN_ICE)
    said_wrong = pick(dark, diameter_px, polarity="bright")
    assert said_wrong.polarity == "bright" and _found(said_wrong, IN_ICE) == 0   # the picks miss them all
    assert _found(pick(inverted, diameter_px, polarity="dark"), IN_ICE) == 0


def test_particles_an_unsure_model_calls_ice_are_picked_by_their_contrast_and_outrank_the_ice():
    # A model that never saw the specimen: 0.15 particle probability on the particles, 0.05 on the ice.
    segmentation = _segmentation()
    probabilities = segmentation.working_probabilities.copy()
    on_particles = probabilities[PARTICLE] == 0.85
    probabilities[PARTICLE][on_particles] = 0.15
    probabilities[ICE] = 1 - probabilities[PARTICLE] - probabilities[CARBON]
    unsure = Segmentation("unsure", segmentation.working, probabilities, None, None)
    picks = pick(unsure, diameter_px=2 * RADIUS_WORKING_PX * SCALE)
    assert _found(picks, IN_ICE) == len(IN_ICE) and _found(picks, TOUCHING) == 2
    centres = np.array([_original_px(row, col) for row, col in IN_ICE + TOUCHING])   # (y, x)
    best = picks.table.head(len(centres))[["y_px", "x_px"]].to_numpy()
    assert cdist(best, centres).min(axis=1).max() <= 4.0   # each of the best picks is within 4 px of a particle


def test_a_model_unsure_of_every_particle_is_calibrated_to_the_micrograph():
    # A model that never saw the specimen answers its particles 10-30 times more weakly than a sure one: it still
    # ranks the candidates, and the level it answers at is taken from the candidates that stand out most.
    segmentation = _segmentation()
    diameter_px = 2 * RADIUS_WORKING_PX * SCALE
    tables = []
    for weakening in (0.03, 0.1):
        probabilities = segmentation.working_probabilities.copy()
        probabilities[PARTICLE] *= weakening
        probabilities[ICE] = 1 - probabilities[PARTICLE] - probabilities[CARBON]
        picks = pick(Segmentation("weak", segmentation.working, probabilities, None, None), diameter_px)
        assert _found(picks, IN_ICE) == len(IN_ICE) and _found(picks, TOUCHING) == 2
        tables.append(picks.table)
    assert tables[0][["x_px", "y_px"]].equals(tables[1][["x_px", "y_px"]])   # the same picks, and scores:
    np.testing.assert_allclose(tables[0]["score"], tables[1]["score"], rtol=1e-5)


def _patches_seeing(centres, elsewhere: float):
    """Patch probabilities of the 200 x 200 image's 32-px patches at stride 16, particle 0.85 on every patch holding
    one of `centres` (working px) and `elsewhere` on the rest, the rest ice; and features carrying that grid."""
    grid = PatchGrid((200, 200), patch_px=32, stride_px=16)
    holding = np.zeros(grid.shape, dtype=bool)
    for row, col in centres:
        holding |= np.outer((grid.row_starts <= row) & (row < grid.row_starts + grid.patch_px),
                            (grid.col_starts <= col) & (col < grid.col_starts + grid.patch_px))
    per_patch = np.zeros(grid.shape + (4,), dtype=np.float32)
    per_patch[..., PARTICLE] = np.where(holding, 0.85, elsewhere)
    per_patch[..., ICE] = 1 - per_patch[..., PARTICLE]
    return per_patch, PatchFeatures(np.zeros(grid.shape + (0,), dtype=np.float32), (), grid)


def test_particles_the_refiner_erased_are_picked_where_the_patches_see_them():
    # The refined map calls the particles ice (0.02); the patch classifier says particle on every patch holding a
    # particle's centre. The particle evidence is half of each, so they are picked; carbon still comes from the map.
    # (The refined map alone says 0.02 everywhere but on the carbon: no ranking, so only the contrast would pick.)
    segmentation = _segmentation()
    erased = segmentation.working_probabilities.copy()
    erased[PARTICLE] = np.where(erased[CARBON] > 0.5, 0.0, 0.02)
    erased[ICE] = 1 - erased[PARTICLE] - erased[CARBON]
    per_patch, features = _patches_seeing(IN_ICE + TOUCHING + ON_CARBON + NEAR_EDGE, elsewhere=0.05)
    diameter_px = 2 * RADIUS_WORKING_PX * SCALE
    with_patches = pick(Segmentation("erased", segmentation.working, erased, per_patch, features), diameter_px)
    assert _found(with_patches, IN_ICE) == len(IN_ICE) and _found(with_patches, TOUCHING) == 2
    assert _found(with_patches, ON_CARBON, 20) == 0 and with_patches.n_rejected["carbon"] >= 1


def test_threshold_removes_low_scores():
    everything = pick(_segmentation(), diameter_px=32, threshold=0.0)
    assert len(pick(_segmentation(), diameter_px=32, threshold=0.99)) == 0
    assert len(everything) >= len(IN_ICE) + len(TOUCHING)


def _ice_only(noise_sd: float, seed: int = 0) -> Segmentation:
    """A 200 x 200 working image of white noise (ice and nothing else) that the model calls half particle."""
    image = np.random.default_rng(seed).normal(0.0, noise_sd, (200, 200)).astype(np.float32)
    probabilities = np.zeros((4, 200, 200), dtype=np.float32)
    probabilities[PARTICLE] = 0.5 + 0.4 * (ndimage.gaussian_filter(image, 4) < 0)   # sure on the dark spots
    probabilities[ICE] = 1 - probabilities[PARTICLE]
    working = WorkingImage(image, 2.0, (SCALE, SCALE), (400, 400), FrameBorder())
    return Segmentation("ice only", working, probabilities, probabilities.mean(axis=(1, 2)), None)


def test_a_micrograph_of_nothing_but_noisy_ice_gives_next_to_no_picks():
    # Relative contrast and a sure model find as many candidates here as anywhere; none stands out of the noise (at
    # a false discovery rate of 0.05, a pick on one micrograph in twenty).
    n_picks = []
    for seed in range(3):
        picks = pick(_ice_only(noise_sd=0.3, seed=seed), diameter_px=2 * RADIUS_WORKING_PX * SCALE, threshold=0.0)
        n_picks.append(len(picks))
        assert picks.n_rejected["faint"] >= 80
    assert sum(n_picks) <= 1


def _faint_field(n_particles: int, seed: int, depth: float = 0.65, radius_px: int = 6):
    """A 320 x 320 working image of white noise (sd 1) with `n_particles` dark balls `depth` deep on a grid 24 px
    apart, which the model calls particle: (segmentation, ball centres)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:320, :320]
    centres = [(row, col) for row in range(20, 308, 24) for col in range(20, 308, 24)][:n_particles]
    thickness = np.zeros((320, 320))
    for row, col in centres:
        thickness += np.sqrt(np.clip(radius_px ** 2 - (yy - row) ** 2 - (xx - col) ** 2, 0, None)) / radius_px
    image = (rng.normal(0.0, 1.0, (320, 320)) - depth * thickness).astype(np.float32)
    probabilities = np.zeros((4, 320, 320), dtype=np.float32)
    probabilities[PARTICLE] = np.where(thickness > 0, 0.85, 0.05)
    probabilities[ICE] = 1 - probabilities[PARTICLE]
    working = WorkingImage(image, 2.0, (SCALE, SCALE), (640, 640), FrameBorder())
    return Segmentation("faint", working, probabilities, probabilities.mean(axis=(1, 2)), None), centres


def test_many_faint_particles_stand_out_together_where_a_few_as_faint_do_not():
    # Each ball stands about 3.3 noise sd high, which noise alone reaches on one candidate in fifty: among 144 they
    # are most of the candidates that high, and are picked; three of them among the noise are not told from it.
    diameter_px = 2 * 6 * SCALE
    for seed in range(3):
        many, centres = _faint_field(150, seed)
        picks = pick(many, diameter_px)
        image = many.working.data
        heights = signal_to_noise(particle_response(image, 6.0, "dark")[0], image, 6.0)
        assert 3.0 < np.median([heights[row, col] for row, col in centres]) < 3.6
        assert _found(picks, centres, 6 * SCALE) >= 0.6 * len(centres) and len(picks) <= 1.15 * len(centres)
        few, _ = _faint_field(3, seed)
        assert len(pick(few, diameter_px)) <= 3


@pytest.mark.parametrize("low_height", [0.0, 1.5, 2.5])
def test_a_candidate_stands_out_by_its_p_value_against_noise_and_the_adaptive_benjamini_hochberg_step_up(low_height):
    # Reference: a candidate's p-value is the share of noise's candidates at least as high (one added to both
    # counts); the share of the m candidates that are noise's is estimated as pi0 = (1 + the number of p-values
    # above lambda) / ((1 - lambda) m), at most 1; a candidate stands out when, for some k at least its rank, the
    # k-th smallest p-value is at most k / (m pi0) of the false discovery rate, or when it is higher than all of
    # noise's. Heights from `low_height` up: from 0 most p-values are large (pi0 1), from 2.5 few are.
    null = noise_candidate_heights()
    assert len(null) > 10_000 and np.all(np.diff(null) >= 0)
    rng = np.random.default_rng(7)
    for m in (1, 5, 300, 3000):
        heights = rng.uniform(low_height, 5.5, m)
        p_values = np.array([(1 + np.sum(null >= h)) / (1 + len(null)) for h in heights])
        pi0 = min(1.0, (1 + np.sum(p_values > NOISE_P_VALUE_LAMBDA)) / ((1 - NOISE_P_VALUE_LAMBDA) * m))
        ranked = np.sort(p_values)
        passing = [k for k in range(1, m + 1) if ranked[k - 1] <= MAX_FALSE_DISCOVERY_RATE * k / (m * pi0)]
        bar = ranked[max(passing) - 1] if passing else -1.0
        assert (~too_faint(heights)).tolist() == ((p_values <= bar) | (heights > null.max())).tolist()


def test_noise_alone_stands_out_nowhere_while_a_field_of_candidates_each_a_little_above_it_does():
    # the candidates of fresh white noise (another seed) are all too faint; 600 candidates 2.6-3.4 noise sd high
    # (a crowded, noisy micrograph: each alone no rarer than 1 in 10-200 of noise's) mostly stand out together,
    # where the plain Benjamini-Hochberg procedure would keep almost none of them
    noise = np.random.default_rng(11).standard_normal((1024, 1024), dtype=np.float32)
    response = particle_response(noise, 5.0, "dark")[0]
    rows, cols = candidate_peaks(robust_z(response), 5.0)
    assert len(rows) > 5000
    assert np.count_nonzero(~too_faint(signal_to_noise(response[rows, cols], noise, 5.0))) <= 2
    crowded = np.random.default_rng(12).uniform(2.6, 3.4, 600)
    assert np.mean(~too_faint(crowded)) > 0.8
    null = noise_candidate_heights()
    plain_p_values = (1 + len(null) - np.searchsorted(null, crowded)) / (1 + len(null))
    assert np.mean(stats.false_discovery_control(plain_p_values) <= MAX_FALSE_DISCOVERY_RATE) < 0.2


def test_the_candidates_are_the_peaks_of_the_locating_contrast_over_the_bar_and_a_lower_bar_adds_only_lower_ones():
    segmentation = _segmentation()
    _, contrast, polarity, _ = locating_contrast(segmentation, RADIUS_WORKING_PX)
    rows, cols = candidate_peaks(contrast, RADIUS_WORKING_PX)
    all_rows, all_cols = candidate_peaks(contrast, RADIUS_WORKING_PX, min_contrast=-np.inf)
    assert polarity == "dark" and len(all_rows) > len(rows) >= len(IN_ICE + TOUCHING)
    assert (contrast[rows, cols] >= MIN_CONTRAST).all()
    over_bar = set(zip(rows.tolist(), cols.tolist()))
    assert over_bar <= set(zip(all_rows.tolist(), all_cols.tolist()))
    assert all(contrast[r, c] < MIN_CONTRAST for r, c in zip(all_rows, all_cols) if (r, c) not in over_bar)
    picked = pick(segmentation, diameter_px=2 * RADIUS_WORKING_PX * SCALE, threshold=0.0).table   # pick's own
    assert set(zip(picked["y_px"], picked["x_px"])) <= {_original_px(r, c) for r, c in over_bar}
    assert len(picked) >= len(IN_ICE + TOUCHING)


def _enlarged(n_particles: int, seed: int, depth: float = 1.5):
    """A 160 x 160 micrograph of white noise (sd 1) with `n_particles` dark balls of radius 4 px, `depth` deep, on a
    grid 16 px apart, enlarged twice to its working image (as a micrograph coarser than the working scale is), which
    the model calls particle on the balls, or, with none, half particle and sure on dark spots: (segmentation, ball
    centres in micrograph pixels)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:160, :160]
    centres = [(row, col) for row in range(12, 150, 16) for col in range(12, 150, 16)][:n_particles]
    thickness = np.zeros((160, 160))
    for row, col in centres:
        thickness += np.sqrt(np.clip(16 - (yy - row) ** 2 - (xx - col) ** 2, 0, None)) / 4
    image = fourier_resample((rng.normal(0.0, 1.0, (160, 160)) - depth * thickness).astype(np.float32), (320, 320))
    probabilities = np.zeros((4, 320, 320), dtype=np.float32)
    on_balls = ndimage.zoom(thickness, 2, order=1) > 0
    probabilities[PARTICLE] = (np.where(on_balls, 0.85, 0.5) if centres else
                               0.5 + 0.4 * (ndimage.gaussian_filter(image, 4) < 0))
    probabilities[ICE] = 1 - probabilities[PARTICLE]
    working = WorkingImage(image, 2.0, (0.5, 0.5), (160, 160), FrameBorder())
    return Segmentation("enlarged", working, probabilities, probabilities.mean(axis=(1, 2)), None), centres


def test_the_noise_of_an_enlarged_micrograph_is_that_of_the_micrograph():
    # Enlarged, a micrograph's noise fills only the frequencies it had: at the working image's finest scale there is
    # next to none, which had made every candidate of such a micrograph stand out of "its noise" (a 512-px micrograph
    # of white noise without a pixel size gave 72 picks). Reference: the response's own spread on noise alone.
    noise = np.random.default_rng(5).standard_normal((300, 300)).astype(np.float32)
    for factor in (1.25, 2.0):
        enlarged = fourier_resample(noise, (round(300 * factor), round(300 * factor)))
        response = blob_response(enlarged, SIGMA_RADII * 8.0)[40:-40, 40:-40]
        scale = (1 / factor, 1 / factor)
        assert signal_to_noise(response, enlarged, 8.0, scale).std() == pytest.approx(1.0, abs=0.1)
        assert signal_to_noise(response, enlarged, 8.0).std() > 1.5   # taken as it is, its noise is too low


def test_an_enlarged_micrograph_of_noise_gives_no_picks_while_its_particles_are_picked():
    for seed in range(3):
        nothing, _ = _enlarged(0, seed)
        picks = pick(nothing, diameter_px=8.0)
        assert len(picks) == 0 and picks.n_rejected["faint"] >= 200   # 215-334 picks before
        particles, centres = _enlarged(81, seed)
        picked = pick(particles, diameter_px=8.0).table[["y_px", "x_px"]].to_numpy()
        distances = cdist(np.asarray(centres, dtype=float), picked)
        assert np.count_nonzero(distances.min(axis=1) <= 2.0) >= 0.95 * len(centres)


def test_the_heights_of_noise_candidates_do_not_depend_on_the_radius():
    # What lets one null distribution, found at NOISE_RADIUS_PX, judge candidates of any particle size.
    null = noise_candidate_heights()
    noise = np.random.default_rng(3).standard_normal((1200, 1200), dtype=np.float32)
    for radius_px in (3.0, 15.0):
        response = particle_response(noise, radius_px, "dark")[0]
        rows, cols = candidate_peaks(robust_z(response), radius_px)
        inside = ~near_edge_at(rows, cols, noise.shape, radius_px)
        heights = signal_to_noise(response[rows[inside], cols[inside]], noise, radius_px)
        assert np.quantile(heights, [0.5, 0.9]) == pytest.approx(np.quantile(null, [0.5, 0.9]), abs=0.12)


def test_a_whole_particle_answers_at_the_wide_width():
    # The response is the larger of two widths: at a disk's centre the wide one (1/sqrt 2 radii, the disk's own
    # scale) answers a third more strongly than the narrow one, which keeps touching particles apart (above).
    yy, xx = np.mgrid[:96, :96]
    dark_disk = -(np.hypot(yy - 48, xx - 48) <= 8).astype(np.float32)
    response, polarity, _ = particle_response(dark_disk, radius_px=8.0, polarity="dark")
    narrow = -blob_response(dark_disk, SIGMA_RADII * 8.0)
    wide = -blob_response(dark_disk, WHOLE_PARTICLE_SIGMA_RADII * 8.0)
    assert wide[48, 48] > 1.3 * narrow[48, 48]
    assert response[48, 48] == pytest.approx(wide[48, 48] - np.median(wide), rel=1e-6)
    assert (response >= narrow - np.median(narrow) - 1e-6).all()


def test_particles_are_picked_while_they_stand_out_of_the_noise():
    # At their scale the balls stand about 19 noise sd high with noise of sd 0.3, about 2.5 with noise of sd 2.
    diameter_px = 2 * RADIUS_WORKING_PX * SCALE
    for noise_sd, most_standing in [(0.3, 19), (2.0, 3.5)]:
        segmentation = _segmentation(noise_sd=noise_sd)
        image = segmentation.working.data
        snr = signal_to_noise(particle_response(image, 8.0)[0], image, 8.0)
        assert np.median([snr[row, col] for row, col in IN_ICE]) == pytest.approx(most_standing, abs=2.0)
    clear, drowned = pick(_segmentation(), diameter_px), pick(_segmentation(noise_sd=2.0), diameter_px)
    assert _found(clear, IN_ICE) == len(IN_ICE)
    assert _found(drowned, IN_ICE) <= 2 and drowned.n_rejected["faint"] >= 3


def test_the_diameter_is_estimated_from_the_bumps_of_particle_evidence_when_not_given():
    # The particle probability is 0.85 over disks of the balls' radius of 8 working px, at 2 original px per pixel:
    # bumps 32 original px across, the two touching balls' merged region included (a bump each).
    segmentation = _segmentation()
    assert estimate_diameter_px(segmentation) == pytest.approx(2 * RADIUS_WORKING_PX * SCALE, rel=0.03)
    picks = pick(segmentation)
    assert picks.diameter_estimated and picks.diameter_px == estimate_diameter_px(segmentation)
    assert _found(picks, IN_ICE) == len(IN_ICE) and _found(picks, TOUCHING) == 2
    # A model unsure of the specimen (probability 0.4 on the particles) makes lower bumps as wide: the same estimate.
    probabilities = segmentation.working_probabilities.copy()
    probabilities[PARTICLE] *= 0.4 / 0.85
    probabilities[ICE] = 1 - probabilities[PARTICLE] - probabilities[CARBON]
    unsure = Segmentation("unsure", segmentation.working, probabilities, None, None)
    assert estimate_diameter_px(unsure) == pytest.approx(estimate_diameter_px(segmentation), rel=0.01)
    # Bumps the size of the balls' cores (3/4 of their radius) read as such.
    cores = _segmentation(segmented_radius_px=0.75 * RADIUS_WORKING_PX)
    assert estimate_diameter_px(cores) == pytest.approx(0.75 * 2 * RADIUS_WORKING_PX * SCALE, rel=0.03)


def test_an_estimate_on_a_crowded_micrograph_is_called_unreliable(caplog):
    segmentation = _segmentation()
    assert pick(segmentation).diameter_estimated and "crowded" not in caplog.text
    probabilities = segmentation.working_probabilities.copy()
    probabilities[PARTICLE, :, :120] += probabilities[ICE, :, :120]   # 60 % of the image labelled particle
    probabilities[ICE, :, :120] = 0
    crowded = Segmentation("packed", segmentation.working, probabilities, None, None)
    pick(crowded, diameter_px=30.0)
    assert "crowded" not in caplog.text   # a given diameter needs no warning
    pick(crowded, warn_if_crowded=False)
    assert "crowded" not in caplog.text   # a caller that settles crowded micrographs itself
    pick(crowded)
    assert "packed: crowded (60% labelled particle)" in caplog.text
    caplog.clear()
    # An estimate made before (segment_at_estimated_diameter) is reported and warned about as one made here.
    picks = pick(crowded, diameter_px=30.0, diameter_estimated=True)
    assert picks.diameter_estimated and picks.diameter_px == 30.0
    assert "packed: crowded (60% labelled particle), so the estimated particle diameter (30 px)" in caplog.text
    # An estimate made before that found none picks nothing here, though this segmentation has bumps enough, and
    # says nothing of crowding (there is no diameter to call unreliable).
    caplog.clear()
    none_found = pick(crowded, diameter_estimated=True)
    assert len(none_found) == 0 and none_found.diameter_estimated and np.isnan(none_found.diameter_px)
    assert none_found.candidates.empty and list(none_found.candidates.columns) == list(CANDIDATE_COLUMNS)
    assert np.isfinite(estimate_diameter_px(crowded)) and "crowded" not in caplog.text


def _packed(radius_px: float = RADIUS_WORKING_PX, seed: int = 0) -> tuple[Segmentation, list[tuple[float, float]]]:
    """A 200 x 200 working image (2 original px per pixel) packed with touching dark balls on a hexagonal lattice.

    The particle probability is high over the balls and low between them; returns the segmentation and the centres.
    """
    spacing_px = 2 * radius_px
    centres = [(row, col + (spacing_px / 2 if i % 2 else 0.0))
               for i, row in enumerate(np.arange(radius_px, 200 - radius_px, spacing_px * np.sqrt(3) / 2))
               for col in np.arange(radius_px, 200 - radius_px - spacing_px / 2, spacing_px)]
    yy, xx = np.mgrid[:200, :200]
    thickness = np.zeros((200, 200))
    for row, col in centres:
        thickness += np.sqrt(np.clip(radius_px ** 2 - (yy - row) ** 2 - (xx - col) ** 2, 0, None)) / radius_px
    image = np.random.default_rng(seed).normal(0.0, 0.3, (200, 200)) - thickness
    probabilities = np.zeros((4, 200, 200), dtype=np.float32)
    probabilities[PARTICLE] = np.where(thickness > 0, 0.85, 0.05)
    probabilities[ICE] = 1 - probabilities[PARTICLE]
    working = WorkingImage(image.astype(np.float32), 2.0, (SCALE, SCALE), (400, 400), FrameBorder())
    return Segmentation("packed", working, probabilities, probabilities.mean(axis=(1, 2)), None), centres


def test_an_estimate_wider_than_the_picks_spacing_is_bounded_by_it():
    # Touching particles merge into wide bumps of particle evidence, so an estimate can overstate them (EMPIAR-10059:
    # 1.2 times its particle with the recipe retrained without it); their picks, each about a diameter from the
    # nearest, say so.
    segmentation, centres = _packed()
    diameter_px = 2 * RADIUS_WORKING_PX * SCALE
    overstated = pick(segmentation, 1.375 * diameter_px, diameter_estimated=True, warn_if_crowded=False)
    assert overstated.diameter_estimated
    assert overstated.diameter_px == pytest.approx(diameter_px, rel=0.1)
    assert (overstated.table["diameter_px"] == overstated.diameter_px).all()
    given = pick(segmentation, 1.375 * diameter_px)   # a diameter given is the user's to choose: reported as given
    assert given.diameter_px == 1.375 * diameter_px and (given.table["diameter_px"] == given.diameter_px).all()
    assert _found(overstated, centres) >= 0.85 * len(centres)   # edge: 10 %
    # The bound is judged on the picks at the default threshold, whatever threshold the caller keeps.
    for threshold in (0.05, 0.6):
        thresholded = pick(segmentation, 1.375 * diameter_px, threshold=threshold, diameter_estimated=True,
                           warn_if_crowded=False)
        assert thresholded.diameter_px == overstated.diameter_px
        assert thresholded.table["score"].min() >= threshold
    # An estimate within the spacing stands, and so do the estimates of isolated particles (test above).
    assert pick(segmentation, 0.8 * diameter_px, diameter_estimated=True, warn_if_crowded=False).diameter_px == (
        0.8 * diameter_px)


def test_a_crowded_micrograph_is_located_at_a_smaller_scale_and_others_as_they_were(monkeypatch):
    # Packed particles' responses run together at their own scale: where the picks would cover much of the field,
    # the candidates are located again at CROWDED_LOCATING_FACTOR of the diameter (reported as given).
    packed, centres = _packed()
    sparse = _segmentation()
    diameter_px = 2 * RADIUS_WORKING_PX * SCALE
    shape = packed.working.original_shape
    assert picks_area_fraction(pick(packed, diameter_px).table, shape) > CROWDED_PICK_AREA
    assert picks_area_fraction(pick(sparse, diameter_px).table, shape) < 0.1
    for generous in (1.0, 1.375):   # the diameter given, or a generous one
        with monkeypatch.context() as unchanged:
            unchanged.setattr(icestat.pick, "CROWDED_PICK_AREA", np.inf)
            before = pick(packed, generous * diameter_px)
            smaller = pick(packed, CROWDED_LOCATING_FACTOR * generous * diameter_px).table
            sparse_before = pick(sparse, generous * diameter_px)
        after = pick(packed, generous * diameter_px)
        assert after.diameter_px == generous * diameter_px and (after.table["diameter_px"] == after.diameter_px).all()
        assert after.locating_diameter_px == pytest.approx(CROWDED_LOCATING_FACTOR * after.diameter_px)
        assert before.locating_diameter_px == sparse_before.locating_diameter_px == generous * diameter_px
        assert _found(after, centres) > _found(before, centres) + 5
        assert (after.polarity, after.bright_balance) == (before.polarity, before.bright_balance)   # judged at d
        # the picks of the smaller scale (once: not smaller again), with the diameter given kept in the table
        np.testing.assert_array_equal(after.table[["x_px", "y_px", "score"]], smaller[["x_px", "y_px", "score"]])
        pd.testing.assert_frame_equal(pick(sparse, generous * diameter_px).table, sparse_before.table)


def test_a_solid_region_labelled_particle_is_not_taken_for_a_particle():
    # A model that calls most of a packed micrograph particle can make one solid region of it (seen on EMPIAR-10059,
    # 86 % particle: an estimate of 1.4 times the micrograph's side, and no pick at all).
    segmentation = _segmentation()
    probabilities = segmentation.working_probabilities.copy()
    region = np.zeros((200, 200), dtype=bool)
    region[:, :75] = True   # a solid block 75 px wide, equivalent diameter 138 px: over a third of the 200 px side
    probabilities[PARTICLE][region] = 0.85
    probabilities[ICE][region] = 1 - probabilities[PARTICLE][region] - probabilities[CARBON][region]
    flooded = Segmentation("flooded", segmentation.working, probabilities, None, None)
    assert (flooded.working_labels[region] == PARTICLE).all()
    # The balls outside the block still give the estimate, and those clear of it (a ball's diameter away) are picked.
    assert estimate_diameter_px(flooded) == pytest.approx(2 * RADIUS_WORKING_PX * SCALE, rel=0.03)
    clear_of_block = [centre for centre in IN_ICE if centre[1] >= 75 + 2 * RADIUS_WORKING_PX]
    assert _found(pick(flooded, warn_if_crowded=False), clear_of_block) == len(clear_of_block) == 2


def test_no_particle_blobs_means_no_estimate_and_no_picks():
    segmentation = _segmentation()
    probabilities = segmentation.working_probabilities.copy()
    probabilities[ICE] += probabilities[PARTICLE]
    probabilities[PARTICLE] = 0
    empty = Segmentation("empty", segmentation.working, probabilities, None, None)
    picks = pick(empty)
    assert np.isnan(picks.diameter_px) and len(picks) == 0


@pytest.mark.parametrize("arguments, message", [
    ({"diameter_px": 0}, "particle diameter must be positive, got 0 px"),
    ({"diameter_px": -5}, "particle diameter must be positive, got -5 px"),
    ({"diameter_px": 1e6}, "a particle diameter of 1e+06 px is wider than the micrograph"),   # was a MemoryError
    ({"threshold": 1.5}, "score threshold must be between 0 and 1, got 1.5"),
    ({"threshold": -0.1}, "score threshold must be between 0 and 1, got -0.1"),
    ({"polarity": "white"}, "particle polarity must be one of"),
])
def test_bad_arguments_are_refused(arguments, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        pick(_segmentation(), **arguments)


@pytest.mark.parametrize("film_class", [CARBON, CONTAMINATION])
def test_particles_beside_the_film_the_model_misses_are_picked_by_their_contrast(film_class):
    # Film on the right (carbon, or opaque foil, which the model calls contamination); six particles in the ice far
    # from it, which the model sees, and three within a patch of it, which it calls ice (its patches there overlap
    # the film). With the segmentation's patches known, those beside the film take the evidence of the candidates far
    # from it (the median) and are picked; nothing on the film is.
    rng = np.random.default_rng(3)
    far = [(30, 30), (30, 80), (100, 30), (100, 80), (170, 30), (170, 80)]
    beside = [(40, 128), (100, 130), (160, 127)]
    yy, xx = np.mgrid[:200, :200]
    film = xx >= 150
    thickness = sum(np.sqrt(np.clip(RADIUS_WORKING_PX ** 2 - (yy - row) ** 2 - (xx - col) ** 2, 0, None))
                    for row, col in far + beside) / RADIUS_WORKING_PX
    image = (rng.normal(0.0, 0.3, (200, 200)) - thickness - 0.5 * film).astype(np.float32)
    probabilities = np.zeros((4, 200, 200), dtype=np.float32)
    seen = sum(np.hypot(yy - row, xx - col) <= RADIUS_WORKING_PX for row, col in far) > 0
    probabilities[PARTICLE] = np.where(seen, 0.85, 0.001)
    probabilities[film_class] = np.where(film, 0.95, 0.0)
    probabilities[PARTICLE][film] = 0.0
    probabilities[ICE] = 1 - probabilities[PARTICLE] - probabilities[film_class]
    per_patch, features = _patches_seeing(far, elsewhere=0.001)
    working = WorkingImage(image, 2.0, (SCALE, SCALE), (400, 400), FrameBorder())
    diameter_px = 2 * RADIUS_WORKING_PX * SCALE
    knowing_patches = pick(Segmentation("film", working, probabilities, per_patch, features), diameter_px)
    assert _found(knowing_patches, far) == 6 and _found(knowing_patches, beside) == 3
    assert len(knowing_patches) == len(far) + len(beside)   # and nothing else: the ice between them stays ice
    on_film = knowing_patches.table["x_px"].to_numpy() >= _original_px(0, 150)[1]
    assert not on_film.any()
    # Without the patches (features unknown) the rule cannot say what "beside" is: the model's doubt stands.
    blind = pick(Segmentation("film", working, probabilities, per_patch, None), diameter_px)
    assert _found(blind, far) == 6 and _found(blind, beside) == 0


@pytest.mark.parametrize("carbon_fraction", [0.3, 0.6])
def test_a_micrograph_mostly_of_film_is_judged_on_what_the_film_leaves(carbon_fraction):
    # bright disks on noise, left of a band of film (whose edge the balance is kept a radius from)
    rows, cols = np.mgrid[:256, :256]
    disks = sum(np.hypot(rows - row, cols - col) <= 6 for row in range(20, 256, 40) for col in range(16, 90, 36))
    image = disks - 2.0 * (cols >= 200) + np.random.default_rng(0).normal(0, 0.3, disks.shape)
    carbon = cols >= (1 - carbon_fraction) * 256
    assert judge_polarity(image, 6.0, carbon=carbon)[0] == "bright"
    assert judge_polarity(-image, 6.0, carbon=carbon)[0] == "dark"
