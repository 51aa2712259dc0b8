"""segment(): a micrograph's per-pixel map of ice, particles, carbon and contamination."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from icestat.classes import CLASS_NAMES, ICE
from icestat.examples import features_of
from icestat.classify import IceClassifier
from icestat.features import PatchFeatures, PatchGrid
from icestat.micrograph import Micrograph
from icestat.model import IceModel, load_model
from icestat.prepare import WorkingImage
from icestat.refine import BoundaryRefiner

N_CLASSES = len(CLASS_NAMES)


@dataclass(frozen=True, eq=False)
class Segmentation:
    """The segmentation of one micrograph.

    Attributes
    ----------
    name : str
        The micrograph's name.
    ice_probability : ndarray of float32
        Probability of ice per pixel, the micrograph's shape.
    labels : ndarray of int8
        Class code per pixel (:mod:`icestat.classes`), the micrograph's shape.
    working : WorkingImage
        The working image the model saw (binned, normalised).
    working_probabilities : ndarray (4, h, w) of float32
        Class probabilities per working pixel (refined, when the model has a refiner).
    patch_probabilities : ndarray (rows, cols, 4) of float32
        The classifier's class probabilities per patch.
    features : PatchFeatures
        The features the classifier saw.
    """

    name: str
    ice_probability: np.ndarray
    labels: np.ndarray
    working: WorkingImage
    working_probabilities: np.ndarray
    patch_probabilities: np.ndarray
    features: PatchFeatures

    def class_fractions(self) -> dict[str, float]:
        """Fraction of the micrograph's pixels in each class, by class name."""
        counts = np.bincount(self.labels.ravel().astype(np.int64), minlength=N_CLASSES)
        return {name: float(counts[code] / self.labels.size) for code, name in CLASS_NAMES.items()}


def segment(micrograph: Micrograph, model: IceModel | None = None, device: str = "cpu",
            refine: bool = True) -> Segmentation:
    """Segment a micrograph into ice, particle, carbon and contamination.

    Parameters
    ----------
    micrograph : Micrograph
        From :func:`icestat.micrograph.read_micrograph`.
    model : IceModel, optional
        From :func:`icestat.model.load_model`; the default model when None.
    device : {"cpu", "cuda", "cuda:N"}
        Where the features are computed (the model runs where it was loaded for).
    refine : bool
        Use the model's boundary refiner (when it has one); False keeps the
        patch-level probabilities, bilinearly interpolated.

    Returns
    -------
    Segmentation
    """
    model = load_model(device=device) if model is None else model
    working = model.settings.prepare(micrograph)
    features = features_of(working, model.settings, device)
    per_patch = patch_probabilities(model.classifier, features)
    probabilities = pixel_probabilities(working, per_patch, features.grid, model.refiner if refine else None)
    working_labels = probabilities.argmax(axis=0).astype(np.int8)
    zoom = (micrograph.shape[0] / working.data.shape[0], micrograph.shape[1] / working.data.shape[1])
    ice_probability = _resize(probabilities[ICE], micrograph.shape, zoom, order=1)
    labels = _resize(working_labels, micrograph.shape, zoom, order=0)
    return Segmentation(micrograph.name, ice_probability.astype(np.float32), labels.astype(np.int8), working,
                        probabilities, per_patch, features)


def patch_probabilities(classifier: IceClassifier, features: PatchFeatures) -> np.ndarray:
    """The classifier's class probabilities per patch ``(rows, cols, 4)``."""
    table = features.values.reshape(-1, len(features.names))
    index = [features.names.index(name) for name in classifier.feature_names_in_]
    probabilities = classifier.predict_proba(table[:, index])
    return probabilities.reshape(features.grid.shape + (N_CLASSES,)).astype(np.float32)


def pixel_probabilities(working: WorkingImage, per_patch: np.ndarray, grid: PatchGrid,
                        refiner: BoundaryRefiner | None = None) -> np.ndarray:
    """Class probabilities per working pixel ``(4, h, w)``: interpolated from the patches, then refined (with a refiner)."""
    coarse = np.stack([grid.to_pixels(per_patch[..., code]) for code in range(N_CLASSES)])
    coarse /= coarse.sum(axis=0, keepdims=True)
    if refiner is not None:
        return refiner.predict_proba(working.data, coarse)
    return coarse


def _resize(values: np.ndarray, shape: tuple[int, int], zoom: tuple[float, float], order: int) -> np.ndarray:
    """Resample a working-scale map to `shape` (pixel centres aligned, as in :meth:`WorkingImage.to_original_px`)."""
    rows = (np.arange(shape[0]) + 0.5) / zoom[0] - 0.5
    cols = (np.arange(shape[1]) + 0.5) / zoom[1] - 0.5
    if order == 0:
        rows_i = np.clip(np.rint(rows).astype(np.int64), 0, values.shape[0] - 1)
        cols_i = np.clip(np.rint(cols).astype(np.int64), 0, values.shape[1] - 1)
        return values[np.ix_(rows_i, cols_i)]
    grid_rows, grid_cols = np.meshgrid(rows.astype(np.float32), cols.astype(np.float32), indexing="ij", sparse=False)
    return ndimage.map_coordinates(values, [grid_rows, grid_cols], order=1, mode="nearest")
