"""Shared by the benchmark scripts: the particle diameter of ../shared/data's masked sets, read from their masks.

The manifest's ``particle_diameter_px`` is the median size of each micrograph's
mask blobs, which touching particles, merged into one blob, inflate: on
EMPIAR-10059 45-50 px on six of its ten micrographs and 36 px on the other four,
on 10017 144-145 px on two of its 16 and 108 px on the rest. The masks mark every
particle of a set with a disk of one size, so its single disks tell that size
(:func:`icestat.metrics.mask_particle_diameter_px`): 10017 107.9 px, 10028
56.0 px, 10059 35.8 px. The benchmarks pick with it where the diameter is given
(what a user who knows the particle gives: one diameter for a set) and count a
mask blob's particles with it (:func:`icestat.metrics.mark_picks_on_mask`).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from icestat.manifest import load_labelled, read_manifest
from icestat.metrics import mask_particle_diameter_px
from icestat.micrograph import PixelSizeWarning

#: The shared data of a checkout: ``../shared/data`` beside the repository.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def add_shared_argument(parser: argparse.ArgumentParser) -> None:
    """Add the benchmark scripts' ``--shared`` argument: the shared data folder (``SHARED_DATA`` when not given)."""
    parser.add_argument("--shared", type=Path, default=SHARED_DATA)


def with_mask_particle_diameters(manifest: pd.DataFrame, max_masks: int | None = None) -> pd.DataFrame:
    """A copy of `manifest` whose rows with particle masks carry their set's diameter read from the masks.

    A set none of whose blobs is a single disk keeps the manifest's values.
    `max_masks`, when given, reads only each set's first that many masks
    (a quick run's: EMPIAR-10017's 16 masks of 4096 x 4096 take 17 s).
    """
    manifest = manifest.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PixelSizeWarning)
        for _, rows in manifest[manifest["particle_mask"].notna()].groupby("dataset"):
            diameter_px = mask_particle_diameter_px(load_labelled(row).particle_mask
                                                    for _, row in rows.iloc[:max_masks].iterrows())
            if np.isfinite(diameter_px):
                manifest.loc[rows.index, "particle_diameter_px"] = diameter_px
    return manifest


def masked_manifest(shared: Path, max_masks: int | None = None) -> pd.DataFrame:
    """The manifest of the `shared` data folder with each masked set's diameter read from its masks
    (:func:`with_mask_particle_diameters`: it reads every masked micrograph, about 20 s, so read it once for all
    datasets), or from each set's first `max_masks` masks (a quick run's)."""
    return with_mask_particle_diameters(read_manifest(Path(shared) / "manifest.csv"), max_masks)
