"""Intelligibility: PocketSphinx hears real digits, not silence or noise; labels -> words."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from sonogen.errors import SonogenError
from sonogen.evaluation.intelligibility import (
    NOT_INSTALLED,
    intelligibility,
    words_for_labels,
)
from tests.conftest import SHARED_DATA

FSDD = SHARED_DATA / "fsdd"
DIGITS = [str(digit) for digit in range(10)]
DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


@pytest.fixture
def recogniser():
    pytest.importorskip("pocketsphinx", reason="pocketsphinx is not installed (sonogen[speech])")


def fsdd_clips(speakers: tuple[str, ...], samples: int = 8192) -> tuple[np.ndarray, list[str]]:
    """Return take 0 of every digit by each speaker, padded or cut to `samples`, and the digits."""
    import soundfile

    clips, labels = [], []
    for speaker in speakers:
        for digit in DIGITS:
            audio, rate = soundfile.read(FSDD / digit / f"{digit}_{speaker}_0.wav", dtype="float32")
            assert rate == 8000
            clips.append(np.pad(audio[:samples], (0, max(0, samples - len(audio)))))
            labels.append(digit)
    return np.stack(clips), labels


@pytest.mark.skipif(not FSDD.is_dir(), reason=f"{FSDD} is absent")
def test_real_digits_are_heard_and_wrong_labels_are_not(recogniser):
    clips, labels = fsdd_clips(("jackson", "theo"))
    result = intelligibility(clips, 8000, labels)
    assert result["n"] == 20 and result["chance"] == 0.1
    assert result["accuracy"] >= 0.7, result["heard"]
    assert result["recogniser"].startswith("pocketsphinx 5.")
    confusion = result["confusion"]
    assert confusion["rows"] == DIGITS
    assert (
        confusion["columns"][:3] == ["zero", "one", "two"] and confusion["columns"][-1] == "nothing"
    )
    assert np.asarray(confusion["counts"]).shape == (10, 11)
    assert np.trace(np.asarray(confusion["counts"])[:, :10]) == round(20 * result["accuracy"])
    assert set(result["per_label"]) == set(DIGITS)
    # the same clips asked for another digit: the recogniser hears what they say, not the ask
    shifted = [str((int(label) + 5) % 10) for label in labels]
    wrong = intelligibility(clips, 8000, shifted)
    assert wrong["heard"] == result["heard"]  # one decoder, no dither: deterministic
    assert wrong["accuracy"] <= 0.15


@pytest.mark.skipif(not FSDD.is_dir(), reason=f"{FSDD} is absent")
def test_the_grammar_holds_every_label_of_the_dataset_not_only_those_asked(recogniser):
    clips, labels = fsdd_clips(("jackson", "theo"))
    few = [i for i, label in enumerate(labels) if label in ("6", "8")]
    alone = intelligibility(clips[few], 8000, [labels[i] for i in few])
    whole = intelligibility(clips[few], 8000, [labels[i] for i in few], all_labels=DIGITS)
    assert "grammar of 2 words" in alone["recogniser"] and alone["chance"] == 0.5
    assert "grammar of 10 words" in whole["recogniser"] and whole["chance"] == 0.1
    assert whole["confusion"]["columns"][:10] == DIGIT_WORDS
    assert set(whole["heard"]) - {None} <= set(DIGIT_WORDS)


def test_silence_and_white_noise_are_heard_as_nothing(recogniser):
    rng = np.random.default_rng(0)
    silence = np.zeros((3, 8000), dtype=np.float32)
    noise = rng.standard_normal((5, 8000)).astype(np.float32) * np.geomspace(0.01, 0.3, 5)[:, None]
    result = intelligibility(
        np.concatenate([silence, noise]), 8000, ["1", "7", "9"] * 2 + ["3", "4"]
    )
    assert result["heard"] == [None] * 8
    assert result["accuracy"] == 0.0 and result["nothing"] == 1.0
    counts = np.asarray(result["confusion"]["counts"])
    assert counts[:, -1].sum() == 8 and counts[:, :-1].sum() == 0
    assert result["confusion"]["rows"] == ["1", "3", "4", "7", "9"]


def test_words_for_labels_maps_digits_dictionary_words_and_given_words(recogniser, tmp_path):
    assert words_for_labels(["3", "0", "3"]) == {"0": "zero", "3": "three"}
    assert words_for_labels(["Yes", "no"]) == {"Yes": "yes", "no": "no"}
    given = {"up_arrow": "up", "0": "oh"}
    assert words_for_labels(["up_arrow", "0", "1"], given) == {
        "0": "oh",
        "1": "one",
        "up_arrow": "up",
    }
    csv_file = tmp_path / "words.csv"
    csv_file.write_text("label,word\nkick,drum\nsnare,Snare\n")
    assert words_for_labels(["kick", "snare"], csv_file) == {"kick": "drum", "snare": "snare"}
    json_file = tmp_path / "words.json"
    json_file.write_text(json.dumps({"a": "alpha"}))
    assert words_for_labels(["a"], str(json_file)) == {"a": "alpha"}


def test_labels_without_a_word_skip_with_one_line_naming_them(recogniser):
    reason = words_for_labels(["0", "kick_03", "hat?"])
    assert isinstance(reason, str) and "\n" not in reason
    assert "'hat?'" in reason and "'kick_03'" in reason and "'0'" not in reason
    reason = words_for_labels(["0", "x"], {"x": "qwzzyx"})
    assert "'x' -> 'qwzzyx'" in reason and "dictionary" in reason
    result = intelligibility(np.zeros((2, 800), np.float32), 8000, ["0", "kick_03"])
    assert set(result) == {"skipped"} and "'kick_03'" in result["skipped"]


def test_a_words_file_that_is_not_label_word_is_a_sonogen_error(tmp_path):
    bad = tmp_path / "words.csv"
    bad.write_text("0,zero\n1\n")
    with pytest.raises(SonogenError, match=r"words\.csv: line 2 is not label,word"):
        words_for_labels(["0", "1"], bad)
    with pytest.raises(SonogenError, match="missing.json: cannot read"):
        words_for_labels(["0"], tmp_path / "missing.json")


def test_without_pocketsphinx_the_metric_is_skipped_with_its_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)  # import pocketsphinx -> ImportError
    result = intelligibility(np.zeros((2, 800), np.float32), 8000, ["0", "1"])
    assert result == {"skipped": "pocketsphinx is not installed; pip install sonogen[speech]"}
    assert words_for_labels(["0"]) == NOT_INSTALLED


def test_no_speech_turns_the_recogniser_off_with_one_line(tmp_path):
    # drum kits have dictionary-word labels ("kick", "snare"): --no-speech keeps the
    # recogniser off them; it never starts, so neither side has a score
    from types import SimpleNamespace

    from sonogen.evaluation.suite import _score_intelligibility

    info = SimpleNamespace(labels=["kick", "snare"], sample_rate=16000)
    heldout: dict = {}
    result = _score_intelligibility(info, None, None, False, heldout, None)
    assert result == {"skipped": "intelligibility skipped: turned off (--no-speech)"}
    assert heldout == {}
    from typer.testing import CliRunner

    from sonogen.cli import app

    for command in ("evaluate", "compare"):
        shown = CliRunner().invoke(app, [command, "--help"], terminal_width=200).output
        assert "--no-speech" in shown
