#!/usr/bin/env bash
# 20 CPU-minutes of SpecGAN on the Free Spoken Digit Dataset, then 4 clips per digit to listen to.
# Usage: benchmarks/fsdd_20min.sh [FSDD_FOLDER] [WORK_DIR]
set -euo pipefail
fsdd=${1:-../shared/data/fsdd}
work=${2:-/tmp/fsdd_bench}
mkdir -p "$work"
sonogen prepare "$fsdd" "$work/data" --sample-rate 8000 --clip-samples 8192 --split fsdd --force
sonogen train "$work/data" --model specgan --out "$work/specgan" --max-minutes 20 --batch-size 16 \
  --set model.hop_length=64 --set model.critic_steps=1 --set model.learning_rate=0.0005 \
  --set model.beta1=0.0 --set train.preview_every_steps=2000
for digit in 0 1 2 3 4 5 6 7 8 9; do
  sonogen generate "$work/specgan" -n 4 --seed 0 --label "$digit" --out "$work/generated"
done
sonogen info "$work/specgan"
