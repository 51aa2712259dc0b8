"""Atomic file output: write to a temporary file beside the target, then rename.

A reader (or a rerun after a crash) never sees a half-written output: the
target either does not exist, or holds the previous complete version, or the
new complete version.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import tempfile
from pathlib import Path
from typing import Iterator

#: The errors (``errno``) of a write that are the storage's, not the file's: no space left, over the quota, read-only.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


def is_storage_error(err: BaseException) -> bool:
    """Whether `err` is the storage refusing a write (``STORAGE_ERRNOS``), which every later write there meets too.

    Examples
    --------
    >>> is_storage_error(OSError(errno.ENOSPC, "No space left on device")), is_storage_error(FileNotFoundError("a"))
    (True, False)
    """
    return isinstance(err, OSError) and err.errno in STORAGE_ERRNOS


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
        so that writers choosing a format by suffix behave the same. The file
        gets the permissions of one made the usual way (``0o666`` less the
        process's umask), not the temporary file's owner-only ones: the
        other members of a facility's group read what icestat writes.

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
        with contextlib.suppress(OSError):   # a file system without Unix permissions (a Windows share) refuses it
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def held_lock(path: str | os.PathLike) -> Iterator[None]:
    """Within: this process holds the lock of the file `path` (made where missing); another that asks waits for it.

    For files written together that must come from one writer: the run files of two jobs of a SLURM array ending
    at once into one folder would otherwise mix (one's ``summary.csv``, the other's ``particles.star``). An
    exclusive :func:`fcntl.flock`, which Linux's NFS client passes on as a lock the server holds for every node;
    without one (no ``fcntl`` on Windows, or a file system that refuses locks) the files are written unlocked.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> lock = pathlib.Path(tempfile.mkdtemp()) / ".lock"
    >>> with held_lock(lock):
    ...     lock.exists()
    True
    """
    try:
        import fcntl
    except ImportError:   # Windows
        yield
        return
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError:   # a file system without locks: written as before
            yield
            return
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _umask() -> int:
    """This process's umask: read from Linux's ``/proc/self/status``, else set and set back."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def remove_leftovers(paths) -> None:
    """Delete the temporary files that a writer killed mid-write (no clean-up runs then) left beside `paths`.

    Call it before writing `paths` again; a temporary of :func:`atomic_path` for
    ``dir/name.ext`` is the hidden ``dir/.name.ext.<random>.tmp.ext``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / ".out.txt.k3j2a1.tmp.txt").write_text("half")
    >>> remove_leftovers([folder / "out.txt"])
    >>> list(folder.iterdir())
    []
    """
    for path in map(Path, paths):
        for leftover in path.parent.glob(f".{glob.escape(path.name)}.*.tmp{glob.escape(path.suffix)}"):
            leftover.unlink(missing_ok=True)
