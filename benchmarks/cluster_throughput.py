"""Throughput of picking on a local Dask cluster with 1 and 2 worker processes, against one plain process.

Usage:
    python benchmarks/cluster_throughput.py [--n 8]

Simulates n float32 MRC micrographs (2048x2048, 1.5 Å/px) and picks them three
ways with icestat.batch.pick_micrograph: in this process one after another
(model already loaded), and through icestat.cluster.run_on_dask with 1 and 2
workers (cluster start, model load per worker and shutdown included). The
overhead per task is (Dask with 1 worker - plain) / n.

Writes benchmarks/results/cluster_throughput.md.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from _report import publish

from icestat.batch import PickSettings, cached_model, failed_row, pick_micrograph
from icestat.cluster import run_on_dask
from icestat.micrograph import write_mrc
from icestat.simulate import SimulationParams, simulate_micrograph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=8)
    args = parser.parse_args()
    settings = PickSettings(diameter_A=150.0)
    params = SimulationParams(shape_px=(2048, 2048), pixel_size_A=1.5, n_particles=150, particle_diameter_A=150.0)
    timings = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = []
        for i in range(args.n):
            paths.append(str(folder / f"mic_{i:03d}.mrc"))
            write_mrc(paths[-1], simulate_micrograph(params, seed=i).image, params.pixel_size_A)
        cached_model(None, "cpu")
        for label, workers in (("one process, no Dask", 0), ("Dask, 1 worker", 1), ("Dask, 2 workers", 2)):
            output = folder / f"out_{workers}"
            output.mkdir()
            start = time.perf_counter()
            if workers == 0:
                rows = [pick_micrograph(path, output, settings) for path in paths]
            else:
                rows = list(run_on_dask(pick_micrograph, paths, (output, settings), workers, None, failed_row))
            timings[label] = time.perf_counter() - start
            assert all(row["status"] == "picked" for row in rows)
    plain = timings["one process, no Dask"]
    lines = ["# Picking throughput on a local Dask cluster", "",
             f"{args.n} micrographs of 2048x2048 at 1.5 Å/px, {len(os.sched_getaffinity(0))} CPU cores, "
             f"{time.strftime('%Y-%m-%d')}. Dask runs include starting the cluster, loading the model in each "
             "worker and shutting down. Written by benchmarks/cluster_throughput.py.", "",
             "| run | wall (s) | micrographs per minute |", "| --- | --- | --- |"]
    lines += [f"| {label} | {seconds:.1f} | {60 * args.n / seconds:.1f} |" for label, seconds in timings.items()]
    lines += ["", f"Overhead per task with Dask (1 worker against one process): "
                  f"{(timings['Dask, 1 worker'] - plain) / args.n:.2f} s, start-up included."]
    publish(lines, "cluster_throughput.md")


if __name__ == "__main__":
    main()
