#!/usr/bin/env bash
# README command 1: set up, build the default dataset (embedded synth source), show rows.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
OUT="${1:-output/audiosetmix-synth-small}"
export HF_HUB_OFFLINE=1
.venv/bin/python audiosetmix.py build --output_dir "$OUT" --num_proc "$(nproc)"
.venv/bin/python audiosetmix.py show --dataset_dir "$OUT" --n 3
