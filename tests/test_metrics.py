"""Segmentation metrics on hand-made masks whose answers are worked out by hand."""

import numpy as np
import pytest

from icestat.classes import CARBON, ICE, IGNORE, NO_DATA, PARTICLE
from icestat.metrics import boundaries, boundary_f1, class_scores, confusion_matrix, ice_iou


def test_confusion_matrix_counts_pairs_and_skips_ignored_pixels():
    truth = np.array([[0, 0, 1], [2, 2, 255]], dtype=np.uint8)
    predicted = np.array([[0, 1, 1], [2, 0, 3]], dtype=np.uint8)
    confusion = confusion_matrix(truth, predicted)
    assert confusion.sum() == 5  # the ignored pixel is not counted
    assert confusion[0, 0] == 1 and confusion[0, 1] == 1 and confusion[1, 1] == 1
    assert confusion[2, 2] == 1 and confusion[2, 0] == 1 and confusion[:, 3].sum() == 0


def test_pixels_a_segmentation_marks_without_data_count_for_nothing():
    truth = np.array([[0, 0, 1], [2, 2, 0]], dtype=np.uint8)
    predicted = np.array([[NO_DATA, 0, 1], [NO_DATA, 0, 1]], dtype=np.int8)
    confusion = confusion_matrix(truth, predicted)
    assert confusion.sum() == 4 and confusion[0, 0] == 1 and confusion[2, 0] == 1 and confusion[0, 1] == 1
    assert ice_iou(truth, predicted) == pytest.approx(1 / 3)  # non-ice: true {(0,2), (1,1)}, predicted {(0,2), (1,2)}


def test_class_scores_iou_and_dice_by_hand():
    truth = np.zeros((10, 10), dtype=np.uint8)
    truth[:, :4] = CARBON  # 40 carbon pixels
    predicted = np.zeros_like(truth)
    predicted[:, 2:6] = CARBON  # 40 predicted, 20 of them right
    scores = class_scores(truth, predicted)
    assert scores.loc["carbon", "iou"] == pytest.approx(20 / 60)
    assert scores.loc["carbon", "dice"] == pytest.approx(2 * 20 / 80)
    assert scores.loc["ice", "iou"] == pytest.approx(40 / 80)
    assert np.isnan(scores.loc["particle", "iou"])  # absent from both: nothing to score


def test_ice_iou_pools_the_non_ice_classes():
    truth = np.array([ICE, PARTICLE, CARBON, CARBON, IGNORE])
    predicted = np.array([PARTICLE, CARBON, CARBON, ICE, PARTICLE])
    # non-ice: truth {1, 2, 3}, predicted {0, 1, 2} (the ignored pixel is out) -> 2 / 4
    assert ice_iou(truth, predicted) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="shape"):
        ice_iou(truth, predicted[:3])


def test_boundaries_of_a_square_are_its_rim_not_the_image_edge():
    mask = np.zeros((8, 8), dtype=bool)
    mask[2:6, 2:6] = True
    assert boundaries(mask).sum() == 12  # 4x4 square: 16 pixels, 4 inside
    assert boundaries(np.ones((5, 5), dtype=bool)).sum() == 0


def test_boundary_f1_tolerates_shifts_within_the_tolerance_only():
    true_mask = np.zeros((40, 40), dtype=bool)
    true_mask[:, :20] = True
    shifted = np.zeros_like(true_mask)
    shifted[:, :22] = True  # edge 2 px to the right
    assert boundary_f1(true_mask, shifted, tolerance_px=2)["f1"] == pytest.approx(1.0)
    far = boundary_f1(true_mask, shifted, tolerance_px=1)
    assert far["precision"] == 0 and far["recall"] == 0 and far["f1"] == 0
    half = np.zeros_like(true_mask)
    half[:20, :20] = True  # half of the true edge found; a new horizontal edge of 20 px is wrong
    result = boundary_f1(true_mask, half, tolerance_px=0.5)
    assert result["recall"] == pytest.approx(20 / 40, abs=0.03)
    assert 0 < result["precision"] < 1
    assert np.isnan(boundary_f1(np.zeros((4, 4), bool), np.zeros((4, 4), bool))["f1"])
