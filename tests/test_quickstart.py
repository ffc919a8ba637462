"""`sonogen quickstart`, as a user runs it: it must end with 16 clips whose spectrum is that of
the notes, not of an untrained model (with or without the data statistics SpecGAN fits before
training). Slow (the training budget is minutes); CI runs it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile
import torch

import sonogen
from sonogen.data.dataset import open_dataset, read_clips
from sonogen.evaluation.signal import log_spectrum_distance, spectral_flatness
from tests.conftest import untrained_with_statistics


@pytest.mark.slow
def test_quickstart_makes_notes(tmp_path):
    out = tmp_path / "qs"
    result = subprocess.run(
        # the README's command with half its 4-minute budget, to keep the suite short (the
        # numbers below were measured on a 2-minute run)
        [sys.executable, "-m", "sonogen.cli", "quickstart", "--out", str(out), "--minutes", "2"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    clips_dir = out / "generated"
    assert f"written to {clips_dir}" in " ".join(result.stdout.split())
    paths = sorted(clips_dir.glob("*.wav"))
    assert len(paths) == 16
    generated = np.stack([soundfile.read(p, dtype="float32")[0] for p in paths])
    assert soundfile.info(paths[0]).samplerate == 16000

    real = np.asarray(read_clips(open_dataset(out / "notes")), np.float32) / 32767
    model = sonogen.load(out / "run")
    torch.manual_seed(0)
    with torch.no_grad():
        built = type(model.family)(model.config.model, model.config.data)
        untrained = built.generate(16, seed=0).numpy()
        # SpecGAN fits its spectrogram statistics before training; with them alone (no step
        # taken) its output is pitched, if quiet: the baseline that training must beat
        fitted = untrained_with_statistics(model, out / "notes").generate(16, seed=0).numpy()
    # Measured on 2 CPU cores after the 2-minute run (load average 1.9; 16 clips, 64 in brackets):
    # log-spectrum distance 23.7 dB as built, 31.5 dB with statistics only (it is quiet), 10.5
    # (12.6) dB trained; spectral flatness 0.60, 0.034, 0.0046 (0.0055); RMS 0.15, 0.0026, 0.097
    # (0.16) against the notes' 0.10. Neither baseline passes: statistics only fails the distance,
    # the flatness against itself and the level; as built fails the distance and both flatness.
    after = log_spectrum_distance(generated, real)
    before = min(log_spectrum_distance(untrained, real), log_spectrum_distance(fitted, real))
    assert after < 0.67 * before, (after, before)
    flatness = np.median(spectral_flatness(generated))  # pitched, not noise (notes: 1e-4)
    # The GAN's flatness swings between checkpoints: 0.0046 in the run measured above; 0.0124,
    # 0.0125 (2 minutes) and 0.0150 (4 minutes) on 2026-12-02 at load ~1; 0.0177 in CI on
    # 2026-12-03; 0.0058 on 64 clips after 2 minutes (671 steps) on 2026-12-03. Statistics only
    # gives 0.034 and the model as built 0.60, so half the statistics-only figure failed one run
    # in six; the bound is three quarters of it (0.025): every recorded run met it, and
    # broadband noise misses it.
    assert flatness < 0.75 * np.median(spectral_flatness(fitted)), flatness
    assert flatness < 0.1 * np.median(spectral_flatness(untrained)), flatness
    level, real_level = np.sqrt((generated**2).mean()), np.sqrt((real**2).mean())
    assert real_level / 3 < level < 3 * real_level, (level, real_level)  # as loud as the notes
