"""Score picks against the truth: precision, recall, F1 and average precision per micrograph and overall.

PICKS are pick files in any supported format (per-micrograph coordinate files,
an autopick.star index, a particles.star, .box, .cbox, Topaz .tsv, .csv).
TRUTH is the same, or a manifest CSV of labelled micrographs (coordinates where
given, else particle masks: a pick is right when it lands on a particle, and a
mask blob holds as many particles as its area allows). A pick is right when it
is matched one to one to a true centre within --radius-px (default: half the
particle diameter). Only the micrographs the pick files speak for are scored
(those with picks, every one an autopick.star index lists, and the one an empty
per-micrograph file is named after, which count with no picks): the truth may
label more.

Examples:
    icestat evaluate picks/autopick.star --truth truth/manifest.csv
    icestat evaluate picks/*.cbox --truth manual/*.star --radius-px 40
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pandas as pd

from icestat.coords import named_micrographs, read_picks
from icestat.evaluate import evaluate_coordinates, evaluate_manifest

log = logging.getLogger(__name__)


def add_args(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``icestat evaluate``."""
    add = parser.add_argument
    add("picks", nargs="+", metavar="PICKS", help="pick files")
    add("--truth", nargs="+", required=True, metavar="TRUTH", help="true pick files, or one manifest .csv")
    add("--radius-px", type=float, help="matching radius in pixels (default: half the particle diameter)")
    add("-o", "--output", help="also write the table to this CSV file")


def main(args: argparse.Namespace) -> int:
    """Print the scores; 2 when a file cannot be read or nothing can be scored, else 0."""
    try:
        tables = [read_picks(path) for path in args.picks]
        picked = set().union(*(named_micrographs(path, table) for path, table in zip(args.picks, tables)))
        picks = pd.concat(tables, ignore_index=True)
        if len(args.truth) == 1 and _is_manifest(args.truth[0]):
            table = evaluate_manifest(picks, args.truth[0], args.radius_px, micrographs=picked)
        else:
            truth = pd.concat([read_picks(path) for path in args.truth], ignore_index=True)
            table = evaluate_coordinates(picks, truth, args.radius_px, micrographs=picked)
    except (OSError, ValueError) as err:
        log.error("%s", err)
        return 2
    if table.empty:
        log.error("no micrograph of the picks has a truth to be scored against")
        return 2
    print(table.to_string(float_format=lambda value: f"{value:.3f}"))
    if args.output:
        table.to_csv(args.output, float_format="%.6g")
    return 0


def _is_manifest(path: str) -> bool:
    """A CSV with a ``micrograph`` header column is a manifest; pick CSVs have ``x_px`` but no such list."""
    if Path(path).suffix.lower() != ".csv":
        return False
    with open(path) as file:
        header = [name.strip() for name in file.readline().split(",")]
    return "micrograph" in header and "x_px" not in header
