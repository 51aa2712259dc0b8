"""Wall time and peak resident memory of one call, for the comparison's tables."""

from __future__ import annotations

import time
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def measured(function, *args, **kwargs):
    """Call ``function(*args, **kwargs)`` and say how long it took and how much memory it added at its peak.

    Returns
    -------
    result
        What the function returned.
    seconds : float
        Wall time.
    peak_MB : float
        Peak resident memory of the process during the call above its
        resident memory before it (Linux: the peak is reset through
        ``/proc/self/clear_refs``); NaN where that cannot be read.
    """
    before_kB = _reset_peak_kB()
    started = time.perf_counter()
    result = function(*args, **kwargs)
    seconds = time.perf_counter() - started
    peak_kB = _status_kB("VmHWM")
    peak_MB = (peak_kB - before_kB) / 1024 if before_kB is not None and peak_kB is not None else float("nan")
    return result, seconds, peak_MB


def _reset_peak_kB() -> int | None:
    """Reset the process's peak resident memory to the current one and return it, in kB (None where unsupported)."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return None
    return _status_kB("VmRSS")


def _status_kB(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None
