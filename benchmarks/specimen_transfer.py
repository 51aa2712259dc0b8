"""Picking on a specimen never seen in training: the particle evidence from the refiner, the patches, or both.

Usage:
    python benchmarks/specimen_transfer.py [--shared ../shared/data]

For each masked dataset of ../shared/data the default recipe is retrained without any micrograph of it (as
picking.py's "specimen held out" rows, sharing its models: picking.model_without), and all of that dataset's
masked micrographs are picked with the true diameter at the default threshold three ways (one feature pass):
- default: what `icestat pick` does; the particle evidence candidates are scored by is half the refined particle
  probability and half the patch classifier's (icestat.evidence.particle_evidence);
- refined map alone: the particle evidence is the boundary refiner's output alone (icestat before 2026-12-02);
- patch classifier alone: no refiner (interpolated patch probabilities, as `icestat pick --no-refine`).
Each model, and the shipped one, also picks picking.py's fresh simulations (F1 against the true centres) and its
simulated micrographs of empty ice, where every pick is wrong: a score that finds faint particles only by calling
everything particle shows there.

Writes benchmarks/results/specimen_transfer.md.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import pandas as pd

from _report import publish
from _truth import add_shared_argument, masked_manifest
from picking import (EMPTY_ICE_DIAMETER_A, empty_ice_micrographs, fresh_simulation_micrographs, model_without,
                     pooled_scores)

from icestat.manifest import load_labelled
from icestat.metrics import mark_picks, mark_picks_on_mask
from icestat.model import load_model
from icestat.pick import pick
from icestat.segment import Segmentation, model_probabilities, segment, with_particle_diameter

WAYS = ("default (half refined, half patches)", "refined map alone", "patch classifier alone")


def three_ways(model, micrograph, diameter_px: float) -> tuple[Segmentation, Segmentation, Segmentation]:
    """A micrograph segmented as `icestat pick --diameter-px` does, as before (no patches: evidence from the refined
    map alone), and from its patch probabilities alone (one feature pass)."""
    refined = segment(micrograph, model, particle_diameter_px=diameter_px)
    refined_alone = Segmentation(refined.name, refined.working, refined.working_probabilities)
    coarse = model_probabilities(model, refined.working, refined.patch_probabilities, refined.features.grid,
                                 refine=False)
    patches = with_particle_diameter(
        Segmentation(refined.name, refined.working, coarse, refined.patch_probabilities, refined.features), diameter_px)
    return refined, refined_alone, patches


def _f1_cells(marked: dict) -> list[str]:
    """F1 (precision / recall) pooled over micrographs, each way."""
    return [f"{s['f1']:.3f} ({s['precision']:.2f} / {s['recall']:.2f})"
            for s in (pooled_scores(marked[way]) for way in WAYS)]


def held_out_cells(model, rows: pd.DataFrame) -> list[str]:
    """F1 (precision / recall) each way, and the particle fraction called, on the rows' masked micrographs."""
    marked = {way: [] for way in WAYS}
    called = []   # particle fractions: default (the refined map alone has the same map), patches alone, masks
    for _, row in rows.iterrows():
        item = load_labelled(row)
        default, refined_alone, patches = three_ways(model, item.micrograph, item.particle_diameter_px)
        for way, segmentation in zip(WAYS, (default, refined_alone, patches)):
            picks = pick(segmentation, diameter_px=item.particle_diameter_px).table
            marked[way].append(mark_picks_on_mask(picks, item.particle_mask, item.particle_diameter_px))
        called.append([default.class_fractions()["particle"], patches.class_fractions()["particle"],
                       float(np.mean(item.particle_mask))])
    return _f1_cells(marked) + [" / ".join(f"{fraction:.2f}" for fraction in np.mean(called, axis=0))]


def simulation_cells(model) -> list[str]:
    """F1 each way on the fresh simulations, then the picks on each simulated micrograph of empty ice, each way."""
    marked = {way: [] for way in WAYS}
    for micrograph, diameter_px, truth in fresh_simulation_micrographs():
        for way, segmentation in zip(WAYS, three_ways(model, micrograph, diameter_px)):
            marked[way].append(mark_picks(pick(segmentation, diameter_px=diameter_px).table, truth, diameter_px / 2))
    counts = {way: [] for way in WAYS}
    for micrograph, params in empty_ice_micrographs():
        diameter_px = EMPTY_ICE_DIAMETER_A / params.pixel_size_A
        for way, segmentation in zip(WAYS, three_ways(model, micrograph, diameter_px)):
            counts[way].append(len(pick(segmentation, diameter_px=diameter_px)))
    return _f1_cells(marked) + [", ".join(str(n) for n in counts[way]) for way in WAYS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_shared_argument(parser)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    manifest = masked_manifest(args.shared)
    held_out = ["| model | " + " | ".join(f"F1 (P / R), {way}" for way in WAYS)
                + " | particle fraction called: default / patches alone / masks |", "|" + " --- |" * 5]
    simulated = ["| model | " + " | ".join(f"F1 (P / R), {way}" for way in WAYS) + " | "
                 + " | ".join(f"empty-ice picks, {way}" for way in WAYS) + " |", "|" + " --- |" * 7]
    masked = manifest[manifest["particle_mask"].notna()]
    for dataset, rows in masked.groupby("dataset"):
        model = model_without(dataset, args.shared)
        label = f"retrained without {dataset}"
        held_out.append(f"| {label} ({len(rows)} micrographs) | " + " | ".join(held_out_cells(model, rows)) + " |")
        simulated.append(f"| {label} | " + " | ".join(simulation_cells(model)) + " |")
        print(held_out[-1], simulated[-1], sep="\n", flush=True)
    simulated.append("| shipped default model | " + " | ".join(simulation_cells(load_model())) + " |")
    lines = ["# A new specimen: the particle evidence from the refiner, the patches, or both", "",
             "Written by benchmarks/specimen_transfer.py. Picks (true diameter, default threshold) scored by the",
             "particle evidence three ways: " + "; ".join(WAYS) + " (see the script's docstring).", "",
             "Each dataset's masked micrographs, picked by the default recipe retrained without that dataset;",
             "particle fraction called: the fraction of pixels whose most probable class is particle.", ""]
    lines += held_out
    lines += ["", "Fresh simulations (8, 2048^2, picking.py's; true centres within half a diameter) and empty ice",
              f"(picks on each of picking.py's four simulated 2048^2 micrographs of empty ice, {EMPTY_ICE_DIAMETER_A:g} Å"
              " diameter, all wrong):", ""]
    lines += simulated
    lines += ["", f"Whole run: {time.perf_counter() - started:.0f} s on {len(os.sched_getaffinity(0))} cores."]
    publish(lines, "specimen_transfer.md")


if __name__ == "__main__":
    main()
