#!/usr/bin/env bash
# The first run on a GPU machine, in one command: this topic's `gpu` tests and scaling-bench on
# ResNet-152, with the machine's own python3 (torch with CUDA preinstalled; no uv, no network;
# DeepSpeed optional - its tests skip with their own reason). Under 8 minutes on one H100/H200.
#   bash scripts/device_check.sh [OUTPUT_FOLDER]      (default outputs/device_check)
# Leaves in OUTPUT_FOLDER: hwinfo.txt, bench.json, bench.md, bench.png, bench.log, gpu_tests.log.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
OUT=${1:-outputs/device_check}
PYTHON=${PYTHON:-python3}
BENCH_LIMIT=${BENCH_LIMIT:-300}   # seconds; with TESTS_LIMIT: at most 8 minutes in all
TESTS_LIMIT=${TESTS_LIMIT:-180}
export PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

# Fail fast, in one line, where there is no GPU this torch can use (before anything is written).
if ! why=$("$PYTHON" -c 'from scaling_multi_gpu.hwinfo import cuda_status
ok, why = cuda_status(); print(why); raise SystemExit(0 if ok else 1)' 2>&1); then
    echo "error: device_check needs a CUDA GPU: ${why##*$'\n'}" >&2
    exit 2
fi
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)   # absolute: SCALING_BENCH_JSON below must not depend on cwd
echo "GPU: $why"
"$PYTHON" -m scaling_multi_gpu.hwinfo >"$OUT/hwinfo.txt" 2>&1

# 1. The full ladder first: it is what the check is for. Compilation happens in its warm-up steps;
# bench.json and bench.md are rewritten after every row, so a time-out still leaves the rows done.
start=$SECONDS
timeout "$BENCH_LIMIT" "$PYTHON" -m scaling_multi_gpu.bench --model resnet152 --device cuda --out "$OUT" \
    2>&1 | tee "$OUT/bench.log"
bench_rc=${PIPESTATUS[0]}
echo "bench: exit $bench_rc after $((SECONDS - start)) s"

# 2. The gpu-marked tests. The bench test reads the table written above instead of re-running it.
# --continue-on-collection-errors: a test module needing a package this machine lacks (e.g. a
# notebook kernel) must not stop the GPU tests in other modules.
start=$SECONDS
SCALING_BENCH_JSON="$OUT/bench.json" timeout "$TESTS_LIMIT" "$PYTHON" -m pytest tests -m gpu \
    -p no:cacheprovider -v --continue-on-collection-errors 2>&1 | tee "$OUT/gpu_tests.log"
tests_rc=${PIPESTATUS[0]}
echo "gpu tests: exit $tests_rc after $((SECONDS - start)) s"

echo "results in $OUT: bench.md, bench.json, gpu_tests.log"
[ "$bench_rc" -eq 0 ] && [ "$tests_rc" -eq 0 ]
