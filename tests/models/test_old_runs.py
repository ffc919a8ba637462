"""Run dirs written by an older sonogen (tests/models/data/runs_v1, made by
tests/models/data/make_old_runs.py at main 8d83992) load and make the same audio and tokens."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import sonogen

RUNS = Path(__file__).parent / "data" / "runs_v1"
SEED = 7  # as make_old_runs.py


@pytest.mark.parametrize("name", sorted(p.name for p in RUNS.iterdir() if p.is_dir()))
def test_an_old_run_dir_loads_and_makes_the_same_output(name, tmp_path):
    run = shutil.copytree(RUNS / name, tmp_path / name)  # the repo's copy is never written
    expected = np.load(run / "expected.npz")
    model = sonogen.load(run)
    assert model.model_name == name
    if model.makes_tokens:
        tokens = model.family.generate_tokens(2, seed=SEED, max_tokens=24)
        padded = np.array([t + [-1] * (24 - len(t)) for t in tokens])
        np.testing.assert_array_equal(padded, expected["tokens"])
        import torch

        window = torch.tensor([[t % 8 + 4 for t in range(20)]])
        logits = model.family.logits(window).detach().numpy()
        np.testing.assert_allclose(logits, expected["logits"], atol=1e-5, rtol=0)
    else:
        audio = model.generate(2, seed=SEED, labels="high")
        assert audio.shape == expected["audio"].shape
        # measured after the run.py and shared-layers refactor: identical (max difference 0.0)
        np.testing.assert_allclose(audio, expected["audio"], atol=1e-5, rtol=0)
