"""How pick()'s ``auto`` polarity judges raw and inverted micrographs: ../shared/data and fresh simulations.

Usage:
    python benchmarks/polarity.py [--shared ../shared/data] [--model PATH] [--simulations 6]

Every micrograph of ../shared/data with a particle mask, and fresh simulated
micrographs varied as the default model's training ones are (carbon,
contamination, every other one low-pass filtered; seeds it never saw), is
picked as given (particles darker than the ice) and inverted (brighter), with
the true diameter at the default threshold. For each: the balance of bright
over dark blobs that ``auto`` judges by (Picks.bright_balance:
icestat.polarity.bright_balance, a radius or more from what the model calls
carbon; above icestat.polarity.MIN_BRIGHT_BALANCE means bright), how many
micrographs it took the right way, and F1 with
``auto`` and with the true polarity said, each as ``icestat pick`` does it
(icestat.bright_field.segment_and_pick: micrographs whose particles are taken as
bright are segmented and picked negated); and each dataset (and the
simulations) taken as one run: where most of it looks inverted (taken as bright,
or as dark yet leaning inverted: balance above 0) and some was taken as dark, up
to three of the micrographs that look inverted are asked which way the model sees
particles more clearly (icestat.bright_field.run_voters, negated_gain,
run_reads_negated) and, where most say negated, its dark ones are picked as
bright, as ``icestat pick`` does. Scored as benchmarks/picking.py does
(mask-based on the real data, true centres within half a diameter on the
simulations). About 5-8 minutes on 2 cores.

Writes benchmarks/results/polarity.md.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from _report import publish
from _truth import add_shared_argument, masked_manifest
from picking import mask_marker, pooled_scores, truth_marker

from icestat.bright_field import negated, negated_gain, run_reads_negated, run_voters, segment_and_pick
from icestat.manifest import load_labelled
from icestat.micrograph import Micrograph
from icestat.model import load_model
from icestat.simulate.varied import varied_micrograph

#: Seeds of the fresh simulations (the default model trained on seed recipe.SEED).
SIMULATION_SEED = 4242
SIMULATION_SIDE_PX = 1024


WAYS = {"given": ("dark", lambda micrograph: micrograph), "inverted": ("bright", negated)}


def both_ways(model, micrograph: Micrograph, diameter_px: float, mark) -> dict:
    """One micrograph picked as given and inverted: balance, polarity taken, marked picks with auto and said.

    Each way also keeps how to read that micrograph again (``read``), for the run's vote (:func:`run_vote`).
    """
    result = {}
    for way, (true_polarity, turned) in WAYS.items():
        read = turned(micrograph)
        # as icestat pick --diameter-px does
        _, auto = segment_and_pick(read, model, diameter_px)
        _, said = segment_and_pick(read, model, diameter_px, polarity=true_polarity)
        result[way] = dict(balance=auto.bright_balance, polarity=auto.polarity, right=auto.polarity == true_polarity,
                           auto=mark(auto.table), said=mark(said.table), diameter_px=diameter_px, mark=mark)
    return result


def run_vote(model, results: list[dict], way: str, reread) -> dict:
    """What ``icestat pick`` makes of the group's micrographs (read `way`) as one run
    (icestat.run_decisions.to_pick_as_bright).

    `reread(index)` reads the group's micrograph `index` again (as given). Returns the gains of those asked, its
    decision, how many micrographs it took the true way, and their marked picks.
    """
    true_polarity, turned = WAYS[way]
    voters = run_voters([result[way]["polarity"] for result in results], [result[way]["balance"] for result in results])
    gains = [negated_gain(turned(reread(i)), model, results[i][way]["diameter_px"]) for i in voters]
    negated_run = run_reads_negated(gains)
    marked, n_right = [], 0
    for i, result in enumerate(results):
        if negated_run and result[way]["polarity"] == "dark":
            if true_polarity == "bright":   # the run's pick as bright is the one said
                marked.append(result[way]["said"])
            else:
                _, picks = segment_and_pick(turned(reread(i)), model, result[way]["diameter_px"], polarity="bright")
                marked.append(result[way]["mark"](picks.table))
            n_right += true_polarity == "bright"
        else:
            marked.append(result[way]["auto"])
            n_right += result[way]["right"]
    return dict(gains=gains, negated=negated_run, n_right=n_right, marked=marked)


def shared_groups(model, shared: Path) -> list[tuple[str, list[dict]]]:
    """Every masked micrograph of the shared data both ways, grouped by dataset: (label, results) pairs."""
    manifest = masked_manifest(shared)
    groups = []
    for dataset, rows in manifest[manifest["particle_mask"].notna()].groupby("dataset"):
        results = []
        for _, row in rows.iterrows():
            item = load_labelled(row)
            results.append(both_ways(model, item.micrograph, item.particle_diameter_px, mask_marker(item)))
        groups.append((dataset, results, lambda index, rows=rows: load_labelled(rows.iloc[index]).micrograph))
        print(dataset, "done", flush=True)
    return groups


def simulated_group(model, n: int) -> tuple[str, list[dict], object]:
    """`n` fresh simulations both ways."""
    results, micrographs, with_carbon = [], [], 0
    for index in range(n):
        sim = varied_micrograph(index, SIMULATION_SEED, SIMULATION_SIDE_PX)
        params = sim.params
        diameter_px = params.particle_diameter_A / params.pixel_size_A
        micrograph = Micrograph(sim.image, params.pixel_size_A, f"sim_{index}")
        results.append(both_ways(model, micrograph, diameter_px, truth_marker(sim.picks, diameter_px)))
        micrographs.append(micrograph)
        with_carbon += params.carbon_fraction > 0
    return f"simulations ({with_carbon} of {n} with carbon)", results, micrographs.__getitem__


def _cells(results: list[dict], way: str, vote: dict) -> str:
    balances = [r[way]["balance"] for r in results]
    auto = pooled_scores([r[way]["auto"] for r in results])["f1"]
    said = pooled_scores([r[way]["said"] for r in results])["f1"]
    n_right = sum(r[way]["right"] for r in results)
    gains = ", ".join(f"{gain:+.2f}" for gain in vote["gains"])
    asked = f"{'negated' if vote['negated'] else 'as given'} ({gains})" if vote["gains"] else "not asked"
    return (f"{min(balances):+.2f} to {max(balances):+.2f} | {n_right} of {len(results)} | {auto:.3f} | {asked}: "
            f"{vote['n_right']} of {len(results)} | {pooled_scores(vote['marked'])['f1']:.3f} | {said:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_shared_argument(parser)
    parser.add_argument("--model", help="model file (default: the shipped one)")
    parser.add_argument("--simulations", type=int, default=6, help="fresh simulated micrographs")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    model = load_model(args.model)
    groups = shared_groups(model, args.shared) + [simulated_group(model, args.simulations)]
    lines = ["# The particles' polarity, judged by pick()'s auto on raw and inverted micrographs", "",
             f"Model: {args.model or 'the shipped default'}; true diameter, default threshold. Balance: of bright over "
             "dark blobs at the particles' scale, a radius or more from carbon (-1 to 1; above +0.15: bright). "
             "Written by benchmarks/polarity.py.", "",
             "Auto judges each micrograph alone; then, as `icestat pick` does with a run, where most of the "
             "group looks inverted (taken as bright, or as dark yet leaning inverted: balance above 0) and some "
             "was taken as dark, up to three of those that look inverted are asked "
             "whether the model sees particles more clearly negated (icestat.bright_field.negated_gain), and where "
             "most say so, the "
             "group's dark ones are picked as bright (run's vote: the answer, the gains of those asked, how many were "
             "taken the true way).", "",
             "| data | micrographs | as given: balance | taken as dark | F1, auto | run's vote | F1, run "
             "| F1, dark said | inverted: balance | taken as bright | F1, auto | run's vote | F1, run "
             "| F1, bright said |", "|" + " --- |" * 14]
    for label, results, reread in groups:
        given, inverted = (run_vote(model, results, way, reread) for way in WAYS)
        lines.append(f"| {label} | {len(results)} | {_cells(results, 'given', given)} | "
                     f"{_cells(results, 'inverted', inverted)} |")
    lines += ["", f"Whole run: {time.perf_counter() - started:.0f} s."]
    publish(lines, "polarity.md")


if __name__ == "__main__":
    main()
