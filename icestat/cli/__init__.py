"""The ``icestat`` command: one subcommand per module of this package.

Each subcommand module has a docstring (its help text, first line = summary),
``add_args(parser)`` and ``main(args) -> int`` (the exit code). Only the module
of the subcommand run is imported: most import PyTorch and XGBoost, seconds
that ``icestat --help`` or ``icestat info`` need not wait for.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import logging
import sys
from pathlib import Path
from typing import Iterable

from icestat import __version__
from icestat._atomic import is_storage_error
from icestat._logging import report_on_stderr
from icestat.allocator import keep_freed_memory

SUBCOMMANDS = ("demo", "evaluate", "features", "info", "manifest", "pick", "relion", "segment", "simulate", "train")

log = logging.getLogger("icestat")


def build_parser(full: Iterable[str] = SUBCOMMANDS) -> argparse.ArgumentParser:
    """Return the ``icestat`` argument parser, listing every subcommand with its summary.

    Parameters
    ----------
    full : iterable of str
        The subcommands whose arguments the parser takes (their modules
        imported); the others are listed only, their summaries read from
        their modules' source.
    """
    full = set(full)
    parser = argparse.ArgumentParser(
        prog="icestat",
        description="Find particles and reject bad regions in cryo-EM micrographs by learning amorphous ice.",
    )
    parser.add_argument("--version", action="version", version=f"icestat {__version__}")
    _add_verbosity(parser, default_from_here=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"icestat.cli.{name}") if name in full else None
        doc = ((module.__doc__ if module else _module_docstring(f"icestat.cli.{name}")) or "").strip()
        sub = commands.add_parser(
            name,
            help=doc.splitlines()[0] if doc else None,
            description=doc,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if module is not None:
            _add_verbosity(sub, default_from_here=False)
            module.add_args(sub)
            sub.set_defaults(func=module.main)
    return parser


def _module_docstring(name: str) -> str | None:
    """The docstring of module `name`, read from its source without importing it."""
    source = Path(importlib.util.find_spec(name).origin).read_text(encoding="utf-8")
    return ast.get_docstring(ast.parse(source), clean=False)


def _subcommand_in(argv: list[str]) -> str | None:
    """The subcommand `argv` names: its first word that is not an option (``icestat``'s own options take no value)."""
    return next((word for word in argv if not word.startswith("-")), None)


def command() -> int:
    """The ``icestat`` program: its process keeps freed memory for reuse
    (:func:`icestat.allocator.keep_freed_memory`), then runs :func:`main`."""
    keep_freed_memory()
    return main()


def main(argv: list[str] | None = None) -> int:
    """Run the ``icestat`` command line; return its exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    named = _subcommand_in(argv)
    args = build_parser(full=[named] if named in SUBCOMMANDS else []).parse_args(argv)
    _configure_logging(verbose=args.verbose, quiet=args.quiet)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
    except OSError as err:   # the storage full, over quota or read-only: one line, not a traceback
        if not is_storage_error(err):
            raise
        where = getattr(args, "output", None) or getattr(args, "job_folder", None) or err.filename
        log.error("%s: %s; once there is room, run the command again", where, err.strerror or err)
        return 1


def _add_verbosity(parser: argparse.ArgumentParser, default_from_here: bool) -> None:
    # The flags work before and after the subcommand; only the top level sets defaults.
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "-v", "--verbose", action="count",
        default=0 if default_from_here else argparse.SUPPRESS,
        help="say more (repeat for debug output)",
    )
    group.add_argument(
        "-q", "--quiet", action="store_true",
        default=False if default_from_here else argparse.SUPPRESS,
        help="print only errors and results; no progress",
    )


def _configure_logging(verbose: int, quiet: bool) -> None:
    report_on_stderr(logging.ERROR if quiet else (logging.DEBUG if verbose > 1 else logging.INFO if verbose
                                                  else logging.WARNING))
