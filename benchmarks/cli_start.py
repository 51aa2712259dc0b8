"""Seconds the ``icestat`` command takes to start and do a small job, each in a fresh process.

Usage:
    python benchmarks/cli_start.py [--repeats 5] [--source DIR]

What a user waits for at the prompt before any micrograph is picked: the
help, the version, ``info`` and ``evaluate`` of one small file (which need
neither PyTorch nor XGBoost, so should not import them), and ``pick --help``
(which imports what picking needs). Each command runs ``--repeats`` times in a
fresh Python process (``python -m icestat``); the table gives the median and
the fastest. ``--source`` times the icestat of another checkout instead (an
earlier commit's ``git worktree``, put first on ``PYTHONPATH``), to compare.

Prints a table and writes it to benchmarks/results/cli_start.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _report import machine_speed_line, publish
from icestat import write_mrc


def commands(folder: Path) -> dict[str, list[str]]:
    """The commands timed, by the label of their row, with the small files they read written into `folder`."""
    write_mrc(folder / "mic.mrc", np.random.default_rng(0).normal(size=(512, 512)).astype(np.float32), 1.0)
    (folder / "picks.csv").write_text("micrograph,x_px,y_px,score\nmic,10,10,0.5\nmic,100,80,0.4\n")
    (folder / "truth.csv").write_text("micrograph,x_px,y_px\nmic,11,10\nmic,300,300\n")
    return {
        "icestat --help": ["--help"],
        "icestat --version": ["--version"],
        "icestat info (one 512x512 MRC)": ["info", str(folder / "mic.mrc")],
        "icestat evaluate (two CSV files)": ["evaluate", str(folder / "picks.csv"), "--truth",
                                             str(folder / "truth.csv"), "--radius-px", "5"],
        "icestat pick --help": ["pick", "--help"],
    }


def seconds_to_run(arguments: list[str], environment: dict[str, str], folder: Path) -> float:
    """Wall seconds of ``python -m icestat <arguments>`` in a fresh process run in `folder` (it must succeed)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "icestat", *arguments], check=True, capture_output=True, env=environment,
                   cwd=folder)   # not in a checkout, whose icestat `-m` would import first
    return time.perf_counter() - start


def source_of(checkout: Path | None) -> str:
    """Which icestat is timed: this one, or the checkout's, with its commit."""
    checkout = checkout or Path(__file__).resolve().parents[1]
    commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    return f"icestat of {checkout.name}" + (f" at commit {commit}" if commit else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per command")
    parser.add_argument("--source", type=Path, help="a checkout of icestat to time instead of the installed one")
    args = parser.parse_args()
    environment = dict(os.environ)
    if args.source:
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(args.source), os.environ.get("PYTHONPATH")]))
    lines = ["# Start of the icestat command", "",
             f"{source_of(args.source)}; each command in a fresh process (`python -m icestat ...`), {args.repeats} "
             f"times, {len(os.sched_getaffinity(0))} CPU cores. Written by benchmarks/cli_start.py.",
             machine_speed_line(), "",
             "| command | median (s) | fastest (s) |", "| --- | ---: | ---: |"]
    with tempfile.TemporaryDirectory() as folder:
        for label, arguments in commands(Path(folder)).items():
            seconds = [seconds_to_run(arguments, environment, Path(folder)) for _ in range(args.repeats)]
            lines.append(f"| {label} | {statistics.median(seconds):.2f} | {min(seconds):.2f} |")
    publish(lines, "cli_start.md")


if __name__ == "__main__":
    main()
