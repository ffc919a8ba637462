"""Music through the command line: prepare-midi, train, compose --render, evaluate, info."""

from __future__ import annotations

import json
import subprocess
import sys

import soundfile as sf

from tests.music.midi_fixtures import write_scale_files


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sonogen.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_prepare_train_compose_evaluate(tmp_path):
    write_scale_files(tmp_path / "midi", count=6)
    (tmp_path / "midi" / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    result = cli(
        "prepare-midi", tmp_path / "midi", tmp_path / "data", "--seq-len", "64",
        "--split", "0.2", "--transpose", "-1..2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "skipped 1 files" in result.stdout and "dataset written to" in result.stdout
    bad = cli("prepare-midi", tmp_path / "midi", tmp_path / "d2", "--transpose", "up")
    assert bad.returncode == 2 and "--transpose" in bad.stderr

    run = tmp_path / "run"
    result = cli(
        "train", tmp_path / "data", "--model", "music-lstm", "--out", run, "--max-steps", "20",
        "--batch-size", "8", "--set", "model.embedding_dim=8", "--set", "model.hidden=16",
        "--set", "train.validate_every_steps=10", "--set", "train.preview_count=1",
        "--accelerator", "cpu", "--devices", "1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert list((run / "samples").glob("*.mid")), "previews of a music model are MIDI files"

    result = cli(
        "compose", run, "--out", tmp_path / "pieces", "--bars", "4", "-n", "2", "--seed", "1",
        "--render", "--sample-rate", "16000",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    wavs = sorted((tmp_path / "pieces").glob("*.wav"))
    assert len(wavs) == 2 and sf.info(wavs[0]).samplerate == 16000
    assert len(list((tmp_path / "pieces").glob("*.mid"))) == 2

    result = cli(
        "evaluate", run, "--reference", tmp_path / "data", "-n", "4", "--out", tmp_path / "eval"
    )
    assert result.returncode == 0, result.stderr
    assert "perplexity" in result.stdout and "longest run shared" in result.stdout
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["n"] == 4 and metrics["valid"]["perplexity"] > 1

    info = cli("info", run)
    assert info.returncode == 0 and "valid_perplexity" not in info.stdout  # shown without prefix
    assert "perplexity" in info.stdout
    refused = cli("generate", run, "-n", "1", "--out", tmp_path / "g")
    assert refused.returncode == 2 and "compose" in refused.stderr
