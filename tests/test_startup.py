"""A fast start: `sonogen --help` and the errors that need no model never import torch (about 2 s
of a command's start-up), checked in a fresh interpreter for each command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

HEAVY = ("torch", "scipy", "lightning", "matplotlib", "numba", "sklearn", "librosa.core")

# Runs `sonogen ARGS` through cli.main (as the console script does), then prints the exit code
# and the heavy modules that were imported.
PROBE = """
import sys
from sonogen import cli
sys.argv = ["sonogen", *sys.argv[1:]]
try:
    cli.main()
    code = 0
except SystemExit as stop:
    code = stop.code
print("EXIT", code, "IMPORTED", ",".join(m for m in {heavy!r} if m in sys.modules))
"""

NO_RUN = Path("/nonexistent/sonogen-run")


def imported_by(*args: str | Path) -> tuple[int, set[str], str]:
    """Return (exit code, heavy modules imported, stderr) of `sonogen ARGS` in a new process."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("EXIT "), done.stdout + done.stderr
    _, code, _, modules = (last.split(" ", 3) + [""])[:4]
    return int(code), {m for m in modules.split(",") if m}, done.stderr


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    path = tmp_path / "in.wav"
    sf.write(path, np.zeros(1600, np.float32), 16000)
    return path


@pytest.mark.parametrize("args", [["--help"], ["transfer", "--help"], ["generate", "--help"]])
def test_help_imports_no_torch(args):
    code, imported, _ = imported_by(*args)
    assert code == 0
    assert imported == set()


def test_refused_output_imports_no_torch(wav):
    """transfer onto its own input is refused before the run is even looked at."""
    code, imported, stderr = imported_by("transfer", NO_RUN, wav, wav)
    assert code == 2
    assert "would overwrite it" in stderr
    assert imported == set()


def test_bad_option_imports_no_torch(tmp_path):
    code, imported, stderr = imported_by("generate", NO_RUN, "-n", "0", "--out", tmp_path / "x")
    assert code == 2
    assert "-n 0" in stderr
    assert imported == set()


def test_missing_run_dir_imports_no_torch(tmp_path, wav):
    for args in (
        ["generate", NO_RUN, "--out", tmp_path / "x"],
        ["transfer", NO_RUN, wav, tmp_path / "out.wav"],
    ):
        code, imported, stderr = imported_by(*args)
        assert code == 2
        assert "run dir not found" in stderr
        assert imported == set(), args
