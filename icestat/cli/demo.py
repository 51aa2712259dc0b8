"""Run icestat end to end on data it makes itself: no files of your own needed.

Simulates a few micrographs with known particles, carbon film and
contamination, picks them with the default model (as `icestat pick` does),
scores the picks against the simulator's truth (as `icestat evaluate` does),
and prints the scores and where the overlays are.

Example:
    icestat demo -o icestat-demo
"""

from __future__ import annotations

import argparse

from icestat.batch import FAILED, PickSettings, pick_in_turn, write_run_files
from icestat.cli._common import output_folder
from icestat.coords import read_picks
from icestat.evaluate import evaluate_manifest
from icestat.manifest import read_manifest
from icestat.simulate import SimulationParams, simulate_micrograph, write_simulation

#: The particle diameter the demo simulates and gives to the picker, in ångström.
DIAMETER_A = 150.0
# A small, varied set: carbon film on one micrograph, contamination on another, a crowded third.
_DEMO_PARAMS = (
    SimulationParams(shape_px=(2048, 2048), pixel_size_A=1.5, n_particles=100, particle_diameter_A=DIAMETER_A,
                     carbon_fraction=0.3, n_contamination=0),
    SimulationParams(shape_px=(2048, 2048), pixel_size_A=1.5, n_particles=100, particle_diameter_A=DIAMETER_A,
                     carbon_fraction=0.0, n_contamination=2, contamination_diameter_A=600.0),
    SimulationParams(shape_px=(2048, 2048), pixel_size_A=1.5, n_particles=220, particle_diameter_A=DIAMETER_A,
                     carbon_fraction=0.0, n_contamination=0),
)


def add_args(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``icestat demo``."""
    parser.add_argument("-o", "--output", default="icestat-demo", help="output folder (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")


def main(args: argparse.Namespace) -> int:
    """Simulate, pick and evaluate; 0 when every micrograph was picked."""
    out = output_folder(args.output)
    if out is None:
        return 2
    micrographs = (
        simulate_micrograph(params, seed) for seed, params in enumerate(_DEMO_PARAMS, start=args.seed)
    )
    manifest = write_simulation(out / "micrographs", micrographs, prefix="demo", description={"seed": args.seed})
    print(f"simulated {len(_DEMO_PARAMS)} micrographs with their truth in {manifest.parent}/")
    paths = [str(manifest.parent / name) for name in read_manifest(manifest)["micrograph"]]
    picks_folder = out / "picks"
    picks_folder.mkdir(parents=True, exist_ok=True)
    settings = PickSettings(diameter_A=DIAMETER_A, write_overlay=True)
    rows = list(pick_in_turn(paths, picks_folder, settings))
    summary = write_run_files(paths, picks_folder, rows)
    print(summary[["micrograph", "status", "n_picks", "carbon_fraction", "contamination_fraction", "seconds"]]
          .to_string(index=False, float_format=lambda value: f"{value:.2f}"))
    scores = evaluate_manifest(read_picks(picks_folder / "particles.star"), manifest)
    print("\nagainst the simulator's truth (a pick is right within half a particle diameter of a true centre):")
    print(scores.to_string(float_format=lambda value: f"{value:.3f}"))
    print(f"\noverlays (particles circled; carbon blue, contamination red): {picks_folder}/demo_????_overlay.png\n"
          f"the same run from the command line: icestat pick {manifest.parent}/demo_????.mrc "
          f"-o {picks_folder} --diameter-A {DIAMETER_A:g} --overlays")
    return 1 if (summary["status"] == FAILED).any() else 0
