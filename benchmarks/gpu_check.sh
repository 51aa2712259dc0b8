#!/usr/bin/env bash
# The GPU checks of issues 5 and 7 in one run, for a session lent a GPU machine (no internet there).
#
# Here, once (fetches the wheels the GPU machine's image lacks into the git-ignored .wheels/):
#     bash benchmarks/gpu_check.sh --fetch-wheels
# Then through the device tool's run, with carry [".wheels"] and a timeout of about 480 s (4-6 min
# expected; not yet run on a GPU, since no session has been lent one):
#     bash benchmarks/gpu_check.sh
#
# On the GPU it runs the CUDA kernel tests with the simulator off (numba.cuda on the GPU, and the CuPy path
# against the CPU), features_speed.py --device cuda and pick_speed.py --device cuda (one process, and 8 sharing the
# GPU, as `icestat pick --workers 8` would), and copies the result tables
# and logs to $OUT (or benchmarks/results/ alone without $OUT). The image there has PyTorch, CuPy, numba-cuda,
# SciPy, scikit-learn and pandas, but not XGBoost, mrcfile, starfile or (maybe) scikit-image >= 0.26: wheels
# (xgboost-cpu, since XGBoost's CUDA wheel is too large to carry: the patch classifier then runs on the CPU).
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--fetch-wheels" ]; then
    mkdir -p .wheels
    grep -qx "/.wheels/" .git/info/exclude 2>/dev/null || echo "/.wheels/" >>.git/info/exclude
    exec python -m pip download --only-binary :all: --no-deps --python-version 3.12 \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .wheels xgboost-cpu mrcfile starfile "scikit-image>=0.26"
fi

out="${OUT:-}"
log() { if [ -n "$out" ]; then tee -a "$out/gpu_check.log"; else cat; fi; }
# The wheels go to a folder of their own, ahead of the image's packages (as the device tool's notes advise).
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .wheels/*.whl 2>&1 | log || exit
export PYTHONUNBUFFERED=1 PYTHONPATH="/tmp/site:$PWD"
{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    python3 -c "import cupy, numba, torch, xgboost; print('torch', torch.__version__, 'cupy', cupy.__version__, \
'numba', numba.__version__, 'xgboost', xgboost.__version__)"
    NUMBA_ENABLE_CUDASIM=0 python3 -m pytest -q -p no:cacheprovider tests/test_features.py \
        -k "Cuda or cupy or compile" -o addopts="-ra"
    python3 benchmarks/features_speed.py --device cuda --repeats 5
    python3 benchmarks/pick_speed.py --device cuda --n 8 --processes 8
} 2>&1 | log
status=$?
if [ -n "$out" ]; then
    cp benchmarks/results/features_speed_gpu.md benchmarks/results/pick_speed_cuda*.md "$out"/ 2>/dev/null
fi
exit "$status"
