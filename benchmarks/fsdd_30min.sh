#!/usr/bin/env bash
# Issue "Sounds a listener keeps": the same 30 CPU-minutes (all phases together) for each model on
# the Free Spoken Digit Dataset at 8 kHz, one model at a time, then `sonogen compare` at n 500
# (label accuracy and IS with the voice-robust classifier, intelligibility, FAD, NDB/K,
# memorization, each beside the real held-out clips at the same n).
# Usage: benchmarks/fsdd_30min.sh [MINUTES] [FSDD_FOLDER] [WORK_DIR] [N] [MODELS...]
# MODELS: any of flow specgan specgan-gl fvae (default: all four). Run it alone on the machine.
set -euo pipefail
minutes=${1:-30}
fsdd=${2:-../shared/data/fsdd}
work=${3:-/tmp/fsdd_30min}
n=${4:-500}
shift $(( $# < 4 ? $# : 4 ))
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(flow specgan specgan-gl fvae)
mkdir -p "$work"
[ -f "$work/data/dataset.json" ] || \
  sonogen prepare "$fsdd" "$work/data" --sample-rate 8000 --clip-samples 8192 --split fsdd --force
[ -f "$work/data/classifier.json" ] || sonogen classifier train "$work/data" --max-minutes 5
common=(--max-minutes "$minutes" --set train.preview_every_steps=100000
        --set train.validate_every_steps=500 --accelerator cpu --devices 1)
gan=(--set model.hop_length=64 --set model.critic_steps=1 --set model.learning_rate=0.0005
     --set model.beta1=0.0)
runs=()
for model in "${models[@]}"; do
  run="$work/$model"
  runs+=("$run")
  [ -f "$run/model.safetensors" ] && continue
  echo "$(date -u +%FT%TZ) $model: load average $(cut -d' ' -f1-3 /proc/loadavg)"
  case $model in
    flow) sonogen train "$work/data" --model flow --out "$run" --batch-size 32 "${common[@]}" ;;
    specgan) sonogen train "$work/data" --model specgan --out "$run" --batch-size 16 "${gan[@]}" \
               --set model.vocoder=learned "${common[@]}" ;;
    specgan-gl) sonogen train "$work/data" --model specgan --out "$run" --batch-size 16 \
                  "${gan[@]}" --set model.vocoder=griffin-lim "${common[@]}" ;;
    fvae) sonogen train "$work/data" --model fvae --out "$run" --batch-size 16 "${common[@]}" ;;
    *) echo "unknown model $model" >&2; exit 2 ;;
  esac
done
for run in "${runs[@]}"; do sonogen info "$run"; done
echo "$(date -u +%FT%TZ) compare: load average $(cut -d' ' -f1-3 /proc/loadavg)"
sonogen compare "${runs[@]}" --reference "$work/data" --n "$n" --out "$work/board"
