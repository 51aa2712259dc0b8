"""Where a specimen never seen loses its particles: recall after each step of picking, and the contrast of candidates.

Usage:
    python benchmarks/recall_stages.py [--shared ../shared/data]

For each masked dataset of ../shared/data, the default recipe retrained without any micrograph of it (picking.py's
"specimen held out" models, shared: picking.model_without) segments and picks all of its masked micrographs with the
true diameter (benchmarks/_truth.py), as `icestat pick --diameter-px` does. Recall (mask-based, a blob of the mask
holding round(area / one particle's area) particles: icestat.metrics.mark_picks_on_mask) is counted after each step:

1. a local maximum of the locating response (icestat.pick.locating_contrast) at any height, at least
   MIN_DISTANCE_RADII apart, lands on the particle (at the scale picking located its candidates at: a smaller one on
   a crowded micrograph, icestat.pick.Picks.locating_diameter_px);
2. one at least MIN_CONTRAST robust standard deviations high does (the candidates);
3. a candidate survives the rejections (carbon, contamination, the edge, too faint to tell from noise): a pick at
   score 0;
4. a pick at the default threshold.

The second table gives the contrast (robust SDs) of the candidates that land on a particle and of those that do
not, and their counts: where the two overlap, the contrast cannot tell particles from the rest and the model's
score must.

Writes benchmarks/results/recall_stages.md.
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
from picking import model_without

from icestat.candidates import MIN_CONTRAST, candidate_peaks
from icestat.coords import pick_table
from icestat.evaluate import scored_at_least
from icestat.manifest import load_labelled
from icestat.metrics import mark_picks_on_mask
from icestat.pick import DEFAULT_THRESHOLD, locating_contrast, pick
from icestat.segment import segment, segmented_for_diameter

STAGES = ("a peak at any height", f"a candidate (peak at least {MIN_CONTRAST:g} SD)", "a pick at score 0",
          f"a pick at the default threshold ({DEFAULT_THRESHOLD:g})")


def peak_table(segmentation, diameter_px: float, polarity: str, min_contrast: float) -> pd.DataFrame:
    """The peaks of the locating response at the scale of `diameter_px` turned to `polarity`, at least `min_contrast`
    high, in original pixels, scored by their contrast."""
    working = segmentation.working
    radius_working_px = diameter_px / 2 / float(np.mean(working.scale))
    _, contrast, _, _ = locating_contrast(segmentation, radius_working_px, polarity)
    rows, cols = candidate_peaks(contrast, radius_working_px, min_contrast=min_contrast)
    y_px, x_px = working.to_original_px(rows, cols)
    return pick_table(x_px, y_px, score=contrast[rows, cols], micrograph=segmentation.name)


def stages_of(model, rows: pd.DataFrame) -> tuple[list[int], int, pd.DataFrame, float]:
    """Particles found after each of ``STAGES`` over `rows`' micrographs, how many there are, the candidates marked
    (``score`` their contrast) and the precision of the picks at the default threshold."""
    found, n_true, candidates, n_picks, n_right = np.zeros(len(STAGES), dtype=int), 0, [], 0, 0
    for _, row in rows.iterrows():
        item = load_labelled(row)
        diameter_px = item.particle_diameter_px
        segmentation = segmented_for_diameter(segment(item.micrograph, model), item.micrograph, model, diameter_px)
        picks = pick(segmentation, diameter_px=diameter_px, threshold=0.0)
        located = (segmentation, picks.locating_diameter_px, picks.polarity)   # a smaller scale where crowded
        tables = [peak_table(*located, -np.inf), peak_table(*located, MIN_CONTRAST), picks.table,
                  scored_at_least(picks.table, DEFAULT_THRESHOLD)]
        marked = [mark_picks_on_mask(table, item.particle_mask, diameter_px) for table in tables]
        found += [int(table["correct"].sum()) for table, _ in marked]
        n_true += marked[0][1]
        candidates.append(marked[1][0])
        n_picks, n_right = n_picks + len(marked[-1][0]), n_right + int(marked[-1][0]["correct"].sum())
    return found.tolist(), n_true, pd.concat(candidates, ignore_index=True), n_right / max(n_picks, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_shared_argument(parser)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    manifest = masked_manifest(args.shared)
    recall = ["| specimen held out | micrographs | true particles | " + " | ".join(STAGES)
              + " | precision at the default threshold |", "|" + " --- |" * (len(STAGES) + 4)]
    contrast = ["| specimen held out | candidates on a particle | contrast on a particle: median [quartiles] "
                "| candidates elsewhere | contrast elsewhere: median [quartiles] |", "|" + " --- |" * 5]
    for dataset, rows in manifest[manifest["particle_mask"].notna()].groupby("dataset"):
        found, n_true, candidates, precision = stages_of(model_without(dataset, args.shared), rows)
        recall.append(f"| {dataset} | {len(rows)} | {n_true} | "
                      + " | ".join(f"{n / n_true:.3f}" for n in found) + f" | {precision:.3f} |")
        cells = []
        for on_particle in (True, False):
            values = candidates.loc[candidates["correct"] == on_particle, "score"].to_numpy()
            low, median, high = np.quantile(values, [0.25, 0.5, 0.75]) if len(values) else [np.nan] * 3
            cells += [str(len(values)), f"{median:.2f} [{low:.2f}-{high:.2f}]"]
        contrast.append(f"| {dataset} | " + " | ".join(cells) + " |")
        print(recall[-1], contrast[-1], sep="\n", flush=True)
    lines = ["# Where a specimen never seen loses its particles",
             "",
             "Written by benchmarks/recall_stages.py (see its docstring). Each dataset's masked micrographs, picked",
             "by the default recipe retrained without it, with the true diameter. Recall after each step of picking",
             "(a particle counts as found at a step when something of that step lands on it):", ""]
    lines += recall
    lines += ["", "The candidates' contrast (robust SDs of the locating response), on a particle of the mask or not:",
              ""]
    lines += contrast
    lines += ["", f"Whole run: {time.perf_counter() - started:.0f} s on {len(os.sched_getaffinity(0))} cores."]
    publish(lines, "recall_stages.md")


if __name__ == "__main__":
    main()
