"""Picking accuracy of the shipped model when one imaging or specimen condition departs from the usual.

Usage:
    python benchmarks/specimen_conditions.py [--model PATH] [--seeds 5]

A specimen icestat has never seen comes with its own conditions: elongated
particles, thick ice, a low dose, a close or far defocus, strong astigmatism, a
steep ice gradient, a high B-factor, or ice full of unresolved debris (protein
fragments, aggregates), carbon film or contamination in the field of view, more or fewer
or smaller particles, few or small ones at a low dose, the opaque gold foil of UltrAuFoil grids over part or most of
the field (raw, or inverted as some pipelines write micrographs). Each row changes what its label says from a
baseline of 150 Å particles at 1.06 Å/px (2048x2048 px, 120 particles, 400 Å of ice, defocus
1-2.5 µm, no carbon) and simulates ``--seeds`` fresh micrographs of it; each is
picked as ``icestat pick`` picks it (icestat.bright_field.segment_and_pick,
polarity ``auto``) with the true diameter and with its own estimate, and scored
against the true centres within half a diameter (pooled over the seeds). The
particle fraction (with the diameter given) says how much the model still calls
particle. About 4 minutes on 2 cores.

Writes benchmarks/results/specimen_conditions.md.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from dataclasses import replace

import numpy as np

from _report import publish
from picking import pooled_scores
from icestat.bright_field import segment_and_pick
from icestat.metrics import mark_picks
from icestat.micrograph import Micrograph
from icestat.model import load_model
from icestat.simulate import SimulationParams, simulate_micrograph

BASELINE = SimulationParams(shape_px=(2048, 2048), pixel_size_A=1.06, n_particles=120, particle_diameter_A=150.0,
                            carbon_fraction=0.0)
#: Each row: its label and what it changes from ``BASELINE`` (``inverted``: the micrograph is shown negated, its
#: particles bright).
CONDITIONS = (
    ("baseline", {}),
    ("elongated particles (short axes 0.2-1 of the long, not 0.7-1)", dict(particle_elongation=0.8)),
    ("thick ice, 900 Å", dict(ice_thickness_A=900.0)),
    ("steep ice gradient (0.8)", dict(ice_gradient=0.8)),
    ("low dose, 15 e/Å²", dict(dose_e_per_A2=15.0)),
    ("B-factor 150 Å²", dict(b_factor_A2=150.0)),
    ("close to focus, 0.5-1 µm", dict(defocus_range_um=(0.5, 1.0))),
    ("far from focus, 3-4 µm", dict(defocus_range_um=(3.0, 4.0))),
    ("astigmatism 0.5 µm", dict(astigmatism_um=0.5)),
    ("debris in the ice, 0.1 rad", dict(debris_phase_sd_rad=0.1)),
    ("debris in the ice, 0.2 rad", dict(debris_phase_sd_rad=0.2)),
    ("carbon film over 30 % (a hole's rim)", dict(carbon_fraction=0.3, carbon_edge="curved")),
    ("carbon film over 30 % (a straight edge)", dict(carbon_fraction=0.3, carbon_edge="straight")),
    ("3 contamination blobs", dict(n_contamination=3)),
    ("crowded, 300 particles", dict(n_particles=300)),
    ("sparse, 20 particles", dict(n_particles=20)),
    ("small particles, 90 Å", dict(particle_diameter_A=90.0)),
    ("sparse and faint, 5 particles at 15 e/Å²", dict(n_particles=5, dose_e_per_A2=15.0)),
    ("small and faint, 90 Å at 5 e/Å²", dict(particle_diameter_A=90.0, dose_e_per_A2=5.0)),
    ("gold foil over 30 % (a hole's rim)", dict(carbon_fraction=0.3, carbon_edge="curved", film_material="gold")),
    ("gold foil over 70 % (a hole's rim)", dict(carbon_fraction=0.7, carbon_edge="curved", film_material="gold",
                                               n_particles=50)),
    ("gold foil over 85 % (a hole's rim)", dict(carbon_fraction=0.85, carbon_edge="curved", film_material="gold",
                                               n_particles=30)),
    ("gold foil over 70 %, inverted", dict(carbon_fraction=0.7, carbon_edge="curved", film_material="gold",
                                          n_particles=50, inverted=True)),
    ("gold foil over 85 %, inverted", dict(carbon_fraction=0.85, carbon_edge="curved", film_material="gold",
                                          n_particles=30, inverted=True)),
)


def condition_row(model, row: int, label: str, changes: dict, n_seeds: int) -> str:
    """One table line: pooled scores with the true and the estimated diameter over `n_seeds` micrographs.

    The micrographs' seeds are the row's number and theirs: rows of the same changes draw the same micrographs.
    """
    changes = dict(changes)
    sign = -1.0 if changes.pop("inverted", False) else 1.0
    params = replace(BASELINE, **changes)
    diameter_px = params.particle_diameter_A / params.pixel_size_A
    marked = {"given": [], "estimated": []}
    ratios, fractions = [], []
    for seed in range(n_seeds):
        sim = simulate_micrograph(params, seed=[90, row, seed])
        micrograph = Micrograph(sign * sim.image, params.pixel_size_A, f"condition_{seed}")
        segmentation, given = segment_and_pick(micrograph, model, diameter_px)
        _, estimated = segment_and_pick(micrograph, model, None, warn_if_crowded=False)
        marked["given"].append(mark_picks(given.table, sim.picks, diameter_px / 2))
        marked["estimated"].append(mark_picks(estimated.table, sim.picks, diameter_px / 2))
        ratios.append(estimated.diameter_px / diameter_px)
        fractions.append(segmentation.class_fractions()["particle"])
    given, estimated = pooled_scores(marked["given"]), pooled_scores(marked["estimated"])
    ratios = np.asarray(ratios)
    found = ratios[np.isfinite(ratios)]
    ratio = f"{np.median(found):.2f} [{found.min():.2f}-{found.max():.2f}]" if len(found) else "none"
    ratio += "" if len(found) == len(ratios) else f", {len(found)} of {len(ratios)} with an estimate"
    return (f"| {label} | {given['precision']:.2f} | {given['recall']:.2f} | {given['f1']:.3f} | "
            f"{estimated['f1']:.3f} | {ratio} | {np.mean(fractions):.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model file (default: the shipped one)")
    parser.add_argument("--seeds", type=int, default=5, help="micrographs per condition")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    model = load_model(args.model)
    lines = ["# Picking accuracy under other imaging and specimen conditions (fresh simulations)", "",
             f"Model: {args.model or 'the shipped default'}; default threshold, polarity auto. Baseline: 150 Å "
             "particles at 1.06 Å/px, 2048x2048 px, 120 particles, 400 Å of ice, defocus 1-2.5 µm, 40 e/Å², "
             f"no carbon; each row changes what its label says; {args.seeds} micrographs per row, scores "
             "pooled, against the true centres within half a diameter. Written by benchmarks/specimen_conditions.py.", "",
             "| condition | precision | recall | F1 | F1, estimated diameter | estimated / true diameter "
             "(median [range]) | particle fraction |", "|" + " --- |" * 7]
    for row, (label, changes) in enumerate(CONDITIONS):
        lines.append(condition_row(model, row, label, changes, args.seeds))
        print(lines[-1], flush=True)
    lines += ["", f"Whole run: {time.perf_counter() - started:.0f} s on {len(os.sched_getaffinity(0))} cores."]
    publish(lines, "specimen_conditions.md")


if __name__ == "__main__":
    main()
