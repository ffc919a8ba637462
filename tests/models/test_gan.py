"""The GAN family: shapes, seeds, labels, interpolation, and a small overfit on one tone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sonogen
from sonogen.config import DataConfig
from sonogen.data.dataset import open_dataset, read_clips
from sonogen.errors import SonogenError
from sonogen.evaluation.signal import spectral_shape_distance
from sonogen.models.gan import (
    PhaseShuffle,
    SpecGAN,
    SpecGANConfig,
    WaveGAN,
    WaveGANConfig,
    wavegan_layers,
)
from tests.conftest import QUIET, TINY


def test_wavegan_paper_shapes():
    """At the paper's size the generator maps 100-d latents to 16384 samples via 5 layers."""
    data = DataConfig(sample_rate=16000, clip_samples=16384)
    model = WaveGAN(WaveGANConfig(dim=64), data)
    assert wavegan_layers(16384) == 5
    z = torch.randn(2, 100)
    audio = model.generator(z)
    assert audio.shape == (2, 1, 16384)
    score, features = model.critic(audio)
    assert score.shape == (2,) and features.shape == (2, 16 * 1024)
    # the paper's generator has ~19M parameters at d=64
    parameters = sum(p.numel() for p in model.generator.parameters())
    assert 18e6 < parameters < 20e6


def test_specgan_shapes_and_normalisation():
    data = DataConfig(sample_rate=16000, clip_samples=16384)
    model = SpecGAN(SpecGANConfig(dim=8), data)
    audio = torch.randn(3, 16384) * 0.1
    model.fit_statistics(audio.numpy())
    spectrogram = model.to_critic_input(audio)
    assert spectrogram.shape == (3, 1, 128, 128)
    assert spectrogram.min() >= -1 and spectrogram.max() <= 1
    # statistics make each bin zero-mean over the data it was fitted on (before clipping)
    normalised = (model.log_magnitude(audio) - model.log_mean) / model.log_std
    assert normalised.mean(dim=(0, 2)).abs().max() < 1e-4
    audio = model.generate(2, seed=0)
    assert audio.shape == (2, 16384)
    assert audio[:, -128:].abs().max() > 0  # the last hop is inverted too, not left silent


def test_phase_shuffle_shifts_within_bounds():
    torch.manual_seed(0)
    shuffle = PhaseShuffle(2).train()
    x = torch.arange(20.0).repeat(64, 1, 1)
    y = shuffle(x)
    offsets = {int(row[0, 5] - 5) for row in y}  # interior samples reveal the shift
    assert offsets <= {-2, -1, 0, 1, 2} and len(offsets) > 1
    assert torch.equal(shuffle.eval()(x), x)


@pytest.mark.parametrize("family", [WaveGAN, SpecGAN])
def test_generate_shape_range_seed(family):
    data = DataConfig(sample_rate=8000, clip_samples=1024, labels=["a", "b"])
    config = family.Config(dim=4, latent_dim=8, label_dim=2)
    if family is SpecGAN:
        config = SpecGANConfig(dim=4, latent_dim=8, label_dim=2, hop_length=32)
    model = family(config, data)
    a = model.generate(5, seed=3)
    b = model.generate(5, seed=3)
    c = model.generate(5, seed=4)
    assert a.shape == (5, 1024) and a.dtype == torch.float32
    assert a.abs().max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert model.generate(2, seed=0, labels=torch.tensor([1, 1])).shape == (2, 1024)
    with pytest.raises(SonogenError, match="0..1"):
        model.generate(2, seed=0, labels=torch.tensor([2, 0]))
    path = model.interpolate(1, 2, steps=4)
    assert path.shape == (4, 1024)
    start = model.decode_latent(
        model.sample_latent(1, torch.Generator().manual_seed(1)), torch.tensor([0])
    )[0]
    # the path starts at seed 1's clip (to float tolerance: batch sizes differ)
    assert (path[0] - start).abs().max() < 1e-4


def test_truncation_bounds_latents():
    model = WaveGAN(WaveGANConfig(dim=4, latent_dim=64), DataConfig(clip_samples=1024))
    z = model.sample_latent(256, torch.Generator().manual_seed(0), truncation=0.5)
    assert z.abs().max() <= 0.5
    with pytest.raises(SonogenError, match="truncation"):
        model.generate(1, seed=0, truncation=-1.0)


@pytest.mark.parametrize(
    ("name", "steps", "settings"),
    [
        # critic 2:1 and a higher rate make the tiny models move within seconds
        ("wavegan", 500, ["model.dim=8", "model.critic_steps=2", "model.learning_rate=0.0005"]),
        ("specgan", 500, ["model.dim=8", "model.critic_steps=2", "model.learning_rate=0.0005"]),
    ],
)
def test_gan_moves_spectrum_toward_one_tone(tmp_path, tone_dataset, name, steps, settings):
    """Training on one pitched tone at least halves the spectral-shape distance between generated
    and real clips, from the model as built before training (for SpecGAN: before its spectrogram
    statistics are fitted, which are part of its training)."""
    run = sonogen.train(
        tone_dataset,
        name,
        tmp_path / "run",
        overrides=TINY[name] + QUIET + settings + ["train.ema_decay=0.9"],
        max_steps=steps,
        batch_size=16,
        progress=False,
        accelerator="cpu",
        devices="1",
    )
    real = np.asarray(read_clips(open_dataset(tone_dataset)), np.float32) / 32767
    model = sonogen.load(run)
    torch.manual_seed(0)
    untrained = type(model.family)(model.config.model, model.config.data)
    before = spectral_shape_distance(untrained.generate(64, seed=0).numpy(), real, n_fft=256)
    after = spectral_shape_distance(model.generate(64, seed=0), real, n_fft=256)
    assert after < 0.5 * before, (after, before)
