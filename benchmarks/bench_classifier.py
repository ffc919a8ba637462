"""The dataset classifier on FSDD: held-out accuracy reached within a time budget on this machine.

Prepares ../shared/data/fsdd (8 kHz, clips of 8192 samples, labels from the digit sub-folders,
FSDD's own split: takes 0-4 valid, the speaker of each file its group) and trains the classifier
on it. Target: >= 95% held-out accuracy within 5 minutes on 2 CPU cores.

With --leave-one-group-out, each speaker is held out in turn instead: a classifier trained (within
--max-minutes) on the other speakers' train split is measured on all the held-out speaker's clips,
and its Inception Score on them is set beside its IS on the seen speakers' valid clips, at the
same n. Targets: mean accuracy >= 90%, IS ratio (new / seen) >= 0.8, each fold within 5 minutes.

    python benchmarks/bench_classifier.py                     # into a temporary dir, then removed
    python benchmarks/bench_classifier.py /tmp/fsdd-8k        # kept there (reused if prepared)
    python benchmarks/bench_classifier.py --max-minutes 2
    python benchmarks/bench_classifier.py /tmp/fsdd-8k --leave-one-group-out [--groups theo,lucas]
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
    parser.add_argument(
        "--leave-one-group-out",
        action="store_true",
        help="hold each speaker out in turn; print the per-speaker table",
    )
    parser.add_argument("--groups", help="comma-separated speakers to hold out (default: all)")
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
        if args.leave_one_group_out:
            leave_one_group_out(out, args)
            return
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


def leave_one_group_out(out: Path, args: argparse.Namespace) -> None:
    """Hold each speaker out in turn; print accuracy and the IS of new vs seen speakers."""
    import numpy as np

    from sonogen.data.dataset import group_names, open_dataset, read_clips, split_indices
    from sonogen.evaluation.classifier import Classifier, group_fold
    from sonogen.evaluation.metrics import inception_score

    info = open_dataset(out)
    groups = np.array(group_names(info))
    chosen = args.groups.split(",") if args.groups else sorted(set(groups.tolist()) - {""})
    if not chosen:
        raise SystemExit(f"{out}: no speaker groups (prepared before groups existed); remove it")
    audio = np.asarray(read_clips(info), np.float32) / 32767.0
    valid = split_indices(info, "valid")
    rows = []
    for group in chosen:
        load = os.getloadavg()[0]
        fold = group_fold(info, group, max_minutes=args.max_minutes, seed=args.seed)
        classifier = Classifier(fold.network, info.labels, info.sample_rate, info.clip_samples)
        seen = valid[groups[valid] != group]
        # the same n on both sides: the held-out speaker's clips subsampled to the seen set's n
        rng = np.random.default_rng(args.seed)
        n = min(len(seen), len(fold.test_indices))
        new = np.sort(rng.choice(fold.test_indices, n, replace=False))
        seen = np.sort(rng.choice(seen, n, replace=False))
        is_new = inception_score(classifier.probabilities(audio[new]))["mean"]
        is_seen = inception_score(classifier.probabilities(audio[seen]))["mean"]
        rows.append((group, fold.accuracy, is_new, is_seen, n, fold.epochs, fold.seconds, load))
        print(
            f"{group}: accuracy {fold.accuracy:.3f}, IS new {is_new:.2f} vs seen {is_seen:.2f} "
            f"(n {n}), {fold.epochs} epochs, {fold.seconds:.0f} s, load {load:.1f}",
            flush=True,
        )
    print(
        "\n| held-out speaker | accuracy | IS new speaker | IS seen speakers (valid) | ratio | n "
        "| epochs | seconds | load at start |\n|---|---|---|---|---|---|---|---|---|"
    )
    for group, accuracy, is_new, is_seen, n, epochs, seconds, load in rows:
        print(
            f"| {group} | {accuracy:.3f} | {is_new:.2f} | {is_seen:.2f} | {is_new / is_seen:.2f} "
            f"| {n} | {epochs} | {seconds:.0f} | {load:.1f} |"
        )
    accuracy = float(np.mean([row[1] for row in rows]))
    ratio = float(np.mean([row[2] / row[3] for row in rows]))
    slowest = max(row[6] for row in rows)
    met = accuracy >= 0.9 and ratio >= 0.8 and slowest <= 300
    print(
        f"| mean | {accuracy:.3f} | | | {ratio:.2f} | | | {slowest:.0f} (slowest) | |\n\n"
        f"budget {args.max_minutes:g} min per fold; targets (mean accuracy >= 0.90, IS ratio >= "
        f"0.8, each fold <= 300 s): {'met' if met else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
