"""Atomic file output: write to a temporary file beside the target, then rename.

A reader (or a rerun after a crash) never sees a half-written output: the
target either does not exist, or holds the previous complete version, or the
new complete version.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write to; move it onto `path` on success.

    Parameters
    ----------
    path : str or PathLike
        The final file name. Its folder must exist.

    Yields
    ------
    Path
        A fresh temporary file name in the same folder (same file system, so
        the final :func:`os.replace` is atomic). It keeps the suffix of `path`
        so that writers choosing a format by suffix behave the same.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}"
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
