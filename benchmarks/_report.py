"""Shared by the benchmark scripts: print a Markdown table and keep it in benchmarks/results/."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


#: Heading above the earlier runs that a results file keeps below its latest run.
EARLIER_RUNS_HEADING = "## Earlier runs (kept by benchmarks/_report.py's publish; the latest run is above)"


def publish(lines: list[str], file_name: str, folder: Path = RESULTS) -> None:
    """Print the lines and write them to ``<folder>/<file_name>``, above the runs the file already held.

    The earlier runs stay below ``EARLIER_RUNS_HEADING`` (one such heading, the newest run first), so that a
    rerun never loses the figures and notes of the ones before it.
    """
    text = "\n".join(lines)
    print(text)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name
    earlier = path.read_text().strip() if path.exists() else ""
    if earlier:
        latest, _, older = earlier.partition(EARLIER_RUNS_HEADING)
        earlier = "\n\n".join(part.strip() for part in (latest, older) if part.strip())
        text += f"\n\n{EARLIER_RUNS_HEADING}\n\n{earlier}"
    path.write_text(text + "\n")


def machine_speed_line() -> str:
    """A sentence giving the seconds of a fixed NumPy/SciPy workload here, so that runs on other machines compare.

    The workload (best of 3): a 2048x2048 float32 FFT and a Gaussian filter (sigma 8 px) of the same image.
    """
    import time

    import numpy as np
    from scipy import ndimage

    image = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    seconds = []
    for _ in range(3):
        start = time.perf_counter()
        np.fft.rfft2(image)
        ndimage.gaussian_filter(image, 8.0)
        seconds.append(time.perf_counter() - start)
    return (f"Machine speed: {min(seconds):.3f} s for a fixed workload (a 2048x2048 FFT and Gaussian filter, "
            "benchmarks/_report.py); compare runs on other machines by it.")


def gpu_name(device: str) -> str:
    """`` (NVIDIA H200)`` for a GPU device (``cuda``, ``cuda:N``), nothing for ``cpu``."""
    if device == "cpu":
        return ""
    import torch

    return f" ({torch.cuda.get_device_name(torch.device(device))})"
