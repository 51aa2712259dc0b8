"""Run one function over many items, in this process or on a Dask cluster, results as they finish."""

from __future__ import annotations

from typing import Callable, Iterable, Iterator


def map_unordered(function: Callable, items: Iterable, args: tuple = (), workers: int = 1,
                  scheduler: str | None = None, on_error: Callable | None = None) -> Iterator:
    """Yield ``function(item, *args)`` for every item, in the order they finish.

    Parameters
    ----------
    function : callable
        A module-level function (worker processes import it by name).
    items : iterable
        Its first arguments.
    args : tuple
        Further arguments, the same for every item.
    workers : int
        1 runs everything here, one item after another; more starts a local
        Dask cluster of that many worker processes (:mod:`icestat.cluster`).
    scheduler : str, optional
        Address of a running Dask scheduler to send the items to instead.
    on_error : callable, optional
        ``on_error(item, exception)`` gives the result of an item whose task
        failed on every Dask worker it was tried on; the exception is raised when None.

    Raises
    ------
    RuntimeError
        If Dask is needed but not installed.
    """
    items = list(items)
    if scheduler is None and workers <= 1:
        for item in items:
            yield function(item, *args)
        return
    try:
        from icestat.cluster import run_on_dask
    except ImportError as err:
        raise RuntimeError(f"--workers and --scheduler need Dask ({err}); "
                           "install it with: pip install 'icestat[distributed]'") from None
    yield from run_on_dask(function, items, args, workers, scheduler, on_error or _raise)


def _raise(item, err: Exception):
    raise err
