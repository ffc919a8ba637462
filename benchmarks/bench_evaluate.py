"""How long `sonogen evaluate` takes for 1,000 one-second clips against FSDD (target: < 1 min).

Prepares ../shared/data/fsdd at 16 kHz in one-second clips (labels from the digit folders, FSDD's
own split), writes a folder of 1,000 one-second WAVs (FSDD clips with noise at 20 dB SNR and a
random gain: "generated" clips that are close to real but not copies), then evaluates the folder
three times with the default `stats` embedding:

1. cold: the dataset classifier (for the Inception Score) is trained first and the reference
   embeddings are computed and cached;
2. warm: the classifier and reference embeddings are reused (what every later evaluation costs);
3. warm, with the HTML report.

With --recogniser, a run instead of the folder (a tiny flow-VAE trained for one step on the
dataset, so that its clips are asked for labels) is evaluated warm twice, with the speech
recogniser (intelligibility of its clips and of the held-out ones) and with it off
(`--no-speech`), both without the report: the recogniser's share of an evaluation.

    python benchmarks/bench_evaluate.py [WORK_DIR]      # default: a temporary dir, removed after
    python benchmarks/bench_evaluate.py WORK_DIR --recogniser
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", nargs="?", type=Path)
    parser.add_argument("--source", type=Path, default=SHARED / "fsdd")
    parser.add_argument("--clips", type=int, default=1000)
    parser.add_argument("--recogniser", action="store_true", help="time it on a run's clips")
    args = parser.parse_args()

    import soundfile as sf
    import torch

    import sonogen
    from sonogen.data.dataset import open_dataset, read_clips

    temporary = args.work is None
    work = Path(tempfile.mkdtemp()) if temporary else args.work
    work.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, load {load:.1f} at start; "
        f"torch {torch.__version__}",
        flush=True,
    )
    try:
        data = work / "fsdd16k"
        if not (data / "dataset.json").is_file():
            sonogen.prepare(
                args.source, data, sample_rate=16000, clip_samples=16000, split="fsdd", force=True
            )
        for stale in (data / "classifier.json", data / "classifier.safetensors"):
            stale.unlink(missing_ok=True)
        shutil.rmtree(data / "cache", ignore_errors=True)
        info = open_dataset(data)
        folder = work / "clips"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        rng = np.random.default_rng(0)
        chosen = rng.choice(info.count, args.clips, replace=info.count < args.clips)
        clips = np.asarray(read_clips(info)[np.sort(chosen)], np.float32) / 32767.0
        for i, clip in enumerate(clips):
            rms = np.sqrt(np.mean(clip**2)) + 1e-6
            noisy = clip + rng.normal(0, rms / 10, clip.shape)  # 20 dB SNR
            noisy *= rng.uniform(0.5, 1.0) / max(1e-6, np.abs(noisy).max())
            sf.write(folder / f"clip_{i:04d}.wav", noisy.astype(np.float32), 16000)

        if args.recogniser:
            recogniser_rows(work, data, args.clips)
            return
        rows = []
        for name, report in (("cold", False), ("warm", False), ("warm + report", True)):
            started = time.perf_counter()
            result = sonogen.evaluate(
                folder, data, n=args.clips, out=work / f"eval-{name}", report=report
            )
            wall = time.perf_counter() - started
            metrics = result.metrics
            rows.append(
                (
                    name,
                    wall,
                    metrics["seconds"]["embedding"],
                    metrics["quality"]["fad"]["value"],
                    metrics["quality"]["fad_infinity"]["value"],
                    metrics["quality"]["inception_score"]["mean"],
                    metrics["diversity"]["ndb"]["ndb_over_k"],
                    metrics["memorization"]["flagged_share"],
                )
            )
            print(f"{name}: {wall:.1f} s", flush=True)
        heldout = metrics["heldout_real"]
        print(
            f"\n{args.clips} one-second clips at 16 kHz against {info.count} FSDD clips "
            f"({metrics['reference']['train_clips']} train), embedding stats "
            f"({metrics['embedding']['dim']} dims)\n"
        )
        print("| run | wall s | embedding s | FAD | FAD-inf | IS | NDB/K | memorized |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for row in rows:
            print(
                "| {} | {:.1f} | {:.1f} | {:.2f} | {:.2f} | {:.2f} | {:.3f} | {:.3f} |".format(*row)
            )
        print(
            f"\nreal held-out clips (n={heldout['n']}): FAD {heldout['fad']['value']:.2f}, "
            f"IS {heldout['inception_score']['mean']:.2f}, NDB/K {heldout['ndb']['ndb_over_k']:.3f}"
        )
    finally:
        if temporary:
            shutil.rmtree(work, ignore_errors=True)


def recogniser_rows(work: Path, data: Path, clips: int) -> None:
    """Print the warm evaluation time of a run's clips with and without the recogniser."""
    import sonogen

    run = work / "tiny-fvae"
    if not (run / "model.safetensors").is_file():
        tiny = ["model.channels=8", "model.max_channels=16", "model.flow_layers=2"]
        sonogen.train(data, "fvae", run, overrides=tiny, max_steps=1, progress=False)
    # the classifier once (its time is the cold row of the default benchmark), then warm runs
    sonogen.api.train_classifier(data, max_minutes=3, group_folds=0)
    sonogen.evaluate(run, data, n=16, out=work / "eval-warmup", report=False)
    print("| recogniser | wall s | intelligibility (generated / real held-out) |")
    print("|---|---:|---|")
    for name, words in (("on", None), ("off (--no-speech)", False)):
        started = time.perf_counter()
        result = sonogen.evaluate(
            run, data, n=clips, out=work / f"eval-run-{name[:3]}", report=False, words=words
        )
        wall = time.perf_counter() - started
        heard = result.metrics["intelligibility"]
        real = (result.metrics["heldout_real"] or {}).get("intelligibility") or {}
        scores = (
            f"{heard['accuracy']:.3f} (n={heard['n']}) / {real['accuracy']:.3f} (n={real['n']})"
            if "accuracy" in heard
            else heard.get("skipped", "")
        )
        print(f"| {name} | {wall:.1f} | {scores} |", flush=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load {load:.1f} at the end")


if __name__ == "__main__":
    main()
