"""Simulate micrographs with ground truth (MRC, label MRC, truth STAR, JSON, manifest).

Writes per micrograph sim_NNNN.mrc (counts), sim_NNNN_labels.mrc (int8 classes:
0 ice, 1 particle, 2 carbon, 3 contamination) and sim_NNNN_truth.star (particle
centres with diameter), plus simulation.json (parameters, seed and every value
drawn) and manifest.csv (the folder as a labelled set). The same seed and
parameters give the same files.

Example:
    icestat simulate -o sim --n 4 --size 2048 --pixel-size-A 1.0 --seed 0 \\
        --particles 300 --diameter-A 150 --carbon-fraction 0.2 --contamination 1
"""

from __future__ import annotations

import argparse
import logging

from icestat.cli._common import output_folder
from icestat.simulate import SimulationParams, simulate_set, write_simulation

log = logging.getLogger(__name__)


def add_args(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``icestat simulate``."""
    defaults = SimulationParams()
    add = parser.add_argument
    add("-o", "--output", required=True, help="output folder")
    add("--n", type=int, default=4, help="number of micrographs (default: %(default)s)")
    add("--size", type=int, nargs="+", default=[2048], metavar="PX", help="side, or rows and columns (default: 2048)")
    add("--pixel-size-A", type=float, default=defaults.pixel_size_A, help="pixel size (default: %(default)s)")
    add("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    add("--particles", type=int, default=defaults.n_particles, help="particles per micrograph (default: %(default)s)")
    add("--diameter-A", type=float, default=defaults.particle_diameter_A, help="particle diameter (default: %(default)s)")
    add("--species", type=int, default=defaults.n_species, help="distinct particle shapes (default: %(default)s)")
    add("--ice-thickness-A", type=float, default=defaults.ice_thickness_A, help="mean ice thickness (default: %(default)s)")
    add("--carbon-fraction", type=float, default=defaults.carbon_fraction,
        help="area under carbon film (default: %(default)s)")
    add("--film", choices=("carbon", "gold"), default=defaults.film_material,
        help="what that film is: amorphous carbon, or opaque gold foil as on UltrAuFoil grids (default: %(default)s)")
    add("--contamination", type=int, default=defaults.n_contamination, help="contamination blobs (default: %(default)s)")
    add("--crystalline-fraction", type=float, default=defaults.crystalline_fraction,
        help="share of blobs that are crystalline ice (default: %(default)s)")
    add("--defocus-um", type=float, nargs=2, default=list(defaults.defocus_range_um), metavar=("LOW", "HIGH"),
        help="defocus range, underfocus positive (default: 1.0 2.5)")
    add("--dose", type=float, default=defaults.dose_e_per_A2, help="electrons per Å² (default: %(default)s)")
    add("--voltage-kV", type=float, default=defaults.voltage_kV, help="(default: %(default)s)")
    add("--prefix", default="sim", help="file name prefix (default: %(default)s)")


def main(args: argparse.Namespace) -> int:
    """Simulate and write the set; return 0, or 2 for invalid parameters."""
    try:
        params = params_from_args(args)
    except ValueError as err:
        log.error("%s", err)
        return 2
    if output_folder(args.output) is None:
        return 2
    micrographs = simulate_set(args.n, params, args.seed)
    manifest = write_simulation(args.output, micrographs, args.prefix, description={"seed": args.seed})
    print(f"wrote {args.n} micrographs to {args.output}; labelled-set manifest: {manifest}")
    return 0


def params_from_args(args: argparse.Namespace) -> SimulationParams:
    """Build :class:`SimulationParams` from parsed arguments (raises ValueError when invalid)."""
    if len(args.size) not in (1, 2):
        raise ValueError("--size takes one side or two (rows columns)")
    return SimulationParams(
        shape_px=tuple(args.size * 2)[:2] if len(args.size) == 1 else tuple(args.size),
        pixel_size_A=args.pixel_size_A,
        n_particles=args.particles,
        particle_diameter_A=args.diameter_A,
        n_species=args.species,
        ice_thickness_A=args.ice_thickness_A,
        carbon_fraction=args.carbon_fraction,
        film_material=args.film,
        n_contamination=args.contamination,
        crystalline_fraction=args.crystalline_fraction,
        defocus_range_um=tuple(args.defocus_um),
        dose_e_per_A2=args.dose,
        voltage_kV=args.voltage_kV,
    )
