"""Seconds to simulate one 4096x4096 micrograph with 800 particles, on one CPU core.

Usage:
    python benchmarks/simulate_speed.py [--size 4096] [--particles 800] [--repeats 3]

The process pins itself to one core and limits the numerical libraries to one
thread before importing them. Prints a table and writes it to
benchmarks/results/simulate_speed.md. Goal (issue "Simulator"): under 10 s.
"""

from __future__ import annotations

import os

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[variable] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

from _report import publish  # noqa: E402
from icestat.simulate import SimulationParams, simulate_micrograph  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--particles", type=int, default=800)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    cases = {
        "ice and particles": SimulationParams(shape_px=(args.size, args.size), n_particles=args.particles,
                                              particle_diameter_A=100.0),
        "+ carbon (20 %) and 2 contamination blobs": SimulationParams(
            shape_px=(args.size, args.size), n_particles=args.particles, particle_diameter_A=100.0,
            carbon_fraction=0.2, n_contamination=2),
    }
    lines = [
        f"# Simulation speed: {args.size}x{args.size} px at 1 Å/px, {args.particles} particles of 100 Å asked",
        "",
        f"One core ({platform.machine()}, Python {platform.python_version()}); best of {args.repeats}.",
        "Goal: under 10 s per micrograph.",
        "",
        "| micrograph | particles placed | seconds (best) | seconds (mean) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, params in cases.items():
        times = []
        for seed in range(args.repeats):
            start = time.perf_counter()
            sim = simulate_micrograph(params, seed)
            times.append(time.perf_counter() - start)
        lines.append(f"| {label} | {sim.truth['n_particles_placed']} | {min(times):.2f} | {sum(times) / len(times):.2f} |")
    publish(lines, "simulate_speed.md")


if __name__ == "__main__":
    main()
