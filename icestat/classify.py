"""IceClassifier: per-patch probabilities of ice, particle, carbon and contamination, by XGBoost.

A scikit-learn estimator over XGBoost's histogram trees (``multi:softprob``
with the four classes of :mod:`icestat.classes`, present in training or not).
Targets are class codes, or class *fractions* per patch (a patch that is 30 %
particle teaches 0.3 particle and 0.7 ice: each patch enters once per class it
holds, weighted by its fraction).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from icestat.backend import parse_device
from icestat.classes import CLASS_NAMES, ICE

log = logging.getLogger(__name__)

N_CLASSES = len(CLASS_NAMES)
IMPORTANCE_KINDS = ("gain", "total_gain", "weight", "cover", "total_cover")


class IceClassifier(ClassifierMixin, BaseEstimator):
    """Gradient-boosted trees that label patches as ice or one of the non-ice classes.

    Parameters
    ----------
    n_estimators : int
        Boosting rounds.
    max_depth : int
        Depth of each tree.
    learning_rate : float
        Shrinkage per round.
    subsample, colsample_bytree : float
        Row and feature fractions per tree.
    class_weight : {"balanced", None}
        "balanced" weighs each class by the inverse of its total (so rare carbon
        and contamination count as much as ice); None weighs patches equally.
    device : {"cpu", "cuda", "cuda:N"}
        Where XGBoost trains and predicts.
    n_jobs : int, optional
        CPU threads (all when None).
    random_state : int
        Seed of the row and column sampling.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> X = pd.DataFrame({"contrast": np.r_[np.zeros(50), np.ones(50)]})
    >>> model = IceClassifier(n_estimators=5).fit(X, np.r_[np.zeros(50, int), np.full(50, 2)])
    >>> model.predict(pd.DataFrame({"contrast": [0.0, 1.0]})).tolist()
    [0, 2]
    """

    def __init__(self, n_estimators: int = 300, max_depth: int = 6, learning_rate: float = 0.1,
                 subsample: float = 0.8, colsample_bytree: float = 0.8, class_weight: str | None = "balanced",
                 device: str = "cpu", n_jobs: int | None = None, random_state: int = 0):
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.class_weight = class_weight
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None) -> "IceClassifier":
        """Train on a feature table.

        Parameters
        ----------
        X : DataFrame or ndarray (n_patches, n_features)
            Features; a DataFrame's column names become the feature names.
        y : ndarray (n_patches,) of class codes, or (n_patches, 4) of class fractions
        sample_weight : ndarray (n_patches,), optional

        Returns
        -------
        self
        """
        if self.n_estimators < 1:
            raise ValueError(f"the classifier needs at least one boosting round, got n_estimators={self.n_estimators}")
        features, names = _as_matrix(X)
        fractions = _as_fractions(np.asarray(y), len(features))
        weight = np.ones(len(features)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        patch, code = np.nonzero(fractions > 0)
        row_weight = fractions[patch, code] * weight[patch]
        if self.class_weight == "balanced":
            totals = np.bincount(code, weights=row_weight, minlength=N_CLASSES)
            present = totals > 0
            class_factor = np.where(present, row_weight.sum() / (present.sum() * np.maximum(totals, 1e-12)), 0.0)
            row_weight = row_weight * class_factor[code]
        elif self.class_weight is not None:
            raise ValueError(f"class_weight must be 'balanced' or None, got {self.class_weight!r}")
        data = xgb.DMatrix(features[patch], label=code, weight=row_weight, feature_names=names)
        self.booster_ = xgb.train(self._xgb_params(), data, num_boost_round=self.n_estimators)
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = len(names)
        self.classes_ = np.arange(N_CLASSES)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Probability of each class code (columns 0-3: ice, particle, carbon, contamination) per patch."""
        return self.booster_.predict(self._matrix(X)).reshape(-1, N_CLASSES)

    def predict(self, X) -> np.ndarray:
        """The most probable class code per patch."""
        return self.predict_proba(X).argmax(axis=1)

    def explain(self, X, class_code: int = ICE) -> pd.DataFrame:
        """Contribution of each feature to each patch's score for one class (XGBoost ``pred_contribs``).

        Contributions are in log-odds (margin) units and, with the ``bias``
        column, add up to the class's margin for the patch.

        Returns
        -------
        DataFrame
            One row per patch, one column per feature, then ``bias``.
        """
        contributions = self.booster_.predict(self._matrix(X), pred_contribs=True)
        return pd.DataFrame(contributions[:, class_code, :], columns=[*self.feature_names_in_, "bias"])

    def importance(self, kind: str = "gain") -> pd.Series:
        """Importance of each feature (zero for unused ones), largest first.

        Parameters
        ----------
        kind : {"gain", "total_gain", "weight", "cover", "total_cover"}
            XGBoost's importance type.
        """
        check_is_fitted(self, "booster_")
        if kind not in IMPORTANCE_KINDS:
            raise ValueError(f"unknown importance kind {kind!r}; use one of {', '.join(IMPORTANCE_KINDS)}")
        scores = self.booster_.get_score(importance_type=kind)
        series = pd.Series([scores.get(name, 0.0) for name in self.feature_names_in_], index=self.feature_names_in_)
        return series.sort_values(ascending=False)

    @property
    def feature_importances_(self) -> np.ndarray:
        """Gain importances in feature order, summing to 1."""
        gain = self.importance("gain").reindex(self.feature_names_in_).to_numpy(dtype=np.float64)
        return gain / gain.sum() if gain.sum() > 0 else gain

    def to_json(self) -> bytes:
        """The trained booster as XGBoost JSON (no code, only trees)."""
        check_is_fitted(self, "booster_")
        return bytes(self.booster_.save_raw(raw_format="json"))

    @classmethod
    def from_json(cls, model_json: bytes, feature_names, **params) -> "IceClassifier":
        """Rebuild a trained classifier from :meth:`to_json` output and its feature names."""
        model = cls(**params)
        model.booster_ = xgb.Booster(model_file=bytearray(model_json))
        model.booster_.feature_names = list(feature_names)
        model.feature_names_in_ = np.asarray(feature_names, dtype=object)
        model.n_features_in_ = len(feature_names)
        model.classes_ = np.arange(N_CLASSES)
        model.booster_.set_param(model._xgb_params())
        return model

    def _xgb_params(self) -> dict:
        return {
            "objective": "multi:softprob",
            "num_class": N_CLASSES,
            "tree_method": "hist",
            "max_depth": self.max_depth,
            "eta": self.learning_rate,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "device": xgboost_device(self.device),
            "nthread": self.n_jobs or 0,
            "seed": self.random_state,
            "verbosity": 1,
        }

    def _matrix(self, X) -> xgb.DMatrix:
        check_is_fitted(self, "booster_")
        if isinstance(X, pd.DataFrame):
            missing = [name for name in self.feature_names_in_ if name not in X.columns]
            if missing:
                raise ValueError(f"features missing from the table: {', '.join(missing[:5])}")
            X = X[list(self.feature_names_in_)]
        features, _ = _as_matrix(X)
        if features.shape[1] != self.n_features_in_:
            raise ValueError(f"expected {self.n_features_in_} features, got {features.shape[1]}")
        return xgb.DMatrix(features, feature_names=list(self.feature_names_in_))


def xgboost_device(device: str) -> str:
    """XGBoost's name for `device`; the CPU, with a warning, where this XGBoost was built without CUDA.

    Examples
    --------
    >>> xgboost_device("cpu")
    'cpu'
    """
    parsed = parse_device(device)
    if not parsed.is_gpu:
        return "cpu"
    if not xgb.build_info().get("USE_CUDA", False):
        log.warning("this XGBoost was built without CUDA (xgboost-cpu?), so the patch classifier runs on the CPU")
        return "cpu"
    return f"cuda:{parsed.index}"


def _as_matrix(X) -> tuple[np.ndarray, list[str]]:
    if isinstance(X, pd.DataFrame):
        return X.to_numpy(dtype=np.float32), [str(c) for c in X.columns]
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise ValueError(f"features must be a 2D table, got shape {X.shape}")
    return X, [f"f{i}" for i in range(X.shape[1])]


def _as_fractions(y: np.ndarray, n_rows: int) -> np.ndarray:
    if len(y) != n_rows:
        raise ValueError(f"{n_rows} patches but {len(y)} targets")
    if y.ndim == 1:
        if not np.isin(y, np.arange(N_CLASSES)).all():
            raise ValueError(f"class codes must be in 0..{N_CLASSES - 1}")
        return np.eye(N_CLASSES)[y.astype(np.int64)]
    if y.ndim == 2 and y.shape[1] == N_CLASSES:
        return np.asarray(y, dtype=np.float64)
    raise ValueError(f"targets must be class codes (n,) or class fractions (n, {N_CLASSES}), got shape {y.shape}")
