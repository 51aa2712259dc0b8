"""Make a labelled set (a manifest) of micrographs and the pick files that hold their particles.

Pairs each micrograph with the pick file holding its particles, by name (RELION
ManualPick coordinate files or their manualpick.star index, a particles.star of
the particles kept after 2D classification, crYOLO .cbox, EMAN .box, Topaz
.tsv, .csv), and writes the manifest CSV that `icestat train` learns from (a
model of your own specimen) and `icestat evaluate --truth` scores against.
Micrographs without picks are left out, with a warning; a micrograph whose
pick file holds no pick (an empty _manualpick.star) is kept, with no
particles. Training and scoring need the particles' diameter: give it
(--diameter-A, --diameter-px), and it is every particle's; without it, the
pick files' own are taken where they give one (crYOLO's estimate in a .cbox,
the .cbox and .csv files of `icestat pick`; an EMAN .box, or a .cbox without
estimates, gives only its box's side, wider than the particle as a rule: give
the diameter with those).
Particles the picks miss are taught as ice where they lie near a picked one,
so pick each training micrograph completely, or nearly.

Example:
    icestat manifest Micrographs/ --picks ManualPick/job005/manualpick.star -o labelled.csv --diameter-A 150
    icestat train labelled.csv -o my.icestat
"""

from __future__ import annotations

import argparse
import logging
import warnings

from icestat._logging import failure_reporter
from icestat.cli._common import (MICROGRAPHS_HELP, PIXEL_SIZE_HELP, add_diameter_args, expand_micrographs,
                                n_micrographs, output_file_usable)
from icestat.coords import BOX_SIDE_NOTE, box_side_files
from icestat.diameter import given_diameter_px
from icestat.manifest import write_manifest
from icestat.micrograph import PixelSizeWarning, file_error, micrograph_stem, read_micrograph
from icestat.pick_manifest import picked_micrographs

log = logging.getLogger(__name__)

#: How many micrographs a warning names before it says how many more there are.
NAMED = 3


def add_args(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``icestat manifest``."""
    add = parser.add_argument
    add("micrographs", nargs="+", metavar="MIC", help=MICROGRAPHS_HELP)
    add("--picks", nargs="+", required=True, metavar="PICKS", help="pick files holding the micrographs' particles")
    add("-o", "--output", required=True, help="manifest CSV to write (e.g. labelled.csv)")
    add("--dataset", default="", help="the manifest's dataset name for these micrographs (e.g. the specimen)")
    add("--pixel-size-A", type=float, help=PIXEL_SIZE_HELP)
    add_diameter_args(parser)


def main(args: argparse.Namespace) -> int:
    """Write the manifest; 2 where nothing could be written, 1 if a micrograph with picks could not be read, else 0."""
    if not expand_micrographs(args) or not output_file_usable(args.output):
        return 2
    try:
        picked = picked_micrographs(args.picks)
    except (OSError, ValueError) as err:
        log.error("%s", err)
        return 2
    stems = {path: micrograph_stem(path) for path in args.micrographs}
    with_picks = [path for path in args.micrographs if stems[path] in picked]
    _warn_of("given without picks in the pick files, left out",
             [stem for stem in stems.values() if stem not in picked])
    _warn_of("with picks in the pick files not among those given", sorted(set(picked) - set(stems.values())))
    used = [picked[stems[path]] for path in with_picks]
    diameter_given = args.diameter_A is not None or args.diameter_px is not None
    lacking = sorted({str(own.pick_file) for own in used if own.needs_diameter})
    if lacking and not diameter_given:
        log.error("%s: gives no particle diameter, which training and scoring need; give --diameter-A or "
                  "--diameter-px", lacking[0])
        return 2
    boxes = [] if diameter_given else box_side_files(own.pick_file for own in used)   # reads .cbox files again
    if boxes:
        log.warning("%s: %s; give --diameter-A or --diameter-px for the particles' own", boxes[0], BOX_SIDE_NOTE)
    rows, n_failed, report_failure = [], 0, failure_reporter()
    for path in with_picks:
        try:
            with warnings.catch_warnings():   # a doubtful pixel size matters here only to a diameter in ångström
                if args.diameter_A is None:
                    warnings.simplefilter("ignore", PixelSizeWarning)
                micrograph = read_micrograph(path, pixel_size_A=args.pixel_size_A)   # readable, and its pixel size
            diameter_px = given_diameter_px(args.diameter_A, args.diameter_px, micrograph.pixel_size_A, path)
        except Exception as err:   # a bad micrograph: file_error names the file and the problem
            report_failure(str(path), file_error(path, err))
            n_failed += 1
            continue
        own = picked[stems[path]]   # its pick file's own diameters count where none is given
        rows.append({"micrograph": path, "dataset": args.dataset, "coords": own.pick_file,
                     "pixel_size_A": args.pixel_size_A, "particle_diameter_px": diameter_px,
                     "n_particles": own.n_particles})
    if not rows:
        log.error("no micrograph given has picks that could be used, so %s was not written", args.output)
        return 2
    try:
        write_manifest(args.output, rows)
    except OSError as err:
        log.error("%s: could not be written (%s)", args.output, err.strerror or err)
        return 2
    n_particles = sum(row["n_particles"] for row in rows)
    print(f"{args.output}: {n_micrographs(len(rows))}, {n_particles} particles; learn from it with: icestat train "
          f"{args.output} -o my.icestat")
    return 1 if n_failed else 0


def _warn_of(what: str, stems: list[str]) -> None:
    """Warn that `stems` are `what`, naming the first ``NAMED``."""
    if stems:
        more = f" and {len(stems) - NAMED} more" if len(stems) > NAMED else ""
        log.warning("%s %s: %s%s", n_micrographs(len(stems)), what, ", ".join(stems[:NAMED]), more)
