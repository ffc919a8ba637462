"""How far a trained GAN run's clips are from its data, beside its two untrained baselines.

    python benchmarks/bench_baselines.py DATA RUN [RUN ...] [--n 64] [--seed 0]

For each run: the log-spectrum distance (dB), spectral-shape distance and median spectral
flatness of `sonogen.evaluation.signal` against every clip of DATA, and the RMS level, for
n clips generated with the seed from (1) the family as built (torch seed 0, nothing fitted),
(2) the same with the data statistics fitted the way the trainer fits them before its first step
(SpecGAN's spectrogram normalisation; for families without statistics (2) equals (1)), and (3)
the trained run. Only (3) shows what training learnt beyond the statistics.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def fitted_family(model, dataset_dir: Path):
    """Return the run's family as built, with statistics fitted as the trainer fits them."""
    import torch

    from sonogen.data.dataset import open_dataset
    from sonogen.trainer import fit_statistics_from_dataset

    torch.manual_seed(0)
    family = type(model.family)(model.config.model, model.config.data)
    if family.needs_statistics:
        fit_statistics_from_dataset(family, open_dataset(dataset_dir), model.config.train.seed)
    return family.eval()


def main() -> None:
    import numpy as np
    import torch

    import sonogen
    from sonogen.data.dataset import open_dataset, read_clips
    from sonogen.evaluation.signal import (
        log_spectrum_distance,
        spectral_flatness,
        spectral_shape_distance,
    )

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()
    real = np.asarray(read_clips(open_dataset(options.data)), np.float32) / 32767
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"reference: {len(real)} clips of {options.data}; n={options.n}, seed {options.seed}")
    print(f"load average: {load}; real RMS {np.sqrt((real**2).mean()):.3f}\n")
    print("| run | model | log-spectrum distance dB | spectral-shape distance | flatness | RMS |")
    print("|---|---|---:|---:|---:|---:|")
    for run in options.runs:
        model = sonogen.load(run)
        with torch.no_grad():
            torch.manual_seed(0)
            built = type(model.family)(model.config.model, model.config.data)
            rows = {
                "as built": built.generate(options.n, seed=options.seed).numpy(),
                "statistics fitted, untrained": fitted_family(model, options.data)
                .generate(options.n, seed=options.seed)
                .numpy(),
                "trained": np.asarray(model.generate(options.n, seed=options.seed)),
            }
        for name, clips in rows.items():
            print(
                f"| {run.name} | {name} | {log_spectrum_distance(clips, real):.1f} | "
                f"{spectral_shape_distance(clips, real):.2f} | "
                f"{np.median(spectral_flatness(clips)):.4f} | {np.sqrt((clips**2).mean()):.4f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
