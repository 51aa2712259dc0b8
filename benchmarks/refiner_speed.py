"""How long the boundary refiner (the CNN) takes on one working image, and what its time is spent on.

Usage:
    python benchmarks/refiner_speed.py [--device cpu] [--repeats 5]

Times the default model's refiner (``BoundaryRefiner.predict_proba``: padding,
copies to and from the device, the networks and their mean) on random working images of
620x620 and 1036x1036 px (4096x4096 micrographs at 1.06 and 1.77 Å/px binned to
7 Å/px), and the networks alone with their input already on the device. On a GPU
it also times the networks with cuDNN's autotuner on
(``torch.backends.cudnn.benchmark``, which tries each convolution's algorithms
once per input shape: the micrographs of a run share one), to tell whether the
default choice of algorithm is what a slow refiner stage costs; on the CPU, with
one thread and with every core. Best of ``--repeats`` after one warm-up call; the process keeps freed memory
for reuse, as ``icestat`` does (:mod:`icestat.allocator`). Then it times training: one network of the shipped
refiner's parameters fitted for ``--train-steps`` steps (batches of 8 random 96-px crops) on random 300-px images,
as seconds per step (the shipped refiner trains three networks of 1200 steps).

Writes benchmarks/results/refiner_speed_<device kind>.md.
"""

from __future__ import annotations

from icestat.allocator import keep_freed_memory

keep_freed_memory()   # first, as the icestat command does (the network's buffers are then reused, not mapped anew)

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _report import gpu_name, publish  # noqa: E402

from icestat.model import load_model  # noqa: E402
from icestat.refine import BoundaryRefiner, torch_device  # noqa: E402
from icestat.training import SHIPPED_REFINER  # noqa: E402

#: Working image sides timed (px): 4096x4096 micrographs at 1.06 and 1.77 Å/px binned to 7 Å/px.
SIDES_PX = (620, 1036)


def best_seconds(function, repeats: int, synchronise) -> float:
    """Best wall time of `function` over `repeats` calls after one warm-up, waiting for the device each time."""
    function()
    synchronise()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        synchronise()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--train-steps", type=int, default=100)
    args = parser.parse_args()
    device = torch_device(args.device)
    refiner = load_model(device=args.device).refiner
    synchronise = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    rng = np.random.default_rng(0)
    if device.type == "cuda":
        settings = {"cuDNN's default algorithms": lambda: setattr(torch.backends.cudnn, "benchmark", False),
                    "cuDNN autotuned (benchmark=True)": lambda: setattr(torch.backends.cudnn, "benchmark", True)}
    else:
        cores = torch.get_num_threads()
        settings = {"1 thread": lambda: torch.set_num_threads(1), f"{cores} threads": lambda: torch.set_num_threads(cores)}
    rows = []
    for side in SIDES_PX:
        image = rng.normal(size=(side, side)).astype(np.float32)
        coarse = rng.dirichlet(np.ones(4), size=(side, side)).transpose(2, 0, 1).astype(np.float32)
        refiner.predict_proba(image, coarse)   # the inference networks made and moved once
        networks = refiner._inference_networks
        inputs = [torch.from_numpy(a)[None].to(device, memory_format=torch.channels_last) for a in (image[None], coarse)]
        for label, apply in settings.items():
            apply()
            with torch.no_grad():
                network_s = best_seconds(lambda: [net(*inputs) for net in networks], args.repeats, synchronise)
            whole_s = best_seconds(lambda: refiner.predict_proba(image, coarse), args.repeats, synchronise)
            rows.append((side, label, whole_s, network_s))
    lines = [
        "# The boundary refiner (CNN) on one working image",
        "",
        f"Device: {device}{gpu_name(str(device))}, torch {torch.__version__}; the default model's refiner "
        f"({refiner.n_networks} network(s), batch normalisations folded, upward levels by transposed convolutions "
        f"(icestat.refine.conv_of_upsampled_and_skip), channels-last), random inputs, best of "
        f"{args.repeats}. Written by benchmarks/refiner_speed.py.",
        "",
        "| working image | setting | predict_proba (ms) | the networks alone, input on the device (ms) |",
        "| --- | --- | ---: | ---: |",
    ]
    lines += [f"| {side}x{side} px | {label} | {whole_s * 1e3:.1f} | {network_s * 1e3:.1f} |"
              for side, label, whole_s, network_s in rows]
    step_s = training_seconds_per_step(args.device, args.train_steps, rng)
    lines += ["", f"Training one network ({args.train_steps} steps of 8 random 96-px crops of random 300-px images, "
                  f"{torch.get_num_threads()} threads): **{step_s * 1e3:.0f} ms per step**."]
    publish(lines, f"refiner_speed_{device.type}.md")


def training_seconds_per_step(device: str, n_steps: int, rng: np.random.Generator) -> float:
    """Seconds per training step of one network of the shipped refiner's parameters on random images."""
    images = [rng.normal(size=(300, 300)).astype(np.float32) for _ in range(4)]
    coarse = [rng.dirichlet(np.ones(4), size=(300, 300)).transpose(2, 0, 1).astype(np.float32) for _ in images]
    classes = [rng.integers(0, 4, size=(300, 300)).astype(np.uint8) for _ in images]
    refiner = BoundaryRefiner(**{**SHIPPED_REFINER, "n_networks": 1, "n_steps": n_steps}, device=device)
    start = time.perf_counter()
    refiner.fit(images, coarse, classes)   # with its batch-normalisation passes, as every training has them
    return (time.perf_counter() - start) / n_steps


if __name__ == "__main__":
    main()
