#!/usr/bin/env bash
# The GPU checks of issues 5 and 7 in one run, for a session lent a GPU machine (no internet there).
#
# Here, once (fetches the wheels the GPU machine's image lacks into the git-ignored .wheels/):
#     bash benchmarks/gpu_check.sh --fetch-wheels
# Then through the device tool's run, with carry [".wheels"] and a timeout of 600 s (the most a call may run;
# its stages' limits add up to more, 900 s, but they should take about 8 minutes, and the log comes back
# stage by stage):
#     bash benchmarks/gpu_check.sh
# or, to check and time the feature kernels alone (about 4 minutes there), with a timeout of about 360 s:
#     bash benchmarks/gpu_check.sh --features
#
# On the GPU it runs the GPU tests with the simulator off (numba.cuda kernels on the GPU, the CuPy features and
# the whole segment-and-pick against the CPU; their outcome to results/gpu_tests.md), features_speed.py --device
# cuda, features_profile.py (where the features' time goes, every launch blocking), refiner_speed.py (the CNN,
# cuDNN's default algorithms against autotuned), pick_speed.py --device cuda at 1.06 Å/px (one process, then 8
# and 16 sharing the GPU, as `icestat pick --workers K` would) and the same on the machine's 16 cores without the GPU (16 processes), and copies the result tables and the log to $OUT (or
# leaves them in benchmarks/results/ without $OUT); it exits non-zero if a stage failed. pick_speed.py prints each
# part's figures as it ends, so a stage stopped at its limit leaves in the log what it measured. The image there
# has PyTorch, CuPy, numba-cuda, SciPy, scikit-learn and pandas, but not XGBoost, mrcfile, starfile or (maybe)
# scikit-image >= 0.26: wheels (xgboost-cpu, since XGBoost's CUDA wheel is too large to carry: the patch
# classifier then runs on the CPU).
# Its NumPy (2.5) is also replaced, by 2.4: numba-cuda (up to 0.30.4 at least) fails to compile any kernel
# under NumPy 2.5, which has no np.row_stack ("module 'numpy' has no attribute 'row_stack'").
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--fetch-wheels" ]; then
    mkdir -p .wheels
    grep -qx "/.wheels/" .git/info/exclude 2>/dev/null || echo "/.wheels/" >>.git/info/exclude
    exec python -m pip download --only-binary :all: --no-deps --python-version 3.12 \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .wheels xgboost-cpu mrcfile starfile "scikit-image>=0.26" "numpy==2.4.6"
fi

out="${OUT:-}"
log() { if [ -n "$out" ]; then tee -a "$out/gpu_check.log"; else cat; fi; }
# The wheels go to a folder of their own, ahead of the image's packages (as the device tool's notes advise).
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .wheels/*.whl 2>&1 | log || exit
export PYTHONUNBUFFERED=1 PYTHONPATH="/tmp/site:$PWD"
# Each stage under its own time limit (seconds), so one that hangs leaves the others their turn.
failed=/tmp/icestat_failed_stages
rm -f "$failed"
stage() {
    local seconds=$1 code
    shift
    echo "== $* (limit ${seconds} s)"
    timeout "$seconds" "$@"
    code=$?
    echo "== exit $code"
    [ "$code" = 0 ] || echo "$*" >>"$failed"
}
{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    python3 -c "import cupy, numba, torch, xgboost; print('torch', torch.__version__, 'cupy', cupy.__version__, \
'numba', numba.__version__, 'xgboost', xgboost.__version__)"
    rm -f /tmp/gpu_tests.xml
    # numba's on-disk cache of the CUDA kernels (cache=True): the first features of a fresh process, the cache empty,
    # then filled by it (the difference is the compilation each picking process or Dask worker no longer repeats)
    rm -rf /tmp/numba_cuda_cache
    for cache in empty filled; do
        stage 90 env NUMBA_CACHE_DIR=/tmp/numba_cuda_cache python3 -c "import time, numpy; start = time.perf_counter(); \
from icestat.features import compute_features; image = numpy.random.default_rng(0).normal(size=(256, 256)); \
compute_features(image.astype(numpy.float32), 32, 16, None, 'cuda'); \
print('first features on the GPU of a fresh process, the kernel cache $cache:', round(time.perf_counter() - start, 1), 's')"
    done
    if [ "${1:-}" = "--features" ]; then
        stage 120 env NUMBA_ENABLE_CUDASIM=0 python3 -m pytest -q -p no:cacheprovider tests/test_features.py \
            -k "Cuda or cupy or compile" -o addopts="-ra" --junitxml=/tmp/gpu_tests.xml
        stage 100 python3 benchmarks/features_speed.py --device cuda --repeats 3
        stage 60 python3 benchmarks/features_profile.py --device cuda
    else
        stage 140 env NUMBA_ENABLE_CUDASIM=0 python3 -m pytest -q -p no:cacheprovider tests/test_gpu_pipeline.py \
            tests/test_features.py -k "Cuda or cupy or compile or gpu" -o addopts="-ra" --junitxml=/tmp/gpu_tests.xml
        stage 100 python3 benchmarks/features_speed.py --device cuda --repeats 3
        stage 40 python3 benchmarks/features_profile.py --device cuda
        stage 40 python3 benchmarks/refiner_speed.py --device cuda --train-steps 50
        # one pixel size: both, with 8 processes sharing the GPU, took over 5 minutes there
        stage 300 python3 benchmarks/pick_speed.py --device cuda --n 8 --processes 8,16 --pixel-sizes-A 1.06
        # the same machine without its GPU, 16 processes of one core each: what the GPU adds to a node's rate
        stage 100 python3 benchmarks/pick_speed.py --device cpu --n 8 --processes 16 --pixel-sizes-A 1.06 \
            --results-file pick_speed_gpu_machine_cpu_only.md
    fi
    [ -f /tmp/gpu_tests.xml ] && python3 benchmarks/gpu_tests_report.py /tmp/gpu_tests.xml
} 2>&1 | log
status=$?
[ -s "$failed" ] && status=1
if [ -n "$out" ]; then
    cp benchmarks/results/gpu_tests.md benchmarks/results/features_speed_gpu.md \
        benchmarks/results/features_profile_cuda.md benchmarks/results/pick_speed_cuda*.md \
        benchmarks/results/pick_speed_gpu_machine_cpu_only.md benchmarks/results/refiner_speed_cuda.md \
        "$out"/ 2>/dev/null
fi
exit "$status"
