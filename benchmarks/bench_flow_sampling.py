"""A flow run's sampling settings: speed against what a listener hears.

For each setting SAMPLER:STEPS:GUIDANCE[:INTERVAL][:sway=S] (INTERVAL "lo-hi": guidance only
for times t in [lo, hi], the plain conditional velocity elsewhere; S: the sway of the time grid,
see `sonogen.models.flow.time_grid`, default the run's) it times the issue's speed case,
16 one-clip generations in one batch with the vocoder, as a multiple of real time (median of
three), then makes --n clips for labels 0, 1, 2, ... in turn (seed 0) and scores the dataset
classifier's label accuracy, the intelligibility (PocketSphinx hears the asked digit) and NDB/K
(50 k-means bins of the classifier's embedding of the train split, as `sonogen evaluate`).

Usage: python benchmarks/bench_flow_sampling.py RUN --reference DATA [--n 200]
           [--settings heun:16:2 euler:8:2 ...]
Run it alone on the machine; the load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import time

import numpy as np

from sonogen.audio.pcm import pcm16_to_float
from sonogen.data.dataset import open_dataset, read_clips, split_indices
from sonogen.evaluation.classifier import load_or_train_classifier
from sonogen.evaluation.intelligibility import intelligibility
from sonogen.evaluation.metrics import ndb
from sonogen.run import load


def parse(setting: str) -> dict:
    parts = setting.split(":")
    options = {"sampler": parts[0], "steps": int(parts[1]), "guidance": float(parts[2])}
    for part in parts[3:]:
        if part.startswith("sway="):
            options["sway"] = float(part.removeprefix("sway="))
        else:
            low, high = (float(x) for x in part.split("-"))
            options["guidance_interval"] = (low, high)
    return options


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--reference", required=True)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--settings", nargs="+", default=["heun:16:2", "euler:8:2", "heun:6:2"])
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    model = load(args.run)
    family = model.family
    default_sway = family.config.sway
    info = open_dataset(args.reference)
    classifier = load_or_train_classifier(info)
    labels = np.arange(args.n) % len(info.labels)
    seconds = 16 * model.config.data.clip_samples / model.sample_rate
    train = pcm16_to_float(read_clips(info)[split_indices(info, "train")])
    train_embedding = classifier.embed(train)
    print(f"\nrun {args.run}, {args.n} clips per setting\n")
    print("| setting | x real time (16 clips) | label accuracy | intelligibility | NDB/K |")
    print("|---|---:|---:|---:|---:|")
    for setting in args.settings:
        options = parse(setting)
        interval = options.pop("guidance_interval", None)
        low, high = interval or (0.0, 1.0)
        sway = options.pop("sway", default_sway)
        family.config = dataclasses.replace(
            family.config, guidance_from=low, guidance_until=high, sway=sway
        )
        times = []
        for _ in range(3):
            started = time.perf_counter()
            model.generate(16, seed=1, labels=labels[:16], **options)
            times.append(time.perf_counter() - started)
        speed = seconds / statistics.median(times)
        audio = np.concatenate(
            [
                model.generate(len(part), seed=index, labels=part, **options)
                for index, part in enumerate(np.array_split(labels, max(1, args.n // 64)))
            ]
        )
        accuracy = float(np.mean(classifier.predict(audio) == labels))
        heard = intelligibility(
            audio, info.sample_rate, [info.labels[i] for i in labels], all_labels=info.labels
        )
        bins = ndb(classifier.embed(audio), train_embedding, seed=0)["ndb_over_k"]
        print(
            f"| {setting} | {speed:.1f} | {accuracy:.3f} | {heard.get('accuracy', 0):.3f} "
            f"| {bins:.2f} |"
        )
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
