"""Picking metrics on hand-made picks with answers worked out by hand, and Hungarian matching against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from icestat.coords import pick_table
from icestat.manifest import load_labelled, read_manifest
from icestat.metrics import (average_precision, mask_particle_diameter_px, match_picks, score_picks,
                             score_picks_on_mask)


def _best_matching_size(picks_xy, truth_xy, radius_px):
    """Slow reference: the largest one-to-one matching within the radius, by trying every assignment."""
    distance = np.hypot(*(picks_xy[:, None, :] - truth_xy[None, :, :]).transpose(2, 0, 1))
    best = 0
    n, m = distance.shape
    for chosen in itertools.permutations(range(m), min(n, m)):
        for picks_order in itertools.permutations(range(n), min(n, m)):
            best = max(best, sum(distance[p, t] <= radius_px for p, t in zip(picks_order, chosen)))
    return best


def test_matching_takes_the_pairing_that_finds_most_particles():
    # Greedy nearest-first would pair pick 0 with truth 0 (distance 1) and leave pick 1 unmatched.
    picks = np.array([[0.0, 0.0], [-2.5, 0.0]])
    truth = np.array([[1.0, 0.0], [-4.0, 0.0]])
    pick_index, truth_index = match_picks(picks, truth, radius_px=2.0)
    assert sorted(zip(pick_index.tolist(), truth_index.tolist())) == [(0, 0), (1, 1)]


@pytest.mark.parametrize("seed", range(6))
def test_matching_size_agrees_with_brute_force_on_random_points(seed):
    rng = np.random.default_rng(seed)
    picks, truth = rng.uniform(0, 20, (5, 2)), rng.uniform(0, 20, (4, 2))
    pick_index, truth_index = match_picks(picks, truth, radius_px=6.0)
    assert len(set(pick_index)) == len(pick_index) and len(set(truth_index)) == len(truth_index)
    assert np.all(np.hypot(*(picks[pick_index] - truth[truth_index]).T) <= 6.0)
    assert len(pick_index) == _best_matching_size(picks, truth, 6.0)


@pytest.mark.parametrize("radius_px", [0.0, -3.0, float("nan")])
def test_a_matching_radius_that_is_not_positive_is_refused(radius_px):
    # a negative one matched nothing, silently (every score 0); NaN failed deep in SciPy
    with pytest.raises(ValueError, match=f"^the matching radius must be positive, got {radius_px} px$"):
        match_picks([[0, 0]], [[0, 0]], radius_px)


def test_average_precision_by_hand():
    # Ranked right, wrong, right with 4 particles: (1/1 + 2/3) / 4.
    assert average_precision([True, False, True], n_true=4) == pytest.approx((1 + 2 / 3) / 4)
    assert average_precision([True, True], n_true=2) == pytest.approx(1.0)
    assert average_precision([False, True], n_true=1) == pytest.approx(0.5)
    assert np.isnan(average_precision([False], n_true=0))


def test_coordinate_scores_by_hand():
    truth = pick_table([10.0, 50.0, 90.0], [10.0, 10.0, 10.0])
    # Right (score 0.9), wrong (0.8, far from everything), right (0.3, 3 px off), duplicate of the first (0.2).
    picks = pick_table([11.0, 200.0, 90.0, 10.0], [10.0, 200.0, 13.0, 11.0], score=[0.9, 0.8, 0.3, 0.2])
    scores = score_picks(picks, truth, radius_px=5.0)
    assert (scores["n_picks"], scores["n_true"], scores["n_correct"]) == (4, 3, 2)
    assert scores["precision"] == pytest.approx(0.5)
    assert scores["recall"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    # Ranked right, wrong, right, wrong: (1 + 2/3) / 3.
    assert scores["average_precision"] == pytest.approx((1 + 2 / 3) / 3)


def test_no_picks_is_zero_recall_and_undefined_precision():
    scores = score_picks(pick_table([], []), pick_table([5.0], [5.0]), radius_px=3.0)
    assert scores["recall"] == 0 and np.isnan(scores["precision"]) and scores["f1"] == 0


def test_mask_blobs_hold_as_many_particles_as_their_area_allows():
    mask = np.zeros((40, 100), dtype=bool)
    mask[10:20, 10:20] = True        # one particle of area 100 (a disk of diameter 11.28)
    mask[10:20, 40:60] = True        # two touching particles: area 200
    diameter_px = 2 * np.sqrt(100 / np.pi)
    picks = pick_table(
        [15.0, 16.0, 45.0, 55.0, 50.0, 80.0],
        [15.0, 15.0, 15.0, 15.0, 12.0, 30.0],
        score=[0.9, 0.8, 0.7, 0.6, 0.5, 0.4],
    )
    scores = score_picks_on_mask(picks, mask, diameter_px)
    # First blob: one right, the second pick there is a duplicate; second blob: two right, a third is too many;
    # the last pick lands on ice.
    assert (scores["n_true"], scores["n_correct"], scores["n_picks"]) == (3, 3, 6)
    assert scores["precision"] == pytest.approx(0.5) and scores["recall"] == pytest.approx(1.0)
    assert scores["average_precision"] == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)


def test_picks_outside_the_mask_image_are_wrong_not_errors():
    mask = np.ones((10, 10), dtype=bool)
    scores = score_picks_on_mask(pick_table([-5.0, 50.0, 5.0], [5.0, 5.0, 5.0], score=1.0), mask, 20.0)
    assert scores["n_correct"] == 1


def _disk(shape, centre, radius_px):
    rows, cols = np.indices(shape)
    return np.hypot(rows - centre[0], cols - centre[1]) <= radius_px


@pytest.mark.parametrize("radius_px", [6, 11, 23])
def test_one_particle_of_disk_masks_is_read_from_the_single_disks_not_the_merged_ones(radius_px):
    # Disks of one size: a few alone, many touching or overlapping in pairs and threes, some cut by the edge. The
    # median blob is a merged one; the answer is one disk's equivalent diameter.
    rng = np.random.default_rng(radius_px)
    shape = (40 * radius_px, 40 * radius_px)
    one_disk = 2 * np.sqrt(_disk(shape, (shape[0] // 2, shape[1] // 2), radius_px).sum() / np.pi)
    masks = []
    for _ in range(2):
        mask = np.zeros(shape, dtype=bool)
        for index, (row, col) in enumerate(rng.uniform(0, shape[0], size=(40, 2))):
            for k in range(index % 3 + 1 if index > 3 else 1):   # 4 alone, the rest in clusters of 1-3
                step = rng.uniform(0.6, 1.9) * radius_px * k
                angle = rng.uniform(0, 2 * np.pi)
                mask |= _disk(shape, (row + step * np.sin(angle), col + step * np.cos(angle)), radius_px)
        masks.append(mask)
    assert mask_particle_diameter_px(masks) == pytest.approx(one_disk, rel=0.02)


def test_masks_without_a_single_disk_have_no_particle_diameter():
    shape = (60, 60)
    pair = _disk(shape, (30, 20), 8) | _disk(shape, (30, 36), 8)
    edge = _disk(shape, (0, 30), 8)
    assert np.isnan(mask_particle_diameter_px([pair | edge]))
    assert np.isnan(mask_particle_diameter_px([]))


@pytest.mark.filterwarnings("ignore::icestat.micrograph.PixelSizeWarning")   # the set gives none; not needed here
def test_the_crowded_real_set_is_read_at_its_single_disks(shared_data):
    # EMPIAR-10059's masks are disks of about 36 px; the manifest's median blob size, inflated by merged ones,
    # says 45-50 px on most of its micrographs.
    manifest = read_manifest(shared_data / "manifest.csv")
    rows = manifest[(manifest["dataset"] == "empiar-10059") & manifest["particle_mask"].notna()]
    diameter_px = mask_particle_diameter_px(load_labelled(row).particle_mask for _, row in rows.iterrows())
    assert 34.0 < diameter_px < 38.0
    assert (rows["particle_diameter_px"] > 1.2 * diameter_px).sum() >= 5
