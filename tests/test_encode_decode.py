"""Models that encode and decode, through the API and CLI: reconstruct, transfer, interpolate,
encode/decode, and reconstruction metrics in evaluate."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

import sonogen
from sonogen.data.dataset import open_dataset, read_clips, split_indices
from sonogen.errors import SonogenError
from sonogen.evaluation.metrics import reconstruction_metrics
from tests.conftest import QUIET, TINY, TINY_FVAE, make_tone_dataset, untrained_with_statistics


@pytest.fixture(scope="module")
def fvae_run(tmp_path_factory):
    """A tiny flow-VAE trained long enough (100 steps at a high rate, ~4 s) that it rebuilds the
    held-out tones measurably better than the same model untrained; 4 steps barely moved it."""
    root = tmp_path_factory.mktemp("fvae")
    data = make_tone_dataset(root / "tones", count=32, labels=True)
    run = sonogen.train(
        data,
        "fvae",
        root / "run",
        overrides=TINY_FVAE + QUIET + ["model.learning_rate=0.003"],
        max_steps=100,
        batch_size=4,
        progress=False,
    )
    return run, data


def test_transfer_keeps_the_input_rate_and_length(fvae_run, tmp_path):
    run, _ = fvae_run
    rate, frames = 22050, 22050 * 3 + 17  # 3 s of stereo at another rate, an odd length
    t = np.arange(frames) / rate
    voice = 0.3 * np.stack([np.sin(2 * np.pi * 300 * t), np.sin(2 * np.pi * 310 * t)], axis=1)
    source = tmp_path / "voice.flac"
    sf.write(source, voice, rate)
    before = source.read_bytes()
    level = np.sqrt(np.mean(voice.mean(axis=1) ** 2))
    for function in (sonogen.api.transfer, sonogen.api.reconstruct):
        out, seconds = function(run, source, tmp_path / f"{function.__name__}.wav")
        info = sf.info(out)
        assert (info.samplerate, info.frames, info.channels) == (rate, frames, 1)
        assert seconds == pytest.approx(frames / rate)
        audio = sf.read(out)[0]
        # a sound over the whole length, not silence, a silent tail or a blow-up (measured:
        # 0.55 of the input's level, in the last quarter second too)
        output_level = np.sqrt(np.mean(audio**2))
        tail_level = np.sqrt(np.mean(audio[-rate // 4 :] ** 2))
        assert np.abs(audio).max() <= 1.0
        assert output_level > 0.1 * level and tail_level > 0.1 * level, (output_level, level)
    assert source.read_bytes() == before  # the user's file is only read
    with pytest.raises(SonogenError, match="overwrite"):
        sonogen.api.transfer(run, source, source)


def test_interpolate_encode_decode_and_reconstruction_metrics(fvae_run, tmp_path):
    run, data = fvae_run
    model = sonogen.load(run)
    assert model.can_reconstruct
    clips = np.random.default_rng(0).uniform(-0.5, 0.5, (3, 1000)).astype(np.float32)
    z = model.encode(clips)
    assert z.shape[0] == 3 and z.shape[1] == 4
    decoded = model.decode(z)  # whole hops: at least the input, less than one hop more
    hop = decoded.shape[1] // z.shape[2]
    assert decoded.shape[1] == z.shape[2] * hop and 1000 <= decoded.shape[1] < 1000 + hop
    assert model.reconstruct(clips).shape == (3, 1000)
    # between two seeds: from seed 1's clip along the great circle of their base noises
    between_seeds = model.interpolate(1, 2, 4)
    assert between_seeds.shape == (4, model.config.data.clip_samples)
    assert np.abs(between_seeds[0] - model.generate(1, seed=1)[0]).max() < 1e-5
    with pytest.raises(SonogenError, match="not one of each"):
        model.interpolate(1, clips[0], 4)

    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    sf.write(a, clips[0], 8000)
    sf.write(b, clips[1, :700], 16000)  # another rate and length
    paths = sonogen.api.interpolate(run, a, b, tmp_path / "morph", steps=5)
    assert [p.name for p in paths] == [f"morph_{i:02d}.wav" for i in range(5)]
    assert {sf.info(p).frames for p in paths} == {1000}  # the longer of the two, at 8 kHz

    result = sonogen.evaluate(run, data, n=16, out=tmp_path / "eval", report=False)
    reconstruction = result.metrics["reconstruction"]
    assert reconstruction["n"] == 4  # the held-out clips
    # the same held-out clips rebuilt by the model before training (measured: MR-STFT 3.67 vs
    # 4.69 untrained, log-mel L1 2.55 vs 3.60; silence scores 10.2 and 4.30)
    info = open_dataset(data)
    held_out = np.asarray(read_clips(info)[split_indices(info, "valid")], np.float32) / 32767
    untrained = untrained_with_statistics(model, data)
    with torch.inference_mode():
        rebuilt = untrained.decode(untrained.encode(torch.from_numpy(held_out)))
    baseline = reconstruction_metrics(
        rebuilt[..., : held_out.shape[1]].numpy(), held_out, info.sample_rate
    )
    assert reconstruction["multi_resolution_stft"] < 0.9 * baseline["multi_resolution_stft"]
    assert reconstruction["log_mel_l1"] < 0.85 * baseline["log_mel_l1"]


def test_cli_transfer_and_interpolate(fvae_run, tmp_path):
    run, _ = fvae_run
    source = tmp_path / "in.wav"
    sf.write(source, np.zeros(4001, np.float32), 8000)

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "sonogen.cli", *map(str, args)],
            capture_output=True,
            text=True,
            timeout=300,
        )

    result = cli("transfer", run, source, tmp_path / "out.wav")
    assert result.returncode == 0, result.stderr
    assert "written to" in result.stdout and sf.info(tmp_path / "out.wav").frames == 4001
    result = cli("interpolate", run, source, source, "--steps", "3", "--out", tmp_path / "m")
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "m").glob("*.wav"))) == 3
    missing = cli("transfer", tmp_path / "no-run", source, tmp_path / "x.wav")
    assert missing.returncode == 2 and "no-run" in missing.stderr

    # a GAN neither encodes nor interpolates between sounds: one line, exit 2, nothing written
    gan = sonogen.train(
        make_tone_dataset(tmp_path / "tones", count=8),
        "wavegan",
        tmp_path / "gan",
        overrides=TINY["wavegan"] + QUIET,
        max_steps=1,
        batch_size=4,
        progress=False,
        accelerator="cpu",
        devices="1",
    )
    for args, message in [
        (("transfer", gan, source, tmp_path / "g.wav"), "wavegan: this model cannot transfer"),
        (("interpolate", gan, source, source, "--out", tmp_path / "gm"), "two seeds"),
    ]:
        gan_error = cli(*args)
        assert gan_error.returncode == 2, gan_error.stderr
        assert gan_error.stderr.startswith("error: ") and message in gan_error.stderr
        assert gan_error.stderr.count("\n") == 1 and "Traceback" not in gan_error.stderr
    assert not (tmp_path / "g.wav").exists() and not (tmp_path / "gm").exists()
