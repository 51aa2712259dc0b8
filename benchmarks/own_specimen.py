"""Is a model of one's own specimen, trained on picks of a few micrographs, better than the shipped one?

Usage:
    python benchmarks/own_specimen.py [--shared ../shared/data] [--variants all,half,self] [--quick] [--simulated]

What a user does who picks a few micrographs of a new specimen by hand: `icestat manifest` pairs them with their
pick files, `icestat train` (its defaults: the manifest's micrographs and 12 simulated ones) learns the specimen.
For each masked dataset of ../shared/data:

- its masked micrographs are split into those picked by hand (for EMPIAR-10028 and -10059, those the shipped
  model trained on; for 10017, all of which it trained on, every other one by name) and the test micrographs (the
  rest);
- the hand picks are the particles of the training micrographs' masks, a centre each (mask_centres: a blob holding
  round(area / one particle's area) particles, as the scoring counts them, is split into as many by k-means),
  written as RELION coordinate files; all of them ("all": every particle picked) or a random half ("half": a
  user who picks the clear ones, whose unpicked neighbours are taught as ice); or no hand picks but those the
  recipe retrained without the dataset makes of them ("self": `icestat pick` at --threshold, as a user
  who lets icestat pick a few micrographs and teaches it the specimen from its own picks);
- the models so trained (--variants: which), through the two commands, pick the test micrographs, as do the
  recipe retrained without the dataset (picking.py's "specimen held out" models: the shipped model as it does on
  a specimen it has never seen) and the shipped model itself.

Picks: the true diameter, the default threshold, as `icestat pick --diameter-px` picks; scored on the masks
(icestat.metrics.mark_picks_on_mask). --quick: one dataset, two micrographs each way, tiny training (a check that
it runs; its numbers mean little), printed only.

--simulated (alone): the same taught from the shipped model's own picks, on simulated micrographs of clean ice and
of ice full of debris (SIMULATED: five to pick and teach from, five to test on), scored against the true centres:
what a picker that picks junk teaches itself.

Writes benchmarks/results/own_specimen.md (--simulated: own_specimen_simulated.md).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage
from sklearn.cluster import KMeans

from _report import publish
from _truth import add_shared_argument, masked_manifest
from picking import mask_marker, model_file_without, pooled_scores, truth_marker
from specimen_conditions import BASELINE

from icestat.cli import main as icestat
from icestat.coords import pick_table, read_picks
from icestat.coords.relion import write_star
from icestat.manifest import load_labelled
from icestat.micrograph import Micrograph, write_mrc
from icestat.model import load_model
from icestat.pick import DEFAULT_THRESHOLD, pick
from icestat.segment import segment
from icestat.simulate import simulate_micrograph

SEED = 2026
#: The share of the particles a "half picked" user picks.
HALF = 0.5
#: The own models made, by the picks they learn from.
VARIANTS = {"all": "every particle picked", "half": "half picked",
            "self": "from its picks by the never-seen model (icestat pick)"}
#: --simulated: the conditions (changes to specimen_conditions.py's BASELINE) a model is taught from the shipped
#: model's own picks of N_SIMULATED micrographs and tested on N_SIMULATED others: clean ice, and ice full of
#: debris, where the shipped model's picks are a quarter wrong.
SIMULATED = (("baseline (clean ice)", {}), ("debris in the ice, 0.2 rad", dict(debris_phase_sd_rad=0.2)))
N_SIMULATED = 5


def mask_centres(mask: np.ndarray, diameter_px: float) -> tuple[np.ndarray, np.ndarray]:
    """One centre (y, x) per particle of a particle mask: a blob of area A holds max(1, round(A / a)) particles (a:
    one particle's disk), its pixels split among them by k-means."""
    labels, _ = ndimage.label(mask)
    one_particle = np.pi * diameter_px ** 2 / 4
    centres = []
    for index, blob in enumerate(ndimage.find_objects(labels), start=1):
        ys, xs = np.nonzero(labels[blob] == index)
        pixels = np.column_stack([ys + blob[0].start, xs + blob[1].start]).astype(np.float64)
        n = max(1, round(len(pixels) / one_particle))
        if n == 1:
            centres.append(pixels.mean(axis=0, keepdims=True))
        else:
            centres.append(KMeans(n, n_init=3, random_state=SEED).fit(pixels).cluster_centers_)
    centres = np.concatenate(centres) if centres else np.zeros((0, 2))
    return centres[:, 0], centres[:, 1]


def hand_picks(rows: pd.DataFrame, folder: Path, share: float) -> tuple[list[Path], int]:
    """Coordinate files (``<stem>_manualpick.star``) of `share` of the particles of `rows`' masks, in `folder`, and
    how many particles they hold."""
    rng = np.random.default_rng(SEED)
    folder.mkdir(parents=True, exist_ok=True)
    files, n_picked = [], 0
    for _, row in rows.iterrows():
        item = load_labelled(row)
        y_px, x_px = mask_centres(item.particle_mask, item.particle_diameter_px)
        kept = rng.random(len(y_px)) < share
        files.append(folder / f"{item.micrograph.name}_manualpick.star")
        write_star(pick_table(x_px[kept], y_px[kept]), files[-1])
        n_picked += int(kept.sum())
    return files, n_picked


def its_own_picks(rows: pd.DataFrame, folder: Path, model_file: Path | None,
                  threshold: float) -> tuple[list[Path], int]:
    """The picks `icestat pick` makes of `rows`' micrographs with `model_file` (None: the shipped model) at
    `threshold`, in `folder` (its ``autopick.star``), and how many."""
    if icestat(["-q", "pick", *rows["micrograph"], "-o", str(folder), "--diameter-px", str(_diameter_px(rows)),
                "--threshold", str(threshold), *_pixel_size_args(rows),
                *(["--model", str(model_file)] if model_file else [])]) != 0:
        raise RuntimeError(f"icestat pick failed for {folder}")
    return [folder / "autopick.star"], len(read_picks(folder / "particles.star"))


def own_model(rows: pd.DataFrame, folder: Path, picks: list[Path], quick: bool):
    """The model `icestat manifest` and `icestat train` make of `rows`' micrographs and their `picks`."""
    manifest, model_file = folder / "labelled.csv", folder / "mine.icestat"
    if icestat(["-q", "manifest", *rows["micrograph"], "--picks", *map(str, picks), "-o", str(manifest),
                "--diameter-px", str(_diameter_px(rows)), *_pixel_size_args(rows)]) != 0:
        raise RuntimeError(f"icestat manifest failed for {folder}")
    budget = ["--simulated", "2", "--n-estimators", "20", "--refiner-steps", "30", "--refiner-networks", "1"]
    if icestat(["-q", "train", str(manifest), "-o", str(model_file), *(budget if quick else [])]) != 0:
        raise RuntimeError(f"icestat train failed for {folder}")
    return load_model(model_file)


def _diameter_px(rows: pd.DataFrame) -> float:
    return float(rows["particle_diameter_px"].iloc[0])


def _pixel_size_args(rows: pd.DataFrame) -> list[str]:
    """``--pixel-size-A`` with the manifest's pixel size, where it gives one (the JPEGs hold none)."""
    pixel_size_A = float(rows["pixel_size_A"].iloc[0])
    return ["--pixel-size-A", str(pixel_size_A)] if np.isfinite(pixel_size_A) else []


def scored(model, cases: list[tuple]) -> dict:
    """Picking scores of `model` on `cases`, pooled (true diameter, default threshold): each a micrograph, its
    particle diameter in pixels and the function marking its picks (picking.mask_marker, truth_marker)."""
    marked = []
    for micrograph, diameter_px, mark in cases:
        segmentation = segment(micrograph, model, particle_diameter_px=diameter_px)
        marked.append(mark(pick(segmentation, diameter_px=diameter_px).table))
    return pooled_scores(marked)


def masked_cases(rows: pd.DataFrame) -> list[tuple]:
    """:func:`scored`'s cases of `rows`' masked micrographs, read once for every model scored on them."""
    items = [load_labelled(row) for _, row in rows.iterrows()]
    return [(item.micrograph, item.particle_diameter_px, mask_marker(item)) for item in items]


def simulated_row(label: str, changes: dict, folder: Path, threshold: float) -> str:
    """A table line of --simulated: the shipped model and the model taught from its own picks (`icestat pick`,
    `icestat manifest`, `icestat train`) at `threshold` of ``N_SIMULATED`` micrographs of `changes`, on
    ``N_SIMULATED`` others, against the true centres within half a diameter."""
    params = replace(BASELINE, **changes)
    diameter_px = params.particle_diameter_A / params.pixel_size_A
    (folder / "first").mkdir(parents=True)
    paths, tests = [], []
    for seed in range(2 * N_SIMULATED):
        sim = simulate_micrograph(params, seed=[77, seed])
        if seed < N_SIMULATED:
            paths.append(folder / "first" / f"first_{seed}.mrc")
            write_mrc(paths[-1], sim.image, params.pixel_size_A)
        else:
            tests.append((Micrograph(sim.image, params.pixel_size_A, f"test_{seed}"), diameter_px,
                          truth_marker(sim.picks, diameter_px)))
    rows = pd.DataFrame({"micrograph": list(map(str, paths)), "particle_diameter_px": diameter_px,
                         "pixel_size_A": params.pixel_size_A})
    picks, n_picked = its_own_picks(rows, folder / "picks", None, threshold)
    cells = [_cell(scored(model, tests)) for model in (load_model(), own_model(rows, folder, picks, quick=False))]
    return f"| {label} | {N_SIMULATED} / {N_SIMULATED} | {n_picked} | " + " | ".join(cells) + " |"


def split(rows: pd.DataFrame, dataset: str, trained_on: set[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The micrographs of `rows` picked by hand and the test ones: the shipped model's training ones and the rest,
    or, where it trained on all, every other one by name."""
    rows = rows.sort_values("micrograph")
    in_training = rows["micrograph"].map(lambda path: f"{dataset}/{Path(path).stem}" in trained_on).to_numpy()
    if in_training.all():
        in_training = np.arange(len(rows)) % 2 == 0
    return rows[in_training], rows[~in_training]


def _cell(scores: dict) -> str:
    return f"{scores['f1']:.3f} ({scores['precision']:.2f} / {scores['recall']:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_shared_argument(parser)
    parser.add_argument("--variants", type=lambda text: text.split(","), default=list(VARIANTS),
                        help=f"the own models to make, of {', '.join(VARIANTS)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="one dataset, two micrographs each way, tiny training")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, help="score threshold of the picks a "
                        "model is taught from by its own (self, --simulated; default: %(default)s)")
    parser.add_argument("--simulated", action="store_true", help="only the simulated check of a model taught "
                        "from the shipped model's own picks (own_specimen_simulated.md)")
    args = parser.parse_args()
    if set(args.variants) - set(VARIANTS):
        parser.error(f"--variants: one or more of {', '.join(VARIANTS)}")
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    if args.simulated:
        simulated_check(started, args.threshold)
        return
    manifest = masked_manifest(args.shared, max_masks=2 if args.quick else None)
    shipped = load_model()
    trained_on = set(shipped.metadata["training_micrographs"])
    table = ["| specimen | hand-picked / test micrographs | particles picked | never seen (recipe retrained without it) | "
             + " | ".join(f"own model, {VARIANTS[variant]}" for variant in args.variants) + " | shipped model |",
             "|" + " --- |" * (len(args.variants) + 5)]
    groups = list(manifest[manifest["particle_mask"].notna()].groupby("dataset"))
    for dataset, rows in groups[-1:] if args.quick else groups:
        picked_rows, test = split(rows, dataset, trained_on)
        if args.quick:
            picked_rows, test = picked_rows.iloc[:2], test.iloc[:2]
        never_seen_file = None if args.quick else model_file_without(dataset, args.shared)
        never_seen, cases = load_model(never_seen_file), masked_cases(test)
        cells, n_picked = [_cell(scored(never_seen, cases))], []
        with tempfile.TemporaryDirectory(prefix="own-specimen-") as temporary:
            for variant in args.variants:
                folder = Path(temporary) / variant
                if variant == "self":
                    picks, n = its_own_picks(picked_rows, folder / "picks", never_seen_file, args.threshold)
                else:
                    picks, n = hand_picks(picked_rows, folder / "picks", 1.0 if variant == "all" else HALF)
                n_picked.append(str(n))
                cells.append(_cell(scored(own_model(picked_rows, folder, picks, args.quick), cases)))
        cells.append(_cell(scored(shipped, cases)))
        table.append(f"| {dataset} | {len(picked_rows)} / {len(test)} | {' / '.join(n_picked)} | "
                     + " | ".join(cells) + " |")
        print(table[-1], flush=True)
    lines = ["# A model of one's own specimen, from picks of a few micrographs",
             "",
             "Written by benchmarks/own_specimen.py (see its docstring). F1 (precision / recall) on each specimen's",
             "test micrographs, true diameter, default threshold, mask-based. The own models are made as a user makes",
             "them: `icestat manifest` of the picked micrographs' coordinate files (by hand, or `icestat pick`'s), then",
             "`icestat train` with its defaults. Particles picked: for each own model, in its column's order. The",
             "shipped model trained on EMPIAR-10017's test micrographs too (all 16 of its masked ones).",
             f"The never-seen model's own picks (if any column) are those at threshold {args.threshold:g}.",
             ""]
    lines += table
    lines += ["", f"Whole run: {time.perf_counter() - started:.0f} s on {len(os.sched_getaffinity(0))} cores"
              + (" (--quick: numbers mean little)." if args.quick else ".")]
    if args.quick:
        print("\n".join(lines))
    else:
        publish(lines, "own_specimen.md")


def simulated_check(started: float, threshold: float) -> None:
    """--simulated: :func:`simulated_row` of each of ``SIMULATED``, written to own_specimen_simulated.md."""
    table = ["| simulated micrographs | picked / test micrographs | particles picked | shipped model | own model, from "
             "the shipped model's picks |", "|" + " --- |" * 5]
    with tempfile.TemporaryDirectory(prefix="own-specimen-") as temporary:
        for row, (label, changes) in enumerate(SIMULATED):
            table.append(simulated_row(label, changes, Path(temporary) / str(row), threshold))
            print(table[-1], flush=True)
    publish(["# A model taught from icestat's own picks, on simulated micrographs", "",
             "Written by benchmarks/own_specimen.py --simulated (see its docstring). F1 (precision / recall) on the",
             "test micrographs, against the true centres within half a diameter; true diameter, default threshold;",
             f"the model taught from the shipped model's picks at threshold {threshold:g}.",
             f"Micrographs as specimen_conditions.py's baseline ({BASELINE.particle_diameter_A:g} Å particles at "
             f"{BASELINE.pixel_size_A:g} Å/px, {BASELINE.n_particles} a micrograph) with the row's change.", ""]
            + table + ["", f"Whole run: {time.perf_counter() - started:.0f} s on {len(os.sched_getaffinity(0))} "
                           "cores."], "own_specimen_simulated.md")


if __name__ == "__main__":
    main()
