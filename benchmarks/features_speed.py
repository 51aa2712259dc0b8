"""Feature speed: seconds per 4096x4096 micrograph, features per second, and the ratio to the reference.

Usage:
    python benchmarks/features_speed.py [--size 4096] [--repeats 3] [--reference-patches 60]

Measures compute_features (all 112 features, 64-px patches at stride 32) on
the full-resolution image and after Fourier binning to 2x and 4x, on every
core of this machine (Numba threads); the features alone with the image
already on the device (on a GPU, against the memory-bandwidth floor of reading
the image once); and the slow per-patch reference of
tests/reference.py (NumPy, SciPy, scikit-image) on a sample of patches,
extrapolated to the whole grid; each feature group alone, image on the
device, each patch kernel alone, and the spectrum group with its FFTs in
batches of 1024-16384 patches; and the features as `icestat pick` computes them
(7 Å/px working image, 32-px patches), with a profile of where that time goes
(on a GPU: fixed costs per call or per kernel launch). Peak resident memory is the process's.
Writes benchmarks/results/features_speed.md. With --device cuda it times the
GPU path with the image already on the device.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import reference  # noqa: E402
from _report import gpu_name, publish  # noqa: E402
from icestat import Micrograph  # noqa: E402
from icestat.backend import array_module, parse_device, to_host  # noqa: E402
from icestat.features import PatchGrid, compute_features, cpu, gpu  # noqa: E402
from icestat.features.compute import distinct_glcm_offsets, glcm_offsets  # noqa: E402
from icestat.features.maps import quantile_edges  # noqa: E402
from icestat.features.registry import (  # noqa: E402
    DOG_SIGMAS_PX,
    GLCM_ANGLES_DEG,
    GLCM_DISTANCES_PX,
    GLCM_LEVELS,
    LBP_CODES,
    PERCENTILES,
)
from icestat.model import load_model  # noqa: E402
from icestat.prepare import prepare  # noqa: E402
from icestat.simulate import SimulationParams, simulate_micrograph  # noqa: E402


#: The intensity percentiles, as fractions.
QUANTILES = np.asarray(PERCENTILES, dtype=np.float64) / 100
#: Functions listed from the profile of the features at the working scale.
PROFILE_ROWS = 12


def _best(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def _grey_levels(image: np.ndarray) -> np.ndarray:
    """`image` (host) quantised to GLCM_LEVELS equal-population grey levels, as compute_features quantises it."""
    return np.searchsorted(quantile_edges(image, GLCM_LEVELS), image, side="right").astype(np.uint8)


def _reference_seconds_per_patch(image, patch_px, n_patches, rng):
    """Time the slow reference on `n_patches` random patches (each computed alone, as a naive tool would)."""
    grid = PatchGrid((patch_px, patch_px), patch_px, patch_px)
    starts = rng.integers(0, image.shape[0] - patch_px, size=(n_patches, 2))
    levels_all = _grey_levels(image)
    start_time = time.perf_counter()
    for top, left in starts:
        patch = image[top:top + patch_px, left:left + patch_px]
        reference.moments(patch, grid)
        reference.percentiles(patch, grid, QUANTILES)
        reference.glcm(levels_all[top:top + patch_px, left:left + patch_px], grid, GLCM_DISTANCES_PX,
                       GLCM_ANGLES_DEG, GLCM_LEVELS)
        reference.histograms(reference.lbp(patch), grid, LBP_CODES)
        gy, gx = ndimage.sobel(patch, axis=0), ndimage.sobel(patch, axis=1)
        reference.gradient_stats(gx, gy, 1.0, grid)
        reference.spectrum(patch.astype(np.float64), 1.0)
        for sigma in DOG_SIGMAS_PX:
            reference.dog_energy(patch.astype(np.float64), sigma)
    return (time.perf_counter() - start_time) / n_patches


def _kernel_seconds(kernels, image, xp, repeats) -> dict:
    """Best time of each patch kernel alone over the grid of 64-px patches at stride 32 of `image` (on the device).

    The kernels' own work only: the gradient kernel reads the image for both gradients and the co-occurrence
    kernel grey levels quantised on the host beforehand, as compute_features' other steps make them.
    """
    grid = PatchGrid(image.shape, 64, 32)
    rows, cols = xp.asarray(grid.row_starts), xp.asarray(grid.col_starts)
    levels = xp.asarray(_grey_levels(to_host(image)))
    offsets = xp.asarray(distinct_glcm_offsets()[0])
    codes = xp.zeros(image.shape, dtype=xp.uint8)
    quantiles = xp.asarray(QUANTILES)
    calls = {
        "moments": lambda: kernels.patch_moments(image, rows, cols, 64, xp.zeros(grid.shape + (4,))),
        "percentiles (2-px lattice)": lambda: kernels.patch_percentiles(
            image, rows, cols, 64, 2, quantiles, xp.zeros(grid.shape + (5,))),
        "gradient statistics": lambda: kernels.patch_gradient_stats(
            image, image, 1.0, rows, cols, 64, xp.zeros((4,) + grid.shape)),
        f"co-occurrence ({len(offsets)} offsets)": lambda: kernels.glcm_features(
            levels, rows, cols, 64, offsets, GLCM_LEVELS, xp.zeros(grid.shape + (len(offsets), 5))),
        "LBP codes": lambda: kernels.lbp_codes(image, codes),
        "LBP histograms": lambda: kernels.patch_histograms(codes, rows, cols, 64, LBP_CODES,
                                                           xp.zeros(grid.shape + (LBP_CODES,))),
    }
    seconds = {}
    for name, call in calls.items():
        call()  # compiled and warm
        seconds[name] = _best(lambda: (call(), to_host(codes[:1, :1])), repeats)[0]  # a copy back waits for it
    return seconds


def _copy_bytes_per_second(xp) -> float:
    """Device-memory bandwidth measured by a 1 GiB device-to-device copy (bytes read plus written, median of 10)."""
    import cupy

    source = xp.random.random(2**27)  # 2**27 float64: 1 GiB
    target = xp.empty_like(source)
    target[...] = source  # warm-up
    start, end = cupy.cuda.Event(), cupy.cuda.Event()
    seconds = []
    for _ in range(10):
        start.record()
        target[...] = source
        end.record()
        end.synchronize()
        seconds.append(cupy.cuda.get_elapsed_time(start, end) / 1e3)
    return 2 * source.nbytes / float(np.median(seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reference-patches", type=int, default=60)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    assert len(glcm_offsets()) == len(GLCM_DISTANCES_PX) * len(GLCM_ANGLES_DEG)

    params = SimulationParams(shape_px=(args.size, args.size), pixel_size_A=1.0, n_particles=400,
                              particle_diameter_A=150.0, carbon_fraction=0.15, n_contamination=1)
    micrograph = Micrograph(simulate_micrograph(params, seed=0).image, pixel_size_A=1.0, name="bench")
    device = parse_device(args.device)
    xp = array_module(device)
    compute_features(micrograph.data[:256, :256], 64, 32, pixel_size_A=1.0, device=device)  # compile kernels

    rows = []
    for label, factor in (("full resolution", 1.0), ("binned 2x (Fourier)", 2.0), ("binned 4x (Fourier)", 4.0)):
        def run(factor=factor):
            working = prepare(micrograph, bin_factor=factor)
            image = xp.asarray(working.data)
            result = compute_features(image, 64, 32, pixel_size_A=working.pixel_size_A, device=device)
            to_host(result.values[:1, :1])  # wait for the device
            return result

        seconds, result = _best(run, args.repeats)
        n_patches = result.grid.shape[0] * result.grid.shape[1]
        rows.append((label, result.values.shape[:2], n_patches, len(result.names), seconds))

    working = prepare(micrograph)
    on_device = xp.asarray(working.data)

    def seconds_on_device(**options) -> float:
        """Best time of compute_features on the full-resolution image already on the device."""
        return _best(lambda: to_host(compute_features(on_device, 64, 32, pixel_size_A=1.0, device=device,
                                                      **options).values[:1, :1]), args.repeats)[0]

    seconds_all = seconds_on_device()
    groups = ("intensity", "gradient", "texture", "spectrum")
    group_seconds = {group: seconds_on_device(features=[group]) for group in groups}
    # the spectrum group's FFT pass in batches of this many patches (compute_features' batch_patches)
    batch_seconds = {batch: seconds_on_device(features=["spectrum"], batch_patches=batch)
                     for batch in (1024, 2048, 4096, 16384)}
    # what icestat pick computes: the micrograph at 1.06 A/px binned to the working 7 A/px, the model's patches
    settings = load_model().settings
    pick_working = settings.prepare(Micrograph(micrograph.data, pixel_size_A=1.06, name="bench"))
    pick_image = xp.asarray(pick_working.data)

    def features_as_picked():
        return compute_features(pick_image, settings.patch_px, settings.stride_px, settings.features,
                                device=device, pixel_size_A=pick_working.pixel_size_A)

    pick_seconds = _best(lambda: to_host(features_as_picked().values[:1, :1]), args.repeats)[0]
    profiler = cProfile.Profile()
    profiler.runcall(lambda: to_host(features_as_picked().values[:1, :1]))
    pick_profile = sorted(((function if file == "~" else f"{Path(file).name}:{function}", calls, own)
                           for (file, _, function), (_, calls, own, _, _) in pstats.Stats(profiler).stats.items()),
                          key=lambda row: -row[2])[:PROFILE_ROWS]
    kernel_seconds = _kernel_seconds(gpu if device.is_gpu else cpu, on_device, xp, args.repeats)
    bytes_per_second = _copy_bytes_per_second(xp) if device.is_gpu else None
    floor_seconds = on_device.nbytes / bytes_per_second if bytes_per_second else None

    per_patch = _reference_seconds_per_patch(micrograph.data, 64, args.reference_patches, np.random.default_rng(0))
    full = rows[0]
    reference_seconds = per_patch * full[2]
    peak_rss_MB = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    lines = [
        f"# Feature speed: {args.size}x{args.size} micrograph, 64-px patches at stride 32, all features",
        "",
        f"Device: {device}{gpu_name(str(device))} ({platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()});"
        f" best of {args.repeats}. Peak resident memory of the whole benchmark process: {peak_rss_MB:.0f} MB.",
        "",
        "| image | grid | patches | features | seconds | patches x features / s |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for label, grid, n_patches, n_features, seconds in rows:
        lines.append(f"| {label} (incl. binning) | {grid[0]}x{grid[1]} | {n_patches} | {n_features} | "
                     f"{seconds:.2f} | {n_patches * n_features / seconds:,.0f} |")
    lines += [
        "",
        f"Features only, full resolution, image already on the device: **{seconds_all * 1e3:.0f} ms** per "
        "micrograph" + (f"; reading the image once from device memory takes at least {floor_seconds * 1e3:.3f} ms "
                        f"at the {bytes_per_second / 1e12:.2f} TB/s a device-to-device copy moved here (the bandwidth "
                        f"floor), so the run is {seconds_all / floor_seconds:.0f}x the floor."
                        if floor_seconds else "."),
        "",
        "Each feature group alone, same image (texture and spectrum each include the batched FFT pass they share):",
        "",
        "| group | ms |",
        "| --- | ---: |",
    ]
    lines += [f"| {group} | {seconds * 1e3:.0f} |" for group, seconds in group_seconds.items()]
    lines += ["", f"At the scale `icestat pick` works on (this micrograph taken as 1.06 Å/px, binned to "
              f"{settings.working_pixel_size_A:g} Å/px: {pick_image.shape[0]}x{pick_image.shape[1]} px; "
              f"{settings.patch_px}-px patches at stride {settings.stride_px}), image on the device: "
              f"**{pick_seconds * 1e3:.1f} ms**. Where that time goes (cProfile, functions by their own time; "
              "on a GPU, kernels count where the host waits for them):", "",
              "| function | calls | ms |", "| --- | ---: | ---: |"]
    lines += [f"| `{function}` | {calls} | {seconds * 1e3:.1f} |" for function, calls, seconds in pick_profile]
    lines += ["", "Each patch kernel alone, same image (what the groups add to them: grey levels, Sobel gradients, "
              "the quantile edges, the FFT pass):", "", "| kernel | ms |", "| --- | ---: |"]
    lines += [f"| {name} | {seconds * 1e3:.1f} |" for name, seconds in kernel_seconds.items()]
    lines += ["", "The spectrum group alone with the patches' FFTs in batches of (patches):", "",
              "| " + " | ".join(str(batch) for batch in batch_seconds) + " |",
              "|" + " ---: |" * len(batch_seconds),
              "| " + " | ".join(f"{seconds * 1e3:.0f} ms" for seconds in batch_seconds.values()) + " |"]
    lines += [
        "",
        f"Reference (tests/reference.py, per patch, NumPy/SciPy/scikit-image): {per_patch * 1e3:.1f} ms per patch, "
        f"so {reference_seconds:.0f} s for the full-resolution grid of {full[2]} patches (measured on "
        f"{args.reference_patches} patches, extrapolated).",
        f"Speed-up over the reference at full resolution: **{reference_seconds / full[4]:.0f}x** "
        "(goal: at least 20x).",
    ]
    suffix = "" if not device.is_gpu else "_gpu"
    publish(lines, f"features_speed{suffix}.md")


if __name__ == "__main__":
    main()
