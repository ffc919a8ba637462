#!/usr/bin/env bash
# Flow-VAE reconstruction of held-out clips after the same CPU budget on three kinds of sound:
# spoken digits (FSDD), drum one-shots and the built-in instrument notes. Prints, per dataset,
# the held-out multi-resolution STFT distance, log-mel L1 and SI-SDR from `sonogen evaluate`.
# Usage: benchmarks/fvae_reconstruction.sh [MINUTES] [SHARED_DATA] [WORK_DIR]
set -euo pipefail
minutes=${1:-3}
shared=${2:-../shared/data}
work=${3:-/tmp/fvae_reconstruction}
mkdir -p "$work"
[ -f "$work/fsdd/dataset.json" ] || sonogen prepare "$shared/fsdd" "$work/fsdd" \
  --sample-rate 16000 --clip-samples 16384 --split fsdd --force
[ -f "$work/drums/dataset.json" ] || sonogen prepare "$shared/drums" "$work/drums" \
  --sample-rate 16000 --clip-samples 16384 --force
[ -f "$work/notes/dataset.json" ] || sonogen data make notes "$work/notes" --force
for data in fsdd drums notes; do
  [ -f "$work/run-$data/model.safetensors" ] || sonogen train "$work/$data" --model fvae \
    --out "$work/run-$data" --max-minutes "$minutes" --batch-size 16 \
    --set train.preview_every_steps=100000 --accelerator cpu --devices 1
  sonogen evaluate "$work/run-$data" --reference "$work/$data" --n 128 --out "$work/eval-$data"
  python - "$work/eval-$data/metrics.json" "$data" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
r = m["reconstruction"]
print(f"RESULT {sys.argv[2]}: {m['target']['steps']} steps, held-out n={r['n']}: "
      f"STFT {r['multi_resolution_stft']:.3f}, log-mel L1 {r['log_mel_l1']:.3f}, "
      f"SI-SDR {r['si_sdr']['mean']:.2f} dB (median {r['si_sdr']['median']:.2f})")
PY
done
