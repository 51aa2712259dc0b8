"""Whether the GPU tests can run here: CuPy and a CUDA PyTorch seeing a GPU, with numba's CUDA simulator off."""

import functools
import os


@functools.cache
def why_no_gpu() -> str:
    """Why the GPU paths cannot be tested here, or '' where they can (found out once per session)."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") != "0":
        return "numba's CUDA simulator is on (run the GPU tests with NUMBA_ENABLE_CUDASIM=0)"
    try:
        import cupy
        import torch

        if cupy.cuda.runtime.getDeviceCount() == 0 or not torch.cuda.is_available():
            return "no CUDA GPU visible to CuPy and PyTorch"
    except Exception as err:  # ImportError, or CUDA runtime errors without a driver
        return f"the GPU paths need CuPy, a CUDA PyTorch and a GPU: {err}".splitlines()[0]
    return ""
