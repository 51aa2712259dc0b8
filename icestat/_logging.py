"""How icestat reports to a user: its log on stderr, with Python warnings routed through it."""

from __future__ import annotations

import logging
import os
import sys
import threading
import warnings
from collections import Counter
from contextlib import contextmanager
from typing import Callable, Iterator

log = logging.getLogger("icestat")

_reading = threading.local()


@contextmanager
def reading(path: str | os.PathLike) -> Iterator[None]:
    """Within: the warnings this thread raises are about the file `path`, and are reported naming it.

    For the libraries that read micrographs (mrcfile's "MRC file is N bytes
    larger than expected" names no file). Per thread: ``icestat pick`` reads
    the next micrographs in a thread of its own while it picks one.
    """
    outer = getattr(_reading, "path", None)
    _reading.path = str(path)
    try:
        yield
    finally:
        _reading.path = outer


def naming_the_file_read(message: str) -> str:
    """`message` prefixed with the file this thread is :func:`reading`, unless it starts with it or none is read.

    Examples
    --------
    >>> with reading("a.mrc"):
    ...     naming_the_file_read("MRC file is 8 bytes larger than expected"), naming_the_file_read("a.mrc: 1 Å/px")
    ('a.mrc: MRC file is 8 bytes larger than expected', 'a.mrc: 1 Å/px')
    >>> naming_the_file_read("no file")
    'no file'
    """
    return _joined(*_file_and_words(message))


def _joined(path: str | None, words: str) -> str:
    """``path: words``, or `words` alone where there is no path."""
    return words if path is None else f"{path}: {words}"


def _file_and_words(message: str) -> tuple[str | None, str]:
    """The file this thread is :func:`reading` (None if none) and what `message` says of it, the file left out."""
    path = getattr(_reading, "path", None)
    if path is not None and message.startswith(f"{path}: "):
        return path, message[len(path) + 2:]
    return path, message


LIBRARY_LOGGERS = ("tifffile",)
"""The loggers of the libraries that read micrographs, whose records go to icestat's log (else Python's last
resort prints them to stderr, even under ``--quiet``)."""


class _ToIcestatLog(logging.Handler):
    """Passes a library's log records to icestat's log, naming the file this thread is :func:`reading`."""

    def emit(self, record: logging.LogRecord) -> None:
        log.log(record.levelno, "%s", naming_the_file_read(record.getMessage()))


REPEATS_SHOWN = 3
"""How many files a warning of the same words is shown for; the next says that the rest are not shown."""
FURTHER_NOT_SHOWN = " [further files with this warning are not shown]"

LIBRARY_DEPRECATIONS = (DeprecationWarning, PendingDeprecationWarning)
"""Warnings that a library's code calls another's in a way to change (mrcfile's under NumPy 2.5 on every file read):
words to their developers, shown by ``icestat -vv`` only, and not as something wrong with a file."""

PER_MICROGRAPH_LOGGERS = ("icestat.bright_field",)
"""The loggers whose warnings say the same words (their template) of one micrograph after another."""


class _FirstFilesOnly:
    """Which messages that say the same words of file after file to show: those of the first
    :data:`REPEATS_SHOWN` files, and the next saying that the rest are not shown. The same message again (a
    micrograph read or picked again) is not shown again. Thread-safe: ``pick_in_turn``'s reading thread warns too.
    """

    def __init__(self, further: str = FURTHER_NOT_SHOWN):
        self._shown = set()
        self._told = Counter()
        self._lock = threading.Lock()
        self._further = further

    def ending(self, message: str, words) -> str | None:
        """What to show `message` with (``""``, or the `further` ending), or None not to show it.

        `words` is what it says of its file, the file left out (anything hashable).
        """
        with self._lock:
            if message in self._shown:
                return None
            self._shown.add(message)
            self._told[words] += 1
            told = self._told[words]
        return "" if told <= REPEATS_SHOWN else self._further if told == REPEATS_SHOWN + 1 else None


class _FirstFilesOnlyFilter(logging.Filter):
    """:class:`_FirstFilesOnly` for the records of a logger, whose template is their words.

    On the logger that makes the records, where they pass whatever handler
    shows them (tqdm's, while a progress bar is shown, replaces the stderr one).
    """

    def __init__(self):
        super().__init__()
        self._first_files = _FirstFilesOnly()

    def filter(self, record: logging.LogRecord) -> bool:
        ending = self._first_files.ending(record.getMessage(), record.msg)
        if ending:
            record.msg = f"{record.msg}{ending}"
        return ending is not None


def failure_reporter(listed_in: str | None = None) -> Callable[[str, str], None]:
    """A function that logs the one-line error of a file that failed in a run (its path and the error naming it,
    ``path: problem``), those of the same problem for the first :data:`REPEATS_SHOWN` files and, saying so (and that
    `listed_in` lists them all), the next: a run of a thousand micrographs that fail alike (a folder of PNGs given
    ``--diameter-A``) prints four lines, not a thousand. The problem is the error with the path left out, wherever
    the error names it (a path may hold ``": "`` itself)."""
    first_files = _FirstFilesOnly(" [further files failing so are not shown" + (f": {listed_in} lists them]"
                                                                                if listed_in else "]"))

    def report(path: str, error: str) -> None:
        problem = error[len(path) + 2:] if error.startswith(f"{path}: ") else error.replace(path, "<file>")
        ending = first_files.ending(error, problem)
        if ending is not None:
            log.error("%s%s", error, ending)

    return report


def report_on_stderr(level: int) -> None:
    """Log icestat's messages of `level` and above to stderr as ``LEVEL: message``, warnings among them.

    What the ``icestat`` command sets up in its own process and, for a local
    Dask cluster, in each worker process (:class:`icestat.cluster.WorkerReporting`),
    so that a warning about one micrograph reads the same wherever it was picked
    and ``--quiet`` silences it everywhere. A warning raised while a file is
    read names it (:func:`reading`). A warning already shown is not shown again
    (a micrograph picked again, with the run's diameter or polarity, is read
    again), and one that says the same of many files (a run of thousands of
    micrographs whose headers give no pixel size, or mostly of carbon film:
    :data:`PER_MICROGRAPH_LOGGERS`) is shown for the first
    :data:`REPEATS_SHOWN` files and, saying so, the next.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False

    first_files = _FirstFilesOnly()

    def show_warning(message, category, filename, lineno, file=None, line=None):
        path, words = _file_and_words(str(message))
        text = _joined(path, words)
        if issubclass(category, LIBRARY_DEPRECATIONS):   # a library's word to developers, not about the file: -vv
            log.debug("%s (%s from %s:%d)", text, category.__name__, filename, lineno)
            return
        ending = first_files.ending(text, (category, words))
        if ending is not None:
            log.warning("%s%s", text, ending)

    warnings.showwarning = show_warning
    for name in LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        library.handlers[:] = [_ToIcestatLog()]
        library.propagate = False
    for name in PER_MICROGRAPH_LOGGERS:
        logging.getLogger(name).filters[:] = [_FirstFilesOnlyFilter()]
    # mrcfile's warnings of a file's faults say the same words of every file with that fault: shown for each file,
    # where Python would show them once
    warnings.filterwarnings("always", category=RuntimeWarning, module="mrcfile")
