"""Loaded by pytest before anything else is collected."""

import os

# CUDA kernels run on numba's CPU simulator unless a real GPU is asked for with
# NUMBA_ENABLE_CUDASIM=0. It must be set before numba is first imported.
os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
