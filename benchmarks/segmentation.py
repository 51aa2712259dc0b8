"""Segmentation accuracy of the default recipe: held-out real micrographs, fresh simulations, other specimens.

Usage:
    python benchmarks/segmentation.py [--shared ../shared/data] [--folds 3]

Three measurements, all at the working scale (7 Å/px, or the longer side
binned to 1024 px when the pixel size is unknown), boundary F1 within 2
working pixels, with and without the CNN boundary refiner, and (for the first
two) with and without carbon decided per region (:mod:`icestat.carbon`):

1. EMPIAR-10017 micrographs with region labels, each held out of training by
   cross-validation over micrographs (the default model's recipe of
   scripts/train_default_model.py, minus the held-out fold).
2. Fresh simulated micrographs (seeds the default model never saw, every other
   one denoised as in training), with the shipped default model.
3. Each specimen held out: the default recipe (its simulations included)
   retrained without one dataset of ``../shared/data``, tested on all of that
   dataset's labelled micrographs: what a specimen never seen gets from the
   shipped recipe. The models are picking.py's (kept in benchmarks/models/,
   trained there where absent, about 8 minutes each on 2 cores).
4. Across specimens: train on EMPIAR-10017 only, test on 10028 and 10059, and
   the reverse, with and without the per-micrograph adaptation (no simulated
   data, so that only the named specimens are seen).

Writes benchmarks/results/segmentation.md.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

from sklearn.model_selection import KFold

from _report import publish
from _truth import add_shared_argument

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import train_default_model as recipe  # noqa: E402
from picking import model_without  # noqa: E402

from icestat.classify import IceClassifier  # noqa: E402
from icestat.examples import examples_from_simulation  # noqa: E402
from icestat.model import load_model  # noqa: E402
from icestat.refine import BoundaryRefiner  # noqa: E402
from icestat.settings import SegmentationSettings  # noqa: E402
from icestat.simulate import simulate_micrograph  # noqa: E402
from icestat.simulate.varied import denoised, varied_params  # noqa: E402
from icestat.training import evaluate_model, predict_classes, segmentation_scores, train_model  # noqa: E402

COLUMNS = ("carbon_iou", "non_ice_iou", "particle_recall", "particle_iou", "boundary_f1")
#: (CNN refiner, carbon regions) of each row of the default recipe, and how the row says it.
VARIANTS = {(True, True): "with CNN", (True, False): "with CNN, carbon per pixel",
            (False, True): "without CNN", (False, False): "without CNN, carbon per pixel"}


def _train(examples, settings):
    return train_model(examples, settings, IceClassifier(**recipe.CLASSIFIER, random_state=recipe.SEED),
                       BoundaryRefiner(**recipe.REFINER, random_state=recipe.SEED))


def _row(label, scores):
    return f"| {label} | {scores['n_micrographs']} | " + " | ".join(f"{scores[c]:.3f}" for c in COLUMNS) + " |"


def held_out_10017(shared: Path, n_folds: int) -> list[str]:
    """Cross-validation over the region-labelled EMPIAR-10017 micrographs."""
    rows = recipe.shared_training_rows(shared)
    examples = recipe.shared_examples(rows)
    simulated = recipe.simulated_examples()
    regions = [i for i, e in enumerate(examples) if e.dataset == "empiar-10017" and
               rows.iloc[i]["regions"] and isinstance(rows.iloc[i]["regions"], str)]
    truths, predicted = [], {variant: [] for variant in VARIANTS}
    for fold, (_, test) in enumerate(KFold(n_folds, shuffle=True, random_state=0).split(regions)):
        held = {regions[i] for i in test}
        model = _train(simulated + [e for i, e in enumerate(examples) if i not in held], recipe.SETTINGS)
        for i in sorted(held):
            truths.append(examples[i].classes)
            for refine, regions_on in VARIANTS:
                regions_model = model.with_carbon_regions(regions_on)
                predicted[refine, regions_on].append(predict_classes(regions_model, examples[i], refine))
        print(f"fold {fold + 1}/{n_folds} done", flush=True)
    return [_row(f"EMPIAR-10017, held out ({n_folds}-fold CV), {label}", segmentation_scores(truths, predicted[variant]))
            for variant, label in VARIANTS.items()]


def fresh_simulations(n: int = 6) -> list[str]:
    """The shipped default model on simulated micrographs it never saw."""
    model = load_model()
    simulated = (denoised(simulate_micrograph(varied_params(1000 + i), seed=[recipe.SEED + 1, i]), i) for i in range(n))
    examples = examples_from_simulation(simulated, model.settings)
    return [_row(f"fresh simulations, default model, {label}",
                 evaluate_model(model.with_carbon_regions(regions), examples, refine))
            for (refine, regions), label in VARIANTS.items()]


def held_out_specimens(shared: Path) -> list[str]:
    """The default recipe retrained without each real specimen, on all of that specimen's labelled micrographs."""
    manifest = recipe.read_manifest(shared / "manifest.csv")
    lines = []
    for dataset in ("empiar-10017", "empiar-10028", "empiar-10059"):
        model = model_without(dataset, shared)
        examples = recipe.shared_examples(manifest[manifest["dataset"] == dataset], model.settings)
        lines += [_row(f"{dataset}, specimen held out, {VARIANTS[refine, True]}", evaluate_model(model, examples, refine))
                  for refine in (True, False)]
        print(f"{dataset} held out done", flush=True)
    return lines


def across_specimens(shared: Path) -> list[str]:
    """Train on one specimen, test on the others, with and without the adaptation."""
    lines = []
    manifest = recipe.read_manifest(shared / "manifest.csv")
    for adapt in (True, False):
        settings = SegmentationSettings(adapt=adapt)
        by_set = {name: recipe.shared_examples(manifest[manifest["dataset"] == name], settings)
                  for name in ("empiar-10017", "empiar-10028", "empiar-10059")}
        plans = [(["empiar-10017"], ["empiar-10028", "empiar-10059"]), (["empiar-10028", "empiar-10059"], ["empiar-10017"])]
        for train_sets, test_sets in plans:
            model = _train([e for name in train_sets for e in by_set[name]], settings)
            for test in test_sets:
                label = f"train {'+'.join(train_sets)} -> test {test}, adaptation {'on' if adapt else 'off'}"
                lines.append(_row(label, evaluate_model(model, by_set[test])))
            print(f"{train_sets} adapt={adapt} done", flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_shared_argument(parser)
    parser.add_argument("--folds", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    header = ["| data | micrographs | " + " | ".join(COLUMNS) + " |", "|" + " --- |" * (len(COLUMNS) + 2)]
    lines = ["# Segmentation accuracy", "",
             "Working scale (7 Å/px; unknown pixel sizes: longer side binned to 1024 px); IoU pools pixels over the",
             "micrographs; particle_recall = fraction of true particle pixels called non-ice; boundary_f1 = non-ice",
             "boundary F1 within 2 working pixels, mean over micrographs. Written by benchmarks/segmentation.py.", "",
             "## The default recipe", ""] + header
    lines += held_out_10017(args.shared, args.folds) + fresh_simulations()
    lines += ["", "## Each specimen held out (the default recipe, its simulations included, retrained without it)", ""]
    lines += header + held_out_specimens(args.shared)
    lines += ["", "## Across specimens (no simulated data in training)", ""] + header + across_specimens(args.shared)
    lines += ["", f"Whole run: {time.perf_counter() - started:.0f} s on {len(__import__('os').sched_getaffinity(0))} cores."]
    publish(lines, "segmentation.md")


if __name__ == "__main__":
    main()
