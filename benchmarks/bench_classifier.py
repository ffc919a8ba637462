"""The dataset classifier on FSDD: held-out accuracy reached within a time budget on this machine.

Prepares ../shared/data/fsdd (8 kHz, clips of 8192 samples, labels from the digit sub-folders,
FSDD's own split: takes 0-4 valid) and trains the classifier on it. Target: >= 95% held-out
accuracy within 5 minutes on 2 CPU cores.

    python benchmarks/bench_classifier.py                     # into a temporary dir, then removed
    python benchmarks/bench_classifier.py /tmp/fsdd-8k        # kept there (reused if prepared)
    python benchmarks/bench_classifier.py --max-minutes 2
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, help="dataset dir to prepare FSDD into")
    parser.add_argument("--source", type=Path, default=SHARED / "fsdd")
    parser.add_argument("--max-minutes", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    import torch

    import sonogen
    from sonogen.evaluation.classifier import train_classifier

    if not args.source.is_dir():
        raise SystemExit(f"{args.source}: FSDD not found; pass --source")
    temporary = args.out is None
    out = Path(tempfile.mkdtemp()) / "fsdd" if temporary else args.out
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average {load:.1f} at start; Python "
        f"{platform.python_version()}, torch {torch.__version__} ({torch.get_num_threads()} "
        "threads by default)",
        flush=True,
    )
    try:
        if not (out / "dataset.json").is_file():
            summary = sonogen.prepare(
                args.source, out, sample_rate=8000, clip_samples=8192, labels="folder", split="fsdd"
            )
            print(
                f"prepared {summary.clips} clips ({summary.train_clips} train, "
                f"{summary.valid_clips} valid) in {summary.seconds:.1f} s",
                flush=True,
            )
        started = time.perf_counter()
        report = train_classifier(out, max_minutes=args.max_minutes, seed=args.seed)
        wall = time.perf_counter() - started
    finally:
        if temporary:
            shutil.rmtree(out.parent, ignore_errors=True)
    per_class = ", ".join(f"{k}: {v:.2f}" for k, v in sorted(report.per_class_accuracy.items()))
    target = "met" if report.accuracy >= 0.95 and wall <= 300 else "NOT met"
    print(
        f"\nheld-out accuracy {report.accuracy:.3f} on {report.valid_clips} clips "
        f"(trained on {report.train_clips}) after {report.epochs} epochs in {report.seconds:.0f} s "
        f"(budget {args.max_minutes:g} min); target >= 0.95 within 5 min: {target}\n"
        f"per digit: {per_class}"
    )


if __name__ == "__main__":
    main()
