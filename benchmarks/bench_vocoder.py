"""Copy synthesis of held-out real clips through a run's learned vocoder and through Griffin-Lim.

Each held-out (valid split) clip of the reference dataset goes to the vocoder's input features
(a flow run's log-mel, a SpecGAN run's log-magnitude), then back to audio by the learned
vocoder and by Griffin-Lim (the run's iteration count); printed as a Markdown table: log-mel L1
(64 mels, 32 ms windows, the same for every run) and multi-resolution STFT distance against the
real clip, the dataset classifier's label accuracy, and the intelligibility score (PocketSphinx
hears the clip's digit) of the real clips and of both resyntheses, at the same n.

Usage: python benchmarks/bench_vocoder.py RUN --reference DATASET [--n 250]  (a flow run or a
SpecGAN run with model.vocoder learned)
Run it alone on the machine; it prints the load average at its start and end.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from sonogen.audio.features import griffin_lim, multi_resolution_stft_distance
from sonogen.data.dataset import label_indices, open_dataset, read_clips, split_indices
from sonogen.evaluation.classifier import load_or_train_classifier
from sonogen.evaluation.intelligibility import intelligibility
from sonogen.models.vocoder import MelSpec
from sonogen.run import load


def griffin_lim_of(spec, features: torch.Tensor, samples: int, iterations: int) -> torch.Tensor:
    """Griffin-Lim from a vocoder's input features: a log-mel (MelSpec) or a log-magnitude
    without its Nyquist bin (LinearSpec, SpecGAN's)."""
    if isinstance(spec, MelSpec):
        padded = (features.shape[-1] - 1) * spec.hop_length
        return spec.griffin_lim(features, max(padded, samples), iterations)[..., :samples]
    magnitude = torch.exp(features)
    missing = spec.n_fft // 2 + 1 - magnitude.shape[-2]
    magnitude = F.pad(magnitude, (0, 0, 0, missing))
    return griffin_lim(
        magnitude, n_fft=spec.n_fft, hop_length=spec.hop_length, n_iter=iterations, length=samples
    )


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
    samples = real.shape[1]
    spec = family.vocoder.spec
    measure = MelSpec.for_sample_rate(info.sample_rate, 64)
    started = time.perf_counter()
    with torch.no_grad():
        audio = torch.from_numpy(real)
        features = spec.features(audio)
        vocoded = torch.cat([family.vocoder(part) for part in features.split(64)])
        vocoded = F.pad(vocoded, (0, max(0, samples - vocoded.shape[-1])))
        vocoder_seconds = time.perf_counter() - started
        started = time.perf_counter()
        griffin = griffin_lim_of(spec, features, samples, family.config.griffin_lim_iters)
        griffin_seconds = time.perf_counter() - started
        log_mel = measure.log_mel(audio)
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
            mel_l1 = float((measure.log_mel(clips) - log_mel).abs().mean())
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
