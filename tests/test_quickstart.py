"""`sonogen quickstart`, as a user runs it: it must end with two clips of each instrument, named
by it, that are pitched notes (not noise), end in silence and are about as loud as the notes,
which neither the model as built nor the data statistics alone give. Slow (the training budget is
minutes); CI runs it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile
import torch

import sonogen
from sonogen.data.dataset import open_dataset, read_clips
from sonogen.evaluation.signal import spectral_flatness
from tests.conftest import untrained_with_statistics


@pytest.mark.slow
def test_quickstart_makes_notes(tmp_path):
    out = tmp_path / "qs"
    result = subprocess.run(
        # the README's command stopped after 600 steps (a third of the 1,922 of its 4 minutes
        # on 2 cores), to keep the suite short; a step budget, not a time budget, so that a
        # slower machine or the suite's parallel workers (one thread each) test the same model
        [sys.executable, "-m", "sonogen.cli", "quickstart", "--out", str(out)]
        + ["--minutes", "10", "--max-steps", "600"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    clips_dir = out / "generated"
    # Rich wraps long lines, even inside a path: compare without the white space
    assert f"writtento{clips_dir}" in "".join(result.stdout.split())
    paths = sorted(clips_dir.glob("*.wav"))
    labels = open_dataset(out / "notes").labels
    assert len(labels) == 10
    assert sorted(p.name for p in paths) == sorted(
        f"{label}_seed0_{number:04d}.wav" for label in labels for number in range(2)
    )
    generated = np.stack([soundfile.read(p, dtype="float32")[0] for p in paths])
    assert soundfile.info(paths[0]).samplerate == 16000

    real = np.asarray(read_clips(open_dataset(out / "notes")), np.float32) / 32767
    model = sonogen.load(out / "run")
    assert model.model_name == "flow"
    torch.manual_seed(0)
    with torch.no_grad():
        built = type(model.family)(model.config.model, model.config.data)
        untrained = built.generate(16, seed=0).numpy()
        # with the data's log-mel statistics fitted and no step taken
        fitted = untrained_with_statistics(model, out / "notes").generate(16, seed=0).numpy()
    # Measured on 2 CPU cores (machine B of BENCHMARKS.md; 20 clips), one torch thread as in the
    # suite: after 600 steps (the learning rate decaying over them, guidance 6) median spectral
    # flatness 0.0057, the last 0.15 s, after the note, at -76 dB RMS (median over clips), RMS
    # 0.11 (with the earlier constant rate and guidance 3: 0.0041, -82 dB, 0.054; after 450
    # steps 0.019, -76 dB, 0.029, too close to the bounds). The full 4 minutes (2,305 steps):
    # 0.00011, -87 dB, 0.12. The notes: 0.00009, digital silence, 0.11;
    # the model as built and with its statistics alone: 0.46 and 0.41, -29 dB, 0.036. The issue's
    # own criterion (flatness within 10 times the notes') is measured in BENCHMARKS.md at the
    # full 4 minutes.
    flatness = np.median(spectral_flatness(generated))  # pitched, not noise
    assert flatness < 0.03, flatness
    for baseline in (untrained, fitted):  # both fail the flatness and the tail checks
        assert np.median(spectral_flatness(baseline)) > 0.1
        assert np.median(tail_level(baseline)) > -60
    assert np.median(tail_level(generated)) < -60, tail_level(generated)  # no floor after the note
    level, real_level = np.sqrt((generated**2).mean()), np.sqrt((real**2).mean())
    assert real_level / 5 < level < 3 * real_level, (level, real_level)  # about the notes' level


def tail_level(clips: np.ndarray) -> np.ndarray:
    """Return the RMS level (dB) of each clip's last 0.15 s at 16 kHz, after the note (the notes
    sound for 0.75 s of each 1.02 s clip and are digitally silent there)."""
    tail = clips[:, -2400:]
    return 20 * np.log10(np.sqrt((tail**2).mean(axis=1)) + 1e-12)
