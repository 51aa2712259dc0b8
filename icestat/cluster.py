"""Dask: run one task per item on a cluster (a local one of worker processes, or one already running).

Imports ``dask.distributed`` at the top: only :mod:`icestat.workers` imports this
module, and only when more than one worker or a scheduler is asked for.
"""

from __future__ import annotations

import logging
import os
from typing import Callable, Iterator

import dask
from dask.distributed import Client, LocalCluster, Nanny, Scheduler, SpecCluster, WorkerPlugin, as_completed

from icestat import allocator
from icestat._logging import report_on_stderr
from icestat.backend import thread_environment

#: How often a task is retried on another worker after its worker died, or it raised.
RETRIES = 2


class WorkerReporting(WorkerPlugin):
    """Have every worker (restarted ones too) report icestat's messages as this process does.

    At this process's level of icestat's log (``--quiet``, ``-v``), on the
    worker's stderr, warnings among them (:func:`icestat._logging.report_on_stderr`).
    Dask's warning for each task cut short as a run that stops early (a full disk)
    closes its cluster is not shown: icestat says why the run stopped, once.
    """

    def __init__(self, level: int):
        self.level = level

    def setup(self, worker) -> None:
        """Called by Dask on each worker as it starts."""
        report_on_stderr(self.level)
        logging.getLogger("distributed.worker.state_machine").setLevel(logging.ERROR)


def _restore_environment(saved: dict[str, str]) -> None:
    """Put this process's environment back as `saved`.

    A local cluster's nannies set ``OMP_NUM_THREADS=1`` and the like here, for
    the workers they start, and leave them set: every program this process
    starts afterwards (a subprocess, a benchmark) would run on one thread.
    """
    for name in set(os.environ) - set(saved):
        del os.environ[name]
    os.environ.update(saved)


def usable_cores() -> int:
    """The CPU cores this process may run on: those of its affinity (what SLURM or taskset grants), else all."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def gpu_cluster(workers: int, gpus: list[int]) -> SpecCluster:
    """A local cluster of `workers` processes on loopback, worker i seeing only GPU ``gpus[i % len(gpus)]``.

    Each worker's ``CUDA_VISIBLE_DEVICES`` names its one GPU, so ``cuda`` in it is
    that GPU (as dask-cuda's clusters do); workers share GPUs round-robin when
    there are more workers than GPUs.
    """
    specs = {
        f"gpu-{i}": {"cls": Nanny, "options": {"nthreads": 1, "host": "127.0.0.1",
                                               "env": {"CUDA_VISIBLE_DEVICES": str(gpus[i % len(gpus)])}}}
        for i in range(workers)
    }
    scheduler = {"cls": Scheduler, "options": {"host": "127.0.0.1", "dashboard_address": None}}
    return SpecCluster(workers=specs, scheduler=scheduler)


def _client_of(scheduler: str) -> Client:
    """A client of the running cluster whose scheduler is at `scheduler`.

    Raises
    ------
    RuntimeError
        In one line, where no scheduler answers there (Dask's connect timeout,
        ``distributed.comm.timeouts.connect``, 30 s by default) or the address is not one.
    """
    try:
        return Client(scheduler)
    except (OSError, ValueError, TimeoutError) as err:
        raise RuntimeError(f"no Dask scheduler reached at {scheduler} ({str(err).splitlines()[0]})") from None


def run_on_dask(function: Callable, items: list, args: tuple, workers: int, scheduler: str | None,
                on_error: Callable, gpus: list[int] | None = None) -> Iterator:
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
        (one task at a time each; their torch, XGBoost, numba and FFT threads
        share the cores this process may use, :func:`usable_cores` and
        :func:`icestat.backend.thread_environment`; they report
        warnings as this process does, :class:`WorkerReporting`; they keep
        freed memory for reuse, :data:`icestat.allocator.ENVIRONMENT`).
        Workers of a running cluster keep their own settings.
    scheduler : str or None
        Address of a running scheduler (``tcp://host:8786``).
    on_error : callable
        ``on_error(item, exception)`` gives the result of a task that failed on
        every try (its workers died, or it raised).
    gpus : list of int, optional
        GPUs the workers of the local cluster are pinned to, one each
        (:func:`gpu_cluster`); ignored with a `scheduler`.
    """
    cluster, environment = None, dict(os.environ)
    # set before each worker process starts (the nanny puts them in this process's environment as it spawns one)
    worker_environment = {**allocator.ENVIRONMENT, **thread_environment(max(1, usable_cores() // workers))}
    with dask.config.set({f"distributed.nanny.pre-spawn-environ.{name}": value
                          for name, value in worker_environment.items()}):
        if scheduler is None and gpus:
            cluster = gpu_cluster(workers, gpus)
        elif scheduler is None:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        with Client(cluster) if cluster is not None else _client_of(scheduler) as client:
            if cluster is not None:
                client.register_plugin(WorkerReporting(logging.getLogger("icestat").getEffectiveLevel()),
                                       name="icestat-reporting")
            futures = {client.submit(function, item, *args, pure=False, retries=RETRIES): item for item in items}
            for future in as_completed(futures):
                try:
                    yield future.result()
                except Exception as err:  # a task that failed on every worker it was tried on
                    yield on_error(futures[future], err)
    finally:
        if cluster is not None:
            cluster.close()
            _restore_environment(environment)
