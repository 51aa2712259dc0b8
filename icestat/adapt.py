"""Adaptation to each micrograph: features relative to its own ice, and an unsupervised ice model.

A model trained on one specimen must not depend on absolute grey levels,
contrast or noise. Two things make it so:

* every feature is expressed in robust units of the micrograph's majority of
  patches (minus the median, divided by 1.4826 x the median absolute
  deviation over the patches): most of a usable micrograph is ice, so this is
  "relative to this micrograph's ice";
* an unsupervised ice model per micrograph: a Gaussian fitted to the core of
  the patches (the majority texture, found by repeated trimming, as in the
  concentration steps of the minimum covariance determinant) and the
  Mahalanobis distance of every patch from it, overall and per feature group.
  What departs from the majority is not ice. These distances become extra
  features for the classifier, which learns how to weigh them.
"""

from __future__ import annotations

import numpy as np

from icestat.backend import to_host
from icestat.features.compute import PatchFeatures
from icestat.features.maps import neighbour_means
from icestat.features.registry import GROUP_OF
from icestat.scale_space import MAD_TO_SD

#: Robust z-scores are clipped to this magnitude before the ice model sees them.
Z_CLIP = 8.0
#: Fraction of patches taken as the core (majority) of the ice model.
CORE_FRACTION = 0.6
#: Principal components of the normalised features the ice model works in.
N_COMPONENTS = 6
ICE_MODEL_GROUPS = ("all", "intensity", "gradient", "texture", "spectrum")
#: Names of the features :func:`adapt_features` adds.
ICE_MODEL_FEATURES = tuple(f"ice_model_distance_{group}" for group in ICE_MODEL_GROUPS) + ("context_ice_model_distance_all",)


def normalise_to_majority(values: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Robust z-scores of each feature over the patches of one micrograph.

    Parameters
    ----------
    values : ndarray (rows, cols, n_features)
    reference : ndarray (rows, cols) of bool, optional
        The patches whose median and spread are taken (all when None): the
        part of the micrograph known to be ice where that is not its majority.

    Returns
    -------
    ndarray of float32, the same shape
        ``(value - median) / spread``, the spread being 1.4826 x the median
        absolute deviation (or the standard deviation where that is 0); a
        feature without spread, and a missing value, become 0.

    Examples
    --------
    >>> import numpy as np
    >>> z = normalise_to_majority(np.arange(12, dtype=float).reshape(3, 4, 1))
    >>> round(float(z[1, 1, 0]), 3), round(float(z[1, 2, 0]), 3)
    (-0.112, 0.112)
    """
    flat = np.asarray(values, dtype=np.float64).reshape(-1, values.shape[-1])
    flat = np.where(np.isfinite(flat), flat, np.nan)
    sample = flat if reference is None else flat[np.asarray(reference, dtype=bool).ravel()]
    # All-NaN features are left out rather than warned of and the warning ignored: a filter set here would silence
    # the warnings of the micrograph icestat pick reads meanwhile in another thread (Python's filters are global).
    median = _column_medians(sample)
    spread = MAD_TO_SD * _column_medians(np.abs(sample - median))
    sd = np.full(sample.shape[1], np.nan)
    numbered = ~np.isnan(sample).all(axis=0)
    if numbered.any():
        sd[numbered] = np.nanstd(sample[:, numbered], axis=0)
    spread = np.where(spread > 0, spread, sd)
    usable = np.isfinite(median) & (spread > 0)
    z = np.where(usable, (flat - median) / np.where(usable, spread, 1.0), 0.0)
    return np.nan_to_num(z, nan=0.0).reshape(values.shape).astype(np.float32)


def _column_medians(table: np.ndarray) -> np.ndarray:
    """The median of each column of `table` ``(n, m)``, ignoring NaN (NaN, without a warning, for a column of NaN
    alone or of no rows).

    As ``np.nanmedian(table, axis=0)``, which takes column by column in Python what ``np.median`` takes at once:
    4x slower for a few thousand patches, so it is left the columns that hold NaN and a number.
    """
    missing = np.isnan(table)
    numbered = ~missing.all(axis=0)
    medians = np.full(table.shape[1], np.nan)
    for columns, median in ((numbered & ~missing.any(axis=0), np.median), (numbered & missing.any(axis=0), np.nanmedian)):
        if columns.any():
            medians[columns] = median(table[:, columns], axis=0)
    return medians


def majority_distance(points: np.ndarray, core_fraction: float = CORE_FRACTION, n_steps: int = 4,
                      reference: np.ndarray | None = None) -> np.ndarray:
    """Mahalanobis distance of each point from a Gaussian fitted to the densest `core_fraction` of the points.

    Parameters
    ----------
    points : ndarray (n, d)
        Clipped robust z-scores.
    reference : ndarray (n,) of bool, optional
        Fit to the densest `core_fraction` of these points alone (all when None).

    Returns
    -------
    ndarray (n,) of float32
        Distances divided by sqrt(d), so that the core sits near 1 whatever d is.
    """
    points = np.asarray(points, dtype=np.float64)
    n, d = points.shape
    fitted = np.ones(n, dtype=bool) if reference is None else np.asarray(reference, dtype=bool).ravel()
    if d > N_COMPONENTS:  # work in the leading principal components of the points fitted (fewer when they are few)
        centred = points - points[fitted].mean(axis=0)
        _, _, components = np.linalg.svd(centred[fitted][:: max(1, n // 4000)], full_matrices=False)
        points = centred @ components[:N_COMPONENTS].T
        d = points.shape[1]
    core = fitted
    distance = np.zeros(n)
    for _ in range(n_steps):
        centre = points[core].mean(axis=0)
        covariance = np.cov(points[core], rowvar=False).reshape(d, d) + 1e-3 * np.eye(d)
        offsets = points - centre
        distance = np.sqrt(np.einsum("ij,jk,ik->i", offsets, np.linalg.inv(covariance), offsets))
        core = fitted & (distance <= np.quantile(distance[fitted], core_fraction))
    return (distance / np.sqrt(d)).astype(np.float32)


def adapt_features(features: PatchFeatures, reference: np.ndarray | None = None) -> PatchFeatures:
    """Features relative to the micrograph's own ice, plus the distances of its unsupervised ice model.

    Parameters
    ----------
    features : PatchFeatures
        From :func:`icestat.features.compute_features` (any device; the
        result is on the host).
    reference : ndarray (rows, cols) of bool, optional
        The patches taken for the micrograph's ice (its majority when None):
        the z-scores are relative to them and the ice model is fitted to them.

    Returns
    -------
    PatchFeatures
        Robust z-scores of every feature, then :data:`ICE_MODEL_FEATURES`.
    """
    z = normalise_to_majority(to_host(features.values), reference)
    rows, cols, _ = z.shape
    clipped = np.clip(z, -Z_CLIP, Z_CLIP).reshape(rows * cols, -1)
    distances = []
    for group in ICE_MODEL_GROUPS:
        # "all": the patch's own features and its neighbours', not the region means
        columns = [i for i, name in enumerate(features.names)
                   if GROUP_OF.get(name) == group or (group == "all" and GROUP_OF.get(name) != "region")]
        if columns:
            distance = majority_distance(clipped[:, columns], reference=reference)
        else:
            distance = np.full(rows * cols, np.nan, dtype=np.float32)
        distances.append(distance.reshape(rows, cols))
    distances.append(neighbour_means(distances[0][..., None])[..., 0].astype(np.float32))
    values = np.concatenate([z, np.stack(distances, axis=-1)], axis=-1)
    return PatchFeatures(values, features.names + ICE_MODEL_FEATURES, features.grid, "cpu", features.pixel_size_A)
