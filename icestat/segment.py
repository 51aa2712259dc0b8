"""segment(): a micrograph's per-pixel map of ice, particles, carbon and contamination."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
from scipy import ndimage

from icestat.carbon import consolidate_carbon
from icestat.contamination import fill_contamination, particle_sized_contamination_as_particle
from icestat.classes import CARBON, CLASS_NAMES, CONTAMINATION, ICE, NO_DATA, PARTICLE
from icestat.examples import features_of
from icestat.classify import IceClassifier
from icestat.features import PatchFeatures, PatchGrid
from icestat.micrograph import Micrograph
from icestat.model import IceModel, load_model
from icestat.prepare import WorkingImage
from icestat.refine import BoundaryRefiner

N_CLASSES = len(CLASS_NAMES)
#: :func:`excluded_brighter_than_ice` looks only where carbon and contamination cover at least this fraction of the
#: working image (a few bright specks taken for contamination say little).
MIN_EXCLUDED_FRACTION = 0.05
#: Where so, :func:`segment` segments the micrograph again with its features relative to that carbon and
#: contamination, and keeps that segmentation where it calls more than this fraction of the micrograph carbon (a
#: micrograph mostly of film, its hole taken for contamination the first time; benchmarks/README.md).
MOSTLY_FILM_FRACTION = 0.5


@dataclass(frozen=True, eq=False)
class Segmentation:
    """The segmentation of one micrograph.

    The maps at the micrograph's own size, :attr:`ice_probability` and
    :attr:`labels`, are made from the working-scale maps when first asked for.

    Attributes
    ----------
    name : str
        The micrograph's name.
    working : WorkingImage
        The working image the model saw (binned, normalised).
    working_probabilities : ndarray (4, h, w) of float32
        Class probabilities per working pixel (refined when the model has a refiner;
        carbon decided per region when its settings say so, :mod:`icestat.carbon`).
    patch_probabilities : ndarray (rows, cols, 4) of float32, optional
        The classifier's class probabilities per patch (None for a segmentation
        made without patches, such as the benchmarks' deep-only baseline).
    features : PatchFeatures, optional
        The features the classifier saw (None likewise).
    """

    name: str
    working: WorkingImage
    working_probabilities: np.ndarray
    patch_probabilities: np.ndarray | None = None
    features: PatchFeatures | None = None

    @cached_property
    def working_labels(self) -> np.ndarray:
        """Class code per working pixel (int8): the most probable class."""
        return self.working_probabilities.argmax(axis=0).astype(np.int8)

    @cached_property
    def patch_particle_probability(self) -> np.ndarray | None:
        """The patch classifier's particle probability, bilinearly interpolated to every working pixel (float32).

        None for a segmentation made without patches.
        """
        if self.patch_probabilities is None or self.features is None:
            return None
        return self.features.grid.to_pixels(self.patch_probabilities[..., PARTICLE])

    @cached_property
    def ice_probability(self) -> np.ndarray:
        """Probability of ice per pixel (float32, 0 in the frame border), the micrograph's shape."""
        return self._to_original(self.working_probabilities[ICE].astype(np.float32), order=1, outside=0.0)

    @cached_property
    def labels(self) -> np.ndarray:
        """Class code per pixel (int8, :mod:`icestat.classes`; ``NO_DATA`` in the frame border), the micrograph's shape."""
        return self._to_original(self.working_labels, order=0, outside=NO_DATA)

    def class_fractions(self) -> dict[str, float]:
        """Fraction of the micrograph's pixels with data (outside the frame border) in each class, by class name.

        Counted on the working image, which covers just that part of the micrograph, each of its pixels an equal
        share of it: the same fractions as :attr:`labels` gives, up to their resampling, without making them
        (0.2 s at 4096x4096).
        """
        counts = np.bincount(self.working_labels.ravel(), minlength=N_CLASSES)
        return {name: float(counts[code] / counts.sum()) for code, name in CLASS_NAMES.items()}

    def _to_original(self, values: np.ndarray, order: int, outside: float) -> np.ndarray:
        """A working-scale map resampled onto the micrograph inside its frame border, `outside` in the border."""
        original = np.full(self.working.original_shape, outside, dtype=values.dtype)
        inside = self.working.frame_border.inside(original.shape)
        original[inside] = _resize(values, original[inside].shape, order)
        return original


def excluded_brighter_than_ice(segmentation: Segmentation, min_fraction: float = MIN_EXCLUDED_FRACTION) -> bool:
    """Whether what the segmentation calls carbon or contamination is brighter than what it calls ice.

    In a bright-field micrograph film and contamination are thicker than the
    ice of the hole, so darker (the median of the working image over them
    -1 to -12 robust sd on ../shared/data and simulations, the ice's near 0).
    Brighter, and over at least `min_fraction` of the working image, they are
    most likely the hole's ice in a micrograph mostly of film, taken for the
    majority (+5 to +10 on simulations with 70-80 % film), or an inverted
    micrograph read as raw; or holes in the ice (vacuum, brighter than ice:
    on a simulation with 15-30 % vacuum 1.5 times as bright, 5-8 % of the
    micrograph was called carbon there, the picks in the ice were right).

    Examples
    --------
    >>> from icestat.prepare import WorkingImage
    >>> probabilities = np.zeros((4, 10, 10), dtype=np.float32)
    >>> probabilities[ICE], probabilities[CONTAMINATION, :, 7:] = 0.5, 1.0
    >>> image = np.where(np.arange(10) >= 7, 5.0, 0.0) * np.ones((10, 1), dtype=np.float32)
    >>> excluded_brighter_than_ice(Segmentation("m", WorkingImage(image, None, (1.0, 1.0), (10, 10)), probabilities))
    True
    >>> excluded_brighter_than_ice(Segmentation("m", WorkingImage(-image, None, (1.0, 1.0), (10, 10)), probabilities))
    False
    """
    labels = segmentation.working_labels
    excluded, ice = _excluded(labels), labels == ICE
    if excluded.mean() < min_fraction or not ice.any():
        return False
    image = segmentation.working.data
    return bool(np.median(image[excluded]) > np.median(image[ice]))


def segment(micrograph: Micrograph, model: IceModel | None = None, device: str = "cpu",
            refine: bool = True, particle_diameter_px: float | None = None) -> Segmentation:
    """Segment a micrograph into ice, particle, carbon and contamination.

    The features are made relative to the micrograph's majority, taken for
    its ice. Where the carbon and contamination so found are brighter than
    that ice (:func:`excluded_brighter_than_ice`: most likely the hole of a
    micrograph mostly of film), the micrograph is segmented again with the
    features relative to them instead, and that segmentation is kept where it
    finds film over most of the micrograph (``MOSTLY_FILM_FRACTION``).

    Parameters
    ----------
    micrograph : Micrograph
        From :func:`icestat.micrograph.read_micrograph`.
    model : IceModel, optional
        From :func:`icestat.model.load_model`; the default model when None.
    device : {"cpu", "cuda", "cuda:N"}
        Where the micrograph is binned and its features computed (the model runs where it was loaded for).
    refine : bool
        Use the model's boundary refiner (when it has one); False keeps the
        patch-level probabilities, bilinearly interpolated (carbon is decided
        per region either way when the model's settings say so).
    particle_diameter_px : float, optional
        The particles' diameter in pixels of the micrograph, when known: large
        particles are segmented on a coarser working image
        (:meth:`~icestat.settings.SegmentationSettings.prepare`), where they look
        like the particles the model learnt, and contamination blobs smaller than
        one particle are particle
        (:func:`icestat.contamination.particle_sized_contamination_as_particle`).

    Returns
    -------
    Segmentation
    """
    model = load_model(device=device) if model is None else model
    working = model.settings.prepare(micrograph, particle_diameter_px, device)
    segmentation = _segmented(micrograph.name, working, model, device, refine)
    if model.settings.adapt and excluded_brighter_than_ice(segmentation):
        # most likely the hole of a micrograph mostly of film, the film taken for the majority: segmented again
        # relative to that hole, which is kept where it then finds film over most of the micrograph
        again = _segmented(micrograph.name, working, model, device, refine, reference=_excluded_patches(segmentation))
        if np.mean(again.working_labels == CARBON) > MOSTLY_FILM_FRACTION:
            segmentation = again
    return segmentation if particle_diameter_px is None else with_particle_diameter(segmentation, particle_diameter_px)


def _segmented(name: str, working: WorkingImage, model: IceModel, device: str, refine: bool,
               reference: np.ndarray | None = None) -> Segmentation:
    """The segmentation of a working image, its features adapted to `reference` (patches; the majority when None)."""
    features = features_of(working, model.settings, device, reference)
    per_patch = patch_probabilities(model.classifier, features)
    probabilities = model_probabilities(model, working, per_patch, features.grid, refine)
    return Segmentation(name, working, probabilities, per_patch, features)


def _excluded_patches(segmentation: Segmentation) -> np.ndarray:
    """The patches whose centres the segmentation calls carbon or contamination (rows, cols) of bool."""
    excluded = _excluded(segmentation.working_labels)
    rows, cols = (np.rint(centres).astype(np.int64) for centres in segmentation.features.grid.centres_px())
    return excluded[rows.clip(0, excluded.shape[0] - 1), cols.clip(0, excluded.shape[1] - 1)]


def _excluded(labels: np.ndarray) -> np.ndarray:
    """Where `labels` call carbon or contamination."""
    return (labels == CARBON) | (labels == CONTAMINATION)


def with_particle_diameter(segmentation: Segmentation, particle_diameter_px: float) -> Segmentation:
    """The segmentation as knowing the particle diameter makes it at its working scale.

    Contamination blobs smaller than one particle become particle
    (:func:`icestat.contamination.particle_sized_contamination_as_particle`).
    :func:`segment` told the diameter does this, after choosing the working
    scale by it; this is for a segmentation made without the diameter at the
    scale the diameter would choose.

    Parameters
    ----------
    segmentation : Segmentation
    particle_diameter_px : float
        Particle diameter in pixels of the micrograph.

    Returns
    -------
    Segmentation
    """
    diameter_working_px = particle_diameter_px / float(np.mean(segmentation.working.scale))
    probabilities = particle_sized_contamination_as_particle(segmentation.working_probabilities, diameter_working_px)
    return replace(segmentation, working_probabilities=probabilities)


def segmented_for_diameter(segmentation: Segmentation, micrograph: Micrograph, model: IceModel,
                           particle_diameter_px: float, device: str = "cpu", refine: bool = True) -> Segmentation:
    """A segmentation made without the particle diameter, as :func:`segment` told the diameter makes it.

    Segmented again where the diameter sets a coarser working scale
    (:meth:`~icestat.settings.SegmentationSettings.bin_factor`), else
    :func:`with_particle_diameter` of it.

    Parameters
    ----------
    segmentation : Segmentation
        Of `micrograph` by `model`, without a diameter.
    micrograph : Micrograph
    model : IceModel
    particle_diameter_px : float
        Particle diameter in pixels of the micrograph.
    device, refine
        As for :func:`segment`.

    Returns
    -------
    Segmentation
    """
    if model.settings.bin_factor(micrograph, particle_diameter_px) == model.settings.bin_factor(micrograph):
        return with_particle_diameter(segmentation, particle_diameter_px)
    return segment(micrograph, model, device, refine, particle_diameter_px=particle_diameter_px)


def model_probabilities(model: IceModel, working: WorkingImage, per_patch: np.ndarray, grid: PatchGrid,
                        refine: bool = True) -> np.ndarray:
    """Class probabilities per working pixel ``(4, h, w)`` as the model gives them.

    The patch probabilities are interpolated to the pixels, refined by the
    model's boundary refiner (when it has one and `refine` is True), and carbon
    is decided per region (:func:`icestat.carbon.consolidate_carbon`) when the
    model's settings say so. Particles enclosed by contamination are made contamination
    (:func:`icestat.contamination.fill_contamination`).
    """
    probabilities = pixel_probabilities(working, per_patch, grid, model.refiner if refine else None)
    if model.settings.carbon_regions:
        probabilities = consolidate_carbon(working.data, probabilities, model.settings.patch_px)
    return fill_contamination(probabilities)


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


def _resize(values: np.ndarray, shape: tuple[int, int], order: int) -> np.ndarray:
    """Resample a working-scale map to `shape` (pixel centres aligned, as in :meth:`WorkingImage.to_original_px`).

    ``order`` 0 takes the nearest working pixel, 1 interpolates linearly.
    """
    if order == 0:
        rows = (np.arange(shape[0]) + 0.5) * values.shape[0] / shape[0] - 0.5
        cols = (np.arange(shape[1]) + 0.5) * values.shape[1] / shape[1] - 0.5
        rows_i = np.clip(np.rint(rows).astype(np.int64), 0, values.shape[0] - 1)
        cols_i = np.clip(np.rint(cols).astype(np.int64), 0, values.shape[1] - 1)
        return values[np.ix_(rows_i, cols_i)]
    zoom = (shape[0] / values.shape[0], shape[1] / values.shape[1])
    return ndimage.zoom(values, zoom, order=1, mode="nearest", grid_mode=True)
