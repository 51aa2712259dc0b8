"""Training and evaluation examples: a labelled micrograph turned into working-scale features and targets."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Iterable

import numpy as np
import pandas as pd

from icestat.adapt import adapt_features
from icestat.backend import to_host
from icestat.features import PatchFeatures, compute_features
from icestat.manifest import load_labelled, manifest_rows
from icestat.micrograph import BAD_INPUT_ERRORS, Micrograph, file_error
from icestat.prepare import WorkingImage
from icestat.settings import SegmentationSettings
from icestat.targets import patch_fractions, pixel_classes, working_classes

log = logging.getLogger(__name__)

#: Patches with less than this labelled fraction are left out of training and evaluation.
MIN_LABELLED_FRACTION = 0.5


@dataclass(frozen=True, eq=False)
class Example:
    """One labelled micrograph at working scale.

    Attributes
    ----------
    name, dataset : str
        Micrograph name and the set it belongs to (the unit of cross-validation).
    working : WorkingImage
        The prepared image.
    features : PatchFeatures
        Per-patch features on the host (adapted when the settings say so).
    classes : ndarray of uint8
        Class codes per working pixel (255 where unlabelled).
    fractions : ndarray (rows, cols, 4)
        Class fractions per patch.
    labelled : ndarray (rows, cols)
        Labelled fraction per patch.
    complete : bool
        True when every class is labelled (region masks, simulations); False
        when only the particles are (particle masks, coordinates), so that
        unlabelled carbon or contamination may hide in the background.
    """

    name: str
    dataset: str
    working: WorkingImage
    features: PatchFeatures
    classes: np.ndarray
    fractions: np.ndarray
    labelled: np.ndarray
    complete: bool = True

    def with_classes(self, classes: np.ndarray) -> "Example":
        """The same example with other class codes per working pixel (fractions recomputed)."""
        fractions, labelled = patch_fractions(classes, self.features.grid)
        return replace(self, classes=classes, fractions=fractions, labelled=labelled)


def features_of(working: WorkingImage, settings: SegmentationSettings, device: str = "cpu",
                reference=None) -> PatchFeatures:
    """Per-patch features of a working image as the settings ask (adapted or not), on the host.

    `reference` (patches, bool) is the part taken for ice when adapted (:func:`icestat.adapt.adapt_features`).
    """
    features = compute_features(working, settings.patch_px, settings.stride_px, settings.features, device)
    if settings.adapt:
        return adapt_features(features, reference)
    return PatchFeatures(to_host(features.values), features.names, features.grid, "cpu", features.pixel_size_A)


def make_example(micrograph: Micrograph, codes: np.ndarray, settings: SegmentationSettings,
                 dataset: str = "", device: str = "cpu", complete: bool = True) -> Example:
    """Build an :class:`Example` from a micrograph and its class codes per pixel (`complete`: see :class:`Example`).

    Only the codes inside the micrograph's frame border (:mod:`icestat.frame`) are used, as only that part of
    it is seen.
    """
    working = settings.prepare(micrograph, device=device)
    features = features_of(working, settings, device)
    classes = working_classes(np.asarray(codes)[working.frame_border.inside(working.original_shape)], working.data.shape)
    fractions, labelled = patch_fractions(classes, features.grid)
    return Example(micrograph.name, dataset, working, features, classes, fractions, labelled, complete)


def examples_from_manifest(manifest, settings: SegmentationSettings, datasets: Iterable[str] | None = None,
                           device: str = "cpu", source: str = "the manifest") -> list[Example]:
    """Examples of every labelled micrograph of a manifest.

    Rows without labels are passed over with a warning. A micrograph or label file that cannot be used is named
    in one logged error line; the rows after it are then only read, not made into examples, so that every such
    file is named at once before the ValueError.

    Parameters
    ----------
    manifest : DataFrame or str or PathLike
        As :func:`icestat.manifest.manifest_rows` takes it.
    settings : SegmentationSettings
    datasets : iterable of str, optional
        Only the rows of these datasets.
    device : str
        Where the features are computed.
    source : str
        The manifest, as the final error names it.

    Raises
    ------
    ValueError
        When any micrograph or label file cannot be used.
    """
    examples, unusable = [], []
    rows = manifest_rows(manifest, datasets)
    for _, row in rows.iterrows():
        try:
            item = load_labelled(row)
            try:
                codes = pixel_classes(item)
            except ValueError as err:   # no labels: passed over
                log.warning("%s", err)
                continue
            if not unusable:
                examples.append(make_example(item.micrograph, codes, settings, item.dataset, device,
                                             complete=item.regions is not None))
        except BAD_INPUT_ERRORS as err:
            unusable.append(file_error(row["micrograph"], err))
            log.error("%s", unusable[-1])
    if unusable:
        raise ValueError(f"{source}: {len(unusable)} of {len(rows)} micrographs cannot be used (each named above); "
                         "fix or remove their rows")
    return examples


def examples_from_simulation(simulated: Iterable, settings: SegmentationSettings, dataset: str = "simulated",
                             device: str = "cpu") -> list[Example]:
    """Examples of simulated micrographs (:class:`icestat.simulate.SimulatedMicrograph`), named ``sim_0000``..."""
    examples = []
    for index, item in enumerate(simulated):
        micrograph = Micrograph(item.image, item.params.pixel_size_A, f"sim_{index:04d}")
        examples.append(make_example(micrograph, item.labels.astype(np.uint8), settings, dataset, device))
    return examples


def patch_table(examples: Iterable[Example]) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Stack the labelled patches of several examples.

    Returns
    -------
    features : DataFrame
        One row per patch, one column per feature.
    fractions : ndarray (n, 4)
        Class fractions per patch.
    groups : ndarray of str
        The micrograph of each patch (for cross-validation over micrographs).
    """
    frames, fractions, groups = [], [], []
    for example in examples:
        keep = (example.labelled >= MIN_LABELLED_FRACTION).ravel()
        values = example.features.values.reshape(-1, len(example.features.names))[keep]
        frames.append(pd.DataFrame(values, columns=list(example.features.names)))
        fractions.append(example.fractions.reshape(-1, example.fractions.shape[-1])[keep])
        groups.append(np.full(int(keep.sum()), f"{example.dataset}/{example.name}", dtype=object))
    return pd.concat(frames, ignore_index=True), np.concatenate(fractions), np.concatenate(groups)
