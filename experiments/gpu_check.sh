#!/usr/bin/env bash
# The GPU path in one call, on a CUDA machine with torch, torch-geometric and lightning installed:
# the CUDA correctness tests, the throughput of every stage (graph batching, INR fitting,
# augmentations, models in float32 and bf16-mixed), then the main job on the GPU. Logs go to OUT_DIR.
#
#   bash experiments/gpu_check.sh [OUT_DIR]
set -uo pipefail
out=${1:-${OUT:-gpu_check}}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
py=${PYTHON:-python3}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
"$py" -c "import torch, torch_geometric as g; print('torch', torch.__version__, 'pyg', g.__version__)" | tee -a "$out/gpu.txt"
"$py" -m pytest -q tests/augment/test_device.py tests/augment/test_assignment_triton.py tests/models/test_models_cuda.py \
    tests/nngraph/datasets/test_fitting_triton.py \
    2>&1 | tee "$out/tests.log" | tail -3
for bench in graph fit augment; do
    "$py" -m experiments.benchmarks.$bench --device cuda 2>&1 | tee "$out/bench_$bench.log"
done
for batch in 128 512; do  # both models, eager and compiled
    "$py" -m experiments.benchmarks.models --device cuda --batch-size $batch 2>&1 | tee "$out/bench_models_$batch.log"
    "$py" -m experiments.benchmarks.models --device cuda --batch-size $batch --compile 2>&1 \
        | tee "$out/bench_models_${batch}_compile.log"
done
"$py" -m experiments.benchmarks.models --device cuda --precision bf16-mixed 2>&1 | tee "$out/bench_models_128_bf16.log"
"$py" -m experiments.main --out "$out/main" 2>&1 | tail -8 | tee "$out/main.log"
