"""Train an :class:`~icestat.model.IceModel` from examples, and measure a model on labelled examples.

Training fits the patch classifier on every labelled patch; the boundary
refiner learns from *out-of-fold* patch probabilities (each micrograph's from a
classifier that did not see it, folds over micrographs), so it learns how far
patch-level probabilities can be trusted on new data.

Micrographs labelled by their particles alone (``Example.complete`` False)
say nothing of carbon or contamination in their background. Before training,
a classifier fitted to the completely labelled micrographs (region masks,
simulations) looks at that background: where it sees carbon or contamination,
the background is set aside (``IGNORE``) instead of being taught as ice.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GroupKFold

from icestat import __version__
from icestat.classes import CARBON, CONTAMINATION, ICE, IGNORE, PARTICLE
from icestat.classify import IceClassifier
from icestat.examples import Example, patch_table
from icestat.metrics import boundary_f1, confusion_matrix, scored_pixels, scores_from_confusion
from icestat.model import IceModel
from icestat.refine import BoundaryRefiner
from icestat.segment import model_probabilities, patch_probabilities, pixel_probabilities
from icestat.settings import SegmentationSettings

log = logging.getLogger(__name__)

#: Boundaries are scored within this many working pixels.
BOUNDARY_TOLERANCE_PX = 2.0
#: Background of a particle-labelled micrograph is set aside where the complete-label classifier gives
#: carbon plus contamination at least this probability.
SET_ASIDE_PROBABILITY = 0.2
#: The shipped model's patch classifier (:class:`~icestat.classify.IceClassifier` parameters), ``icestat train``'s too.
SHIPPED_CLASSIFIER = dict(n_estimators=200, max_depth=6, learning_rate=0.1)
#: The shipped model's boundary refiner (:class:`~icestat.refine.BoundaryRefiner` parameters), ``icestat train``'s
#: too. 300 steps left the refiner's picking recall on fresh simulations anywhere from 0.55 to 0.79 between
#: trainings; 1200 gave 0.76-0.81. Three networks, averaged, steady the particle evidence on a specimen never seen
#: (with each specimen held out, F1 with each micrograph's own estimated diameter 0.703 / 0.811 / 0.762 with one
#: network, 0.770 / 0.818 / 0.765 with three: EMPIAR-10017 / 10028 / 10059, 2026-12-06).
SHIPPED_REFINER = dict(n_steps=1200, n_networks=3)
#: How many varied simulated micrographs (:func:`icestat.simulate.varied_set`) the shipped model trains on beside
#: the real ones, ``icestat train``'s too.
SHIPPED_SIMULATED = 12


def train_model(examples: list[Example], settings: SegmentationSettings, classifier: IceClassifier | None = None,
                refiner: BoundaryRefiner | None = None, n_folds: int = 3, metadata: dict | None = None) -> IceModel:
    """Train the patch classifier and the boundary refiner.

    Parameters
    ----------
    examples : list of Example
        Built with the same `settings` (:mod:`icestat.examples`).
    settings : SegmentationSettings
    classifier : IceClassifier, optional
        Unfitted estimator with the wanted parameters (defaults otherwise).
    refiner : BoundaryRefiner, optional
        Unfitted refiner with the wanted parameters (defaults otherwise).
    n_folds : int
        Folds over micrographs for the refiner's out-of-fold probabilities; 0
        trains no refiner.
    metadata : dict, optional
        Stored in the model (training data, notes).

    Returns
    -------
    IceModel
    """
    classifier = IceClassifier() if classifier is None else classifier
    examples = set_aside_unlabelled_non_ice(examples, classifier)
    features, fractions, groups = patch_table(examples)
    started = time.perf_counter()
    log.info("training the classifier on %d patches of %d micrographs", len(features), len(examples))
    classifier.fit(features, fractions)
    seconds = {"classifier": time.perf_counter() - started}
    model = IceModel(settings, classifier, None, dict(metadata or {}))
    if n_folds:
        started = time.perf_counter()
        coarse = out_of_fold_probabilities(examples, classifier, n_folds)
        refiner = BoundaryRefiner() if refiner is None else refiner
        log.info("training the boundary refiner (%d parameters)", refiner.n_parameters)
        refiner.fit([e.working.data for e in examples], coarse, [e.classes for e in examples])
        model.refiner = refiner
        seconds["refiner"] = time.perf_counter() - started
    model.metadata.update({
        "icestat_version": __version__,
        "training_micrographs": [f"{e.dataset}/{e.name}" for e in examples],
        "training_patches": int(len(features)),
        "training_seconds": {key: round(value, 1) for key, value in seconds.items()},
    })
    return model


def set_aside_unlabelled_non_ice(examples: list[Example], classifier: IceClassifier,
                                 min_probability: float = SET_ASIDE_PROBABILITY) -> list[Example]:
    """Unlabel the background of particle-labelled examples where it looks like carbon or contamination.

    Parameters
    ----------
    examples : list of Example
    classifier : IceClassifier
        Unfitted; a clone is fitted to the complete examples.
    min_probability : float
        Background ice pixels of incomplete examples become ``IGNORE`` where
        the clone gives their patch at least this probability of carbon or
        contamination.

    Returns
    -------
    list of Example
        The examples, the incomplete ones changed (all unchanged when there
        are no complete or no incomplete examples).
    """
    complete = [e for e in examples if e.complete]
    if not complete or len(complete) == len(examples):
        return examples
    features, fractions, _ = patch_table(complete)
    judge = clone(classifier).fit(features, fractions)
    out = []
    for example in examples:
        if not example.complete:
            probabilities = patch_probabilities(judge, example.features)
            non_ice = probabilities[..., [CARBON, CONTAMINATION]].sum(axis=-1) >= min_probability
            aside = (example.features.grid.to_pixels(non_ice, order=0) > 0.5) & (example.classes == ICE)
            log.info("%s: %.1f%% of the pixels set aside as possible carbon or contamination",
                     example.name, 100 * aside.mean())
            example = example.with_classes(np.where(aside, IGNORE, example.classes).astype(np.uint8))
        out.append(example)
    return out


def out_of_fold_probabilities(examples: list[Example], classifier: IceClassifier, n_folds: int) -> list[np.ndarray]:
    """Coarse class probabilities per working pixel ``(4, h, w)`` of each example, from a classifier not trained on it."""
    n_folds = min(n_folds, len(examples))
    if n_folds < 2:
        raise ValueError("out-of-fold probabilities need at least 2 micrographs")
    folds = GroupKFold(n_splits=n_folds).split(np.arange(len(examples)), groups=np.arange(len(examples)))
    coarse: list[np.ndarray | None] = [None] * len(examples)
    for train_index, test_index in folds:
        features, fractions, _ = patch_table([examples[i] for i in train_index])
        fold_classifier = clone(classifier).fit(features, fractions)
        for i in test_index:
            example = examples[i]
            coarse[i] = pixel_probabilities(example.working, patch_probabilities(fold_classifier, example.features),
                                            example.features.grid)
    return coarse


def evaluate_model(model: IceModel, examples: list[Example], refine: bool = True) -> dict:
    """Segmentation accuracy of a model on labelled examples, at the working scale (see :func:`segmentation_scores`)."""
    return segmentation_scores([e.classes for e in examples], [predict_classes(model, e, refine) for e in examples])


def predict_classes(model: IceModel, example: Example, refine: bool = True) -> np.ndarray:
    """Class codes per working pixel of an example, as the model segments it."""
    per_patch = patch_probabilities(model.classifier, example.features)
    probabilities = model_probabilities(model, example.working, per_patch, example.features.grid, refine)
    return probabilities.argmax(axis=0).astype(np.uint8)


def segmentation_scores(truths: list[np.ndarray], predictions: list[np.ndarray]) -> dict:
    """Segmentation accuracy pooled over micrographs.

    Returns
    -------
    dict
        ``carbon_iou``, ``contamination_iou``, ``particle_iou``, ``ice_iou``,
        ``non_ice_iou`` (pixels pooled over the micrographs), ``particle_recall``
        (fraction of true particle pixels called non-ice), ``boundary_f1``
        (mean over micrographs of the non-ice boundary F1 within
        :data:`BOUNDARY_TOLERANCE_PX` pixels), ``n_micrographs`` and ``carbon_px``.
    """
    confusion = np.zeros((4, 4), dtype=np.int64)
    f1s = []
    for truth, predicted in zip(truths, predictions):
        confusion += confusion_matrix(truth, predicted)
        scored = scored_pixels(truth, predicted)
        f1s.append(boundary_f1((truth != ICE) & scored, (predicted != ICE) & scored, BOUNDARY_TOLERANCE_PX)["f1"])
    scores = scores_from_confusion(confusion)
    non_ice_hits = confusion[1:, 1:].sum()
    non_ice_union = confusion[1:, :].sum() + confusion[:, 1:].sum() - non_ice_hits
    true_particle = confusion[PARTICLE].sum()
    return {
        "n_micrographs": len(truths),
        "carbon_iou": float(scores.loc["carbon", "iou"]),
        "contamination_iou": float(scores.loc["contamination", "iou"]),
        "particle_iou": float(scores.loc["particle", "iou"]),
        "ice_iou": float(scores.loc["ice", "iou"]),
        "non_ice_iou": float(non_ice_hits / non_ice_union) if non_ice_union else float("nan"),
        "particle_recall": float(confusion[PARTICLE, 1:].sum() / true_particle) if true_particle else float("nan"),
        "boundary_f1": float(np.nanmean(f1s)) if np.isfinite(f1s).any() else float("nan"),
        "carbon_px": int(confusion[CARBON].sum()),
    }
