"""GAN speed and memory on this machine: training steps/s and audio-seconds/s, generation
real-time factor, peak RSS. Each configuration runs in its own process so peak memory is its own.

    python benchmarks/bench_gan.py            # all rows, a markdown table on stdout
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

ROWS = [
    ("wavegan", 16, 64),  # (model, width model.dim, batch)
    ("wavegan", 64, 64),
    ("specgan", 16, 64),
    ("specgan", 64, 64),
]


def measure(name: str, dim: int, batch: int) -> dict:
    import numpy as np
    import torch

    from sonogen.config import DataConfig
    from sonogen.models.registry import get_family

    torch.manual_seed(0)
    family_class = get_family(name)
    data = DataConfig(sample_rate=16000, clip_samples=16384, labels=None)
    model = family_class(family_class.Config(dim=dim), data)
    t = np.arange(16384) / 16000
    audio = np.stack([0.5 * np.sin(2 * np.pi * f * t) for f in np.linspace(110, 880, batch)])
    audio = torch.tensor(audio, dtype=torch.float32)
    model.fit_statistics(audio.numpy())
    optimizers = model.configure_optimizers()
    critic_steps = model.config.critic_steps

    def step(i: int) -> None:
        model.train_step(audio, None, i, optimizers, lambda loss: loss.backward())

    for i in range(critic_steps):  # warm-up: one full critic/generator cycle
        step(i)
    steps = critic_steps * (2 if dim <= 16 else 1)
    start = time.perf_counter()
    for i in range(steps):
        step(i)
    train_seconds = time.perf_counter() - start
    model.generate(8, seed=0)  # warm-up
    start = time.perf_counter()
    clips = model.generate(64, seed=0)
    generate_seconds = time.perf_counter() - start
    return {
        "model": name,
        "dim": dim,
        "batch": batch,
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps_per_second": steps / train_seconds,
        "audio_seconds_per_second": steps * batch * 16384 / 16000 / train_seconds,
        "generate_rtf": clips.shape[0] * clips.shape[1] / 16000 / generate_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    if len(sys.argv) == 4:
        print(json.dumps(measure(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
        return
    print(
        "| model | dim | batch | parameters | train steps/s | train audio-s/s | "
        "generate 64 clips, x real time | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, dim, batch in ROWS:
        output = subprocess.run(
            [sys.executable, __file__, name, str(dim), str(batch)],
            capture_output=True,
            text=True,
            check=True,
            env=os.environ,
        ).stdout
        r = json.loads(output.strip().splitlines()[-1])
        print(
            f"| {r['model']} | {r['dim']} | {r['batch']} | {r['parameters']:,} | "
            f"{r['steps_per_second']:.2f} | {r['audio_seconds_per_second']:.1f} | "
            f"{r['generate_rtf']:.0f} | {r['peak_rss_mb']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
