"""Run one function over many items, in this process or in worker processes, results as they finish."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable, Iterable, Iterator


def map_unordered(function: Callable, items: Iterable, workers: int = 1, args: tuple = ()) -> Iterator:
    """Yield ``function(item, *args)`` for every item, in the order they finish.

    Parameters
    ----------
    function : callable
        A module-level function (worker processes import it by name).
    items : iterable
        Its first arguments.
    workers : int
        1 runs everything here, one item after another; more starts that many
        worker processes ("spawn", so no thread pool of this process is copied
        half-held), each given an equal share of the CPU cores for its threads.
    args : tuple
        Further arguments, the same for every item.
    """
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        for item in items:
            yield function(item, *args)
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(items)), mp_context=context,
                             initializer=_limit_threads, initargs=(threads,)) as pool:
        futures = [pool.submit(function, item, *args) for item in items]
        for future in as_completed(futures):
            yield future.result()


def _limit_threads(n_threads: int) -> None:
    """Give a worker process `n_threads` threads in each library that starts its own pool."""
    import numba
    import torch

    torch.set_num_threads(n_threads)
    numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
