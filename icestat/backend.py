"""Devices: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; the array module for each; moves between host and device.

CuPy is imported only when a CUDA device is asked for; without it, or without
a GPU, the error says what to install or that no GPU was found.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from dataclasses import dataclass
from types import ModuleType

import numpy as np


@dataclass(frozen=True)
class Device:
    """A parsed device: ``kind`` is ``"cpu"`` or ``"cuda"``; ``index`` the GPU number."""

    kind: str
    index: int = 0

    @property
    def is_gpu(self) -> bool:
        return self.kind == "cuda"

    def __str__(self) -> str:
        return "cpu" if self.kind == "cpu" else f"cuda:{self.index}"


def parse_device(device: str | Device = "cpu") -> Device:
    """Parse ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Examples
    --------
    >>> parse_device("cuda:1")
    Device(kind='cuda', index=1)
    """
    if isinstance(device, Device):
        return device
    text = str(device).strip().lower()
    if text == "cpu":
        return Device("cpu")
    if text == "cuda":
        return Device("cuda", 0)
    if text.startswith("cuda:") and text[5:].isdigit():
        return Device("cuda", int(text[5:]))
    raise ValueError(f"unknown device {device!r}; use 'cpu', 'cuda' or 'cuda:N'")


def cupy() -> ModuleType:
    """Import CuPy, or explain how to get it and whether a GPU is there."""
    try:
        module = importlib.import_module("cupy")
    except ImportError:
        raise RuntimeError("the CUDA device needs CuPy: pip install 'icestat[gpu]'") from None
    try:
        count = module.cuda.runtime.getDeviceCount()
    except Exception as err:  # CUDA runtime errors vary with the driver
        raise RuntimeError(f"no usable CUDA GPU on this machine ({err})") from None
    if count == 0:
        raise RuntimeError("no CUDA GPU on this machine")
    return module


def array_module(device: str | Device) -> ModuleType:
    """NumPy for the CPU, CuPy for a CUDA device."""
    return cupy() if parse_device(device).is_gpu else np


def array_module_of(array) -> ModuleType:
    """CuPy for a CuPy array, NumPy for anything else (CuPy is not imported to find out)."""
    module = sys.modules.get("cupy")
    return module if module is not None and isinstance(array, module.ndarray) else np


def cpu_threads() -> int:
    """Threads a CPU computation may use here: numba's count (every core, or a cluster worker's share).

    The workers of icestat's local Dask clusters get their share as ``NUMBA_NUM_THREADS`` before they start
    (:func:`icestat.cluster.run_on_dask`), which holds in the threads their tasks run in (numba's count is per
    thread); SciPy's FFTs take the same number instead of every core of the machine.
    """
    import numba

    return numba.get_num_threads()


def thread_environment(n_threads: int) -> dict[str, str]:
    """Environment variables giving a process `n_threads` threads in everything that computes in parallel.

    For the worker processes of a node shared among several: PyTorch, XGBoost (OpenMP) and BLAS read theirs as
    the process starts, numba in every thread (its count is each thread's own, and Dask's tasks run in threads of
    their own: set in a worker's main thread, as a worker plugin would, it never reached them), and SciPy's FFTs
    follow numba's (:func:`cpu_threads`).
    """
    return {name: str(n_threads) for name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                              "OPENBLAS_NUM_THREADS")}


def fft_module(xp: ModuleType) -> ModuleType:
    """``scipy.fft`` or ``cupyx.scipy.fft``, to go with `xp`."""
    return importlib.import_module("scipy.fft" if xp is np else "cupyx.scipy.fft")


def ndimage_module(xp: ModuleType) -> ModuleType:
    """``scipy.ndimage`` or ``cupyx.scipy.ndimage``, to go with `xp`."""
    if xp is np:
        return importlib.import_module("scipy.ndimage")
    return importlib.import_module("cupyx.scipy.ndimage")


@contextlib.contextmanager
def on_device(device: str | Device):
    """Make `device` current for CuPy allocations and kernels (no-op for the CPU)."""
    device = parse_device(device)
    if not device.is_gpu:
        yield
        return
    with cupy().cuda.Device(device.index):
        yield


def to_host(array) -> np.ndarray:
    """A NumPy array from a NumPy or CuPy array."""
    return array.get() if hasattr(array, "get") and not isinstance(array, np.ndarray) else np.asarray(array)
