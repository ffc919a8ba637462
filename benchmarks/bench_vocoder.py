"""Copy synthesis of held-out real clips through a flow run's vocoder and through Griffin-Lim.

Each held-out (valid split) clip of the reference dataset goes to the run's log-mel, then back
to audio by the learned vocoder and by Griffin-Lim (the run's iteration count); printed as a
Markdown table: log-mel L1 (the run's own mel) and multi-resolution STFT distance against the
real clip, the dataset classifier's label accuracy, and the intelligibility score (PocketSphinx
hears the clip's digit) of the real clips and of both resyntheses, at the same n.

Usage: python benchmarks/bench_vocoder.py RUN --reference DATASET [--n 250]
Run it alone on the machine; it prints the load average at its start and end.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from sonogen.audio.features import multi_resolution_stft_distance
from sonogen.data.dataset import label_indices, open_dataset, read_clips, split_indices
from sonogen.evaluation.classifier import load_or_train_classifier
from sonogen.evaluation.intelligibility import intelligibility
from sonogen.run import load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--reference", required=True)
    parser.add_argument("--n", type=int, default=250)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    model = load(args.run)
    family = model.family
    info = open_dataset(args.reference)
    indices = split_indices(info, "valid")[: args.n]
    real = read_clips(info)[indices].astype(np.float32) / 32768.0
    labels = [info.labels[i] for i in label_indices(info)[indices]]
    started = time.perf_counter()
    with torch.no_grad():
        audio = torch.from_numpy(real)
        log_mel = family.log_mel(audio)
        vocoded = torch.cat([family.vocoder(part) for part in log_mel.split(64)])
        vocoder_seconds = time.perf_counter() - started
        started = time.perf_counter()
        griffin = family.spec.griffin_lim(
            log_mel, family.padded_samples, family.config.griffin_lim_iters
        )
        griffin_seconds = time.perf_counter() - started
    samples = real.shape[1]
    outputs = {
        "real clips": (audio, None),
        "learned vocoder": (vocoded[:, :samples].clamp(-1, 1), vocoder_seconds),
        f"Griffin-Lim ({family.config.griffin_lim_iters} iterations)": (
            griffin[:, :samples].clamp(-1, 1),
            griffin_seconds,
        ),
    }
    classifier = load_or_train_classifier(info)
    truth = label_indices(info)[indices]
    print(f"\n{len(indices)} held-out clips of {info.path}, run {args.run}\n")
    print("| audio | log-mel L1 | MR-STFT distance | label accuracy | intelligibility | seconds |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (clips, seconds) in outputs.items():
        with torch.no_grad():
            mel_l1 = float((family.log_mel(clips) - log_mel).abs().mean())
            stft = float(multi_resolution_stft_distance(clips, audio))
        array = clips.numpy()
        accuracy = float(np.mean(classifier.predict(array) == truth))
        heard = intelligibility(array, info.sample_rate, labels, all_labels=info.labels)
        score = heard.get("accuracy", heard.get("skipped"))
        took = "" if seconds is None else f"{seconds:.1f}"
        print(
            f"| {name} | {mel_l1:.3f} | {stft:.3f} | {accuracy:.3f} | "
            f"{score if isinstance(score, str) else f'{score:.3f}'} | {took} |"
        )
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
