"""Throughput of picking on a local Dask cluster with 1 and 2 worker processes, against one plain process.

Usage:
    python benchmarks/cluster_throughput.py [--n 8 32]

For each batch size n, simulates n float32 MRC micrographs (2048x2048,
1.5 Å/px) and picks them three ways with icestat.batch.pick_micrograph: in
this process one after another (model already loaded), and through
icestat.cluster.run_on_dask with 1 and 2 workers (cluster start, model load
per worker and shutdown included). Dask's extra time (1 worker against one
process) is split into a fixed start-up cost and an overhead per task by a
straight line through the batch sizes. This process keeps freed memory for
reuse, as the `icestat` command does and the workers do (icestat.allocator).

Writes benchmarks/results/cluster_throughput.md.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from _report import publish

from icestat.allocator import keep_freed_memory
from icestat.batch import PickSettings, cached_model, failed_row, pick_micrograph
from icestat.cluster import run_on_dask
from icestat.micrograph import write_mrc
from icestat.simulate import SimulationParams, simulate_micrograph

RUNS = (("one process, no Dask", 0), ("Dask, 1 worker", 1), ("Dask, 2 workers", 2))


def time_batch(n: int, settings: PickSettings) -> dict[str, float]:
    """Seconds to pick `n` simulated micrographs in one process, and on Dask with 1 and 2 workers."""
    params = SimulationParams(shape_px=(2048, 2048), pixel_size_A=1.5, n_particles=150, particle_diameter_A=150.0)
    timings = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = []
        for i in range(n):
            paths.append(str(folder / f"mic_{i:03d}.mrc"))
            write_mrc(paths[-1], simulate_micrograph(params, seed=i).image, params.pixel_size_A)
        cached_model(None, "cpu")
        for label, workers in RUNS:
            output = folder / f"out_{workers}"
            output.mkdir()
            start = time.perf_counter()
            if workers == 0:
                rows = [pick_micrograph(path, output, settings) for path in paths]
            else:
                rows = list(run_on_dask(pick_micrograph, paths, (output, settings), workers, None, failed_row))
            timings[label] = time.perf_counter() - start
            assert all(row["status"] == "picked" for row in rows)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[8, 32], help="batch sizes")
    args = parser.parse_args()
    keep_freed_memory()   # as `icestat pick` does in the one process that picks without Dask
    settings = PickSettings(diameter_A=150.0)
    by_size = {n: time_batch(n, settings) for n in args.n}
    lines = ["# Picking throughput on a local Dask cluster", "",
             f"Micrographs of 2048x2048 at 1.5 Å/px, {len(os.sched_getaffinity(0))} CPU cores, "
             f"{time.strftime('%Y-%m-%d')}. Dask runs include starting the cluster, loading the model in each "
             "worker and shutting down. Written by benchmarks/cluster_throughput.py.", "",
             "| micrographs | run | wall (s) | micrographs per minute |", "| --- | --- | --- | --- |"]
    for n, timings in by_size.items():
        lines += [f"| {n} | {label} | {seconds:.1f} | {60 * n / seconds:.1f} |" for label, seconds in timings.items()]
    extra = {n: timings["Dask, 1 worker"] - timings[RUNS[0][0]] for n, timings in by_size.items()}
    if len(extra) > 1:
        per_task, start_up = np.polyfit(list(extra), list(extra.values()), 1)
        lines += ["", f"Dask's extra time against one process (1 worker), fitted over the batch sizes: "
                      f"{start_up:.1f} s once (cluster start-up, model load, shutdown) + {per_task:.3f} s per task."]
    publish(lines, "cluster_throughput.md")


if __name__ == "__main__":
    main()
