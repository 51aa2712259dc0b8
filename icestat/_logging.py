"""How icestat reports to a user: its log on stderr, with Python warnings routed through it."""

from __future__ import annotations

import logging
import sys
import warnings

log = logging.getLogger("icestat")


def report_on_stderr(level: int) -> None:
    """Log icestat's messages of `level` and above to stderr as ``LEVEL: message``, warnings among them, each once.

    What the ``icestat`` command sets up in its own process and, for a local
    Dask cluster, in each worker process (:class:`icestat.cluster.WorkerReporting`),
    so that a warning about one micrograph reads the same wherever it was picked
    and ``--quiet`` silences it everywhere. A warning already shown is not shown
    again (a micrograph picked again, with the run's diameter or polarity, is
    read again).
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False

    shown = set()

    def show_warning(message, category, filename, lineno, file=None, line=None):
        if str(message) not in shown:
            shown.add(str(message))
            log.warning("%s", message)

    warnings.showwarning = show_warning
