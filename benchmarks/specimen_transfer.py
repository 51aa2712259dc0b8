"""What the boundary refiner does on a specimen never seen in training, against the patch classifier alone.

Usage:
    python benchmarks/specimen_transfer.py [--shared ../shared/data]

For each masked dataset of ../shared/data the default recipe is retrained without any micrograph of it (as
picking.py's "specimen held out" rows), and all of that dataset's masked micrographs are picked with the true
diameter at the default threshold twice: from the model's probabilities (the patch classifier, then the
boundary refiner; what `icestat pick` does) and from the patch classifier's alone (interpolated patch
probabilities, as ``segment(..., refine=False)`` and `icestat pick --no-refine` give them). Each model, and the
shipped one, also picks the simulated micrographs of empty ice of picking.py, where every pick is wrong: a score
that finds faint particles only by calling everything particle shows there.

Writes benchmarks/results/specimen_transfer.md.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from _report import publish
from picking import EMPTY_ICE_DIAMETER_A, empty_ice_micrographs, pooled_scores, recipe, retrained_without

from icestat.manifest import load_labelled, read_manifest
from icestat.metrics import mark_picks_on_mask
from icestat.model import load_model
from icestat.pick import pick
from icestat.segment import Segmentation, model_probabilities, segment

WAYS = ("with the refiner", "patch classifier alone")


def both_ways(model, micrograph) -> tuple[Segmentation, Segmentation]:
    """A micrograph segmented with the model's refiner, and from its patch probabilities alone (one feature pass)."""
    refined = segment(micrograph, model)
    coarse = model_probabilities(model, refined.working, refined.patch_probabilities, refined.features.grid,
                                 refine=False)
    return refined, Segmentation(refined.name, refined.working, coarse, refined.patch_probabilities, refined.features)


def held_out_cells(model, rows: pd.DataFrame) -> list[str]:
    """F1 (precision / recall) and the particle fraction called, each way, on the rows' masked micrographs."""
    marked = {way: [] for way in WAYS}
    called = {way: [] for way in WAYS}
    true_fractions = []
    for _, row in rows.iterrows():
        item = load_labelled(row)
        true_fractions.append(float(np.mean(item.particle_mask)))
        for way, segmentation in zip(WAYS, both_ways(model, item.micrograph)):
            picks = pick(segmentation, diameter_px=item.particle_diameter_px).table
            marked[way].append(mark_picks_on_mask(picks, item.particle_mask, item.particle_diameter_px))
            called[way].append(segmentation.class_fractions()["particle"])
    cells = []
    for way in WAYS:
        scores = pooled_scores(marked[way])
        cells.append(f"{scores['f1']:.3f} ({scores['precision']:.2f} / {scores['recall']:.2f})")
    cells.append(" / ".join(f"{np.mean(called[way]):.2f}" for way in WAYS) + f" / {np.mean(true_fractions):.2f}")
    return cells


def empty_ice_cells(model) -> list[str]:
    """Picks on each simulated micrograph of empty ice, each way."""
    counts = {way: [] for way in WAYS}
    for micrograph, params in empty_ice_micrographs():
        for way, segmentation in zip(WAYS, both_ways(model, micrograph)):
            counts[way].append(len(pick(segmentation, diameter_px=EMPTY_ICE_DIAMETER_A / params.pixel_size_A)))
    return [", ".join(str(n) for n in counts[way]) for way in WAYS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=recipe.REPO.parent / "shared" / "data")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    manifest = read_manifest(args.shared / "manifest.csv")
    lines = ["# A new specimen: the boundary refiner against the patch classifier alone", "",
             "Written by benchmarks/specimen_transfer.py. Each dataset's micrographs picked (true diameter, default",
             "threshold) by the default recipe retrained without that dataset, from the model's probabilities (with",
             "the refiner) and from the patch classifier's alone; particle fraction called: the fraction of pixels",
             "whose most probable class is particle, with the refiner / patches alone / the masks'. Empty ice: picks",
             f"on each of picking.py's four simulated 2048^2 micrographs of empty ice ({EMPTY_ICE_DIAMETER_A:g} Å"
             " diameter), all wrong.", "",
             "| model | F1 (P / R), " + " | F1 (P / R), ".join(WAYS) + " | particle fraction called | "
             "empty-ice picks, " + " | empty-ice picks, ".join(WAYS) + " |", "|" + " --- |" * 6]
    masked = manifest[manifest["particle_mask"].notna()]
    for dataset, rows in masked.groupby("dataset"):
        model = retrained_without(args.shared, dataset)
        cells = held_out_cells(model, rows) + empty_ice_cells(model)
        lines.append(f"| retrained without {dataset} ({len(rows)} micrographs) | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    lines.append("| shipped default model | — | — | — | " + " | ".join(empty_ice_cells(load_model())) + " |")
    lines += ["", f"Whole run: {time.perf_counter() - started:.0f} s on {len(os.sched_getaffinity(0))} cores."]
    publish(lines, "specimen_transfer.md")


if __name__ == "__main__":
    main()
