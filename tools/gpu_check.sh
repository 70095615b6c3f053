#!/usr/bin/env bash
# The checks that need a CUDA device, in one run: every test that runs on
# CUDA (each skips elsewhere) and benchmarks/gpu_speed.py, whose output
# holds the GPU goals. The outputs are also written to OUTPUT_DIR.
#
#     tools/gpu_check.sh [OUTPUT_DIR [gpu_speed.py options]]
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-gpu-check}
mkdir -p "$out"
python -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else "tools/gpu_check.sh: no CUDA device (torch.cuda.is_available() is False)")' || exit 1
python -m pytest -q -p no:cacheprovider -rs -k cuda tests 2>&1 | tee "$out/cuda_tests.txt"
tests=${PIPESTATUS[0]}
PYTHONUNBUFFERED=1 python benchmarks/gpu_speed.py "${@:2}" 2>&1 | tee "$out/gpu_speed.txt"
bench=${PIPESTATUS[0]}
exit $(( tests || bench ))
