"""Picking accuracy of the shipped model over particle size: fresh simulations of 70-550 Å particles.

Usage:
    python benchmarks/particle_size.py [--model PATH] [--contamination N]

A specimen icestat has never seen may be smaller or larger than those of
../shared/data (about 100-300 Å). For each particle diameter, two simulated
micrographs (1.06 and 1.6 Å/px, a field of view of about 4300 Å, 12 % of it
covered by particles, ice 300 Å thick or 1.3 particle diameters where that is
more, no carbon) are picked with the true diameter and with the estimated one,
and scored against the true centres within half a diameter (the given diameter
also sets the working scale of large particles: icestat.settings.MAX_WORKING_DIAMETER_PX).
The class fractions, with the diameter given, say what the model took the particles for. About 2 minutes
on 2 cores.

Writes benchmarks/results/particle_size.md.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from _report import publish
from icestat.diameter import segment_at_estimated_diameter
from icestat.metrics import mark_picks, pick_scores
from icestat.micrograph import Micrograph
from icestat.model import load_model
from icestat.pick import pick
from icestat.segment import segment
from icestat.simulate import SimulationParams, simulate_micrograph

DIAMETERS_A = (70, 100, 150, 220, 300, 400, 550)
PIXEL_SIZES_A = (1.06, 1.6)
FIELD_OF_VIEW_A = 4300.0
COVERED_FRACTION = 0.12
MIN_ICE_THICKNESS_A = 300.0
ICE_PER_DIAMETER = 1.3


def size_micrograph(diameter_A: float, pixel_size_A: float, n_contamination: int = 0):
    """A simulated micrograph of particles of one size: (micrograph, true centres, diameter in pixels)."""
    side_px = min(4096, 2 * int(round(FIELD_OF_VIEW_A / pixel_size_A / 2)))
    n_particles = int(COVERED_FRACTION * (side_px * pixel_size_A) ** 2 / (np.pi * (diameter_A / 2) ** 2))
    params = SimulationParams(shape_px=(side_px, side_px), pixel_size_A=pixel_size_A, n_particles=n_particles,
                              particle_diameter_A=diameter_A, carbon_fraction=0.0, n_contamination=n_contamination,
                              ice_thickness_A=max(MIN_ICE_THICKNESS_A, ICE_PER_DIAMETER * diameter_A))
    sim = simulate_micrograph(params, seed=[80, int(diameter_A), int(round(100 * pixel_size_A)), n_contamination])
    name = f"d{diameter_A:g}A_{pixel_size_A:g}Apx"
    return Micrograph(sim.image, pixel_size_A, name), sim.picks, diameter_A / pixel_size_A


def size_row(model, diameter_A: float, pixel_size_A: float, n_contamination: int) -> str:
    """One table line: scores with the true and the estimated diameter, and the class fractions."""
    micrograph, truth, diameter_px = size_micrograph(diameter_A, pixel_size_A, n_contamination)
    segmentation = segment(micrograph, model, particle_diameter_px=diameter_px)   # as icestat pick --diameter-A
    given = pick_scores(*mark_picks(pick(segmentation, diameter_px).table, truth, diameter_px / 2))
    at_estimate, estimate_px = segment_at_estimated_diameter(micrograph, model)   # as icestat pick
    estimated_picks = pick(at_estimate, estimate_px, warn_if_crowded=False, diameter_estimated=True)
    estimated = pick_scores(*mark_picks(estimated_picks.table, truth, diameter_px / 2))
    fractions = segmentation.class_fractions()
    return (f"| {diameter_A:g} | {pixel_size_A:g} | {len(truth)} | {given['precision']:.2f} | {given['recall']:.2f} | "
            f"{given['f1']:.3f} | {estimated['f1']:.3f} | {estimated_picks.diameter_px / diameter_px:.2f} | "
            f"{fractions['particle']:.3f} | {fractions['contamination']:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model file (default: the shipped one)")
    parser.add_argument("--contamination", type=int, default=0, help="contamination blobs per micrograph")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    model = load_model(args.model)
    lines = ["# Picking accuracy over particle size (fresh simulations)", "",
             f"Model: {args.model or 'the shipped default'}; default threshold; {COVERED_FRACTION:.0%} of each "
             f"micrograph covered by particles; {args.contamination} contamination blob(s) per micrograph. "
             "Scored against the true centres within half a diameter. Written by benchmarks/particle_size.py.", "",
             "| diameter (Å) | pixel size (Å) | particles | precision | recall | F1 | F1, estimated diameter | "
             "estimated / true diameter | particle fraction | contamination fraction |", "|" + " --- |" * 10]
    for diameter_A in DIAMETERS_A:
        for pixel_size_A in PIXEL_SIZES_A:
            lines.append(size_row(model, diameter_A, pixel_size_A, args.contamination))
    lines += ["", f"Whole run: {time.perf_counter() - started:.0f} s."]
    publish(lines, "particle_size.md")


if __name__ == "__main__":
    main()
