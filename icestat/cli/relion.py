"""Pick particles as a RELION External job (RELION 4 or 5).

In the RELION GUI, make an External job with:
  External executable:  icestat-relion
  Input micrographs:    CtfFind/job003/micrographs_ctf.star (any micrograph STAR file)
  Params (optional):    diameter_A, diameter_px, threshold, polarity, model, device, pixel_size_A, format,
                        overlays (yes: each micrograph's overlay PNG in the job folder, to look the picks over)
RELION then runs, from its project folder,
  icestat-relion --o External/job012/ --in_mics CtfFind/job003/micrographs_ctf.star --j 1 [--diameter_A 150 ...]
which is `icestat pick` of the micrographs into the job folder (--j worker
processes), plus what RELION needs of an External job: RELION_OUTPUT_NODES.star
naming the job's autopick.star as its coordinates (for Extract), and
RELION_JOB_EXIT_SUCCESS, or RELION_JOB_EXIT_FAILURE when nothing could be
picked, its arguments are unusable (an unknown Param too) or the run stopped
part way (the job folder's storage full, or Ctrl-C). Micrographs that
fail are left out of autopick.star and reported in the job's output and
summary.csv, as RELION's own jobs do; continuing the job picks only what is
not done yet.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from icestat.allocator import keep_freed_memory
from icestat.batch import FAILED
from icestat.cli import main as icestat_main, pick
from icestat.cli._common import output_folder
from icestat.coords.star_file import write_star_file

#: The files by which RELION learns what an External job made and whether it finished.
OUTPUT_NODES, SUCCESS, FAILURE = "RELION_OUTPUT_NODES.star", "RELION_JOB_EXIT_SUCCESS", "RELION_JOB_EXIT_FAILURE"
#: RELION's node type of a coordinate index (``autopick.star``).
COORDINATES_NODE_TYPE = "MicrographsCoords.star.relion.autopick"
#: Options of ``icestat pick`` that the job's Params may set (RELION passes ``--label value``) ...
PARAMS = ("diameter_A", "diameter_px", "threshold", "polarity", "model", "device", "pixel_size_A", "format")
#: ... and its flags, set by a Param of ``yes`` (or ``no``).
FLAG_PARAMS = ("overlays",)


def add_args(parser: argparse.ArgumentParser) -> None:
    """Add the arguments RELION gives an External job."""
    parser.allow_abbrev = False   # a Param is RELION's label as the user typed it: --thresh is not --threshold
    add = parser.add_argument
    add("--o", dest="job_folder", required=True, help="the job's folder, e.g. External/job012/")
    add("--in_mics", required=True, help="micrograph STAR file")
    add("--j", type=int, default=1, help="worker processes (RELION's threads; default: %(default)s)")
    add("--pipeline_control", help="given by RELION; not used")
    for param in PARAMS:
        add(f"--{param}", help=f"as --{param.replace('_', '-')} of icestat pick")
    for param in FLAG_PARAMS:
        add(f"--{param}", type=_yes_or_no, default=False, metavar="yes|no",
            help=f"yes: as --{param.replace('_', '-')} of icestat pick")


def main(args: argparse.Namespace) -> int:
    """Pick into the job folder and tell RELION how it went; the exit code of ``icestat pick``."""
    job_folder = output_folder(args.job_folder)
    if job_folder is None:   # nor can RELION be told: it sees the exit code
        return 2
    for stale in (SUCCESS, FAILURE):   # of an earlier try of this job
        (job_folder / stale).unlink(missing_ok=True)
    try:
        pick_args = _pick_args(args)
    except SystemExit:   # argparse said what is wrong with a Param
        _say_failed(job_folder)
        return 2
    code = pick.main(pick_args)
    if code == 2 or not _picked_through(job_folder, len(pick_args.micrographs)):
        _say_failed(job_folder)
        return code or 2
    nodes = pd.DataFrame({"rlnPipeLineNodeName": [str(job_folder / "autopick.star")],
                          "rlnPipeLineNodeTypeLabel": [COORDINATES_NODE_TYPE]})
    write_star_file({"output_nodes": nodes}, job_folder / OUTPUT_NODES)
    (job_folder / SUCCESS).touch()
    return code


def command() -> int:
    """The ``icestat-relion`` command: ``icestat relion`` under the one name that RELION's External job runs (its
    process keeps freed memory for reuse, as ``icestat``'s does)."""
    keep_freed_memory()
    return run_as_job(sys.argv[1:])


def run_as_job(argv: list[str]) -> int:
    """``icestat relion`` with `argv`; when argparse refuses them (an unknown Param, a missing --in_mics), RELION
    is still told the job failed, rather than waiting on it for ever."""
    try:
        return icestat_main(["relion", *argv])
    except SystemExit as refused:
        job_folder = _job_folder(argv)
        if refused.code not in (0, None) and job_folder is not None:
            _say_failed(Path(job_folder))
        raise


def _yes_or_no(text: str) -> bool:
    """A Param's ``yes`` or ``no`` (an argparse ``type``; ``true``, ``false``, ``1``, ``0`` too, any case)."""
    answers = {"yes": True, "y": True, "true": True, "1": True, "no": False, "n": False, "false": False, "0": False}
    try:
        return answers[text.strip().lower()]
    except KeyError:
        raise argparse.ArgumentTypeError(f"must be yes or no, got {text!r}") from None


def _say_failed(job_folder: Path) -> None:
    """Leave RELION's failure file in the job folder (made if needed)."""
    job_folder.mkdir(parents=True, exist_ok=True)
    (job_folder / FAILURE).touch()


def _job_folder(argv: list[str]) -> str | None:
    """The --o of `argv`, whatever else it holds."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--o")
    return parser.parse_known_args(argv)[0].o


def _picked_through(job_folder: Path, n_micrographs: int) -> bool:
    """True when the run's summary has a row for each of its `n_micrographs` (it did not stop part way) and one
    that did not fail."""
    try:
        summary = pd.read_csv(job_folder / "summary.csv")
    except (OSError, ValueError):
        return False
    return len(summary) == n_micrographs and bool((summary["status"] != FAILED).any())


def _pick_args(args: argparse.Namespace) -> argparse.Namespace:
    """The arguments of ``icestat pick`` for this job."""
    argv = [args.in_mics, "-o", args.job_folder, "--workers", str(args.j)]
    for param in PARAMS:
        value = getattr(args, param)
        if value is not None:
            argv += [f"--{param.replace('_', '-')}", value]
    argv += [f"--{param.replace('_', '-')}" for param in FLAG_PARAMS if getattr(args, param)]
    parser = argparse.ArgumentParser(prog="icestat pick")
    pick.add_args(parser)
    pick_args = parser.parse_args(argv)
    pick_args.quiet = True   # no progress bar in RELION's run.out; warnings and errors still go to run.err
    return pick_args
