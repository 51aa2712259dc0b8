"""Dask: run one task per item on a cluster (a local one of worker processes, or one already running).

Imports ``dask.distributed`` at the top: only :mod:`icestat.workers` imports this
module, and only when more than one worker or a scheduler is asked for.
"""

from __future__ import annotations

import os
from typing import Callable, Iterator

from dask.distributed import Client, LocalCluster, WorkerPlugin, as_completed

#: How often a task is retried on another worker after its worker died, or it raised.
RETRIES = 2


class ThreadLimit(WorkerPlugin):
    """Give every worker (restarted ones too) a fixed number of threads in torch and numba."""

    def __init__(self, n_threads: int):
        self.n_threads = n_threads

    def setup(self, worker) -> None:
        """Called by Dask on each worker as it starts."""
        import numba
        import torch

        torch.set_num_threads(self.n_threads)
        numba.set_num_threads(min(self.n_threads, numba.config.NUMBA_NUM_THREADS))


def run_on_dask(function: Callable, items: list, args: tuple, workers: int, scheduler: str | None,
                on_error: Callable) -> Iterator:
    """Yield ``function(item, *args)`` for every item as Dask tasks finish.

    Parameters
    ----------
    function : callable
        A module-level function (workers import it by name).
    items : list
        Its first arguments, one task each.
    args : tuple
        Further arguments, the same for every task.
    workers : int
        Worker processes of the local cluster started when `scheduler` is None
        (one task at a time each; their torch and numba threads share this
        machine's cores). Workers of a running cluster keep their own settings.
    scheduler : str or None
        Address of a running scheduler (``tcp://host:8786``).
    on_error : callable
        ``on_error(item, exception)`` gives the result of a task that failed on
        every try (its workers died, or it raised).
    """
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        with Client(cluster if cluster is not None else scheduler) as client:
            if cluster is not None:
                client.register_plugin(ThreadLimit(max(1, (os.cpu_count() or 1) // workers)), name="icestat-threads")
            futures = {client.submit(function, item, *args, pure=False, retries=RETRIES): item for item in items}
            for future in as_completed(futures):
                try:
                    yield future.result()
                except Exception as err:  # a task that failed on every worker it was tried on
                    yield on_error(futures[future], err)
    finally:
        if cluster is not None:
            cluster.close()
