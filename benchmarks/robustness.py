"""Picking a specimen never seen in training, when its micrographs are noisier or smaller in pixels than ours.

Usage:
    python benchmarks/robustness.py [--shared ../shared/data] [--n 5]

The hidden specimen icestat is judged on may come with less contrast (a smaller protein, thinner dose, a raw
rather than a resized or denoised image) or with particles fewer pixels across. For each masked dataset of
../shared/data, the default recipe retrained without it (picking.model_without, shared with picking.py) picks
its first `--n` masked micrographs presented several ways (PRESENTATIONS):

- as stored;
- with white Gaussian noise added, of 0.5, 1 or 2 times the image's standard deviation (seeded);
- rescaled to half or twice the size (linear interpolation, anti-aliased when shrinking; the mask by nearest
  neighbour), the pixel size then unknown, as for a PNG, so the working scale follows the image's side.

Each is picked with the true diameter (scaled with the image; it sets the working scale as `icestat pick
--diameter-px` does) and with the micrograph's own estimate (icestat.diameter.segment_at_estimated_diameter),
at the default threshold, and scored against the mask (icestat.metrics.mark_picks_on_mask). About 3 minutes on
2 cores with the models already trained (kept in benchmarks/models/ by picking.py; training the three takes about
10-30 minutes more the first time).

Writes benchmarks/results/robustness.md.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
from skimage.transform import rescale

from _report import publish
from _truth import add_shared_argument, masked_manifest
from picking import given_and_estimated, model_without, pooled_scores

from icestat.manifest import load_labelled, resize_labels
from icestat.metrics import mark_picks_on_mask
from icestat.micrograph import Micrograph
from icestat.pick import pick

#: Name, added noise (in standard deviations of the image) and scale factor of each presentation.
PRESENTATIONS = (("as stored", 0.0, 1.0), ("noise 0.5 sd", 0.5, 1.0), ("noise 1 sd", 1.0, 1.0),
                 ("noise 2 sd", 2.0, 1.0), ("half size, pixel size unknown", 0.0, 0.5),
                 ("twice the size, pixel size unknown", 0.0, 2.0))
SEED = 0


def presented(item, noise_sd: float, scale: float, rng: np.random.Generator):
    """A labelled micrograph as presented: (micrograph, particle mask, particle diameter in pixels)."""
    micrograph, mask, diameter_px = item.micrograph, item.particle_mask, item.particle_diameter_px
    data = micrograph.data
    if noise_sd:
        data = data + rng.normal(0.0, noise_sd * float(np.std(data)), data.shape).astype(np.float32)
    if scale == 1.0:
        return Micrograph(data, micrograph.pixel_size_A, micrograph.name), mask, diameter_px
    data = rescale(data, scale, order=1, anti_aliasing=scale < 1).astype(np.float32)
    return (Micrograph(data, None, micrograph.name), resize_labels(mask.astype(np.uint8), data.shape).astype(bool),
            diameter_px * scale)


def picked_both_ways(model, micrograph: Micrograph, mask: np.ndarray, diameter_px: float) -> tuple:
    """Marked picks with the true diameter and with the estimated one, and estimated / true (NaN: no estimate)."""
    _, for_diameter, estimated = given_and_estimated(micrograph, model, diameter_px)
    given = pick(for_diameter, diameter_px=diameter_px)
    ratio = estimated.diameter_px / diameter_px   # NaN where there is no estimate
    return (mark_picks_on_mask(given.table, mask, diameter_px), mark_picks_on_mask(estimated.table, mask, diameter_px),
            ratio)


def dataset_rows(dataset: str, model, items: list) -> list[str]:
    """One table line per presentation of `items` (labelled micrographs of `dataset`)."""
    lines = []
    for name, noise_sd, scale in PRESENTATIONS:
        rng = np.random.default_rng(SEED)
        results = [picked_both_ways(model, *presented(item, noise_sd, scale, rng)) for item in items]
        given, estimated = (pooled_scores([result[i] for result in results]) for i in (0, 1))
        ratios = [result[2] for result in results]
        found = np.isfinite(ratios)
        ratio = (f"{np.median(np.array(ratios)[found]):.2f} [{np.min(np.array(ratios)[found]):.2f}-"
                 f"{np.max(np.array(ratios)[found]):.2f}]" if found.any() else "none")
        lines.append(f"| {dataset} | {name} | {given['f1']:.3f} ({given['precision']:.2f} / {given['recall']:.2f}) | "
                     f"{estimated['f1']:.3f} ({estimated['precision']:.2f} / {estimated['recall']:.2f}) | {ratio} |")
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_shared_argument(parser)
    parser.add_argument("--n", type=int, default=5, help="masked micrographs per dataset")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    manifest = masked_manifest(args.shared)
    lines = ["# Picking a specimen never seen, presented noisier or smaller", "",
             f"Written by benchmarks/robustness.py (see its docstring). The first {args.n} masked micrographs of each",
             "dataset, picked by the default recipe retrained without that dataset, at the default threshold;",
             "F1 (precision / recall) pooled over them; estimated / true diameter: median [range] over them.", "",
             "| specimen held out | presented | F1 (P / R), true diameter | F1 (P / R), own estimated diameter "
             "| estimated / true diameter |", "|" + " --- |" * 5]
    for dataset, rows in manifest[manifest["particle_mask"].notna()].groupby("dataset"):
        items = [load_labelled(row) for _, row in rows.head(args.n).iterrows()]
        lines += dataset_rows(dataset, model_without(dataset, args.shared), items)
    lines += ["", f"Whole run: {time.perf_counter() - started:.0f} s on {len(os.sched_getaffinity(0))} cores."]
    publish(lines, "robustness.md")


if __name__ == "__main__":
    main()
