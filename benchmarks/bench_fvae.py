"""Flow-VAE speed on this machine at the default size, 16 kHz: encode+decode and transfer of 10 s
of audio, and generation of 16 one-second clips, as x real time (best of 7 runs; transfer,
best of 3).

    python benchmarks/bench_fvae.py [THREADS]
"""

from __future__ import annotations

import platform
import sys
import time


def best_of(runs: int, function) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    import torch

    from sonogen.config import DataConfig
    from sonogen.models.fvae import FlowVAE, FlowVAEConfig

    if len(sys.argv) > 1:
        torch.set_num_threads(int(sys.argv[1]))
    torch.manual_seed(0)
    model = FlowVAE(FlowVAEConfig(), DataConfig(sample_rate=16000, clip_samples=16384)).eval()
    parameters = sum(p.numel() for p in model.parameters())
    audio = torch.randn(1, 160000) * 0.1
    with torch.inference_mode():
        model.decode(model.encode(audio[:, :16000]))  # warm-up
        codec = best_of(7, lambda: model.decode(model.encode(audio)))
        generate = best_of(7, lambda: model.generate(16, seed=0))
        transfer = best_of(3, lambda: model.transfer(audio[0].numpy()))
    clip_seconds = model.data.clip_samples / 16000
    print(
        f"machine: {platform.platform()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; fvae defaults: {parameters:,} parameters, hop "
        f"{model.hop}\n"
    )
    print("| what | seconds | x real time |")
    print("|---|---:|---:|")
    print(f"| encode+decode 10 s | {codec:.3f} | {10 / codec:.0f} |")
    print(f"| transfer 10 s (blocks of 256 hops) | {transfer:.3f} | {10 / transfer:.0f} |")
    speed = 16 * clip_seconds / generate
    print(f"| generate 16 x {clip_seconds:.3f} s | {generate:.3f} | {speed:.0f} |")


if __name__ == "__main__":
    main()
