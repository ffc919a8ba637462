"""The dataset classifier: learns labelled tones, reloads, spots stale and damaged files."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import make_tone_dataset, tone_clips

from sonogen.data.dataset import label_indices, open_dataset, read_clips, split_indices
from sonogen.data.prepare import write_dataset
from sonogen.errors import SonogenError
from sonogen.evaluation.classifier import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    Classifier,
    load_classifier,
    load_or_train_classifier,
    train_classifier,
)

SAMPLE_RATE = 8000
CLIP_SAMPLES = 2048
LABELS = ("low", "mid", "high")
FREQUENCIES = (250.0, 500.0, 1000.0)
FAST = {"max_epochs": 12, "batch_size": 16}


def make_three_tone_dataset(out: Path, per_label: int = 24, split: bool = True) -> Path:
    """Write a dataset dir of 3 labels (tones at 250, 500 and 1000 Hz); every 4th clip is valid."""
    clips = np.concatenate(
        [
            tone_clips(per_label, CLIP_SAMPLES, SAMPLE_RATE, frequency, seed=i)
            for i, frequency in enumerate(FREQUENCIES)
        ]
    )
    names = [label for label in LABELS for _ in range(per_label)]
    items = [
        {
            "index": i,
            "file": f"tone_{i}.wav",
            "offset_seconds": 0.0,
            "label": names[i],
            "split": "valid" if split and i % 4 == 3 else "train",
        }
        for i in range(len(names))
    ]
    write_dataset(
        out,
        clips,
        items,
        sample_rate=SAMPLE_RATE,
        clip_samples=CLIP_SAMPLES,
        labels=sorted(LABELS),
        source="test tones",
        skipped=[],
        options={},
    )
    return out


def valid_audio(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Return the valid clips float32 [n, samples] and their label indices [n]."""
    info = open_dataset(path)
    indices = split_indices(info, "valid")
    audio = np.asarray(read_clips(info)[indices], np.float32) / 32767.0
    return audio, label_indices(info)[indices]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, object, list]:
    """A three-tone dataset with its classifier trained; (path, report, progress calls)."""
    path = make_three_tone_dataset(tmp_path_factory.mktemp("classifier") / "tones")
    calls = []
    report = train_classifier(path, seed=0, progress=lambda *args: calls.append(args), **FAST)
    return path, report, calls


def copy_dataset(path: Path, tmp_path: Path) -> Path:
    """Copy a dataset dir with its classifier; copy2 keeps sizes and mtimes, so it stays fresh."""
    return Path(shutil.copytree(path, tmp_path / "copy"))


def test_learns_tones_to_high_held_out_accuracy(trained):
    path, report, calls = trained
    assert report.accuracy >= 0.9
    assert report.train_clips == 54 and report.valid_clips == 18
    assert set(report.per_class_accuracy) == set(LABELS)
    assert min(report.per_class_accuracy.values()) >= 0.8
    assert report.epochs == FAST["max_epochs"] and report.seconds > 0
    assert report.path == path / WEIGHTS_NAME and report.path.is_file()
    # progress: once per epoch, with the metrics of that epoch
    assert [call[:2] for call in calls] == [(e, 12) for e in range(1, 13)]
    assert calls[-1][2]["valid_accuracy"] == pytest.approx(report.accuracy)
    assert calls[-1][2]["loss"] < calls[0][2]["loss"]
    saved = json.loads((path / CONFIG_NAME).read_text())
    assert saved["labels"] == sorted(LABELS)
    assert saved["sample_rate"] == SAMPLE_RATE and saved["clip_samples"] == CLIP_SAMPLES
    assert saved["accuracy"] == pytest.approx(report.accuracy)
    assert saved["epochs"] == 12 and saved["dataset"]["count"] == 72
    assert saved["config"]["n_fft"] == 512 and saved["config"]["hop_length"] == 128


def test_predictions_on_audio_match_the_accuracy_measured_in_training(trained):
    # training works on cached spectrograms, inference on audio: the two paths must agree
    path, report, _ = trained
    classifier = load_classifier(path)
    audio, labels = valid_audio(path)
    assert np.mean(classifier.predict(audio) == labels) == pytest.approx(report.accuracy)


def test_probabilities_embed_and_predict_shapes(trained):
    path, _, _ = trained
    classifier = load_classifier(path)
    audio, _ = valid_audio(path)
    probabilities = classifier.probabilities(audio, batch_size=5)  # several batches
    assert probabilities.shape == (18, 3) and probabilities.dtype == np.float64
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-12)
    assert (probabilities >= 0).all()
    np.testing.assert_array_equal(classifier.predict(audio), probabilities.argmax(axis=1))
    embedding = classifier.embed(audio)
    assert embedding.shape == (18, classifier.embedding_dim) and embedding.dtype == np.float64
    assert (embedding >= 0).all() and embedding.std(axis=0).max() > 0
    assert classifier.probabilities(audio[:0]).shape == (0, 3)
    with pytest.raises(SonogenError, match=r"audio: expected clips \[n, samples\]"):
        classifier.probabilities(audio[0])


def test_other_lengths_are_centre_cropped_or_zero_padded(trained):
    path, _, _ = trained
    classifier = load_classifier(path)
    audio, _ = valid_audio(path)
    longer = np.pad(audio, ((0, 0), (300, 300)), constant_values=0.5)
    np.testing.assert_allclose(classifier.embed(longer), classifier.embed(audio), rtol=1e-5)
    shorter = audio[:, :-500]
    padded = audio.copy()
    padded[:, -500:] = 0.0
    np.testing.assert_allclose(classifier.embed(shorter), classifier.embed(padded), rtol=1e-5)


def test_save_then_load_gives_identical_outputs(trained, tmp_path):
    path, report, _ = trained
    copy = copy_dataset(path, tmp_path)
    from_train = load_or_train_classifier(path)  # fresh: reused, not retrained
    assert (path / WEIGHTS_NAME).stat().st_mtime_ns == report.path.stat().st_mtime_ns
    loaded = load_classifier(copy)
    assert isinstance(loaded, Classifier) and loaded.labels == sorted(LABELS)
    assert loaded.sample_rate == SAMPLE_RATE and loaded.clip_samples == CLIP_SAMPLES
    assert loaded.cache_key == from_train.cache_key != ""
    audio, _ = valid_audio(path)
    np.testing.assert_array_equal(loaded.probabilities(audio), from_train.probabilities(audio))
    np.testing.assert_array_equal(loaded.embed(audio), from_train.embed(audio))


def test_stale_dataset_is_detected_and_retrained(trained, tmp_path):
    copy = copy_dataset(trained[0], tmp_path)
    assert load_classifier(copy) is not None
    audio_file = copy / "audio.npy"
    stat = audio_file.stat()
    os.utime(audio_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # re-prepared
    assert load_classifier(copy) is None
    before = json.loads((copy / CONFIG_NAME).read_text())["weights_sha256"]
    retrained = load_or_train_classifier(copy, max_epochs=2, batch_size=16, seed=1)
    saved = json.loads((copy / CONFIG_NAME).read_text())
    assert saved["epochs"] == 2 and saved["weights_sha256"] != before
    assert saved["dataset"]["audio.npy"][1] == audio_file.stat().st_mtime_ns
    assert load_classifier(copy).cache_key == retrained.cache_key


def test_missing_classifier_gives_none(tmp_path):
    assert load_classifier(make_three_tone_dataset(tmp_path / "tones", per_label=4)) is None


def test_damaged_files_raise_sonogen_error(trained, tmp_path):
    copy = copy_dataset(trained[0], tmp_path)
    weights = copy / WEIGHTS_NAME
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF  # one byte of the last tensor
    weights.write_bytes(bytes(data))
    with pytest.raises(SonogenError, match=r"classifier\.safetensors: the weights do not match"):
        load_classifier(copy)
    with pytest.raises(SonogenError, match="sonogen classifier train"):
        load_or_train_classifier(copy)
    weights.write_bytes(bytes(data[:100]))  # cut short
    with pytest.raises(SonogenError, match="not a readable safetensors file"):
        load_classifier(copy)
    (copy / CONFIG_NAME).write_text("{not json", encoding="utf-8")
    with pytest.raises(SonogenError, match=r"classifier\.json: unreadable"):
        load_classifier(copy)


def test_unlabelled_dataset_is_refused(tmp_path):
    path = make_tone_dataset(tmp_path / "plain")
    with pytest.raises(SonogenError) as error:
        train_classifier(path)
    message = str(error.value)
    assert str(path) in message and "has no labels" in message and "--labels folder" in message


def test_dataset_without_valid_clips_is_refused(tmp_path):
    path = make_three_tone_dataset(tmp_path / "tones", per_label=4, split=False)
    with pytest.raises(
        SonogenError, match=r"tones: the 'valid' split has no labelled clips.*--split"
    ):
        train_classifier(path)


def test_bad_options_are_refused(tmp_path):
    path = make_three_tone_dataset(tmp_path / "tones", per_label=4)
    with pytest.raises(SonogenError, match="--max-epochs 0: must be a whole number"):
        train_classifier(path, max_epochs=0)
    with pytest.raises(SonogenError, match="--max-minutes -1: must be a positive number"):
        train_classifier(path, max_minutes=-1)


def test_time_budget_shortens_training(tmp_path):
    path = make_three_tone_dataset(tmp_path / "tones", per_label=8)
    report = train_classifier(path, max_minutes=1e-6, max_epochs=50, batch_size=4)
    assert report.epochs == 1  # the first epoch always runs; then the budget is spent
    assert json.loads((path / CONFIG_NAME).read_text())["epochs"] == 1


def test_same_seed_gives_same_weights(tmp_path, monkeypatch):
    path = make_three_tone_dataset(tmp_path / "tones", per_label=8)

    def digest(seed: int) -> str:
        train_classifier(path, seed=seed, max_epochs=3, batch_size=4)
        return json.loads((path / CONFIG_NAME).read_text())["weights_sha256"]

    first = digest(0)
    assert digest(0) == first
    assert digest(1) != first
