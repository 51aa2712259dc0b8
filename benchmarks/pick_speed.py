"""Seconds per 4096x4096 micrograph end to end (read to files written) and peak memory of `icestat pick`'s work.

Usage:
    python benchmarks/pick_speed.py [--n 3] [--device cpu] [--processes 1[,K...]] [--pixel-sizes-A 1.06,1.77]
                                    [--estimate-diameter]

Simulates float32 MRC micrographs of 4096x4096 at two pixel sizes (1.06 Å, binned
6.6x to the 7 Å working scale, and 1.77 Å, binned 4x, the heavier case; not
1.0 Å, which icestat takes for a placeholder header value and bins to a
1024-px side), then picks
them in a fresh Python process exactly as one `icestat pick` worker does
(icestat.batch.pick_micrograph: read, segment, pick, write the STAR file and the
record; the process keeping freed memory for reuse, as `icestat` and its Dask
workers do, icestat.allocator), the model loaded once first. Reports the median seconds per micrograph,
the throughput of the same micrographs picked in turn (icestat.batch.pick_in_turn)
without and with the next ones read in a background thread meanwhile (files in
the page cache, so reading costs least here),
a breakdown by stage of one more micrograph (with carbon film, so the carbon
regions stage looks for a hole's rim) and a profile of it picked as `icestat
pick` picks it (icestat's functions by cumulative time: the second
segmentation pass, adaptation, rim search, writing), and the process's peak resident
memory (imports and model included), and with a GPU the GPU memory in use at the
end (the pools keep what they took: the peak). Goals (issue 7): under 5 s per
micrograph on 2 CPU cores and under 2 GB; over 30 micrographs/s on an H100 with
reading overlapped (use --n 8 or more there, so the rate is over many).
With ``--processes K`` (K > 1; several counts comma-separated) it also measures K such processes picking at once
(each its own copy of the run, reading overlapped, all starting together once
every one has loaded the model): the throughput of one node whose CPU stages
(binning, carbon regions, picking) would otherwise leave its GPU waiting, as
`icestat pick --workers K --device cuda` runs it on a node with one GPU.
The particles' diameter (150 Å, DIAMETER_A) is given, as with ``--diameter-A``; with ``--estimate-diameter``
each micrograph is picked with its own estimate instead (icestat.diameter.segment_at_estimated_diameter), as
`icestat pick` without a diameter picks them first (the run's diameter, which may pick some again, is not timed).

Writes benchmarks/results/pick_speed.md (or pick_speed_<device>.md, with _estimated_diameter before .md when
estimating, or the name --results-file gives: a GPU machine's CPU-only run, say, so that it does not go above
the 2-core runs).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from _report import gpu_name, machine_speed_line, publish

from icestat.backend import thread_environment
from icestat.micrograph import write_mrc
from icestat.simulate import SimulationParams, simulate_micrograph

#: The simulated particles' diameter, given to the picker unless it is to estimate it.
DIAMETER_A = 150.0

# Run in a fresh process: its peak memory is that of one picking worker.
_WORKER = r"""
import cProfile, json, pstats, resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
PROFILE_ROWS = 20
from icestat.allocator import keep_freed_memory
keep_freed_memory()   # as the icestat command and its Dask workers do
from icestat.batch import PickSettings, cached_model, pick_in_turn, pick_micrograph
from icestat.carbon import consolidate_carbon
from icestat.examples import features_of
from icestat.features import compute_features
from icestat.micrograph import read_micrograph
from icestat.pick import pick
from icestat.segment import Segmentation, patch_probabilities, pixel_probabilities
paths, output, device, diameter_A = json.loads(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
settings = PickSettings(device=device, diameter_A=diameter_A)
model = cached_model(None, device)
load_s = time.perf_counter() - t0
seconds = []
for path in paths[:-1]:
    start = time.perf_counter()
    row = pick_micrograph(path, output, settings)
    assert row["status"] == "picked", row
    seconds.append(time.perf_counter() - start)
per_second = {}
for read_ahead in (0, 2):
    start = time.perf_counter()
    rows = list(pick_in_turn(paths[:-1], output, settings, read_ahead=read_ahead))
    assert all(row["status"] == "picked" for row in rows), rows
    per_second[read_ahead] = len(rows) / (time.perf_counter() - start)
stages, mark = {}, time.perf_counter()
def lap(name):
    global mark
    now = time.perf_counter(); stages[name] = now - mark; mark = now
micrograph = read_micrograph(paths[-1]); lap("read")
working = model.settings.prepare(micrograph, device=device); lap("bin and normalise")
features = features_of(working, model.settings, device); lap("features")
per_patch = patch_probabilities(model.classifier, features); lap("classifier")
probabilities = pixel_probabilities(working, per_patch, features.grid, model.refiner); lap("CNN refiner")
if model.settings.carbon_regions:  # as icestat.segment.model_probabilities does
    probabilities = consolidate_carbon(working.data, probabilities, model.settings.patch_px); lap("carbon regions")
picks = pick(Segmentation(micrograph.name, working, probabilities, per_patch, features),
             None if diameter_A is None else diameter_A / micrograph.pixel_size_A)   # None: estimated here
lap("pick")
feature_groups = {}  # each base group alone on this working image (the features stage adds context and region)
for group in ("intensity", "gradient", "texture", "spectrum"):
    start = time.perf_counter()
    compute_features(working, model.settings.patch_px, model.settings.stride_px, [group], device).values.sum().item()
    feature_groups[group] = time.perf_counter() - start
profiler = cProfile.Profile()  # one more micrograph as it is picked: where the time goes, whole stages included
(output / "profiled").mkdir()
profiler.runcall(pick_micrograph, paths[-1], output / "profiled", settings)
profile = sorted(([file.split("/icestat/")[-1] + ":" + function, calls, cumulative]
                  for (file, _, function), (_, calls, _, cumulative, _) in pstats.Stats(profiler).stats.items()
                  if "/icestat/" in file), key=lambda row: -row[2])[:PROFILE_ROWS]
peak_MB = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
gpu_MB = None
if device != "cpu":  # PyTorch's and CuPy's pools keep what they took, so what the GPU has in use now is the peak
    import torch
    free, total = torch.cuda.mem_get_info()
    gpu_MB = (total - free) / 2**20
print(json.dumps({"load_s": load_s, "seconds": seconds, "per_second": per_second, "stages": stages, "peak_MB": peak_MB,
                  "gpu_MB": gpu_MB, "n_picks": len(picks), "feature_groups": feature_groups, "profile": profile}))
"""

# One of K processes picking at once: waits until all have loaded the model and picked one micrograph (compiling
# the kernels), then picks its copy of the run on its share of the cores.
_SHARING_WORKER = r"""
import json, sys, time
from pathlib import Path
from icestat.allocator import keep_freed_memory
keep_freed_memory()   # first, as the workers of icestat's local Dask clusters have it (icestat.allocator.ENVIRONMENT)
from icestat.batch import PickSettings, cached_model, pick_in_turn
paths, output, device = json.loads(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
ready, n_processes, diameter_A = Path(sys.argv[4]), int(sys.argv[5]), json.loads(sys.argv[6])
settings = PickSettings(device=device, diameter_A=diameter_A)
cached_model(None, device)
warm_up = output / "warm_up"
warm_up.mkdir()
list(pick_in_turn(paths[:1], warm_up, settings))  # compiles the kernels before the clock starts
(ready / output.name).touch()
deadline = time.time() + 600   # a process that failed before it was ready must not leave the others waiting
while len(list(ready.iterdir())) < n_processes:
    if time.time() > deadline:
        sys.exit("the other picking processes did not get ready")
    time.sleep(0.01)
start = time.time()
rows = list(pick_in_turn(paths, output, settings, read_ahead=2))
assert all(row["status"] == "picked" for row in rows), rows
print(json.dumps({"start": start, "end": time.time(), "n": len(rows)}))
"""


def gpu_memory_used_MB(device: str) -> float | None:
    """Memory in use on `device`'s GPU by every process (nvidia-smi), or None where it cannot be read."""
    index = device.partition(":")[2] or "0"
    try:
        query = ["nvidia-smi", f"--id={index}", "--query-gpu=memory.used", "--format=csv,noheader,nounits"]
        answer = subprocess.run(query, capture_output=True, text=True, timeout=10, check=True).stdout
        return float(answer.split()[0])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def measure_shared(paths: list[str], n_processes: int, device: str, folder: Path,
                   diameter_A: float | None = DIAMETER_A) -> tuple[float, float | None]:
    """Micrographs per second of `n_processes` processes picking `paths` at once (each into its own folder).

    With a GPU, also the most memory in use on it meanwhile (MB, all processes with their CUDA contexts; sampled
    every half second), or None.
    """
    samples, stop = [], threading.Event()

    def sample_gpu_memory():
        while not stop.wait(0.5):
            samples.append(gpu_memory_used_MB(device))

    sampler = threading.Thread(target=sample_gpu_memory, daemon=True)
    if device != "cpu":
        sampler.start()
    ready = folder / "ready"
    ready.mkdir()
    workers = []
    # each its share of the cores in every library, as the workers of `icestat pick --workers K` get it
    environment = {**os.environ, **thread_environment(max(1, len(os.sched_getaffinity(0)) // n_processes))}
    for k in range(n_processes):
        output = folder / f"out_{k}"
        output.mkdir()
        workers.append(subprocess.Popen([sys.executable, "-c", _SHARING_WORKER, json.dumps(paths), str(output), device,
                                         str(ready), str(n_processes), json.dumps(diameter_A)],
                                        stdout=subprocess.PIPE, text=True,
                                        env=environment))
    results = []
    for worker in workers:
        stdout, _ = worker.communicate()
        if worker.returncode:
            raise RuntimeError(f"a picking process failed (exit code {worker.returncode})")
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    stop.set()
    seconds = max(r["end"] for r in results) - min(r["start"] for r in results)
    peak_MB = max((MB for MB in samples if MB is not None), default=None)
    return sum(r["n"] for r in results) / seconds, peak_MB


def simulate_to(path: Path, pixel_size_A: float, seed: int) -> str:
    """Write one simulated 4096x4096 micrograph (with carbon film where `seed` is odd) to `path`."""
    params = SimulationParams(shape_px=(4096, 4096), pixel_size_A=pixel_size_A, n_particles=300,
                              particle_diameter_A=DIAMETER_A, carbon_fraction=0.2 if seed % 2 else 0.0,
                              n_contamination=1)
    write_mrc(path, simulate_micrograph(params, seed=seed).image, pixel_size_A)
    return str(path)


def measure(pixel_size_A: float, n: int, device: str, folder: Path, process_counts: tuple[int, ...] = (),
            diameter_A: float | None = DIAMETER_A) -> dict:
    """Simulate n + 1 micrographs at `pixel_size_A` and time picking them in a fresh process (and in K at once).

    They are picked with the diameter `diameter_A`, or with each one's own estimate where it is None.
    """
    with ProcessPoolExecutor() as pool:
        paths = list(pool.map(simulate_to, [folder / f"mic_{pixel_size_A:g}A_{i}.mrc" for i in range(n + 1)],
                              [pixel_size_A] * (n + 1), range(n + 1)))
    output = folder / f"out_{pixel_size_A:g}"
    output.mkdir()
    result = subprocess.run([sys.executable, "-c", _WORKER, json.dumps(paths), str(output), device,
                             json.dumps(diameter_A)],
                            capture_output=True, text=True, check=True)
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"{pixel_size_A:g} Å, one process:", json.dumps(measured), flush=True)  # kept if a later part fails
    measured["shared_per_second"], measured["shared_gpu_MB"] = {}, {}
    for n_processes in process_counts:
        shared = folder / f"shared_{pixel_size_A:g}_{n_processes}"
        shared.mkdir()
        rate, gpu_MB = measure_shared(paths[:-1], n_processes, device, shared, diameter_A)
        measured["shared_per_second"][n_processes], measured["shared_gpu_MB"][n_processes] = rate, gpu_MB
        print(f"{pixel_size_A:g} Å, {n_processes} processes at once: {rate:.2f} micrographs/s"
              + ("" if gpu_MB is None else f", GPU memory in use at most {gpu_MB:.0f} MB"), flush=True)
    return measured


def _megabytes(MB: float | None) -> str:
    return "" if MB is None else f" ({MB:.0f})"


def report_lines(results: dict, device_label: str, n: int, process_counts: tuple[int, ...], cores: int,
                 speed_line: str, diameter_A: float | None = DIAMETER_A) -> list[str]:
    """The Markdown report of `results` (pixel size in Å to what :func:`measure` returned)."""
    diameter = (f"each micrograph picked with its own estimated diameter (true: {DIAMETER_A:g} Å)" if diameter_A is None
                else f"particle diameter {diameter_A:g} Å given")
    first = next(iter(results.values()))
    lines = ["# End-to-end picking speed and memory", "",
             f"4096x4096 float32 MRC, {device_label}, {cores} CPU cores, "
             f"{time.strftime('%Y-%m-%d')}, {n} micrographs timed per pixel size, {diameter}. "
             "Written by benchmarks/pick_speed.py.", speed_line, "",
             "| pixel size | s per micrograph (median) | all runs (s) | micrographs/s in turn | "
             "micrographs/s, reading overlapped | model load + imports (s) | peak memory (MB) | GPU memory (MB) |"
             + "".join(f" micrographs/s, {k} processes at once (GPU memory, MB) |" for k in process_counts),
             "| --- | --- | --- | --- | --- | --- | --- | --- |" + " --- |" * len(process_counts)]
    for pixel_size_A, r in results.items():
        runs = sorted(r["seconds"])
        gpu = "-" if r["gpu_MB"] is None else f"{r['gpu_MB']:.0f}"
        lines.append(f"| {pixel_size_A:g} Å | {runs[len(runs) // 2]:.2f} | {', '.join(f'{s:.2f}' for s in r['seconds'])} "
                     f"| {r['per_second']['0']:.2f} | {r['per_second']['2']:.2f} | {r['load_s']:.1f} | {r['peak_MB']:.0f} "
                     f"| {gpu} |" + "".join(f" {r['shared_per_second'][k]:.2f}{_megabytes(r['shared_gpu_MB'][k])} |"
                                            for k in process_counts))
    lines += ["", "Stages of one micrograph (s):", "",
              "| pixel size | " + " | ".join(first["stages"]) + " |",
              "|" + " --- |" * (1 + len(first["stages"]))]
    for pixel_size_A, r in results.items():
        lines.append(f"| {pixel_size_A:g} Å | " + " | ".join(f"{s:.2f}" for s in r["stages"].values()) + " |")
    lines += ["", "Each base feature group alone on the same working image (s; the features stage adds the context "
              "and region features):", "",
              "| pixel size | " + " | ".join(first["feature_groups"]) + " |",
              "|" + " --- |" * (1 + len(first["feature_groups"]))]
    for pixel_size_A, r in results.items():
        lines.append(f"| {pixel_size_A:g} Å | " + " | ".join(f"{s:.3f}" for s in r["feature_groups"].values()) + " |")
    for pixel_size_A, r in results.items():
        lines += ["", f"Where the time of one more micrograph at {pixel_size_A:g} Å goes, as `icestat pick` picks it "
                  "(cProfile of icestat.batch.pick_micrograph; icestat's functions by cumulative seconds, a caller "
                  "counting its callees; on a GPU, kernels count where the host waits for them):", "",
                  "| function | calls | s |", "| --- | ---: | ---: |"]
        lines += [f"| `{function}` | {calls} | {seconds:.3f} |" for function, calls, seconds in r["profile"]]
    lines += ["", "Goals: under 5 s per micrograph on 2 CPU cores, under 2 GB (Topaz: about 15 s and 2.5 GB); on an H100, "
              "over 30 micrographs/s with reading overlapped."]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=3, help="micrographs timed end to end per pixel size")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--processes", default="1", help="also measure this many picking processes at once "
                        "(sharing the device); several counts comma-separated, each measured in turn")
    parser.add_argument("--pixel-sizes-A", default="1.06,1.77", help="comma-separated (default: %(default)s)")
    parser.add_argument("--estimate-diameter", action="store_true",
                        help="pick without a diameter, each micrograph with its own estimate")
    parser.add_argument("--results-file", help="name of the results file in benchmarks/results (default: "
                        "pick_speed.md on the CPU, pick_speed_<device>.md on a GPU)")
    args = parser.parse_args()
    process_counts = tuple(k for k in (int(text) for text in args.processes.split(",")) if k > 1)
    diameter_A = None if args.estimate_diameter else DIAMETER_A
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for pixel_size_A in (float(text) for text in args.pixel_sizes_A.split(",")):
            results[pixel_size_A] = measure(pixel_size_A, args.n, args.device, Path(tmp), process_counts, diameter_A)
    lines = report_lines(results, f"{args.device}{gpu_name(args.device)}", args.n, process_counts,
                         len(os.sched_getaffinity(0)), machine_speed_line(), diameter_A)
    suffix = ("" if args.device == "cpu" else f"_{args.device.replace(':', '')}") + (
        "_estimated_diameter" if args.estimate_diameter else "")
    publish(lines, args.results_file or f"pick_speed{suffix}.md")


if __name__ == "__main__":
    main()
