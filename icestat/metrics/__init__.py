"""Accuracy of segmentations (per-class IoU and Dice, boundary F1) and of picks (precision, recall, F1, AP)."""

from icestat.metrics.picking import (
    average_precision,
    mark_picks,
    mark_picks_on_mask,
    mask_particle_diameter_px,
    match_picks,
    pick_scores,
    score_picks,
    score_picks_on_mask,
)
from icestat.metrics.segmentation import (
    boundaries,
    boundary_f1,
    class_scores,
    confusion_matrix,
    ice_iou,
    scored_pixels,
    scores_from_confusion,
)

__all__ = [
    "average_precision", "boundaries", "boundary_f1", "class_scores", "confusion_matrix", "ice_iou",
    "mark_picks", "mark_picks_on_mask", "mask_particle_diameter_px", "match_picks", "pick_scores", "score_picks",
    "score_picks_on_mask", "scored_pixels", "scores_from_confusion",
]
