#!/usr/bin/env bash
# The one prepared GPU session, for a lent H100/H200 (its image already holds numba,
# numba-cuda, CuPy, torch, scipy, pytest and mpmath; nothing can be fetched there):
# run the checkout in place, the GPU-only tests, then benchmarks/bench_gpu.py, logs
# and bench_gpu.json in $OUT (default ./gpu_check). Run it as
#     run(command="bash tools/gpu_check.sh", timeout_s=540)
# and leave time for one rerun. Most of the first minutes go to NVVM compiling the
# radius kernels (~45 s each on a CPU core; cached for the benchmark that follows).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu_check}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1 NUMBA_CACHE_DIR=/tmp/idrs-numba-cache
{ nvidia-smi; python3 -m pip list 2>/dev/null | grep -i -E "^(numba|numba-cuda|cupy|torch|numpy|scipy) "; } \
  > "$OUT/environment.log" 2>&1
timeout 270 python3 -m pytest -q -m gpu tests/test_gpu.py -rs -p no:cacheprovider \
  > "$OUT/test_gpu.log" 2>&1
echo "test_gpu rc=$?" >> "$OUT/test_gpu.log"
timeout 240 python3 benchmarks/bench_gpu.py --skip-model --out "$OUT" > "$OUT/bench_gpu.log" 2>&1
echo "bench_gpu rc=$?" >> "$OUT/bench_gpu.log"
tail -5 "$OUT/test_gpu.log" "$OUT/bench_gpu.log"
