"""How much picking accuracy each constant of icestat.pick and icestat.candidates is worth, above all on unseen specimens.

Usage:
    python benchmarks/pick_sensitivity.py [--shared ../shared/data] [--models DIR]

Every masked micrograph of ../shared/data and picking.py's fresh simulations and
empty-ice micrographs are segmented once, with the true diameter (as
`icestat pick --diameter-px` does: it sets the working scale of large
particles); then each variant (the default score
threshold, or one constant of picking changed, the rest as shipped) picks
them all again with the true diameter (``NOISE_P_VALUE_LAMBDA`` 0: the plain
Benjamini-Hochberg procedure, not adapted to the share of noise's candidates). Groups, as in picking.py: the shipped
model on the micrographs of each dataset it did not train on; the default
recipe retrained without a dataset, on all of that dataset's micrographs (a
specimen never seen); the shipped model on fresh simulations. The last columns
are the mean F1 over the specimens held out and the picks on the four
micrographs of empty ice (every one wrong).

The models retrained without each dataset (about 5 min each on 2 cores) are
kept in ``--models`` (``without_<dataset>_<recipe digest>.icestat``) and reused
by a rerun, and by picking.py and specimen_transfer.py, while what trains
them is unchanged (picking.TRAINING_SOURCES, picking.model_without).

Writes benchmarks/results/pick_sensitivity.md.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

import numpy as np

from _report import publish
from _truth import add_shared_argument, masked_manifest
from picking import (EMPTY_ICE_DIAMETER_A, MODELS_FOLDER, empty_ice_micrographs, fresh_simulation_micrographs,
                     mask_marker, model_without, pooled_scores, truth_marker)

import icestat.candidates
import icestat.pick
from icestat.manifest import load_labelled
from icestat.model import load_model
from icestat.segment import segment

#: Score thresholds tried in place of the default.
THRESHOLDS = (0.15, 0.2, 0.25, 0.35)
#: The modules whose constants are varied: picking and the candidates it scores.
PICKING_MODULES = (icestat.pick, icestat.candidates)
#: (constant of icestat.pick or icestat.candidates, value tried in its place).
VARIANTS = (("SIGMA_RADII", 0.4), ("SIGMA_RADII", 0.6), ("WHOLE_PARTICLE_SIGMA_RADII", 0.6),
            ("WHOLE_PARTICLE_SIGMA_RADII", 0.85), ("MIN_DISTANCE_RADII", 0.6), ("MIN_DISTANCE_RADII", 0.9),
            ("CORE_RADII", 0.35), ("CORE_RADII", 0.75), ("SURE_MODEL_SCORE", 0.3), ("SURE_MODEL_SCORE", 0.7),
            ("MIN_CONTRAST", 1.0), ("MIN_CONTRAST", 2.0), ("FULL_CONTRAST", 2.0), ("FULL_CONTRAST", 3.5),
            ("CONTRAST_WEIGHT", 0.5), ("CONTRAST_WEIGHT", 0.8), ("MAX_FALSE_DISCOVERY_RATE", 0.025),
            ("MAX_FALSE_DISCOVERY_RATE", 0.1), ("NOISE_P_VALUE_LAMBDA", 0.0), ("NOISE_P_VALUE_LAMBDA", 0.7))
SPECIMEN_OUT = "specimen held out"


def labelled_groups(shipped, shared: Path, models: Path) -> dict[str, list[tuple]]:
    """Group label -> (segmentation, true diameter in px, marking function) of each masked micrograph."""
    manifest = masked_manifest(shared)
    trained = set(shipped.metadata["training_micrographs"])
    groups = {}
    for dataset, rows in manifest[manifest["particle_mask"].notna()].groupby("dataset"):
        seen = rows["micrograph"].map(lambda path: f"{dataset}/{Path(path).stem}").isin(trained).to_numpy()
        for label, model, part in ((f"{dataset}, held out", shipped, rows[~seen]),
                                   (f"{dataset}, {SPECIMEN_OUT}", model_without(dataset, shared, models), rows)):
            if len(part):
                groups[label] = [_labelled(row, model) for _, row in part.iterrows()]
                print(label, "segmented", flush=True)
    return groups


def _labelled(row, model) -> tuple:
    item = load_labelled(row)
    diameter = item.particle_diameter_px
    return segment(item.micrograph, model, particle_diameter_px=diameter), diameter, mask_marker(item)


def simulated_group(model) -> list[tuple]:
    """picking.py's fresh simulations segmented by `model`, marked against their true centres."""
    return [(segment(micrograph, model, particle_diameter_px=diameter), diameter, truth_marker(truth, diameter))
            for micrograph, diameter, truth in fresh_simulation_micrographs()]


def empty_group(model) -> list[tuple]:
    """picking.py's empty-ice micrographs segmented by `model`, with the diameter they are picked with."""
    segmented = []
    for micrograph, params in empty_ice_micrographs():
        diameter = EMPTY_ICE_DIAMETER_A / params.pixel_size_A
        segmented.append((segment(micrograph, model, particle_diameter_px=diameter), diameter))
    return segmented


def variant_row(label: str, groups: dict, empty: list, threshold: float) -> str:
    """One table line: F1 per group, the mean over the specimens held out, and the picks on empty ice."""
    f1 = {name: pooled_scores([mark(icestat.pick.pick(segmentation, diameter_px=diameter, threshold=threshold,
                                                      warn_if_crowded=False).table)
                               for segmentation, diameter, mark in items])["f1"]
          for name, items in groups.items()}
    mean_out = np.mean([value for name, value in f1.items() if name.endswith(SPECIMEN_OUT)])
    n_empty = sum(len(icestat.pick.pick(segmentation, diameter_px=diameter, threshold=threshold))
                  for segmentation, diameter in empty)
    return f"| {label} | " + " | ".join(f"{value:.3f}" for value in f1.values()) + f" | {mean_out:.3f} | {n_empty} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_shared_argument(parser)
    parser.add_argument("--models", type=Path, default=MODELS_FOLDER,
                        help="folder keeping the models retrained without each dataset (reused when there)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    shipped = load_model()
    groups = labelled_groups(shipped, args.shared, args.models)
    groups["fresh simulations"] = simulated_group(shipped)
    empty = empty_group(shipped)
    default = icestat.pick.DEFAULT_THRESHOLD
    lines = ["# Sensitivity of picking to the constants of icestat.pick", "",
             "F1 with the true diameter; each row changes one thing from the shipped settings. Written by",
             "benchmarks/pick_sensitivity.py (see its docstring for the groups).", "",
             "| variant | " + " | ".join(groups) + f" | mean, {SPECIMEN_OUT} | picks on empty ice (4 micrographs) |",
             "|" + " --- |" * (len(groups) + 3),
             variant_row("shipped", groups, empty, default)]
    lines += [variant_row(f"threshold {threshold:g} (not {default:g})", groups, empty, threshold)
              for threshold in THRESHOLDS]
    for name, value in VARIANTS:
        holders = [module for module in PICKING_MODULES if hasattr(module, name)]   # one defines it, one may import it
        label = f"{name} {value:g} (not {getattr(holders[0], name):.3g})"
        with ExitStack() as patched:
            for module in holders:
                patched.enter_context(mock.patch.object(module, name, value))
            lines.append(variant_row(label, groups, empty, default))
    lines += ["", f"Whole run: {time.perf_counter() - started:.0f} s on {len(os.sched_getaffinity(0))} cores."]
    publish(lines, "pick_sensitivity.md")


if __name__ == "__main__":
    main()
