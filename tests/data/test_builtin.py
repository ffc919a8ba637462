"""The built-in notes dataset: rendered locally, deterministic, pitched, labelled."""

from __future__ import annotations

import csv
import hashlib

import numpy as np
import pytest

from sonogen.data.builtin import INSTRUMENTS, make_notes
from sonogen.data.dataset import open_dataset, read_clips
from sonogen.errors import SonogenError
from sonogen.evaluation.signal import spectral_flatness


def digest(folder):
    return {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
        for name in ("audio.npy", "items.csv", "dataset.json", "skipped.csv")
    }


def test_notes_dataset(tmp_path):
    out = make_notes(tmp_path / "notes")
    info = open_dataset(out)
    assert info.sample_rate == 16000 and info.clip_samples == 16384
    assert info.labels == [name for name, _, _ in INSTRUMENTS]
    assert info.count == 747  # 750 notes less the sax's MIDI 64, which the SoundFont lacks
    with open(out / "skipped.csv") as handle:
        skipped = list(csv.DictReader(handle))
    assert [row["file"] for row in skipped] == ["sax/064_070", "sax/064_100", "sax/064_127"]
    assert all(row["reason"].startswith("silent") for row in skipped)
    with open(out / "items.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {"pitch", "velocity", "program"} <= set(rows[0])
    assert {row["split"] for row in rows} == {"train", "valid"}
    audio = np.asarray(read_clips(info), np.float32) / 32767
    assert np.abs(audio).max() > 0.9
    # every clip is a note: energy present and a pitched (not flat) spectrum
    assert (np.sqrt((audio**2).mean(axis=1)) > 1e-3).all()
    assert np.median(spectral_flatness(audio)) < 0.05
    # velocity sets loudness: for each note, louder at 127 than at 70
    by_note = {}
    for row in rows:
        rms = float(np.sqrt((audio[int(row["index"])] ** 2).mean()))
        by_note.setdefault(row["file"][:-4], {})[row["velocity"]] = rms
    assert all(levels["127"] > 2 * levels["70"] for levels in by_note.values())
    # the strongest partial of flute notes (nearly pure tones) sits at the played pitch
    for row in rows:
        if row["label"] == "flute" and row["velocity"] == "100":
            clip = audio[int(row["index"])][:8192]
            spectrum = np.abs(np.fft.rfft(clip * np.hanning(len(clip))))
            peak = np.argmax(spectrum) * 16000 / len(clip)
            expected = 440 * 2 ** ((int(row["pitch"]) - 69) / 12)
            ratio = peak / expected
            assert min(abs(ratio - k) for k in (1, 2, 3)) < 0.03, (row, peak, expected)
    # the same command gives the same bytes
    again = make_notes(tmp_path / "again")
    assert digest(out) == digest(again)
    with pytest.raises(SonogenError, match="--force"):
        make_notes(out)
