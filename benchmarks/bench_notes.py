"""What the issue "Sounds a listener keeps" asks of the quickstart's notes, for any run trained on
the built-in notes (or any labelled dataset of held notes):

- instrument accuracy: --n clips, labels 0, 1, 2, ... in turn (seed 0), named by the dataset
  classifier (`sonogen classifier train DATA` first), with the confusion per label;
- median spectral flatness against the real clips' (pitched notes: near 0; noise: near 1);
- the level of each clip's last 0.15 s (after the note: the real notes are digitally silent).

With --pictures PNG it also draws, for each label, three real clips and three generated ones in
the run's own log-mel (the view that showed the quickstart's notes changing pitch within a clip).

Usage: python benchmarks/bench_notes.py RUN DATA [--n 200] [--guidance G] [--pictures out.png]
Run it alone on the machine; the load average is printed.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import torch

import sonogen
from sonogen.audio.pcm import pcm16_to_float
from sonogen.data.dataset import open_dataset, read_clips, read_items
from sonogen.evaluation.classifier import load_classifier
from sonogen.evaluation.signal import spectral_flatness

TAIL_SECONDS = 0.15


def tail_db(clips: np.ndarray, sample_rate: int) -> np.ndarray:
    tail = clips[:, -round(TAIL_SECONDS * sample_rate) :]
    return 20 * np.log10(np.sqrt((tail**2).mean(axis=1)) + 1e-12)


def pictures(model, real, real_labels, generated, asked, predicted, names, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    fig, axes = plt.subplots(len(names), 6, figsize=(18, 2.4 * len(names)), squeeze=False)
    with torch.no_grad():
        for k, name in enumerate(names):
            mine = np.flatnonzero(real_labels == k)
            theirs = np.flatnonzero(asked == k)[:3]
            chosen = rng.choice(mine, min(3, len(mine)), replace=False)
            for j, index in enumerate(chosen):
                mel = model.family.log_mel(torch.from_numpy(real[index : index + 1]))[0]
                axes[k, j].imshow(mel.numpy(), origin="lower", aspect="auto", vmin=-12, vmax=1)
                axes[k, j].set_title(f"real {name}", fontsize=8)
            for j, index in enumerate(theirs):
                mel = model.family.log_mel(torch.from_numpy(generated[index : index + 1]))[0]
                ax = axes[k, 3 + j]
                ax.imshow(mel.numpy(), origin="lower", aspect="auto", vmin=-12, vmax=1)
                ax.set_title(f"generated {name} -> heard {names[predicted[index]]}", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run")
    parser.add_argument("data")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--guidance", type=float, default=None)
    parser.add_argument("--pictures", default=None)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    model = sonogen.load(args.run)
    info = open_dataset(args.data)
    classifier = load_classifier(args.data)
    if classifier is None:
        raise SystemExit(f"{args.data}: no classifier; run `sonogen classifier train` first")
    names = classifier.labels
    asked = np.arange(args.n) % len(names)
    options = {} if args.guidance is None else {"guidance": args.guidance}
    with torch.no_grad():
        generated = model.family.generate(args.n, seed=0, labels=torch.as_tensor(asked), **options)
    generated = np.asarray(generated, np.float32)
    predicted = classifier.predict(generated)
    real = pcm16_to_float(read_clips(info))
    label_of = {name: k for k, name in enumerate(names)}
    real_labels = np.array([label_of.get(item["label"], -1) for item in read_items(info)])
    rate = info.sample_rate
    print(f"run {args.run}, {args.n} clips, options {options or 'the run defaults'}")
    print(f"instrument accuracy: {(predicted == asked).mean():.3f}")
    for name, clips in (("generated", generated), ("real", real)):
        flatness = np.median(spectral_flatness(clips))
        tails = tail_db(clips, rate)
        level = np.sqrt((clips**2).mean())
        print(
            f"{name}: median flatness {flatness:.2g}, last {TAIL_SECONDS} s median "
            f"{np.median(tails):.1f} dB (loudest {tails.max():.1f}), RMS {level:.3f}"
        )
    print("\n| asked | heard right | heard most often instead |\n|---|---:|---|")
    for k, name in enumerate(names):
        row = np.bincount(predicted[asked == k], minlength=len(names))
        others = [f"{names[j]} {row[j]}" for j in np.argsort(-row) if j != k and row[j]][:2]
        print(f"| {name} | {row[k]} of {row.sum()} | {', '.join(others)} |")
    if args.pictures:
        pictures(model, real, real_labels, generated, asked, predicted, names, args.pictures)
        print(f"pictures written to {args.pictures}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
