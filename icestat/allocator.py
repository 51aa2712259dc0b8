"""Have the C library keep freed memory for reuse, in the processes icestat runs (its CLI, its Dask workers).

glibc's malloc serves each block over its mmap threshold (128 KiB, rising with use to at most 32 MiB) from a
fresh mapping of the operating system's and unmaps it when the block is freed, so the large arrays of every
micrograph (the 4096 x 4096 image and its copies, the CNN's activations: about 1 GB at 1036 working pixels) are
faulted in page by page, micrograph after micrograph. Served from the heap, which is then never trimmed, they
reuse pages already mapped: 20-30 % less time per 4096 x 4096 micrograph on one core here, 15 % on two, for
100-200 MB more peak memory (benchmarks/README.md, "Freed memory kept"). A library should not change how its
host process allocates, so only icestat's own entry points do it: the ``icestat`` command calls
:func:`keep_freed_memory`, and the workers of the Dask clusters it starts get ``ENVIRONMENT``. A script that
picks many micrographs in one process can call :func:`keep_freed_memory` first; workers started by hand can be
given ``ENVIRONMENT``.
"""

from __future__ import annotations

import ctypes
import functools

#: Each setting: mallopt's parameter (glibc's malloc.h), the environment variable that sets it when a process
#: starts, and its value. No block is served from a mapping of its own; the heap is never trimmed (the largest
#: value the int parameter takes); every thread allocates from the one arena, whose heap grows to any size
#: (another thread's arena maps any block over 64 MiB on its own, whatever the first setting says).
SETTINGS = ((-4, "MALLOC_MMAP_MAX_", 0),               # M_MMAP_MAX
            (-1, "MALLOC_TRIM_THRESHOLD_", 2**31 - 1),  # M_TRIM_THRESHOLD
            (-8, "MALLOC_ARENA_MAX", 1))                # M_ARENA_MAX
#: The environment that has a process keep freed memory from its start: for the processes icestat starts (the
#: workers of its local Dask clusters), whose threads may have taken arenas of their own before any code of
#: icestat's runs in them.
ENVIRONMENT = {variable: str(value) for _, variable, value in SETTINGS}


@functools.cache
def keep_freed_memory() -> bool:
    """Make this process's malloc keep freed memory for reuse (``SETTINGS``); once per process.

    Call it first thing, before the process starts threads: a thread that has
    taken an arena of its own keeps it.

    Returns
    -------
    bool
        True where glibc took every setting; False where the C library has
        no ``mallopt`` (macOS, musl) or refused one, which changes nothing
        but the speed.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt   # the C library this interpreter is linked with
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return all([mallopt(parameter, value) == 1 for parameter, _, value in SETTINGS])
