"""Picking accuracy of the default recipe on ../shared/data (mask-based) and on fresh simulations (coordinates).

Usage:
    python benchmarks/picking.py [--shared ../shared/data] [--folds 4]

1. Every micrograph of ../shared/data with a particle mask, picked by the
   shipped default model at the default threshold, with the set's particle
   diameter (as a user gives it, setting the working scale of large particles
   as icestat pick does; read from the single disks of the set's masks, not
   the manifest's merged-blob medians: benchmarks/_truth.py) and estimated
   from the particle evidence:
   each micrograph's own estimate, and the run's as `icestat pick` uses it
   (each row's micrographs taken as one run: the median of the micrographs'
   estimates, for those whose own is more than 20 % off).
   A pick is right when it lands on a particle of the mask; a mask blob holds
   round(area / one particle's area) particles (icestat.metrics). Rows say
   whether the micrographs were in the default model's training.
2. EMPIAR-10017 held out: the default recipe retrained without each fold of a
   K-fold split of its micrographs (all of them are in the default model).
   Each specimen held out: the default recipe retrained without any
   micrograph of one dataset and tested on all of that dataset's masked
   micrographs: how icestat does on a specimen it has never seen. These
   models are kept in benchmarks/models (model_without) for a rerun and for
   pick_sensitivity.py and specimen_transfer.py.
3. Fresh simulated micrographs (seeds the default model never saw), scored
   against the true centres within half a particle diameter.
4. Simulated micrographs of empty ice: every pick there is wrong.

Two more tables give, for 1 and 3, F1 with the true diameter times each of
DIAMETER_FACTORS (how much an estimate off by that much would cost), and F1
(precision / recall) at each of THRESHOLDS (what --threshold trades).

Writes benchmarks/results/picking.md.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold

from _report import publish
from _truth import add_shared_argument, masked_manifest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import train_default_model as recipe  # noqa: E402

from icestat.classify import IceClassifier  # noqa: E402
from icestat.diameter import (far_from_run_diameter, run_diameter,  # noqa: E402
                              segment_at_estimated_diameter)
from icestat.evaluate import scored_at_least  # noqa: E402
from icestat.manifest import load_labelled  # noqa: E402
from icestat.metrics import mark_picks, mark_picks_on_mask, pick_scores  # noqa: E402
from icestat.micrograph import Micrograph, micrograph_stem  # noqa: E402
from icestat.model import load_model  # noqa: E402
from icestat.pick import DEFAULT_THRESHOLD, pick  # noqa: E402
from icestat.refine import BoundaryRefiner  # noqa: E402
from icestat.segment import segment, segmented_for_diameter  # noqa: E402
from icestat.simulate import SimulationParams, simulate_micrograph  # noqa: E402
from icestat.training import SHIPPED_CLASSIFIER, SHIPPED_REFINER, SHIPPED_SIMULATED, train_model  # noqa: E402

HEADER = ["| data | micrographs | true particles | precision | recall | F1 | AP | F1, own estimated diameter "
          "| own estimated / true diameter | F1, run's estimated diameter | diameter used / true |", "|" + " --- |" * 11]
#: The true diameter is scaled by these for the table of F1 against the diameter used.
DIAMETER_FACTORS = (0.6, 0.7, 0.8, 0.9, 1.0, 1.15, 1.3, 1.5)
#: Score thresholds of the table of F1 against the threshold.
THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)


def _header(columns) -> list[str]:
    return ["| data | " + " | ".join(f"{column:g}" for column in columns) + " |", "|" + " --- |" * (len(columns) + 1)]


@dataclass
class Marked:
    """One micrograph picked several ways: each a (marked picks, number of true particles) pair."""

    estimated: tuple
    scaled: list[tuple]        # with the true diameter times each of DIAMETER_FACTORS
    thresholded: list[tuple]   # with the true diameter, at each of THRESHOLDS
    own_diameter_px: float     # estimated from the micrograph's own particle evidence
    ratio: float               # own estimated / true diameter
    run_estimated: tuple | None = None   # with the run's diameter where its own is far from it (_with_run_diameter)
    run_ratio: float = float("nan")      # diameter used there / true diameter

    @property
    def given(self):
        return self.scaled[DIAMETER_FACTORS.index(1.0)]


def given_and_estimated(micrograph, model, diameter_px: float) -> tuple:
    """A micrograph segmented as `icestat pick` segments it for a given diameter, and picked with its own estimate.

    Returns its segmentation without a diameter, the one for `diameter_px` (which also sets the working scale:
    :func:`icestat.segment.segmented_for_diameter`) and the picks with the micrograph's own estimate
    (:func:`icestat.diameter.segment_at_estimated_diameter`, default threshold).
    """
    segmentation = segment(micrograph, model)
    at_estimate, estimate_px = segment_at_estimated_diameter(micrograph, model, segmentation=segmentation)
    estimated = pick(at_estimate, estimate_px, diameter_estimated=True)
    return segmentation, segmented_for_diameter(segmentation, micrograph, model, diameter_px), estimated


def _pick_ways(micrograph, model, diameter_px, mark) -> tuple[Marked, object]:
    """Marked picks with the estimated diameter, the given one times each factor, and at each threshold.

    Returns them and the micrograph's segmentation (without a diameter), both made by :func:`given_and_estimated`.
    Each given diameter is picked once, at threshold 0: a threshold only drops the picks scored below it.
    """
    segmentation, given, estimated = given_and_estimated(micrograph, model, diameter_px)
    unthresholded = {factor: pick(given, diameter_px=factor * diameter_px, threshold=0.0).table
                     for factor in DIAMETER_FACTORS}
    scaled = [mark(scored_at_least(unthresholded[factor], DEFAULT_THRESHOLD)) for factor in DIAMETER_FACTORS]
    thresholded = [mark(scored_at_least(unthresholded[1.0], threshold)) for threshold in THRESHOLDS]
    return Marked(mark(estimated.table), scaled, thresholded, estimated.diameter_px,
                  estimated.diameter_px / diameter_px), segmentation


def pooled_scores(marked: list[tuple]) -> dict:
    """Picking scores pooled over micrographs, from their (marked picks, number of true particles) pairs."""
    return pick_scores(pd.concat([table for table, _ in marked], ignore_index=True), sum(n for _, n in marked))


def _with_run_diameter(model, micrographs: list, segmentations: list, results: list[Marked], diameters_px: list[float],
                       marks: list) -> None:
    """Pick again, with the run's diameter, the micrographs whose own estimate is far from it (as icestat pick does).

    `micrographs`, `segmentations`, `results`, `diameters_px` (true) and `marks` are one run's, micrograph by
    micrograph; the
    micrographs are taken to share a pixel size (the shared data gives none for most), so the run's diameter is in
    pixels. Sets each result's ``run_estimated`` and ``run_ratio``.
    """
    own_px = [result.own_diameter_px for result in results]
    run_px = run_diameter(own_px)
    for micrograph, segmentation, result, own, true_px, mark, far in zip(
            micrographs, segmentations, results, own_px, diameters_px, marks, far_from_run_diameter(own_px, run_px)):
        used = run_px if far else own
        if far:
            again = segmented_for_diameter(segmentation, micrograph, model, used)
            result.run_estimated = mark(pick(again, diameter_px=used).table)
        else:
            result.run_estimated = result.estimated
        result.run_ratio = used / true_px


def _row(label: str, results: list[Marked]) -> str:
    given, estimated = pooled_scores([r.given for r in results]), pooled_scores([r.estimated for r in results])
    ratio = np.nanmedian([r.ratio for r in results])
    run = "— | —"   # the fresh simulations are each of another specimen: no run
    if all(r.run_estimated is not None for r in results):
        run_f1 = pooled_scores([r.run_estimated for r in results])['f1']
        run = f"{run_f1:.3f} | {np.nanmedian([r.run_ratio for r in results]):.2f}"
    return (f"| {label} | {len(results)} | {given['n_true']} | {given['precision']:.3f} | {given['recall']:.3f} | "
            f"{given['f1']:.3f} | {given['average_precision']:.3f} | {estimated['f1']:.3f} | {ratio:.2f} | {run} |")


def _factor_row(label: str, results: list[Marked]) -> str:
    f1 = [pooled_scores([r.scaled[i] for r in results])["f1"] for i in range(len(DIAMETER_FACTORS))]
    return f"| {label} | " + " | ".join(f"{value:.3f}" for value in f1) + " |"


def _threshold_row(label: str, results: list[Marked]) -> str:
    scores = [pooled_scores([r.thresholded[i] for r in results]) for i in range(len(THRESHOLDS))]
    return f"| {label} | " + " | ".join(f"{s['f1']:.3f} ({s['precision']:.2f} / {s['recall']:.2f})"
                                         for s in scores) + " |"


def mask_marker(item):
    """A function marking a pick table against a labelled micrograph's particle mask (:func:`mark_picks_on_mask`)."""
    return functools.partial(mark_picks_on_mask, particle_mask=item.particle_mask,
                             particle_diameter_px=item.particle_diameter_px)


def truth_marker(truth, diameter_px: float):
    """A function marking a pick table against true centres, right within half `diameter_px` (:func:`mark_picks`)."""
    return functools.partial(mark_picks, truth=truth, radius_px=diameter_px / 2)


def _mask_results(model, rows) -> list[Marked]:
    """Each manifest row's micrograph picked every way (:func:`_pick_ways`), the rows taken as one run."""
    micrographs, segmentations, results, diameters, marks = [], [], [], [], []
    for _, row in rows.iterrows():
        item = load_labelled(row)
        diameter = item.particle_diameter_px
        marks.append(mask_marker(item))
        result, segmentation = _pick_ways(item.micrograph, model, diameter, marks[-1])
        micrographs.append(item.micrograph)
        segmentations.append(segmentation)
        results.append(result)
        diameters.append(diameter)
    _with_run_diameter(model, micrographs, segmentations, results, diameters, marks)
    return results


def default_model_on_shared(manifest: pd.DataFrame) -> list[tuple[str, list[Marked]]]:
    """The shipped model on every masked micrograph, split by whether it trained on them: (label, results) pairs."""
    model = load_model()
    trained = set(model.metadata["training_micrographs"])
    groups = []
    for dataset, rows in manifest[manifest["particle_mask"].notna()].groupby("dataset"):
        names = rows["micrograph"].map(lambda path: f"{dataset}/{Path(path).stem}")
        for in_training, part in rows.groupby(names.isin(trained).to_numpy()):
            label = f"{dataset}, {'in training' if in_training else 'held out'}"
            groups.append((label, _mask_results(model, part)))
            print(label, "done", flush=True)
    return groups


@functools.cache
def training_data(shared: Path) -> tuple[pd.DataFrame, list, list]:
    """The default recipe's manifest rows of the `shared` data folder, their examples, and its simulated examples.

    Made once per process.
    """
    training_rows = recipe.shared_training_rows(shared)
    return training_rows, recipe.shared_examples(training_rows), recipe.simulated_examples()


def retrained(examples: list):
    """The default recipe trained on `examples`."""
    return train_model(examples, recipe.SETTINGS, IceClassifier(**recipe.CLASSIFIER, random_state=recipe.SEED),
                       BoundaryRefiner(**recipe.REFINER, random_state=recipe.SEED))


def retrained_without(shared: Path, dataset: str):
    """The default recipe retrained without any micrograph of `dataset` (a specimen it has never seen)."""
    _, examples, simulated = training_data(shared)
    return retrained(simulated + [example for example in examples if example.dataset != dataset])


#: Where the models retrained without each dataset are kept between benchmark runs (git-ignored).
MODELS_FOLDER = recipe.REPO / "benchmarks" / "models"
#: What a model the recipe trains is made by (files, and folders of Python files, of the repository): a change to
#: any of them retrains the models kept in ``MODELS_FOLDER`` (a change to the refiner's augmentation had not).
TRAINING_SOURCES = ("scripts/train_default_model.py", "icestat/simulate", "icestat/features", "icestat/adapt.py",
                    "icestat/classify.py", "icestat/examples.py", "icestat/prepare.py", "icestat/refine.py",
                    "icestat/settings.py", "icestat/targets.py", "icestat/training.py")


def recipe_digest() -> str:
    """12 hex digits of the SHA-256 of ``TRAINING_SOURCES`` and the shipped training parameters."""
    digest = hashlib.sha256(repr((SHIPPED_CLASSIFIER, SHIPPED_REFINER, SHIPPED_SIMULATED)).encode())
    for source in TRAINING_SOURCES:
        path = recipe.REPO / source
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


def model_without(dataset: str, shared: Path, folder: Path = MODELS_FOLDER):
    """:func:`retrained_without`, read from `folder` when it is there (else trained and kept there).

    The file (``without_<dataset>_<digest>.icestat``) is named after :func:`recipe_digest` too, so that a model
    trained by an earlier recipe is never reused. picking.py, pick_sensitivity.py, specimen_transfer.py,
    recall_stages.py and own_specimen.py share these models (about 5 min each to train on 2 cores).
    """
    return load_model(model_file_without(dataset, shared, folder))


def model_file_without(dataset: str, shared: Path, folder: Path = MODELS_FOLDER) -> Path:
    """The file of :func:`model_without`, trained and kept first where it is not there yet."""
    path = folder / f"without_{dataset}_{recipe_digest()}.icestat"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        retrained_without(shared, dataset).save(path)
    return path


def held_out_10017(shared: Path, n_folds: int) -> tuple[str, list[Marked]]:
    """The default recipe retrained without each fold of EMPIAR-10017."""
    training_rows, examples, simulated = training_data(shared)
    target = training_rows[training_rows["dataset"] == "empiar-10017"]
    results = []
    for fold, (_, test) in enumerate(KFold(n_folds, shuffle=True, random_state=0).split(target)):
        held = target.iloc[test]
        held_names = set(held["micrograph"].map(micrograph_stem))
        model = retrained(simulated + [example for example in examples
                                       if not (example.dataset == "empiar-10017" and example.name in held_names)])
        results += _mask_results(model, held)
        print(f"fold {fold + 1}/{n_folds} done", flush=True)
    return f"empiar-10017, held out ({n_folds}-fold CV over micrographs)", results


def held_out_specimens(shared: Path, manifest: pd.DataFrame) -> list[tuple[str, list[Marked]]]:
    """The default recipe retrained without each masked dataset, tested on all of that dataset's masked micrographs."""
    masked = manifest[manifest["particle_mask"].notna()]
    groups = []
    for dataset, rows in masked.groupby("dataset"):
        model = model_without(dataset, shared)
        groups.append((f"{dataset}, specimen held out (recipe retrained without it)", _mask_results(model, rows)))
        print(dataset, "held out done", flush=True)
    return groups


def fresh_simulation_micrographs(n: int = 8):
    """Simulated micrographs of varied size, crowding, carbon and contamination (seeds the default model never saw).

    Yields (micrograph, particle diameter in pixels, true centres) triples.
    """
    for i in range(n):
        rng = np.random.default_rng([recipe.SEED + 2, i])
        params = SimulationParams(
            shape_px=(2048, 2048), pixel_size_A=float(rng.uniform(1.0, 2.5)), n_particles=int(rng.integers(50, 300)),
            particle_diameter_A=float(rng.uniform(100, 250)), carbon_fraction=float(rng.choice([0.0, 0.2, 0.4])),
            n_contamination=int(rng.integers(0, 3)), ice_thickness_A=float(rng.uniform(250, 700)),
        )
        sim = simulate_micrograph(params, seed=[recipe.SEED + 2, i])
        diameter_px = params.particle_diameter_A / params.pixel_size_A
        yield Micrograph(sim.image, params.pixel_size_A, f"sim_{i}"), diameter_px, sim.picks


def fresh_simulations(n: int = 8) -> tuple[str, list[Marked]]:
    """The shipped model on :func:`fresh_simulation_micrographs`."""
    model = load_model()
    results = []
    for micrograph, diameter, truth in fresh_simulation_micrographs(n):
        results.append(_pick_ways(micrograph, model, diameter, truth_marker(truth, diameter))[0])
    return "fresh simulations, default model (true centres within half a diameter)", results


#: Particle diameter the empty-ice micrographs are picked with.
EMPTY_ICE_DIAMETER_A = 150.0


def empty_ice_micrographs(n: int = 4):
    """Simulated micrographs of empty ice (no particle, carbon or contamination): (micrograph, params) pairs."""
    for i in range(n):
        rng = np.random.default_rng([recipe.SEED + 3, i])
        params = SimulationParams(shape_px=(2048, 2048), pixel_size_A=float(rng.uniform(1.0, 2.5)), n_particles=0,
                                  carbon_fraction=0.0, n_contamination=0, ice_thickness_A=float(rng.uniform(250, 700)))
        sim = simulate_micrograph(params, seed=[recipe.SEED + 3, i])
        yield Micrograph(sim.image, params.pixel_size_A, f"empty_{i}"), params


def empty_simulations(n: int = 4) -> list[str]:
    """Picks per simulated micrograph of empty ice (no particle, carbon or contamination), default model: table lines."""
    model = load_model()
    lines = [f"| micrograph | pixel size (Å) | ice thickness (Å) | particle fraction | picks (diameter "
             f"{EMPTY_ICE_DIAMETER_A:g} Å) |", "|" + " --- |" * 5]
    for micrograph, params in empty_ice_micrographs(n):
        segmentation = segment(micrograph, model)
        picks = pick(segmentation, diameter_px=EMPTY_ICE_DIAMETER_A / params.pixel_size_A)
        lines.append(f"| {micrograph.name} | {params.pixel_size_A:.2f} | {params.ice_thickness_A:.0f} | "
                     f"{segmentation.class_fractions()['particle']:.3f} | {len(picks)} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_shared_argument(parser)
    parser.add_argument("--folds", type=int, default=4, help="folds over EMPIAR-10017 (0 skips the retraining)")
    parser.add_argument("--no-specimens", dest="specimens", action="store_false",
                        help="skip retraining without each specimen (one training per masked dataset)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    manifest = masked_manifest(args.shared)
    lines = ["# Picking accuracy", "",
             "Default threshold; the true diameter (what a user gives: on real data each set's one particle, read from",
             "the single disks of its masks, benchmarks/_truth.py) or estimated from the particle evidence.",
             "Real data: a pick is right when it lands on a particle of the mask, a mask blob holding",
             "round(area / one particle's area) particles. Simulations: one-to-one matching (Hungarian) to the true",
             "centres within half a particle diameter. Written by benchmarks/picking.py.", ""] + HEADER
    shared = default_model_on_shared(manifest)
    held_out = [held_out_10017(args.shared, args.folds)] if args.folds else []
    held_out += held_out_specimens(args.shared, manifest) if args.specimens else []
    simulated = fresh_simulations()
    lines += [_row(label, results) for label, results in shared + held_out + [simulated]]
    lines += ["", "F1 with the true diameter times a factor (what a wrong diameter costs):", ""]
    lines += _header(DIAMETER_FACTORS) + [_factor_row(label, results) for label, results in shared + held_out + [simulated]]
    lines += ["", f"F1 (precision / recall) at each score threshold, true diameter (default {DEFAULT_THRESHOLD}):", ""]
    lines += _header(THRESHOLDS) + [_threshold_row(label, results) for label, results in shared + held_out + [simulated]]
    lines += ["", "Simulated micrographs of empty ice (2048 x 2048, default model and threshold; every pick is wrong):", ""]
    lines += empty_simulations()
    lines += ["", f"Whole run: {time.perf_counter() - started:.0f} s on {len(os.sched_getaffinity(0))} cores."]
    publish(lines, "picking.md")


if __name__ == "__main__":
    main()
