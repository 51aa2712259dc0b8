"""Describe micrograph files: one line each, with the problems found.

Each line gives the file, its shape, how it is stored, the pixel size, the
minimum/mean/maximum value and any problem. Unusable files are reported and the
others still described; the exit code is 1 if any file is unusable.

Examples:
    icestat info micrographs/*.mrc
    icestat info CtfFind/job003/micrographs_ctf.star   # in a RELION project
"""

from __future__ import annotations

import argparse
import logging
import warnings
from pathlib import Path

from icestat._logging import LIBRARY_DEPRECATIONS
from icestat.cli._common import MICROGRAPHS_HELP, PIXEL_SIZE_HELP, expand_micrographs
from icestat.micrograph import MicrographError, read_micrograph

log = logging.getLogger(__name__)


def add_args(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``icestat info``."""
    parser.add_argument("micrographs", nargs="+", metavar="FILE", help=MICROGRAPHS_HELP)
    parser.add_argument(
        "--pixel-size-A", type=float, default=None, metavar="A",
        help=PIXEL_SIZE_HELP,
    )


def main(args: argparse.Namespace) -> int:
    """Print one line per file; return 2 for an unusable STAR file, 1 if any micrograph is unusable, else 0."""
    if not expand_micrographs(args):
        return 2
    n_unusable = 0
    for path in args.micrographs:
        line, usable = describe(path, args.pixel_size_A)
        print(line, flush=True)
        n_unusable += not usable
    if n_unusable:   # on stderr: the table stays one line per file
        log.warning("%d of %d files unusable (the lines marked UNUSABLE)", n_unusable, len(args.micrographs))
    return 1 if n_unusable else 0


def describe(path: str, pixel_size_A: float | None = None) -> tuple[str, bool]:
    """Return (one line describing the file, whether it is usable)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for category in LIBRARY_DEPRECATIONS:   # not about the file
            warnings.simplefilter("ignore", category)
        try:
            mic = read_micrograph(path, pixel_size_A=pixel_size_A)
        except (MicrographError, OSError) as err:
            return f"{path}\tUNUSABLE\t{_without_path(str(err), path)}", False
    data = mic.data
    pixel = "? Å/px" if mic.pixel_size_A is None else f"{mic.pixel_size_A:.4g} Å/px"
    problems = "; ".join(_without_path(str(w.message), path) for w in caught) or "ok"
    fields = (
        path,
        f"{data.shape[0]}x{data.shape[1]}",
        mic.source,
        pixel,
        f"min {data.min():.4g} mean {data.mean(dtype='float64'):.4g} max {data.max():.4g}",
        problems,
    )
    return "\t".join(fields), True


def _without_path(message: str, path: str) -> str:
    for prefix in (f"{path}: ", f"{Path(path)}: "):
        if message.startswith(prefix):
            return message[len(prefix):]
    return message
