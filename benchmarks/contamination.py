"""Contamination on a real raw micrograph: is it recognised, and do picks stay off it?

Usage:
    python benchmarks/contamination.py [--shared ../shared/data]

The one raw micrograph of ../shared/data (raw-contamination: float32 MRC, a large contamination blob and a few
small ones) comes with MicrographCleaner's predicted contamination probability (taken as contamination at 0.5 or
more, as icestat.manifest reads it) and with a RELION autopick run, some of whose picks fall on the contamination.
Two models segment and pick it: the shipped default model (this micrograph is in its training) and the default
recipe retrained without it (picking.model_without; contamination then comes from the simulations alone).

1. Segmentation: contamination IoU, precision and recall over pixels against MicrographCleaner's map, and how many
   of its blobs of at least MIN_BLOB_PX pixels icestat's contamination touches.
2. Picks: how many there are and how many land on the contamination, for RELION's autopick and for icestat at
   each of DIAMETERS_PX (the particle diameter is unknown: the header's pixel size is a placeholder) at the default
   threshold. MicrographCleaner's map is a prediction, not a hand label: the figures say how far two
   independent tools agree.
3. Fresh simulated micrographs with N_SIMULATED_BLOBS contamination blobs each (seeds neither model saw),
   against the simulator's true labels: contamination IoU, and the picks (true diameter) on contamination.

Writes benchmarks/results/contamination.md.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import pandas as pd
from scipy import ndimage

from _report import publish
from _truth import add_shared_argument
from picking import model_without, recipe

from icestat.classes import CONTAMINATION
from icestat.manifest import iter_labelled, read_manifest
from icestat.micrograph import Micrograph
from icestat.model import load_model
from icestat.pick import DEFAULT_THRESHOLD, pick
from icestat.segment import segment, segmented_for_diameter
from icestat.simulate import SimulationParams, simulate_micrograph

DATASET = "raw-contamination"
#: icestat picks with each of these particle diameters (pixels of the micrograph).
DIAMETERS_PX = (20, 30, 40)
#: MicrographCleaner's blobs smaller than this (pixels) are specks, not counted as blobs.
MIN_BLOB_PX = 100
#: Simulated micrographs, and contamination blobs in each.
N_SIMULATIONS, N_SIMULATED_BLOBS = 4, 2


def on_mask(picks: pd.DataFrame, mask: np.ndarray) -> np.ndarray:
    """Whether each pick's centre lies on a True pixel of `mask`."""
    rows = np.clip(np.round(picks["y_px"].to_numpy()).astype(int), 0, mask.shape[0] - 1)
    cols = np.clip(np.round(picks["x_px"].to_numpy()).astype(int), 0, mask.shape[1] - 1)
    return mask[rows, cols]


def segmentation_row(label: str, called: np.ndarray, truth: np.ndarray) -> str:
    """Pixel IoU / precision / recall of `called` contamination against `truth`, and the blobs of `truth` touched."""
    overlap = np.sum(called & truth)
    blobs, n_blobs = ndimage.label(truth)
    sizes = ndimage.sum_labels(truth, blobs, index=np.arange(1, n_blobs + 1))
    big = np.flatnonzero(sizes >= MIN_BLOB_PX) + 1
    touched = ndimage.maximum(called, blobs, index=big) if len(big) else np.array([])
    return (f"| {label} | {overlap / np.sum(called | truth):.3f} | {overlap / max(called.sum(), 1):.3f} | "
            f"{overlap / truth.sum():.3f} | {np.mean(called):.3f} | {int(np.sum(touched))} of {len(big)} |")


def pick_row(label: str, diameter: str, picks: pd.DataFrame, truth: np.ndarray, largest: np.ndarray) -> str:
    """Picks, and how many land on the contamination (and on its largest blob)."""
    on = on_mask(picks, truth)
    return (f"| {label} | {diameter} | {len(picks)} | {int(on.sum())} ({np.mean(on) if len(picks) else 0:.1%}) | "
            f"{int(on_mask(picks, largest).sum())} |")


def simulated_rows(label: str, model) -> str:
    """Contamination IoU pooled over fresh simulations with contamination, and their picks that land on it."""
    overlap = union = n_picks = n_on = 0
    for i in range(N_SIMULATIONS):
        rng = np.random.default_rng([recipe.SEED + 4, i])
        params = SimulationParams(shape_px=(2048, 2048), pixel_size_A=float(rng.uniform(1.0, 2.5)),
                                  n_particles=int(rng.integers(50, 300)), particle_diameter_A=float(rng.uniform(100, 250)),
                                  carbon_fraction=0.0, n_contamination=N_SIMULATED_BLOBS,
                                  ice_thickness_A=float(rng.uniform(250, 700)))
        sim = simulate_micrograph(params, seed=[recipe.SEED + 4, i])
        micrograph = Micrograph(sim.image, params.pixel_size_A, f"sim_{i}")
        diameter_px = params.particle_diameter_A / params.pixel_size_A
        segmentation = segment(micrograph, model)
        truth, called = sim.labels == CONTAMINATION, segmentation.labels == CONTAMINATION
        overlap, union = overlap + np.sum(truth & called), union + np.sum(truth | called)
        picks = pick(segmented_for_diameter(segmentation, micrograph, model, diameter_px), diameter_px=diameter_px).table
        n_picks, n_on = n_picks + len(picks), n_on + int(on_mask(picks, truth).sum())
    return f"| {label} | {overlap / union:.3f} | {n_picks} | {n_on} ({n_on / max(n_picks, 1):.1%}) |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_shared_argument(parser)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    (item,) = iter_labelled(read_manifest(args.shared / "manifest.csv"), datasets=[DATASET])
    truth = item.regions == CONTAMINATION
    blobs, _ = ndimage.label(truth)
    largest = blobs == np.argmax(np.bincount(blobs.ravel())[1:]) + 1
    models = {"default model (micrograph in training)": load_model(),
              "recipe retrained without it": model_without(DATASET, args.shared)}
    segmentation_lines = ["| model | IoU | precision | recall | fraction called contamination | "
                          f"blobs of MicrographCleaner's (>= {MIN_BLOB_PX} px) touched |", "|" + " --- |" * 6]
    pick_lines = ["| picker | diameter (px) | picks | on contamination | on its largest blob |", "|" + " --- |" * 5,
                  pick_row("RELION autopick (shipped with the data)", "?", item.picks, truth, largest)]
    for label, model in models.items():
        segmentation = segment(item.micrograph, model)
        segmentation_lines.append(segmentation_row(label, segmentation.labels == CONTAMINATION, truth))
        for diameter_px in DIAMETERS_PX:
            picks = pick(segmented_for_diameter(segmentation, item.micrograph, model, diameter_px), diameter_px=diameter_px)
            pick_lines.append(pick_row(f"icestat, {label}", str(diameter_px), picks.table, truth, largest))
    simulated_lines = ["| model | contamination IoU | picks | on contamination |", "|" + " --- |" * 4]
    simulated_lines += [simulated_rows(label, model) for label, model in models.items()]
    lines = ["# Contamination on a real raw micrograph", "",
             f"`{DATASET}` of ../shared/data ({item.micrograph.shape[1]} x {item.micrograph.shape[0]} px, float32):",
             "icestat's contamination against MicrographCleaner's predicted map (>= 0.5), and where the picks land;",
             f"icestat at the default threshold ({DEFAULT_THRESHOLD}). Written by benchmarks/contamination.py.", "",
             "Segmentation:", ""] + segmentation_lines + ["", "Picks:", ""] + pick_lines
    lines += ["", f"{N_SIMULATIONS} fresh simulations (2048 x 2048, 1-2.5 Å/px, 100-250 Å particles, "
              f"{N_SIMULATED_BLOBS} contamination blobs each), against their true labels; picks with the true diameter:",
              ""] + simulated_lines
    lines += ["", f"Whole run: {time.perf_counter() - started:.0f} s on {len(os.sched_getaffinity(0))} cores."]
    publish(lines, "contamination.md")


if __name__ == "__main__":
    main()
