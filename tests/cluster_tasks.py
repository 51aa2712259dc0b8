"""Functions the tests run as Dask tasks on a local cluster's worker processes.

The workers import this module by name (they start with this process's
``sys.path``), so it imports nothing heavy at its top: a worker that ran a task of
``test_cluster`` itself would first import what that module imports (torch,
XGBoost, numba) in each process, seconds of every cluster's start on 2 cores.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path


def pick_but_die_the_first_time(path: str, output: Path, settings, marker: Path) -> dict:
    """Kill this worker process, once in the whole run, in the middle of the second micrograph."""
    from icestat.batch import pick_micrograph

    if path.endswith("_0001.mrc") and not marker.exists():
        marker.write_text("died")
        os._exit(1)
    return pick_micrograph(path, output, settings)


def visible_gpu(item: int) -> tuple[str, str]:
    """The worker that ran a task and the GPUs it was allowed to see."""
    from dask.distributed import get_worker

    time.sleep(0.3)  # long enough for both workers to get tasks
    return get_worker().name, os.environ.get("CUDA_VISIBLE_DEVICES", "")


def warn_about(item: int) -> int:
    """Warn about `item`, as a micrograph without a pixel size is warned about."""
    from icestat.micrograph import PixelSizeWarning

    warnings.warn(f"mic_{item}.png: the file gives no pixel size", PixelSizeWarning)
    return item


def threads_in_a_task(item: int) -> tuple[int, int, int]:
    """The threads numba, torch and SciPy's FFTs (icestat.backend.cpu_threads) may use in this task's thread."""
    import numba
    import torch

    from icestat.backend import cpu_threads

    return numba.get_num_threads(), torch.get_num_threads(), cpu_threads()
