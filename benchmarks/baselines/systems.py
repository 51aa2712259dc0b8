"""The three systems the comparison runs, behind one interface: ``fit(train, validation)`` and ``run(case)``.

- :class:`Icestat`: features, XGBoost and the CNN boundary refiner
  (:func:`icestat.training.train_model`, the default model's recipe), then
  :func:`icestat.segment.segment` and :func:`icestat.pick.pick`.
- :class:`DeepOnly`: the U-Net of :mod:`baselines.unet` on the working image
  alone, then the same :func:`icestat.pick.pick`.
- :class:`LoGPicker`: :func:`baselines.log_picker.log_pick`; no learning, no segmentation.

``run`` is given only the micrograph and the particle diameter (the labels of
a case are never looked at) and returns the class codes per working pixel (or
None) and the pick table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from icestat.classify import IceClassifier
from icestat.pick import pick
from icestat.refine import BoundaryRefiner
from icestat.segment import Segmentation, segment, with_particle_diameter
from icestat.settings import SegmentationSettings
from icestat.training import train_model

from baselines.cases import Case
from baselines.log_picker import log_pick
from baselines.unet import UNetSegmenter

#: Out-of-fold folds for the refiner's training (at most; none with a single training micrograph).
REFINER_FOLDS = 3


class Icestat:
    """icestat's recipe, trained afresh on the given cases."""

    name = "icestat"

    def __init__(self, settings: SegmentationSettings, classifier: dict, refiner: dict, device: str = "cpu",
                 seed: int = 0):
        self.settings, self.device, self.seed = settings, device, seed
        self.classifier_params, self.refiner_params = classifier, refiner
        self.model = None

    def fit(self, train: list[Case], validation: list[Case]) -> None:
        """Train on `train` (the recipe has no early stopping: `validation` is not used)."""
        n_folds = min(REFINER_FOLDS, len(train)) if len(train) >= 2 else 0
        self.model = train_model(
            [case.example for case in train], self.settings,
            IceClassifier(**self.classifier_params, device=self.device, random_state=self.seed),
            BoundaryRefiner(**self.refiner_params, device=self.device, random_state=self.seed), n_folds=n_folds)

    def describe(self) -> str:
        """Its size, for the report."""
        trees = self.classifier_params.get("n_estimators")
        cnn = f" + CNN of {self.model.refiner.n_parameters / 1e6:.2f} M parameters" if self.model.refiner else ""
        return f"XGBoost, {trees} trees per class, depth {self.classifier_params.get('max_depth')}{cnn}"

    def run(self, case: Case) -> tuple[np.ndarray, pd.DataFrame]:
        segmentation = segment(case.micrograph, self.model, device=self.device)
        picks = pick(with_particle_diameter(segmentation, case.diameter_px), diameter_px=case.diameter_px)
        return segmentation.working_labels, picks.table


class DeepOnly:
    """The U-Net baseline, trained afresh on the given cases with early stopping on the validation ones."""

    name = "U-Net"

    def __init__(self, settings: SegmentationSettings, unet: dict, device: str = "cpu", seed: int = 0):
        self.settings, self.unet_params, self.device, self.seed = settings, unet, device, seed
        self.segmenter = None

    def fit(self, train: list[Case], validation: list[Case]) -> None:
        self.segmenter = UNetSegmenter(**self.unet_params, device=self.device, random_state=self.seed).fit(
            [case.example.working.data for case in train], [case.example.classes for case in train],
            [case.example.working.data for case in validation], [case.example.classes for case in validation])

    def describe(self) -> str:
        history = self.segmenter.history_
        return (f"U-Net of {self.segmenter.n_parameters / 1e6:.2f} M parameters, stopped after {history['steps']} "
                f"steps, weights of step {history['best_step']} kept")

    def run(self, case: Case) -> tuple[np.ndarray, pd.DataFrame]:
        working = self.settings.prepare(case.micrograph)
        segmentation = Segmentation(case.name, working, self.segmenter.predict_proba(working.data))
        return segmentation.working_labels, pick(segmentation, diameter_px=case.diameter_px).table


class LoGPicker:
    """The classical Laplacian-of-Gaussian picker: nothing to train."""

    name = "LoG"

    def __init__(self, settings: SegmentationSettings):
        self.settings = settings

    def fit(self, train: list[Case], validation: list[Case]) -> None:
        """Nothing to learn."""

    def describe(self) -> str:
        return "no parameters learned"

    def run(self, case: Case) -> tuple[None, pd.DataFrame]:
        return None, log_pick(self.settings.prepare(case.micrograph), case.diameter_px, case.name)
