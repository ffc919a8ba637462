#!/usr/bin/env bash
# The same CPU budget for every audio family on the Free Spoken Digit Dataset (8 kHz, ~1 s clips),
# then `sonogen compare` (FAD, IS, NDB, memorization, speed) and the held-out scores of each run.
# Usage: benchmarks/fsdd_compare.sh [MINUTES] [FSDD_FOLDER] [WORK_DIR] [N]
set -euo pipefail
minutes=${1:-5}
fsdd=${2:-../shared/data/fsdd}
work=${3:-/tmp/fsdd_compare}
n=${4:-256}
mkdir -p "$work"
[ -f "$work/data/dataset.json" ] || \
  sonogen prepare "$fsdd" "$work/data" --sample-rate 8000 --clip-samples 8192 --split fsdd --force
[ -f "$work/data/classifier.json" ] || sonogen classifier train "$work/data" --max-minutes 5
common=(--max-minutes "$minutes" --set train.preview_every_steps=100000
        --set train.validate_every_steps=200 --accelerator cpu --devices 1)
train() { local name=$1; shift; [ -f "$work/$name/model.safetensors" ] || sonogen train "$work/data" --out "$work/$name" "$@"; }
# the baseline generates with its LSTM state carried (generation=stateful): the same model as the
# tutorials' windowed loop, 30x faster to sample (BENCHMARKS.md), so its 256 clips take minutes
train lstm-baseline --model lstm-baseline --batch-size 16 --set model.generation=stateful "${common[@]}"
train samplernn --model samplernn --batch-size 16 "${common[@]}"
train transformer --model transformer --batch-size 16 "${common[@]}"
train specgan --model specgan --batch-size 16 --set model.hop_length=64 --set model.critic_steps=1 \
  --set model.learning_rate=0.0005 --set model.beta1=0.0 "${common[@]}"
train fvae --model fvae --batch-size 16 "${common[@]}"
for run in lstm-baseline samplernn transformer specgan fvae; do sonogen info "$work/$run"; done
sonogen compare "$work"/lstm-baseline "$work"/samplernn "$work"/transformer "$work"/specgan \
  "$work"/fvae --reference "$work/data" --n "$n" --out "$work/board"
