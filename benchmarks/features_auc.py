"""How informative each feature is on real labelled micrographs: single-feature ROC AUC.

Usage:
    python benchmarks/features_auc.py [--data ../shared/data] [--bin 4] [--patch-px 32] [--stride-px 16]

On the EMPIAR-10017 micrographs that have per-pixel region labels, computes
all features at the working pixel size, labels each patch from the regions
(ice: at least 90 % ice pixels; carbon: at least 50 % carbon; particle: at
least 30 % particle and under 10 % carbon), and reports for every feature the
ROC AUC of ice against carbon and of ice against particle, direction-free
(max(AUC, 1 - AUC): 0.5 is chance, 1 perfect). Writes
benchmarks/results/features_auc.md: per group the best feature and the median,
then the 15 best features of each task.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from _report import publish
from icestat.classes import CARBON, ICE, IGNORE, PARTICLE
from icestat.features import compute_features, describe_features
from icestat.manifest import iter_labelled, read_manifest
from icestat.prepare import prepare
from icestat.targets import working_classes

HERE = Path(__file__).resolve().parent


def patch_labels(regions: np.ndarray, grid) -> np.ndarray:
    """'ice', 'carbon', 'particle' or '' per patch, from the class fractions of its labelled pixels."""
    labels = np.full(grid.shape, "", dtype=object)
    p = grid.patch_px
    for i, top in enumerate(grid.row_starts):
        for j, left in enumerate(grid.col_starts):
            window = regions[top:top + p, left:left + p]
            known = window != IGNORE
            if known.mean() < 0.9:
                continue
            fraction = {code: np.mean(window[known] == code) for code in (ICE, PARTICLE, CARBON)}
            if fraction[ICE] >= 0.9:
                labels[i, j] = "ice"
            elif fraction[CARBON] >= 0.5:
                labels[i, j] = "carbon"
            elif fraction[PARTICLE] >= 0.3 and fraction[CARBON] < 0.1:
                labels[i, j] = "particle"
    return labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--bin", type=float, default=4.0)
    parser.add_argument("--patch-px", type=int, default=32)
    parser.add_argument("--stride-px", type=int, default=16)
    args = parser.parse_args()

    manifest = read_manifest(args.data / "manifest.csv")
    manifest = manifest[(manifest["dataset"] == "empiar-10017") & manifest["regions"].notna()]
    tables = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for item in iter_labelled(manifest):
            working = prepare(item.micrograph, bin_factor=args.bin)
            result = compute_features(working, args.patch_px, args.stride_px)
            table = result.to_frame()
            inside = item.regions[working.frame_border.inside(working.original_shape)]  # what the working image covers
            table["label"] = patch_labels(working_classes(inside, working.data.shape), result.grid).ravel()
            table["micrograph"] = item.micrograph.name
            tables.append(table[table["label"] != ""])
    data = pd.concat(tables, ignore_index=True)
    counts = data["label"].value_counts().to_dict()

    registry = describe_features().set_index("name")
    rows = []
    for name in registry.index:
        row = {"feature": name, "group": registry.loc[name, "group"]}
        for other in ("carbon", "particle"):
            subset = data[data["label"].isin(["ice", other])]
            values, truth = subset[name].to_numpy(), (subset["label"] == other).to_numpy()
            finite = np.isfinite(values)
            if finite.sum() < 10 or len(set(truth[finite])) < 2:
                row[f"ice vs {other}"] = np.nan
                continue
            auc = roc_auc_score(truth[finite], values[finite])
            row[f"ice vs {other}"] = max(auc, 1 - auc)
        rows.append(row)
    auc = pd.DataFrame(rows)

    lines = [
        "# Single-feature ROC AUC on real labelled micrographs (EMPIAR-10017 region labels)",
        "",
        f"{len(manifest)} micrographs, binned {args.bin:g}x to {1.77 * args.bin:.2f} Å/px, {args.patch_px}-px patches "
        f"at stride {args.stride_px}. Patches: {counts.get('ice', 0)} ice, {counts.get('carbon', 0)} carbon, "
        f"{counts.get('particle', 0)} particle. AUC is direction-free: 0.5 chance, 1 perfect.",
        "These JPGs are denoised 8-bit images: their spectra are not those of raw micrographs (see "
        "simulate_vs_real.md), and at this pixel size the 3.7 Å ice band is beyond Nyquist (iciness is NaN).",
        "",
        "## Per group",
        "",
        "| group | features | ice vs carbon: best (median) | best feature | ice vs particle: best (median) | best feature |",
        "| --- | ---: | ---: | --- | ---: | --- |",
    ]
    for group, part in auc.groupby("group", sort=False):
        cells = []
        for task in ("ice vs carbon", "ice vs particle"):
            column = part[task]
            best = part.loc[column.idxmax(), "feature"] if column.notna().any() else "-"
            cells += [f"{column.max():.3f} ({column.median():.3f})", best]
        lines.append(f"| {group} | {len(part)} | " + " | ".join(cells) + " |")
    for task in ("ice vs carbon", "ice vs particle"):
        lines += ["", f"## 15 best features, {task}", "", "| feature | group | AUC |", "| --- | --- | ---: |"]
        for _, row in auc.sort_values(task, ascending=False).head(15).iterrows():
            lines.append(f"| {row['feature']} | {row['group']} | {row[task]:.3f} |")
    publish(lines, "features_auc.md")


if __name__ == "__main__":
    main()
