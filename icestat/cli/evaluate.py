"""Score picks against the truth: precision, recall, F1 and average precision per micrograph and overall.

PICKS are pick files in any supported format (per-micrograph coordinate files,
an autopick.star index, a particles.star, .box, .cbox, Topaz .tsv, .csv).
TRUTH is the same, or a manifest CSV of labelled micrographs (coordinates where
given, else particle masks: a pick is right when it lands on a particle, and a
mask blob holds as many particles as its area allows, one particle's size the
manifest's particle_diameter_px or, where it gives none, read from the masks'
single disks). A pick is right when it
is matched one to one to a true centre within --radius-px (default: half the
particle diameter the truth, else the picks, give: the picks of an `icestat
pick` run give the diameter each micrograph was picked with, kept in its
record; of EMAN .box files, or .cbox files without crYOLO's size estimates,
half the box's side, which is warned of; the radius is said above the table). Only
the micrographs the pick files speak for are scored
(those with picks, every one an autopick.star index lists, and the one an empty
per-micrograph file is named after, which count with no picks): the truth may
label more. With --threshold only the picks scored at least T count; with
several thresholds, one line each of the overall scores: what each threshold
would trade (and which of them gives the best F1). The picks of an `icestat pick` run count with the candidates it
scored under its threshold (kept in each micrograph's record, beside the pick
files), so thresholds under the run's score what picking at them would pick;
other pickers' files hold their picks alone: pick at a low threshold first.

Examples:
    icestat evaluate picks/autopick.star --truth truth/manifest.csv
    icestat evaluate picks/*.cbox --truth manual/*.star --radius-px 40
    icestat evaluate picks/autopick.star --truth truth/manifest.csv --threshold 0.1,0.2,0.3,0.4,0.5
"""

from __future__ import annotations

import argparse
import functools
import logging
from pathlib import Path

import pandas as pd

from icestat._atomic import atomic_path
from icestat.cli._common import output_file_usable
from icestat.coords import BOX_SIDE_NOTE, box_side_files, named_micrographs, read_picks
from icestat.coords.table import MICROGRAPH_COLUMN
from icestat.evaluate import (check_threshold, evaluate_coordinates, evaluate_labelled, knows_diameter,
                              matching_radius_px, read_manifest_truth, scored_at_least, threshold_sweep)
from icestat.records import recorded_candidates, with_recorded_diameters

log = logging.getLogger(__name__)


def add_args(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``icestat evaluate``."""
    add = parser.add_argument
    add("picks", nargs="+", metavar="PICKS", help="pick files")
    add("--truth", nargs="+", required=True, metavar="TRUTH", help="true pick files, or one manifest .csv")
    add("--radius-px", type=float, help="matching radius in pixels (default: half the particle diameter)")
    add("--threshold", type=_thresholds, metavar="T[,T...]",
        help="count only picks scored at least T; several: the overall scores at each, one line each")
    add("-o", "--output", help="also write the table to this CSV file")


def main(args: argparse.Namespace) -> int:
    """Print the scores; 2 when a file cannot be read or written or nothing can be scored, else 0."""
    if args.output and not output_file_usable(args.output):
        return 2
    try:
        tables = [with_recorded_diameters(Path(path).parent, read_picks(path)) for path in args.picks]
        named = [named_micrographs(path, table) for path, table in zip(args.picks, tables)]
        picked = set().union(*named)
        if args.threshold is not None:   # an icestat pick run's candidates under its threshold count too
            tables += [recorded_candidates(Path(path).parent, table, names)
                       for path, table, names in zip(args.picks, tables, named)]
        picks = pd.concat(tables, ignore_index=True)
        truth_names = ""   # what the truth names, where that is not the picks' micrographs themselves
        matching = ""   # how picks were matched to true centres, where one radius did it
        if len(args.truth) == 1 and _is_manifest(args.truth[0]):
            score = functools.partial(evaluate_labelled, truth=read_manifest_truth(args.truth[0], picked),
                                      radius_px=args.radius_px)
        else:
            truth = pd.concat([read_picks(path) for path in args.truth], ignore_index=True)
            radius_px = args.radius_px
            if radius_px is None:   # half the diameter the truth, else the picks, give
                radius_px = matching_radius_px(truth, picks)
                boxes = box_side_files(args.truth if knows_diameter(truth) else args.picks)
                if boxes:
                    log.warning("%s: %s, and half a box's side is taken as the matching radius; give --radius-px "
                                "for half the particle's diameter", boxes[0], BOX_SIDE_NOTE)
            matching = (f"each pick matched one to one to a true centre within {radius_px:.3g} px"
                        + (" (half the particle diameter)" if args.radius_px is None else ""))
            score = functools.partial(evaluate_coordinates, truth=truth, radius_px=radius_px, micrographs=picked)
            truth_names = f"; the truth names {_some(set(truth[MICROGRAPH_COLUMN]))}"
        if args.threshold is None:
            table = score(picks)
        elif len(args.threshold) == 1:
            table = score(scored_at_least(picks, args.threshold[0]))
        else:
            table = threshold_sweep(score, picks, args.threshold)
    except (OSError, ValueError) as err:
        log.error("%s", err)
        return 2
    if table.empty:
        log.error("no micrograph of the picks has a truth to be scored against%s", truth_names)
        return 2
    if matching:
        print(matching)
    print(table.to_string(float_format=lambda value: f"{value:.3f}"))
    if args.threshold is not None and len(args.threshold) > 1:
        best = table["f1"].idxmax()
        print(f"best F1 {table.loc[best, 'f1']:.3f} at threshold {best:g} (of those asked)")
    if args.output:
        with atomic_path(args.output) as tmp:
            table.to_csv(tmp, float_format="%.6g")
    return 0


def _some(names: set[str]) -> str:
    """Up to three of `names`, in order, and how many more.

    Examples
    --------
    >>> _some({"c", "a", "b", "d", "e"}), _some({"a"}), _some(set())
    ('a, b, c and 2 more', 'a', 'none')
    """
    shown = sorted(names)[:3]
    more = f" and {len(names) - len(shown)} more" if len(names) > len(shown) else ""
    return ", ".join(shown) + more if shown else "none"


def _thresholds(text: str) -> list[float]:
    """``--threshold``'s value: scores in [0, 1], comma-separated."""
    try:
        values = [float(value) for value in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number or comma-separated numbers: {text!r}") from None
    for value in values:
        try:
            check_threshold(value, "a score threshold")
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    return values


def _is_manifest(path: str) -> bool:
    """A CSV with a ``micrograph`` header column is a manifest; pick CSVs have ``x_px`` but no such list."""
    if Path(path).suffix.lower() != ".csv":
        return False
    with open(path) as file:
        header = [name.strip() for name in file.readline().split(",")]
    return "micrograph" in header and "x_px" not in header
