#!/usr/bin/env bash
# The GPU path in one call, on a CUDA machine with torch, torch-geometric and lightning installed:
# the CUDA correctness tests, the throughput of every stage (graph batching, INR fitting,
# augmentations, models in float32 and bf16-mixed, eager and compiled), then the main job on the
# GPU. Logs go to OUT_DIR, one per stage.
#
#   bash experiments/gpu_check.sh [OUT_DIR]
#
# The whole check keeps to GPU_CHECK_SECONDS (default 470): the stages run in order of what they
# tell, each with the time left, so a stage that runs long is cut (and says so) and the figures
# taken before it stand.
set -uo pipefail
out=${1:-${OUT:-gpu_check}}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
py=${PYTHON:-python3}
deadline=$(( $(date +%s) + ${GPU_CHECK_SECONDS:-470} ))

# stage LOG LINES COMMAND...: COMMAND with the time left, its output in OUT_DIR/LOG and on the
# screen (its last LINES lines; 0: all of it).
stage() {
    local log=$out/$1 lines=$2 left=$(( deadline - $(date +%s) ))
    shift 2
    if (( left < 15 )); then
        echo "not run, out of time: $*" | tee "$log"
        return
    fi
    timeout --kill-after=10 "$left" "$@" > "$log" 2>&1
    local status=$?
    if (( status == 124 || status == 137 )); then
        echo "cut at the time limit after ${left} s: $*" >> "$log"
    fi
    if (( lines > 0 )); then tail -n "$lines" "$log"; else cat "$log"; fi
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
"$py" -c "import torch, torch_geometric as g; print('torch', torch.__version__, 'pyg', g.__version__)" | tee -a "$out/gpu.txt"
stage tests.log 3 "$py" -m pytest -q tests/augment/test_device.py tests/augment/test_assignment_triton.py \
    tests/models/test_models_cuda.py tests/nngraph/datasets/test_fitting_triton.py
stage bench_augment.log 0 "$py" -m experiments.benchmarks.augment --device cuda
stage bench_models_128.log 0 "$py" -m experiments.benchmarks.models --device cuda
stage bench_fit.log 0 "$py" -m experiments.benchmarks.fit --device cuda
stage bench_graph.log 0 "$py" -m experiments.benchmarks.graph --device cuda
stage bench_models_128_bf16.log 0 "$py" -m experiments.benchmarks.models --device cuda --precision bf16-mixed
stage bench_models_512.log 0 "$py" -m experiments.benchmarks.models --device cuda --batch-size 512
stage bench_models_128_compile.log 0 "$py" -m experiments.benchmarks.models --device cuda --compile
stage main.log 8 "$py" -m experiments.main --out "$out/main"
stage bench_models_512_compile.log 0 "$py" -m experiments.benchmarks.models --device cuda --batch-size 512 --compile
