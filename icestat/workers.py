"""Run one function over many items, in this process or on a Dask cluster, results as they finish."""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

from icestat.backend import cupy, parse_device


def map_unordered(function: Callable, items: Iterable, args: tuple = (), workers: int = 1,
                  scheduler: str | None = None, on_error: Callable | None = None,
                  gpus: list[int] | None = None) -> Iterator:
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
    gpus : list of int, optional
        GPUs to pin the local cluster's workers to, one each, round-robin
        (:func:`icestat.cluster.gpu_cluster`).

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
    yield from run_on_dask(function, items, args, workers, scheduler, on_error or _raise, gpus)


def _raise(item, err: Exception):
    raise err


def gpu_pinning(device: str, n_gpus: int | None = None) -> tuple[list[int] | None, str]:
    """The GPUs to pin the workers of a local cluster to, and the device each worker then names.

    ``cuda`` spreads the workers over every GPU of this machine, ``cuda:N``
    puts them all on GPU N; either way a pinned worker sees only its GPU, which
    it calls ``cuda``. The CPU pins nothing.

    Parameters
    ----------
    device : str
        The device asked for.
    n_gpus : int, optional
        GPUs on this machine (asked of CuPy when None and needed).

    Examples
    --------
    >>> gpu_pinning("cuda", n_gpus=4)
    ([0, 1, 2, 3], 'cuda')
    >>> gpu_pinning("cuda:2", n_gpus=4)
    ([2], 'cuda')
    >>> gpu_pinning("cpu")
    (None, 'cpu')
    """
    parsed = parse_device(device)
    if not parsed.is_gpu:
        return None, device
    if str(device).strip().lower() != "cuda":
        return [parsed.index], "cuda"
    n_gpus = cupy().cuda.runtime.getDeviceCount() if n_gpus is None else n_gpus
    return list(range(n_gpus)), "cuda"
