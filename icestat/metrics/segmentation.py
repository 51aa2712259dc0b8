"""Accuracy of segmentations: per-class IoU and Dice, ice vs non-ice IoU, boundary F1.

Label images hold the class codes of :mod:`icestat.classes`; pixels whose true
code is ``IGNORE`` (255), and those a segmentation marks ``NO_DATA`` (its frame
border, where the micrograph holds no data), count for nothing. Scores of a class absent from both
images are NaN (nothing to get right or wrong), so averages should skip NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage

from icestat.classes import CLASS_NAMES, ICE, IGNORE, NO_DATA


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, n_classes: int = len(CLASS_NAMES)) -> np.ndarray:
    """Pixel counts ``[true class, predicted class]`` over the pixels not ignored.

    Examples
    --------
    >>> import numpy as np
    >>> confusion_matrix(np.array([0, 0, 1, 255, 1]), np.array([0, 1, 1, 0, -1]), n_classes=2)
    array([[1, 1],
           [0, 1]])
    """
    truth, predicted = _check_pair(truth, predicted)
    keep = scored_pixels(truth, predicted)
    pairs = truth[keep].astype(np.int64) * n_classes + predicted[keep].astype(np.int64)
    return np.bincount(pairs, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def class_scores(truth: np.ndarray, predicted: np.ndarray) -> pd.DataFrame:
    """IoU and Dice of every class, with the true and predicted pixel counts.

    Returns
    -------
    DataFrame
        Indexed by class name: ``iou``, ``dice``, ``true_px``, ``predicted_px``.
    """
    return scores_from_confusion(confusion_matrix(truth, predicted))


def scores_from_confusion(confusion: np.ndarray) -> pd.DataFrame:
    """Per-class IoU and Dice from a confusion matrix (sum several to pool micrographs)."""
    hits = np.diag(confusion).astype(np.float64)
    true_px = confusion.sum(axis=1).astype(np.float64)
    predicted_px = confusion.sum(axis=0).astype(np.float64)
    union = true_px + predicted_px - hits
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, hits / union, np.nan)
        dice = np.where(union > 0, 2 * hits / (true_px + predicted_px), np.nan)
    names = [CLASS_NAMES.get(code, str(code)) for code in range(len(confusion))]
    return pd.DataFrame({"iou": iou, "dice": dice, "true_px": true_px, "predicted_px": predicted_px}, index=names)


def ice_iou(truth: np.ndarray, predicted: np.ndarray) -> float:
    """IoU of the non-ice pixels (particle, carbon and contamination together) over the :func:`scored_pixels`.

    Examples
    --------
    >>> import numpy as np
    >>> float(ice_iou(np.array([0, 1, 2, 0]), np.array([0, 2, 0, 0])))
    0.5
    """
    truth, predicted = _check_pair(truth, predicted)
    keep = scored_pixels(truth, predicted)
    true_non_ice, predicted_non_ice = (truth != ICE) & keep, (predicted != ICE) & keep
    union = np.count_nonzero(true_non_ice | predicted_non_ice)
    return np.count_nonzero(true_non_ice & predicted_non_ice) / union if union else float("nan")


def scored_pixels(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """True where a pixel counts: labelled in the truth (not ``IGNORE``), with data in the prediction (not ``NO_DATA``)."""
    return (np.asarray(truth) != IGNORE) & (np.asarray(predicted).astype(np.int64) != NO_DATA)


def boundaries(mask: np.ndarray) -> np.ndarray:
    """Pixels of a boolean mask that touch (4-connected) a pixel outside it; the image edge is not a boundary."""
    mask = np.asarray(mask, dtype=bool)
    inner = ndimage.binary_erosion(mask, structure=ndimage.generate_binary_structure(2, 1), border_value=1)
    return mask & ~inner


def boundary_f1(true_mask: np.ndarray, predicted_mask: np.ndarray, tolerance_px: float = 2.0) -> dict:
    """Boundary precision, recall and F1 of a predicted region against the true one.

    A predicted boundary pixel is right when a true boundary pixel lies within
    `tolerance_px` (Euclidean distance), and a true boundary pixel is found when a
    predicted one does (the BF score of Csurka et al., 2013).

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1`` (NaN where undefined) and the boundary pixel counts.
    """
    true_edge, predicted_edge = boundaries(true_mask), boundaries(predicted_mask)
    n_true, n_predicted = int(true_edge.sum()), int(predicted_edge.sum())
    if n_true == 0 and n_predicted == 0:
        return {"precision": np.nan, "recall": np.nan, "f1": np.nan, "true_px": 0, "predicted_px": 0}
    near_true = _distance_to(true_edge)[predicted_edge] <= tolerance_px
    near_predicted = _distance_to(predicted_edge)[true_edge] <= tolerance_px
    precision = near_true.mean() if n_predicted else np.nan
    recall = near_predicted.mean() if n_true else np.nan
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1),
            "true_px": n_true, "predicted_px": n_predicted}


def _distance_to(edge: np.ndarray) -> np.ndarray:
    if not edge.any():
        return np.full(edge.shape, np.inf)
    return ndimage.distance_transform_edt(~edge)


def _check_pair(truth, predicted) -> tuple[np.ndarray, np.ndarray]:
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    if truth.shape != predicted.shape:
        raise ValueError(f"label images differ in shape: {truth.shape} and {predicted.shape}")
    return truth, predicted
