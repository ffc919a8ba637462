"""Shared fixtures: tiny datasets made in place (no files from outside the test)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def pytest_configure(config):
    """One torch thread per test process and for the commands it starts: the README runs the
    suite in two worker processes (pytest-xdist, ``-n 2``), one per core of a 2-core machine,
    and with tiny tensors a second thread in each only adds fork-join waits (see one_thread)."""
    os.environ["OMP_NUM_THREADS"] = "1"  # inherited by the subprocesses of CLI tests
    import torch

    torch.set_num_threads(1)


def tone_clips(
    count: int, samples: int, sample_rate: int, frequency: float, seed: int = 0
) -> np.ndarray:
    """Return float32 [count, samples]: a 3-harmonic tone with random phase and level."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / sample_rate
    clips = []
    for _ in range(count):
        phase = rng.uniform(0, 2 * np.pi)
        wave = sum(np.sin(2 * np.pi * frequency * k * t + phase * k) / k for k in (1, 2, 3))
        envelope = np.minimum(1.0, np.linspace(4, 0, samples))  # a note that decays at the end
        clips.append(rng.uniform(0.4, 0.8) * wave / 1.84 * envelope)
    return np.asarray(clips, dtype=np.float32)


def make_tone_dataset(
    out: Path,
    count: int = 32,
    samples: int = 1024,
    sample_rate: int = 8000,
    labels: bool = False,
) -> Path:
    """Write a dataset dir of tones; labelled: half 'low' (250 Hz), half 'high' (1 kHz)."""
    from sonogen.data.prepare import write_dataset

    if labels:
        clips = np.concatenate(
            [
                tone_clips(count // 2, samples, sample_rate, 250.0, seed=1),
                tone_clips(count - count // 2, samples, sample_rate, 1000.0, seed=2),
            ]
        )
        names = ["low"] * (count // 2) + ["high"] * (count - count // 2)
    else:
        clips = tone_clips(count, samples, sample_rate, 500.0)
        names = [""] * count
    items = [
        {
            "index": i,
            "file": f"tone_{i}.wav",
            "offset_seconds": 0.0,
            "label": names[i],
            "split": "valid" if i % 8 == 7 else "train",
        }
        for i in range(count)
    ]
    write_dataset(
        out,
        clips,
        items,
        sample_rate=sample_rate,
        clip_samples=samples,
        labels=["low", "high"] if labels else None,
        source="test tones",
        skipped=[],
        options={},
    )
    return out


def untrained_with_statistics(model, dataset_dir: Path):
    """Return a run's family as built before training, with the data statistics fitted the way
    the trainer fits them before its first step (a seeded sample of up to 2,000 training clips).

    The baseline a trained model must beat: SpecGAN's spectrogram normalisation alone, with no
    training, brings its output's average spectrum most of the way to the data's, so a check
    against the model as built (statistics unfitted) can pass without anything learned.
    """
    import torch

    from sonogen.data.dataset import open_dataset
    from sonogen.trainer import fit_statistics_from_dataset

    torch.manual_seed(0)
    family = type(model.family)(model.config.model, model.config.data)
    if family.needs_statistics:
        fit_statistics_from_dataset(family, open_dataset(dataset_dir), model.config.train.seed)
    return family.eval()


@pytest.fixture
def one_thread():
    """Run a test on one torch thread: with tiny tensors on a shared 2-core machine a second
    thread only adds fork-join waits (a tiny training step ran ~15x slower with two)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tone_dataset(tmp_path: Path) -> Path:
    return make_tone_dataset(tmp_path / "tones")


@pytest.fixture
def labelled_tone_dataset(tmp_path: Path) -> Path:
    return make_tone_dataset(tmp_path / "labelled", labels=True)


# Small enough that a training step takes milliseconds on a CPU.
TINY = {
    "wavegan": ["model.dim=4", "model.latent_dim=16", "model.label_dim=4"],
    "specgan": [
        "model.dim=4",
        "model.latent_dim=16",
        "model.label_dim=4",
        "model.hop_length=32",
        "model.griffin_lim_iters=8",
        "model.vocoder_channels=8",
        "model.vocoder_blocks=1",
        "model.vocoder_segment_frames=8",
    ],
}
TINY["flow"] = [
    "model.n_mels=16",
    "model.channels=8",
    "model.blocks=1",
    "model.attention_heads=2",
    "model.steps=2",
    "model.vocoder_channels=8",
    "model.vocoder_blocks=1",
    "model.vocoder_segment_frames=8",
]
# a flow-VAE small enough for steps of milliseconds
TINY_FVAE = [
    "model.bands=4",
    "model.channels=8",
    "model.max_channels=16",
    "model.downsampling_layers=2",
    "model.decoder_blocks=1",
    "model.latent_dim=4",
    "model.flow_layers=2",
    "model.flow_hidden=8",
    "model.flow_blocks=1",
]
QUIET = ["train.preview_count=0", "train.log_every_steps=1"]
