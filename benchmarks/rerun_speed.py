"""Seconds per 4096x4096 micrograph of `icestat pick` run again on a folder it picked: what each kind of rerun costs.

Usage:
    python benchmarks/rerun_speed.py [--n 4] [--pixel-size-A 1.77] [--large 2000]

Simulates `--n` float32 MRC micrographs as pick_speed.py does (4096x4096, 150 Å particles, the diameter given,
carbon film on every other one), picks them with the overlays (``--segmentation``), then runs the same command again
as a user would: unchanged (every micrograph done before), asking for other pick formats (``--format cbox,box``,
written from the STAR files), at a higher threshold (0.5) and a lower one (0.2: the files written again from the
candidates each micrograph's record keeps, the overlays drawn again, without picking), and with ``--overwrite``
(picked again). Each command is a fresh ``python -m icestat`` process, so its start (imports, the model) is counted,
once per command; the table gives its wall seconds, those per micrograph, and those per micrograph beyond the
unchanged rerun's (which has every micrograph's record read and the run files written), and the mean size of the
records. Last, what the unchanged rerun costs on a large folder, as a run during data collection meets it: the
first run's micrographs and files linked under `--large` names in all (picking that many would take hours), each
with its own record (the first run's, its names changed), and the same command run over them all.

Prints a table and writes it to benchmarks/results/rerun_speed.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from _report import machine_speed_line, publish
from pick_speed import DIAMETER_A, simulate_to

#: The reruns timed after the first run, by the label of their row: the arguments that change.
RERUNS = {
    "the same command again (all done before)": [],
    "other pick formats (--format cbox,box)": ["--format", "star,cbox,box"],
    "a higher threshold (--threshold 0.5)": ["--format", "star,cbox,box", "--threshold", "0.5"],
    "a lower threshold (--threshold 0.2)": ["--format", "star,cbox,box", "--threshold", "0.2"],
    "--overwrite (picked again)": ["--format", "star,cbox,box", "--threshold", "0.2", "--overwrite"],
}


def seconds_to_pick(folder: Path, output: Path, arguments: list[str]) -> tuple[float, pd.Series, float]:
    """Wall seconds of ``icestat pick`` of `folder` into `output` in a fresh process, its summary's statuses, and the
    mean size of its micrographs' records in kB."""
    command = [sys.executable, "-m", "icestat", "pick", str(folder), "-o", str(output), "--diameter-A",
               str(DIAMETER_A), "--segmentation", "--quiet", *arguments]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=folder)   # not in a checkout: `-m` imports the installed
    seconds = time.perf_counter() - start
    record_kB = np.mean([record.stat().st_size / 1e3 for record in output.glob("*_summary.json")])
    return seconds, pd.read_csv(output / "summary.csv")["status"].value_counts(), record_kB


def linked_run(folder: Path, output: Path, n_micrographs: int, to: Path) -> tuple[Path, Path]:
    """A folder of `n_micrographs` micrographs done before and their run folder, under `to`: the micrographs of
    `folder` and their files in `output` hard-linked in turn under new names, each with its own record (a copy of
    its original's with the names changed)."""
    many, many_output = to / "mics", to / "picks"
    many.mkdir(parents=True)
    many_output.mkdir()
    originals = sorted(record.name.removesuffix("_summary.json") for record in output.glob("*_summary.json"))
    for index in range(n_micrographs):
        original, stem = originals[index % len(originals)], f"copy_{index:05d}"
        os.link(folder / f"{original}.mrc", many / f"{stem}.mrc")
        for file in [*output.glob(f"{original}_*"), *output.glob(f"{original}.*")]:   # <stem>.box too
            renamed = many_output / file.name.replace(original, stem)
            if file.name.endswith("_summary.json"):
                text = file.read_text().replace(str(folder), str(many)).replace(str(output), str(many_output))
                renamed.write_text(text.replace(original, stem))
            else:
                os.link(file, renamed)
    return many, many_output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=4, help="micrographs (default: %(default)s)")
    parser.add_argument("--pixel-size-A", type=float, default=1.77, help="their pixel size (default: %(default)s)")
    parser.add_argument("--large", type=int, default=2000, help="micrographs of the large folder rerun "
                        "(default: %(default)s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder, output = Path(tmp) / "mics", Path(tmp) / "picks"
        folder.mkdir()
        for seed in range(args.n):
            simulate_to(folder / f"mic_{seed:03d}.mrc", args.pixel_size_A, seed)
        rows = [("first run (picked)", *seconds_to_pick(folder, output, []))]
        rows += [(label, *seconds_to_pick(folder, output, arguments)) for label, arguments in RERUNS.items()]
        many, many_output = linked_run(folder, output, args.large, Path(tmp) / "large")
        large_s, large_statuses, large_kB = seconds_to_pick(many, many_output, RERUNS["--overwrite (picked again)"][:-1])
    lines = [
        "# What a rerun of `icestat pick` costs",
        "",
        f"{args.n} simulated micrographs of 4096x4096 at {args.pixel_size_A} Å/px, the diameter given, the overlays "
        "written (`--segmentation`); each command a fresh `python -m icestat pick` process, its start included. "
        "Written by benchmarks/rerun_speed.py.",
        "",
        "| command | wall s | s per micrograph | beyond the unchanged rerun, s per micrograph | summary status "
        "| record, kB |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    unchanged_s = rows[1][1]
    for label, seconds, statuses, record_kB in rows:
        said = ", ".join(f"{count} {status}" for status, count in statuses.items())
        lines.append(f"| {label} | {seconds:.1f} | {seconds / args.n:.2f} | {(seconds - unchanged_s) / args.n:.2f} "
                     f"| {said} | {record_kB:.0f} |")
    said = ", ".join(f"{count} {status}" for status, count in large_statuses.items())
    lines += ["", f"The same command again over {args.large} micrographs done before (each of the {args.n} above "
              f"under {args.large // args.n} names, a record each): {large_s:.1f} s, "
              f"{1e3 * (large_s - unchanged_s) / (args.large - args.n):.1f} ms per micrograph beyond the unchanged "
              f"rerun above ({said}; records {large_kB:.0f} kB).", "", machine_speed_line()]
    publish(lines, "rerun_speed.md")


if __name__ == "__main__":
    main()
