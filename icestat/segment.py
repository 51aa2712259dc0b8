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
from icestat.prepare import WorkingImage, robust_centre_and_spread
from icestat.refine import BoundaryRefiner
from icestat.scale_space import MAD_TO_SD

N_CLASSES = len(CLASS_NAMES)
#: Where the mean grey level over a patch is more than this many robust standard deviations (of those means over
#: what is called ice) above its median over the ice, the micrograph is brighter than its ice
#: (:func:`brighter_than_ice`): in a bright-field micrograph only vacuum is thinner than ice.
BRIGHTER_SD = 3.0
#: :func:`segment` and the warnings take a micrograph to have a part brighter than its ice where that part covers at
#: least this fraction of the working image (a few bright specks say little).
MIN_BRIGHTER_FRACTION = 0.05
#: Where so, :func:`segment` segments the micrograph again with its features relative to that brighter part, and
#: keeps that segmentation where it calls more than this fraction of the micrograph film: carbon or contamination
#: (a micrograph mostly of film, whose majority, the film, was taken for ice; benchmarks/README.md).
MOSTLY_FILM_FRACTION = 0.5
#: Where the brighter part's robust spread is more than this many times the whole working image's, the micrograph
#: is mostly opaque foil, and it is segmented again normalised to that part too (:func:`normalised_to_hole`).
OPAQUE_FILM_SPREAD = 5.0
#: ... and only where the brighter part holds at least this many patch centres: the features are made relative to
#: their medians, and the micrograph's own ice model (:func:`icestat.adapt.majority_distance`) is fitted to the core
#: of them (a micrograph segmented 13x binned, 154 px, had 5 of its 81 patches there).
MIN_REFERENCE_PATCHES = 20


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

    @cached_property
    def brighter_than_ice_mask(self) -> np.ndarray:
        """Where the working image is brighter than what is called ice (:func:`brighter_than_ice`), made once."""
        return brighter_than_ice(self)

    @property
    def brighter_than_ice_fraction(self) -> float:
        """Fraction of the working image brighter than what is called ice (:attr:`brighter_than_ice_mask`)."""
        return float(self.brighter_than_ice_mask.mean())

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


def brighter_than_ice(segmentation: Segmentation) -> np.ndarray:
    """Where the working image is brighter than what the segmentation calls ice, (h, w) of bool.

    The image's mean over a patch (:class:`~icestat.features.PatchGrid`'s
    ``patch_px``, centred on each pixel) more than ``BRIGHTER_SD`` robust
    standard deviations above its median over the ice (1.4826 x the median
    absolute deviation of those means over the ice). In a bright-field
    micrograph film and contamination are thicker than the ice, so darker, and
    a smooth change of thickness across the ice stays within its own spread.
    Brighter than the ice over more than a few per cent of the micrograph is
    the hole's ice of a micrograph mostly of film, the film taken for ice (22-42 %
    of the working image on simulations with 60-80 % film), an inverted
    micrograph read as raw, or holes in the ice (vacuum); on ../shared/data
    read as ``icestat pick`` reads it (judged dark), at most 0.24 %.

    Parameters
    ----------
    segmentation : Segmentation
        Made with patches (:func:`segment`).

    Examples
    --------
    >>> from icestat.features import PatchFeatures, PatchGrid
    >>> from icestat.prepare import WorkingImage
    >>> image = np.random.default_rng(0).normal(size=(64, 64)).astype(np.float32)
    >>> image[:, 48:] += 5.0    # a brighter strip
    >>> probabilities = np.zeros((4, 64, 64), dtype=np.float32); probabilities[ICE] = 1.0
    >>> grid = PatchGrid((64, 64), patch_px=8, stride_px=8)
    >>> features = PatchFeatures(np.zeros(grid.shape + (0,)), [], grid, "cpu", 1.0)
    >>> brighter = brighter_than_ice(Segmentation("m", WorkingImage(image, None, (1.0, 1.0), (64, 64)),
    ...                                           probabilities, features=features))
    >>> round(float(brighter[:, 52:].mean()), 2), round(float(brighter[:, :40].mean()), 2)
    (1.0, 0.0)
    """
    patch_mean = ndimage.uniform_filter(np.asarray(segmentation.working.data, dtype=np.float32),
                                        segmentation.features.grid.patch_px, mode="reflect")
    ice = patch_mean[segmentation.working_labels == ICE]
    if not ice.size:
        return np.zeros(patch_mean.shape, dtype=bool)
    median = np.median(ice)
    spread = MAD_TO_SD * np.median(np.abs(ice - median))
    return patch_mean > median + BRIGHTER_SD * max(spread, np.finfo(np.float32).tiny)


def segment(micrograph: Micrograph, model: IceModel | None = None, device: str = "cpu",
            refine: bool = True, particle_diameter_px: float | None = None) -> Segmentation:
    """Segment a micrograph into ice, particle, carbon and contamination.

    The features are made relative to the micrograph's majority, taken for
    its ice. Where a part of the micrograph is brighter than the ice so found
    (:func:`brighter_than_ice`, over at least ``MIN_BRIGHTER_FRACTION`` and
    ``MIN_REFERENCE_PATCHES`` patches: most
    likely the hole of a micrograph mostly of film), the micrograph is
    segmented again with the features relative to that part instead (and,
    where the rest is opaque foil, the working image normalised to it,
    :func:`normalised_to_hole`, and the foil called carbon film whatever the
    model calls it, :func:`opaque`), and that segmentation is kept where it
    finds film, carbon or contamination, over most of the micrograph
    (``MOSTLY_FILM_FRACTION``).

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
    if model.settings.adapt and segmentation.brighter_than_ice_fraction >= MIN_BRIGHTER_FRACTION:
        # most likely the hole of a micrograph mostly of film, the film taken for the majority: segmented again
        # relative to that hole (normalised to it too where the rest is opaque foil), which is kept where it then
        # finds film over most of the micrograph
        brighter = _at_patch_centres(segmentation.brighter_than_ice_mask, segmentation.features.grid)
        if np.count_nonzero(brighter) >= MIN_REFERENCE_PATCHES:
            hole = normalised_to_hole(working, segmentation.brighter_than_ice_mask)
            again = _segmented(micrograph.name, hole, model, device, refine, reference=brighter)
            if hole is not working:   # opaque foil, which the model may call ice or anything else: film
                again = with_film(again, opaque(hole.data, segmentation.brighter_than_ice_mask))
            if np.mean(np.isin(again.working_labels, (CARBON, CONTAMINATION))) > MOSTLY_FILM_FRACTION:
                segmentation = again
    return segmentation if particle_diameter_px is None else with_particle_diameter(segmentation, particle_diameter_px)


def _segmented(name: str, working: WorkingImage, model: IceModel, device: str, refine: bool,
               reference: np.ndarray | None = None) -> Segmentation:
    """The segmentation of a working image, its features adapted to `reference` (patches; the majority when None)."""
    features = features_of(working, model.settings, device, reference)
    per_patch = patch_probabilities(model.classifier, features)
    probabilities = model_probabilities(model, working, per_patch, features.grid, refine)
    return Segmentation(name, working, probabilities, per_patch, features)


def normalised_to_hole(working: WorkingImage, hole: np.ndarray) -> WorkingImage:
    """The working image normalised to its hole (median 0, robust standard deviation 1 over `hole`'s pixels) where
    the whole was normalised to opaque foil; else as it is.

    Opaque (gold) foil passes no electrons, so over most of a micrograph it leaves
    a flat field of little shot noise: normalised to that majority, the hole's ice
    lies hundreds of standard deviations high (18-69 times the spread, on
    simulations with 70-85 % gold), beyond anything the boundary refiner saw, and
    it calls the whole micrograph ice. Where the hole's spread is under
    ``OPAQUE_FILM_SPREAD`` (carbon film, vacuum: 0.3-1.4 on simulations) the
    working image stays as it is: made relative to vacuum, ice looks like film.
    """
    median, spread = robust_centre_and_spread(working.data[hole][None, :])   # one row: no subsample
    if not spread > OPAQUE_FILM_SPREAD:
        return working
    return replace(working, data=((working.data - np.float32(median)) / np.float32(spread)).astype(np.float32))


def opaque(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Where the image is nearer the opaque foil's grey level (its median outside `hole`) than the hole's ice's.

    Normalised to the hole, the model may call opaque (gold) foil anything: on
    simulations with 85 % gold (1024 and 2048 px), ice on 3 of 9, contamination
    or carbon on the rest; and judged over as if it were the hole's ice, its flat
    field and edge took 6 of 9 for inverted micrographs (F1 0-0.12).
    The foil passes next to no electrons, so it lies some 15 robust standard
    deviations of the hole's pixels below its ice: halfway tells the two apart.

    Parameters
    ----------
    image : ndarray (h, w)
        The working image normalised to its hole (:func:`normalised_to_hole`): its ice at 0.
    hole : ndarray (h, w) of bool
        The hole (the part brighter than what the first segmentation called ice).

    Returns
    -------
    ndarray (h, w) of bool

    Examples
    --------
    >>> image = np.random.default_rng(0).normal(size=(8, 8)); image[:, :5] = -40.0   # the foil passes nothing
    >>> opaque(image, image > -20).sum(axis=1)
    array([5, 5, 5, 5, 5, 5, 5, 5])
    """
    return image < np.median(image[~hole]) / 2


def with_film(segmentation: Segmentation, film: np.ndarray) -> Segmentation:
    """The segmentation with `film` ((h, w) of bool, working pixels) called carbon film, for certain."""
    probabilities = segmentation.working_probabilities.copy()
    probabilities[:, film] = 0.0
    probabilities[CARBON, film] = 1.0
    return replace(segmentation, working_probabilities=probabilities)


def _at_patch_centres(mask: np.ndarray, grid: PatchGrid) -> np.ndarray:
    """`mask` (working pixels) at the centres of the grid's patches, (rows, cols) of bool."""
    rows, cols = (np.rint(centres).astype(np.int64) for centres in grid.centres_px())
    return mask[rows.clip(0, mask.shape[0] - 1), cols.clip(0, mask.shape[1] - 1)]


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
