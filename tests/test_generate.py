"""Generation through the API and CLI: any length, continuing a prompt, held-out scores in info."""

from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

import sonogen
from sonogen.errors import SonogenError
from tests.conftest import QUIET, TINY

TINY_SAMPLERNN = [
    "model.hidden=32",
    "model.sample_hidden=32",
    "model.embedding_dim=16",
    "model.window_frames=16",
    "model.tbptt_frames=8",
]


@pytest.fixture(scope="module")
def samplernn_run(tmp_path_factory):
    from tests.conftest import make_tone_dataset

    root = tmp_path_factory.mktemp("ar")
    data = make_tone_dataset(root / "tones", count=32)
    run = sonogen.train(
        data,
        "samplernn",
        root / "run",
        overrides=TINY_SAMPLERNN + QUIET + ["train.validate_every_steps=5"],
        max_steps=12,
        batch_size=4,
        progress=False,
    )
    return run


def test_validation_is_logged_during_training_and_reported(samplernn_run):
    with (samplernn_run / "metrics.csv").open() as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("valid_nll_bits")]
    assert [int(row["step"]) for row in rows] == [5, 10, 12]
    bits = [float(row["valid_nll_bits"]) for row in rows]
    assert all(0 < b <= 8.5 for b in bits)
    summary = sonogen.api.info(samplernn_run)
    assert summary["validation"]["step"] == 12
    assert summary["validation"]["valid_nll_bits"] == pytest.approx(bits[-1])
    assert summary["validation"]["clips"] == 4  # every 8th of 32 tone clips is held out


def test_any_length_and_a_prompt_of_another_rate(samplernn_run, tmp_path):
    model = sonogen.load(samplernn_run)
    audio = model.generate(2, seed=1, seconds=0.3)
    assert audio.shape == (2, 2400) and np.abs(audio).max() <= 1.0
    prompt = np.sin(2 * np.pi * 500 * np.arange(4410) / 44100).astype(np.float32) * 0.5
    path = tmp_path / "prompt.wav"
    sf.write(path, np.stack([prompt, prompt], axis=1), 44100)  # stereo, 44.1 kHz, 0.1 s
    paths, seed = sonogen.generate(
        samplernn_run, 2, tmp_path / "out", seed=3, prompt=path, seconds=0.2
    )
    assert len(paths) == 2 and seed == 3 and paths[0].name.startswith("prompt_seed3")
    written, rate = sf.read(paths[0])
    assert rate == 8000 and len(written) == 800 + 1600  # 0.1 s of prompt + 0.2 s of new audio
    resampled = sonogen.api.load(samplernn_run)
    joined = resampled.continue_audio(written[:800].astype(np.float32), 0.2, seed=3)
    assert joined.shape == (1, 2400)
    np.testing.assert_allclose(joined[0, :800], written[:800], atol=1e-6)


def test_fixed_length_families_refuse_seconds_and_prompts(tmp_path, tone_dataset):
    run = sonogen.train(
        tone_dataset,
        "wavegan",
        tmp_path / "gan",
        overrides=TINY["wavegan"] + QUIET,
        max_steps=1,
        progress=False,
    )
    with pytest.raises(SonogenError, match="fixed"):
        sonogen.load(run).generate(1, seconds=2.0)
    sf.write(tmp_path / "p.wav", np.zeros(800, np.float32), 8000)
    with pytest.raises(SonogenError, match="cannot continue"):
        sonogen.generate(run, 1, tmp_path / "o", prompt=tmp_path / "p.wav")


def test_cli_generate_seconds_and_info(samplernn_run, tmp_path):
    out = tmp_path / "clips"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sonogen.cli",
            "generate",
            str(samplernn_run),
            "-n",
            "1",
            "--seconds",
            "0.25",
            "--temperature",
            "0.9",
            "--seed",
            "5",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    (path,) = out.glob("*.wav")
    assert sf.info(path).frames == 2000
    info = subprocess.run(
        [sys.executable, "-m", "sonogen.cli", "info", str(samplernn_run)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert info.returncode == 0, info.stderr
    assert "held-out" in info.stdout and "nll_bits" in info.stdout
