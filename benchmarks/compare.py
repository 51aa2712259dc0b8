"""icestat against a deep-only U-Net and a classical LoG picker, on the same splits of real and simulated data.

Usage:
    python benchmarks/compare.py [--shared ../shared/data] [--device cpu] [--quick] [--output benchmarks/results]
                                 [--only icestat|U-Net|LoG]

Every dataset (EMPIAR-10017, -10028, -10059 of ../shared/data, and simulated
micrographs, with and without carbon in each part) is split once into
training, validation and test micrographs (baselines/cases.py). Then:

1. Each learned system (icestat's recipe, the U-Net) is trained afresh on the
   training micrographs of each dataset alone (the U-Net stops early on the
   validation ones) and tested on the test micrographs of every dataset: the
   same dataset (the main table) and the others (generalisation across
   specimens). The LoG picker learns nothing and is tested once.
2. Data efficiency: trained on 1, 2, 4, ... of EMPIAR-10017's training
   micrographs, tested on its test micrographs.

Every system is given the micrograph and the particle diameter; picks are
scored mask-based on real data and against the true centres (within half a
diameter) on simulations (icestat.metrics); segmentations at the working
scale (icestat.training.segmentation_scores). Training and inference time
and their peak memory above the process's resident memory are measured.

Writes compare.md, compare.csv and compare_*.png to the output folder
(benchmarks/results by default). --quick runs a tiny split, with real
micrographs cropped to a quarter of their area, and small budgets (a check that
everything runs; its numbers mean little). --only
reruns one system after a change to it and takes the other systems' rows from
the compare.csv already in the output folder (an earlier run on the same
splits; the report says which rows are reused).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from _report import RESULTS, publish
from _truth import add_shared_argument, masked_manifest
from baselines.cases import REAL_DATASETS, SIMULATED, Split, real_cases, simulated_cases, split
from baselines.measure import measured
from baselines.plots import plot_data_efficiency, plot_generalisation, plot_picking
from baselines.systems import DeepOnly, Icestat, LoGPicker

from icestat.metrics import pick_scores
from icestat.settings import SegmentationSettings
from icestat.training import SHIPPED_CLASSIFIER, SHIPPED_REFINER, segmentation_scores

SEED = 2026
#: Data efficiency is measured on this dataset.
EFFICIENCY_DATASET = "empiar-10017"
#: What a row of the results is about: one system trained on one set and tested on another.
ROW_KEY = ["system", "trained_on", "tested_on"]
SYSTEMS = (Icestat.name, DeepOnly.name, LoGPicker.name)


@dataclass(frozen=True)
class Budget:
    """How much data and training each mode uses."""

    n_simulated: int
    simulated_side_px: int
    max_real: int | None
    real_side_fraction: float | None
    limit: tuple[int, int, int] | None
    efficiency_sizes: tuple[int, ...]
    classifier: dict = field(default_factory=dict)
    refiner: dict = field(default_factory=dict)
    unet: dict = field(default_factory=dict)

    @property
    def settings(self) -> SegmentationSettings:
        """The recipe's, with the crops (of unknown pixel size) at their whole micrographs' working scale, not
        enlarged as a whole micrograph stored small would be."""
        side_px = round((self.real_side_fraction or 1.0) * SegmentationSettings().unknown_pixel_size_side_px)
        return SegmentationSettings(unknown_pixel_size_side_px=side_px)


FULL = Budget(12, 1024, None, None, None, (1, 2, 4), SHIPPED_CLASSIFIER, SHIPPED_REFINER,
              dict(width=16, depth=3, max_steps=1500, eval_every=50, patience=4, crop_px=128))
QUICK = Budget(4, 512, 4, 0.5, (2, 1, 1), (1,), dict(n_estimators=20, max_depth=4),
               dict(n_steps=10, crop_px=64),
               dict(width=8, depth=2, max_steps=20, eval_every=10, patience=1, crop_px=64))


def load_splits(shared: Path, budget: Budget) -> dict[str, Split]:
    """The split of every dataset, simulated first."""
    settings = budget.settings
    simulated = simulated_cases(budget.n_simulated, SEED + 1, budget.simulated_side_px, settings)
    splits = {SIMULATED: split(simulated, None, budget.limit)}
    manifest = masked_manifest(shared, budget.max_real)
    for dataset in REAL_DATASETS:
        cases = real_cases(manifest, dataset, settings, budget.max_real, budget.real_side_fraction)
        splits[dataset] = split(cases, SEED, budget.limit)
        logging.info("%s loaded", dataset)
    return splits


def make_learned(budget: Budget, device: str, only: str | None = None) -> list:
    """Fresh, untrained learned systems (the one named `only`, if given)."""
    systems = [Icestat(budget.settings, budget.classifier, budget.refiner, device, SEED),
               DeepOnly(budget.settings, budget.unet, device, SEED)]
    return [system for system in systems if only in (None, system.name)]


def evaluate(system, cases) -> dict:
    """Picking and segmentation scores of a trained system on cases, with its inference time and memory."""
    marked, n_true, truths, predictions, seconds, peaks = [], 0, [], [], [], []
    for case in cases:
        (labels, picks), elapsed, peak_MB = measured(system.run, case)
        case_marked, case_true = case.mark(picks)
        marked.append(case_marked)
        n_true += case_true
        seconds.append(elapsed)
        peaks.append(peak_MB)
        if labels is not None:
            truths.append(case.example.classes)
            predictions.append(labels.astype(np.uint8))
    row = pick_scores(pd.concat(marked, ignore_index=True), n_true)
    row.update(n_test=len(cases), infer_s=float(np.median(seconds)), infer_peak_MB=float(np.nanmax(peaks)))
    if truths:
        segmentation = segmentation_scores(truths, predictions)
        row.update({key: segmentation[key] for key in ("non_ice_iou", "particle_iou")})
        row["carbon_iou"] = segmentation["carbon_iou"] if segmentation["carbon_px"] else float("nan")
    return row


def train_and_test(system, trained_on: str, train, validation, splits: dict[str, Split], test_on) -> list[dict]:
    """Train a system and evaluate it on the test part of each dataset in `test_on`."""
    _, train_s, train_peak_MB = measured(system.fit, train, validation)
    logging.info("%s trained on %s (%d micrographs) in %.0f s", system.name, trained_on, len(train), train_s)
    rows = []
    for dataset in test_on:
        row = dict(system=system.name, trained_on=trained_on, n_train=len(train), tested_on=dataset,
                   train_s=train_s, train_peak_MB=train_peak_MB, size=system.describe())
        row.update(evaluate(system, splits[dataset].test))
        rows.append(row)
    return rows


def run_all(splits: dict[str, Split], budget: Budget, device: str, only: str | None = None) -> pd.DataFrame:
    """Every training and test of the comparison (of the system `only`, if given), one row per `ROW_KEY`."""
    rows = []
    for dataset, part in splits.items():
        for system in make_learned(budget, device, only):
            rows += train_and_test(system, dataset, part.train, part.validation, splits, splits)
    if only in (None, LoGPicker.name):
        rows += train_and_test(LoGPicker(budget.settings), "(nothing)", [], [], splits, splits)
    efficiency = splits[EFFICIENCY_DATASET]
    for n in budget.efficiency_sizes:
        if n < len(efficiency.train):
            for system in make_learned(budget, device, only):
                rows += train_and_test(system, f"{EFFICIENCY_DATASET}[:{n}]", efficiency.train[:n],
                                       efficiency.validation, splits, [EFFICIENCY_DATASET])
    return pd.DataFrame(rows)


def with_rows_replaced(earlier: pd.DataFrame, new: pd.DataFrame, splits: dict[str, Split]) -> pd.DataFrame:
    """`earlier`'s results with the rows of the systems in `new` replaced by `new`'s, in `earlier`'s order.

    Raises
    ------
    SystemExit
        If a reused row was tested on another number of micrographs than `splits` hold (other splits).
    """
    reused = earlier[~earlier["system"].isin(new["system"])]
    for _, row in reused[reused["tested_on"].isin(splits)].iterrows():
        if row["n_test"] != len(splits[row["tested_on"]].test):
            raise SystemExit(f"the earlier results were tested on {row['n_test']} {row['tested_on']} micrographs, "
                             f"the splits now hold {len(splits[row['tested_on']].test)}: rerun every system")
    place = {key: i for i, key in enumerate(earlier[ROW_KEY].itertuples(index=False, name=None))}
    combined = pd.concat([reused, new], ignore_index=True)
    order = [place.get(key, len(place) + i) for i, key in enumerate(combined[ROW_KEY].itertuples(index=False, name=None))]
    return combined.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)


def device_name(device: str) -> str:
    """The device in words, for the report."""
    if device.startswith("cuda"):
        import torch

        return f"{torch.cuda.get_device_name(torch.device(device))} ({device})"
    return f"CPU, {len(os.sched_getaffinity(0))} cores"


def report(results: pd.DataFrame, splits: dict[str, Split], mode: str, device: str,
           seconds: float, only: str | None = None) -> list[str]:
    """The Markdown report (of a run of the system `only`, the others' rows reused, if given)."""
    same = same_dataset(results)
    command = f"python benchmarks/compare.py{' --quick' if mode == 'quick' else ''}{f' --only {only}' if only else ''}"
    provenance = ("Every number below comes from that run." if only is None else
                  f"Only the {only} rows come from that run; those of "
                  f"{' and '.join(s for s in SYSTEMS if s != only)} are the earlier run's (compare.csv), not rerun.")
    lines = [
        "# icestat against a deep-only U-Net and a classical LoG picker", "",
        f"Written by `{command}` ({mode} mode) on {device_name(device)}, whole run {seconds / 60:.1f} min. "
        + provenance,
        "Picks: real data mask-based, simulations one-to-one within half a diameter; the particle diameter is given.",
        "Segmentation scores at the working scale; carbon IoU only where the test micrographs have carbon.",
        "Peak memory: above the process's resident memory before the call.", "",
        "## Trained and tested on the same dataset (its held-out test micrographs)", "",
        "| system | dataset | train / val / test | precision | recall | F1 | AP | non-ice IoU | carbon IoU "
        "| training (s) | inference (s / micrograph) | peak memory, training / inference (MB) |",
        "|" + " --- |" * 12,
    ]
    for _, r in same[same["tested_on"].isin(splits)].iterrows():
        part = splits[r["tested_on"]]
        sizes = f"{len(part.train)} / {len(part.validation)} / {len(part.test)}" if r["system"] != "LoG" else \
            f"- / - / {len(part.test)}"
        lines.append(f"| {r['system']} | {r['tested_on']} | {sizes} | {r['precision']:.3f} | {r['recall']:.3f} "
                     f"| {r['f1']:.3f} | {r['average_precision']:.3f} | {_number(r.get('non_ice_iou'))} "
                     f"| {_number(r.get('carbon_iou'))} | {r['train_s']:.0f} | {r['infer_s']:.2f} "
                     f"| {max(r['train_peak_MB'], 0):.0f} / {max(r['infer_peak_MB'], 0):.0f} |")   # below 0: freed
    lines += ["", "## Across datasets: picking F1 (rows: trained on; columns: tested on)", ""]
    for system, part in results[results["trained_on"].isin(splits)].groupby("system", sort=False):
        table = part.pivot(index="trained_on", columns="tested_on", values="f1")
        table = table.reindex(index=list(splits), columns=list(splits))
        lines += [f"**{system}**", "", "| trained on | " + " | ".join(table.columns) + " |",
                  "|" + " --- |" * (len(table.columns) + 1)]
        lines += [f"| {index} | " + " | ".join(_number(v) for v in values) + " |" for index, values in table.iterrows()]
        lines.append("")
    lines += [f"## Data efficiency: picking F1 on the {EFFICIENCY_DATASET} test micrographs", "",
              "| training micrographs | " + " | ".join(results["system"].unique()) + " |",
              "|" + " --- |" * (results["system"].nunique() + 1)]
    efficiency = _efficiency(results)
    lines += [f"| {n} | " + " | ".join(_number(v) for v in values) + " |" for n, values in efficiency.iterrows()]
    lines += ["", "## The systems, as trained on each dataset", "",
              "| system | trained on | size | training (s) |", "| --- | --- | --- | --- |"]
    trainings = results.drop_duplicates(["system", "trained_on"])
    lines += [f"| {r['system']} | {r['trained_on']} | {r['size']} | {r['train_s']:.0f} |" for _, r in trainings.iterrows()]
    lines += ["", "## Splits", ""]
    for dataset, part in splits.items():
        lines.append(f"- {dataset}: train {_names(part.train)}; validation {_names(part.validation)}; "
                     f"test {_names(part.test)}")
    return lines


def same_dataset(results: pd.DataFrame) -> pd.DataFrame:
    """The rows of learned systems tested on the dataset they trained on, and the LoG picker's."""
    return results[(results["trained_on"] == results["tested_on"]) | (results["system"] == "LoG")]


def _efficiency(results: pd.DataFrame) -> pd.DataFrame:
    """F1 on the efficiency dataset's test part per number of training micrographs (rows) and system (columns)."""
    tested = results[results["tested_on"] == EFFICIENCY_DATASET]
    learned = tested[tested["trained_on"].str.startswith(EFFICIENCY_DATASET)]
    table = learned.pivot(index="n_train", columns="system", values="f1")
    for _, r in tested[tested["system"] == "LoG"].iterrows():
        table[r["system"]] = r["f1"]
    return table[list(results["system"].unique())]


def _number(value) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value:.3f}"


def _names(cases) -> str:
    return ", ".join(case.name for case in cases) or "-"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_shared_argument(parser)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N for the learned systems")
    parser.add_argument("--quick", action="store_true", help="a tiny split with small budgets (under 5 minutes)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="folder for compare.md, .csv and .png")
    parser.add_argument("--only", choices=SYSTEMS, help="rerun this system alone; the others' rows are taken from "
                        "the compare.csv in the output folder")
    args = parser.parse_args(argv)
    earlier_csv = args.output / "compare.csv"
    if args.only and not earlier_csv.is_file():
        parser.error(f"--only reuses the other systems' rows of {earlier_csv}, which is not there")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    budget, mode = (QUICK, "quick") if args.quick else (FULL, "full")
    splits = load_splits(args.shared, budget)
    results = run_all(splits, budget, args.device, args.only)
    if args.only:
        results = with_rows_replaced(pd.read_csv(earlier_csv), results, splits)
    args.output.mkdir(parents=True, exist_ok=True)
    results.to_csv(args.output / "compare.csv", index=False)
    plot_picking(same_dataset(results), list(splits), args.output / "compare_picking.png")
    plot_generalisation(results, list(splits), args.output / "compare_generalisation.png")
    plot_data_efficiency(_efficiency(results), EFFICIENCY_DATASET, args.output / "compare_data_efficiency.png")
    publish(report(results, splits, mode, args.device, time.perf_counter() - started, args.only), "compare.md",
            args.output)


if __name__ == "__main__":
    main()
