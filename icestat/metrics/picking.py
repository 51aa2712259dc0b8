"""Accuracy of picks: one-to-one matching to true centres, or landing on particle masks.

Both ways mark each pick right or wrong and count the true particles; from
these come precision, recall and F1 of all the picks, and the average precision
(AP) over the score threshold: picks sorted by falling score, the sum over
picks of (recall gained) x (precision so far). Recall always counts every true
particle, so particles no pick found lower the AP.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from skimage.measure import regionprops

#: A blob of a particle mask is one particle when it is this round (eccentricity at most, solidity at least): two
#: touching disks of 8-54 px radius have an eccentricity of 0.88-0.90 and a solidity of 0.81-0.87, one disk 0 and
#: 0.93-0.99 (its pixels against their convex hull).
SINGLE_BLOB_MAX_ECCENTRICITY = 0.5
SINGLE_BLOB_MIN_SOLIDITY = 0.9


def match_picks(picks_xy: np.ndarray, truth_xy: np.ndarray, radius_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Match picks to true centres one to one, within a radius (Hungarian algorithm).

    The matching has as many pairs as possible, and among those the smallest
    total distance.

    Parameters
    ----------
    picks_xy, truth_xy : array_like (n, 2) and (m, 2)
        Centres ``(x, y)`` in pixels.
    radius_px : float
        Largest distance of a matched pair (positive).

    Returns
    -------
    pick_index, truth_index : ndarray of int
        The matched pairs.

    Raises
    ------
    ValueError
        If `radius_px` is not positive.

    Examples
    --------
    >>> match_picks([[0, 0], [10, 0]], [[9, 0], [1, 0], [50, 50]], radius_px=3)
    (array([0, 1]), array([1, 0]))
    """
    if not radius_px > 0:
        raise ValueError(f"the matching radius must be positive, got {radius_px} px")
    picks_xy = np.asarray(picks_xy, dtype=np.float64).reshape(-1, 2)
    truth_xy = np.asarray(truth_xy, dtype=np.float64).reshape(-1, 2)
    if len(picks_xy) == 0 or len(truth_xy) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    distance = cdist(picks_xy, truth_xy)
    within = distance <= radius_px
    # Pairs out of range cost more than every in-range pair together: more pairs always win.
    out_of_range_cost = radius_px * (min(distance.shape) + 1) + 1.0
    pick_index, truth_index = linear_sum_assignment(np.where(within, distance, out_of_range_cost))
    matched = within[pick_index, truth_index]
    return pick_index[matched], truth_index[matched]


def average_precision(correct_by_score: np.ndarray, n_true: int) -> float:
    """AP of picks already sorted by falling score.

    Parameters
    ----------
    correct_by_score : array_like of bool
        Whether each pick is right, highest score first.
    n_true : int
        Number of true particles.

    Returns
    -------
    float
        Sum over the right picks of precision so far / `n_true`; NaN when `n_true` is 0.

    Examples
    --------
    >>> round(average_precision([True, False, True], n_true=4), 4)  # (1 + 2/3) / 4
    0.4167
    """
    correct = np.asarray(correct_by_score, dtype=bool)
    if n_true == 0:
        return float("nan")
    precision_so_far = np.cumsum(correct) / np.arange(1, len(correct) + 1)
    return float(precision_so_far[correct].sum() / n_true)


def mark_picks(picks: pd.DataFrame, truth: pd.DataFrame, radius_px: float) -> tuple[pd.DataFrame, int]:
    """Mark each pick right or wrong against true centres (one micrograph).

    Parameters
    ----------
    picks : DataFrame
        Pick table (``x_px, y_px, score``); NaN scores rank last.
    truth : DataFrame
        True centres (``x_px, y_px``).
    radius_px : float
        A pick within this distance of the true centre it is matched to
        (:func:`match_picks`) is right; usually half the particle diameter.

    Returns
    -------
    marked : DataFrame
        The picks, highest score first, with a boolean column ``correct``.
    n_true : int
        Number of true particles.
    """
    marked = _by_falling_score(picks)
    pick_index, _ = match_picks(marked[["x_px", "y_px"]].to_numpy(), truth[["x_px", "y_px"]].to_numpy(), radius_px)
    correct = np.zeros(len(marked), dtype=bool)
    correct[pick_index] = True
    return marked.assign(correct=correct), len(truth)


def mark_picks_on_mask(picks: pd.DataFrame, particle_mask: np.ndarray,
                       particle_diameter_px: float) -> tuple[pd.DataFrame, int]:
    """Mark each pick right or wrong against a particle mask (one micrograph).

    A pick is right when it lands on a particle pixel of a blob that still has
    room: a blob of area A holds ``max(1, round(A / a))`` particles, where ``a``
    is the area of one particle (a disk of `particle_diameter_px`), because
    masks merge touching particles. Picks take room in order of falling score.

    Parameters
    ----------
    picks : DataFrame
        Pick table (``x_px, y_px, score``), in the mask's pixels.
    particle_mask : ndarray of bool (h, w)
        True on particle pixels.
    particle_diameter_px : float
        Diameter of one particle in the mask's pixels.

    Returns
    -------
    marked : DataFrame
        The picks, highest score first, with a boolean column ``correct``.
    n_true : int
        Number of true particles the mask holds.
    """
    blobs, n_blobs = ndimage.label(np.asarray(particle_mask, dtype=bool))
    area = np.bincount(blobs.ravel(), minlength=n_blobs + 1)[1:]
    room = np.maximum(1, np.rint(area / (np.pi * (particle_diameter_px / 2) ** 2))).astype(np.int64)
    marked = _by_falling_score(picks)
    rows = np.rint(marked["y_px"].to_numpy()).astype(np.int64)
    cols = np.rint(marked["x_px"].to_numpy()).astype(np.int64)
    inside = (rows >= 0) & (rows < blobs.shape[0]) & (cols >= 0) & (cols < blobs.shape[1])
    blob_of_pick = np.zeros(len(marked), dtype=np.int64)
    blob_of_pick[inside] = blobs[rows[inside], cols[inside]]
    correct = np.zeros(len(marked), dtype=bool)
    room_left = room.copy()
    for i, blob in enumerate(blob_of_pick):
        if blob and room_left[blob - 1] > 0:
            room_left[blob - 1] -= 1
            correct[i] = True
    return marked.assign(correct=correct), int(room.sum())


def mask_particle_diameter_px(particle_masks) -> float:
    """The diameter of one particle in masks that mark each particle with a disk: that of the blobs of one disk.

    Labelled sets such as CryoPPP's mark every particle with a disk of one size;
    where particles touch, the disks merge, so the median size of all blobs
    overstates a particle wherever many touch (EMPIAR-10059 in ../shared/data:
    45-50 px on six of its ten micrographs, whose single disks are 36 px). The
    blobs of one disk are round and convex (``SINGLE_BLOB_MAX_ECCENTRICITY``,
    ``SINGLE_BLOB_MIN_SOLIDITY``) and clear of the image's edge; this is
    the median of their equivalent diameters over all the masks.

    Parameters
    ----------
    particle_masks : iterable of ndarray of bool (h, w)

    Returns
    -------
    float
        In the masks' pixels; NaN where no blob is a single disk.

    Examples
    --------
    >>> yy, xx = np.mgrid[:80, :80]
    >>> disk = lambda row, col: np.hypot(yy - row, xx - col) <= 8
    >>> mask = disk(20, 20) | disk(60, 60) | disk(20, 55) | disk(20, 68)   # two apart, two touching
    >>> round(mask_particle_diameter_px([mask]), 1)   # a digital disk of radius 8 covers 197 pixels
    15.8
    """
    diameters = []
    for mask in particle_masks:
        blobs, _ = ndimage.label(np.asarray(mask, dtype=bool))
        for blob in regionprops(blobs):
            top, left, bottom, right = blob.bbox
            inside = top > 0 and left > 0 and bottom < blobs.shape[0] and right < blobs.shape[1]
            if (inside and blob.eccentricity <= SINGLE_BLOB_MAX_ECCENTRICITY
                    and blob.solidity >= SINGLE_BLOB_MIN_SOLIDITY):
                diameters.append(blob.equivalent_diameter_area)
    return float(np.median(diameters)) if diameters else float("nan")


def pick_scores(marked: pd.DataFrame, n_true: int) -> dict:
    """Precision, recall, F1 and AP of marked picks (one micrograph, or several pooled).

    Parameters
    ----------
    marked : DataFrame
        Picks with ``score`` and ``correct`` columns (:func:`mark_picks`,
        :func:`mark_picks_on_mask`; concatenate several micrographs' to pool them).
    n_true : int
        Number of true particles (summed when pooling).

    Returns
    -------
    dict
        ``n_picks, n_true, n_correct, precision, recall, f1, average_precision``.
    """
    correct = _by_falling_score(marked)["correct"].to_numpy(dtype=bool)
    n_picks, n_correct = len(correct), int(correct.sum())
    precision = n_correct / n_picks if n_picks else float("nan")
    recall = n_correct / n_true if n_true else float("nan")
    f1 = 2 * n_correct / (n_picks + n_true) if n_picks + n_true else float("nan")
    return {"n_picks": n_picks, "n_true": int(n_true), "n_correct": n_correct, "precision": precision,
            "recall": recall, "f1": f1, "average_precision": average_precision(correct, n_true)}


def score_picks(picks: pd.DataFrame, truth: pd.DataFrame, radius_px: float) -> dict:
    """:func:`pick_scores` of picks against true centres within `radius_px` (:func:`mark_picks`)."""
    return pick_scores(*mark_picks(picks, truth, radius_px))


def score_picks_on_mask(picks: pd.DataFrame, particle_mask: np.ndarray, particle_diameter_px: float) -> dict:
    """:func:`pick_scores` of picks against a particle mask (:func:`mark_picks_on_mask`)."""
    return pick_scores(*mark_picks_on_mask(picks, particle_mask, particle_diameter_px))


def _by_falling_score(picks: pd.DataFrame) -> pd.DataFrame:
    return picks.sort_values("score", ascending=False, na_position="last", kind="stable").reset_index(drop=True)
