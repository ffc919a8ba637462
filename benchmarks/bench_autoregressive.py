"""Autoregressive models on this machine: generation real-time factor at 16 kHz (batch 1 and 16)
and training throughput, at the default settings. Each row runs in its own process.

Real-time factor here = audio seconds made per wall second, counting every clip of the batch
(16 clips of 1 s in 2 s is 8x real time), continuing a 1,024-sample prompt. The tutorials' LSTM
baseline (`generation=window`) runs a fresh LSTM pass over its 1,024-sample window for every
sample, so it is measured on a shorter stretch of audio (with its window full from the start, its
steady state) and reported per audio second like the others.

    python benchmarks/bench_autoregressive.py          # all rows, a markdown table on stdout
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

RATE = 16000
ROWS = [
    # (model, settings, seconds generated per clip)
    ("samplernn", {}, 1.0),
    ("samplernn", {"rnn": "lstm"}, 1.0),
    ("transformer", {}, 1.0),
    ("lstm-baseline", {"generation": "stateful"}, 1.0),
    ("lstm-baseline", {}, 0.02),
]


def measure(name: str, settings: dict, seconds: float) -> dict:
    import numpy as np
    import torch

    from sonogen.config import DataConfig
    from sonogen.models.registry import get_family

    torch.manual_seed(0)
    family_class = get_family(name)
    data = DataConfig(sample_rate=RATE, clip_samples=16384, labels=None)
    model = family_class(family_class.Config(**settings), data)
    t = np.arange(16384) / RATE
    batch = 16
    audio = np.stack([0.5 * np.sin(2 * np.pi * f * t) for f in np.linspace(110, 880, batch)])
    audio = torch.tensor(audio, dtype=torch.float32)
    if model.needs_statistics:
        model.fit_statistics(audio.numpy())
    optimizers = model.configure_optimizers()

    def step(i: int) -> None:
        model.train_step(audio, None, i, optimizers, lambda loss: loss.backward())

    step(0)  # warm-up
    steps = 3
    start = time.perf_counter()
    for i in range(steps):
        step(i + 1)
    train_seconds = (time.perf_counter() - start) / steps
    # audio per training step: what the family reads from each clip (its training window)
    window = getattr(model.config, "window_samples", None) or (
        model.config.window_frames * model.config.frame_size
        if hasattr(model.config, "window_frames")
        else model.config.context_frames * model.config.frame_size
    )
    model.eval()
    samples = round(seconds * RATE)
    result = {
        "model": name,
        "settings": settings,
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_seconds_per_step": train_seconds,
        "train_audio_seconds_per_second": batch * window / RATE / train_seconds,
        "generated_seconds_per_clip": seconds,
    }
    # every row continues a 1,024-sample prompt, so the baseline's window is full from the first
    # new sample (its steady state: a pass over 1,024 samples per sample)
    prompt = audio[:, :1024]
    model.generate(1, seed=0, samples=min(samples, 160), prompt=prompt[:1])  # warm-up
    for n in (1, 16):
        start = time.perf_counter()
        model.generate(n, seed=0, samples=samples, prompt=prompt[:n])
        wall = time.perf_counter() - start
        result[f"real_time_factor_batch{n}"] = n * seconds / wall
    return result


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--row":
        name, settings, seconds = ROWS[int(sys.argv[2])]
        print(json.dumps(measure(name, settings, seconds)))
        return
    import platform

    import torch

    print(
        f"machine: {platform.platform()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads\n"
    )
    print(
        "| model | settings | parameters | train s/step (batch 16) | train audio-s/s | "
        "generate x real time, batch 1 | batch 16 |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    results = []
    for index in range(len(ROWS)):
        output = subprocess.run(
            [sys.executable, __file__, "--row", str(index)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        row = json.loads(output.strip().splitlines()[-1])
        results.append(row)
        settings = ", ".join(f"{k}={v}" for k, v in row["settings"].items()) or "defaults"
        print(
            f"| {row['model']} | {settings} | {row['parameters']:,} | "
            f"{row['train_seconds_per_step']:.2f} | {row['train_audio_seconds_per_second']:.1f} | "
            f"{row['real_time_factor_batch1']:.3g} | {row['real_time_factor_batch16']:.3g} |",
            flush=True,
        )
    baseline = next(r for r in results if r["model"] == "lstm-baseline" and not r["settings"])
    for row in results:
        if row["model"] in ("samplernn", "transformer"):
            ratio = row["real_time_factor_batch16"] / baseline["real_time_factor_batch16"]
            print(f"\n{row['model']} {row['settings'] or ''}: {ratio:.0f}x the tutorials' loop")


if __name__ == "__main__":
    main()
