#!/usr/bin/env bash
# Issue "Sounds a listener keeps": flow matching with its defaults on sounds that are not speech,
# to show it is not tuned to FSDD: the built-in notes (10 instruments, 16 kHz) and the drum kits
# (7 instruments, prepared at 16 kHz), MINUTES of training each, alone, then `sonogen evaluate`
# at n N without the speech recogniser (instrument label accuracy, IS, FAD, NDB/K, memorization).
# Usage: benchmarks/flow_other_sounds.sh [MINUTES] [DRUMS_FOLDER] [WORK_DIR] [N]
set -euo pipefail
minutes=${1:-10}
drums=${2:-../shared/data/drums}
work=${3:-/tmp/flow_other}
n=${4:-200}
mkdir -p "$work"
[ -f "$work/notes/dataset.json" ] || python -c \
  "from sonogen.api import make_dataset; make_dataset('notes', '$work/notes', force=True)"
[ -f "$work/drums/dataset.json" ] || \
  sonogen prepare "$drums" "$work/drums" --sample-rate 16000 --clip-samples 16384 --force
for data in notes drums; do
  [ -f "$work/$data/classifier.json" ] || sonogen classifier train "$work/$data" --max-minutes 3
  run="$work/flow-$data"
  if [ ! -f "$run/model.safetensors" ]; then
    echo "$(date -u +%FT%TZ) flow on $data: load average $(cut -d' ' -f1-3 /proc/loadavg)"
    sonogen train "$work/$data" --model flow --out "$run" --batch-size 32 --max-minutes "$minutes" \
      --set train.preview_every_steps=100000 --set train.validate_every_steps=500 \
      --accelerator cpu --devices 1
  fi
  echo "$(date -u +%FT%TZ) evaluate $data: load average $(cut -d' ' -f1-3 /proc/loadavg)"
  sonogen evaluate "$run" --reference "$work/$data" --n "$n" --no-speech
done
