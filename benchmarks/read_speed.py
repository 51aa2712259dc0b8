"""Seconds to read one micrograph with icestat, per format, against mrcfile alone.

Usage:
    python benchmarks/read_speed.py [--size 4096] [--repeats 5]

Prints a table and writes it to benchmarks/results/read_speed.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import imageio.v3 as iio
import mrcfile
import numpy as np
import tifffile

from _report import publish
from icestat import read_micrograph, write_mrc


def _best_seconds(function, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    image = rng.normal(100, 10, size=(args.size, args.size)).astype(np.float32)
    folder = Path(tempfile.mkdtemp())
    files = {
        "MRC float32": folder / "mic.mrc",
        "MRC float16": folder / "mic16.mrc",
        "MRC float32 gzip": folder / "mic.mrc.gz",
        "TIFF uint16": folder / "mic.tif",
        "PNG uint8": folder / "mic.png",
    }
    write_mrc(files["MRC float32"], image, pixel_size_A=1.0)
    write_mrc(files["MRC float16"], image.astype(np.float16), pixel_size_A=1.0)
    write_mrc(files["MRC float32 gzip"], image, pixel_size_A=1.0)
    tifffile.imwrite(files["TIFF uint16"], image.astype(np.uint16))
    iio.imwrite(files["PNG uint8"], np.clip(image, 0, 255).astype(np.uint8))

    def plain_mrcfile():
        with mrcfile.open(files["MRC float32"]) as mrc:
            np.asarray(mrc.data, dtype=np.float32)

    rows = [("mrcfile.open alone, MRC float32", _best_seconds(plain_mrcfile, args.repeats))]
    for label, path in files.items():
        rows.append((f"icestat.read_micrograph, {label}",
                     _best_seconds(lambda p=path: read_micrograph(p, pixel_size_A=1.0), args.repeats)))

    lines = [
        f"# Read speed, {args.size}x{args.size} micrograph (best of {args.repeats})",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "",
        "| reader | seconds | MB/s (float32 equivalent) |",
        "| --- | ---: | ---: |",
    ]
    megabytes = image.nbytes / 1e6
    lines += [f"| {label} | {seconds:.3f} | {megabytes / seconds:.0f} |" for label, seconds in rows]
    publish(lines, "read_speed.md")


if __name__ == "__main__":
    main()
