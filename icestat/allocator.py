"""Have the C library keep freed memory for reuse, in the processes icestat runs (its CLI, its Dask workers).

glibc's malloc serves each block over its mmap threshold (128 KiB, rising with use to at most 32 MiB) from a
fresh mapping of the operating system's and unmaps it when the block is freed, so the large arrays of every
micrograph (the 4096 x 4096 image and its copies, the CNN's activations: about 1 GB at 1036 working pixels) are
faulted in page by page, micrograph after micrograph. Served from the heap, which is then never trimmed, they
reuse pages already mapped: 20-30 % less time per 4096 x 4096 micrograph on one core here, 15 % on two, for
100-200 MB more peak memory (benchmarks/README.md, "Freed memory kept"). A library should not change how its
host process allocates, so only icestat's own entry points call :func:`keep_freed_memory` (the ``icestat``
command, the workers of the Dask clusters it starts); a script that picks many micrographs in one process can
call it first.
"""

from __future__ import annotations

import ctypes
import functools

#: mallopt's parameters, from glibc's malloc.h.
M_TRIM_THRESHOLD, M_MMAP_MAX, M_ARENA_MAX = -1, -4, -8
#: No block is served from a mapping of its own, the heap is never trimmed (the largest value the int parameter
#: takes), and every thread allocates from the one arena, whose heap can grow to any size (another thread's arena
#: cannot hold a block over 64 MiB without a mapping of its own).
KEEP_FREED_MEMORY = ((M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, 2**31 - 1), (M_ARENA_MAX, 1))


@functools.cache
def keep_freed_memory() -> bool:
    """Make this process's malloc keep freed memory for reuse (``KEEP_FREED_MEMORY``); once per process.

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
    return all([mallopt(parameter, value) == 1 for parameter, value in KEEP_FREED_MEMORY])
