"""Where the time of compute_features goes on one 4096x4096 micrograph at full resolution, function by function.

Usage:
    python benchmarks/features_profile.py [--device cpu] [--size 4096] [--rows 25]

Profiles (cProfile) one call of compute_features (all features, 64-px patches at
stride 32, the image already on the device, its kernels compiled) and lists
the functions by their own time and icestat's by cumulative time. On a GPU it
sets ``CUDA_LAUNCH_BLOCKING=1`` before CUDA starts, so that every kernel (numba's,
CuPy's, cuFFT's) finishes before its launch returns: each kernel's time then
counts to the Python function that launched it, and the table says which
steps of the features (not only which patch kernels, as features_speed.py's
table does) to work on. Blocking launches add a few microseconds each, so the
total is above features_speed.py's.

Writes benchmarks/results/features_profile_<device kind>.md.
"""

from __future__ import annotations

import os

os.environ.setdefault("CUDA_LAUNCH_BLOCKING", "1")  # before any CUDA library starts

import argparse  # noqa: E402
import cProfile  # noqa: E402
import pstats  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from _report import gpu_name, publish  # noqa: E402

from icestat.backend import array_module, parse_device, to_host  # noqa: E402
from icestat.features import compute_features  # noqa: E402
from icestat.prepare import prepare  # noqa: E402
from icestat.micrograph import Micrograph  # noqa: E402
from icestat.simulate import SimulationParams, simulate_micrograph  # noqa: E402


def profile_rows(profiler: cProfile.Profile, rows: int) -> tuple[list, list]:
    """The `rows` functions with most own time, and icestat's `rows` with most cumulative time: (name, calls, s)."""
    entries = [(function if file == "~" else f"{Path(file).name}:{function}", file, calls, own, cumulative)
               for (file, _, function), (_, calls, own, cumulative, _) in pstats.Stats(profiler).stats.items()]
    by_own = sorted(((name, calls, own) for name, _, calls, own, _ in entries), key=lambda row: -row[2])[:rows]
    ours = sorted(((name, calls, cumulative) for name, file, calls, _, cumulative in entries
                   if "/icestat/" in file), key=lambda row: -row[2])[:rows]
    return by_own, ours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--rows", type=int, default=25)
    args = parser.parse_args()
    device = parse_device(args.device)
    xp = array_module(device)
    params = SimulationParams(shape_px=(args.size, args.size), pixel_size_A=1.0, n_particles=400,
                              particle_diameter_A=150.0, carbon_fraction=0.15, n_contamination=1)
    working = prepare(Micrograph(simulate_micrograph(params, seed=0).image, pixel_size_A=1.0, name="bench"))
    image = xp.asarray(working.data)

    def run():
        return to_host(compute_features(image, 64, 32, pixel_size_A=1.0, device=device).values[:1, :1])

    run()  # kernels compiled, FFT plans made, memory pools filled
    start = time.perf_counter()
    run()
    plain_seconds = time.perf_counter() - start
    profiler = cProfile.Profile()
    profiler.runcall(run)
    by_own, ours = profile_rows(profiler, args.rows)
    blocking = os.environ.get("CUDA_LAUNCH_BLOCKING") == "1" and device.is_gpu
    lines = [
        f"# Where compute_features' time goes: {args.size}x{args.size} image, 64-px patches at stride 32, "
        "all features",
        "",
        f"Device: {device}{gpu_name(str(device))}, {len(os.sched_getaffinity(0))} CPU cores, "
        f"{time.strftime('%Y-%m-%d')}; the image on the device, kernels compiled. One call took "
        f"{plain_seconds * 1e3:.1f} ms unprofiled" + (" with every launch blocking (CUDA_LAUNCH_BLOCKING=1), so "
                                                      "kernels count to the function that launched them"
                                                      if blocking else "") + ". Written by benchmarks/features_profile.py.",
        "",
        "Functions by their own time:",
        "",
        "| function | calls | ms |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| `{name}` | {calls} | {seconds * 1e3:.2f} |" for name, calls, seconds in by_own]
    lines += ["", "icestat's functions by cumulative time (a caller counting its callees):", "",
              "| function | calls | ms |", "| --- | ---: | ---: |"]
    lines += [f"| `{name}` | {calls} | {seconds * 1e3:.2f} |" for name, calls, seconds in ours]
    publish(lines, f"features_profile_{device.kind}.md")


if __name__ == "__main__":
    main()
