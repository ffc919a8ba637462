"""The classifier's voice augmentation (known answers on tones) and its group-disjoint accuracy."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from sonogen.data.prepare import write_dataset
from sonogen.evaluation.classifier import (
    CONFIG_NAME,
    Augmentation,
    ClassifierConfig,
    ClassifierNetwork,
    _augment,
    _mel_power,
    _white_noise_mel_shape,
    add_noise,
    equalise,
    group_fold,
    load_classifier,
    mel_bin_frequencies,
    random_eq_db,
    train_classifier,
    warp_mel_power,
)

SAMPLE_RATE = 8000
CONFIG = ClassifierConfig.for_sample_rate(SAMPLE_RATE)
SAMPLES = 8192


def tone_power(frequency: float, seconds: float = 0.5, level: float = 0.5) -> torch.Tensor:
    """Return the mel power [1, n_mels, frames] of a sine that lasts `seconds` from the start."""
    t = np.arange(SAMPLES) / SAMPLE_RATE
    wave = level * np.sin(2 * np.pi * frequency * t) * (t < seconds)
    clips = np.round(wave * 32767).astype(np.int16)[None]
    return _mel_power(clips, np.array([0]), SAMPLE_RATE, CONFIG)


def peak_hz(power: torch.Tensor) -> float:
    """Return the tone's frequency read from the mel spectrum: the power-weighted mean of the
    centre frequencies of the peak bin and its two neighbours."""
    spectrum = power[0].mean(dim=1).double()
    top = int(spectrum.argmax())
    near = slice(top - 1, top + 2)
    centres = mel_bin_frequencies(SAMPLE_RATE, CONFIG)
    return float((spectrum[near] * centres[near]).sum() / spectrum[near].sum())


def sounding_frames(power: torch.Tensor) -> int:
    energy = power[0].sum(dim=0)
    return int((energy > energy.max() * 0.01).sum())


@pytest.mark.parametrize("ratio", [0.9, 1.1])
def test_speed_perturbation_moves_a_tone_by_its_ratio(ratio):
    original = tone_power(500.0)
    faster = warp_mel_power(
        original, torch.tensor([ratio]), torch.tensor([ratio]), SAMPLE_RATE, CONFIG
    )
    # the pitch: within 2% of 500 * ratio, and where a real tone at that pitch peaks
    assert peak_hz(faster) == pytest.approx(500.0 * ratio, rel=0.02)
    assert peak_hz(faster) == pytest.approx(peak_hz(tone_power(500.0 * ratio)), rel=0.02)
    assert abs(peak_hz(original) - 500.0) < 0.02 * 500  # the reading itself is right
    # the duration: 0.5 s becomes 0.5 / ratio (a frame is 16 ms)
    assert sounding_frames(faster) == pytest.approx(sounding_frames(original) / ratio, abs=1.5)
    # a pitch shift alone leaves the duration; a tempo change alone leaves the pitch
    pitch = warp_mel_power(
        original, torch.tensor([ratio]), torch.tensor([1.0]), SAMPLE_RATE, CONFIG
    )
    assert sounding_frames(pitch) == sounding_frames(original)
    tempo = warp_mel_power(
        original, torch.tensor([1.0]), torch.tensor([ratio]), SAMPLE_RATE, CONFIG
    )
    assert peak_hz(tempo) == pytest.approx(peak_hz(original), rel=1e-6)


def test_unit_ratios_leave_the_spectrogram_as_it_was():
    power = tone_power(700.0)
    same = warp_mel_power(power, torch.ones(1), torch.ones(1), SAMPLE_RATE, CONFIG)
    torch.testing.assert_close(same, power, rtol=1e-4, atol=1e-6)


def test_eq_gain_and_noise_change_the_features_by_the_asked_amount():
    power = tone_power(500.0).repeat(2, 1, 1) + 1e-6  # no cell exactly silent
    gains = torch.zeros(2, CONFIG.n_mels)
    gains[0, 10] = 6.0
    gains[1] = -3.0  # a plain gain
    out = equalise(power, gains)
    ratio_db = 10 * torch.log10(out / power)
    assert float(ratio_db[0, 10].mean()) == pytest.approx(6.0, abs=1e-3)
    assert float(ratio_db[0, 11].abs().max()) < 1e-3
    assert float(ratio_db[1].mean()) == pytest.approx(-3.0, abs=1e-3)

    shape = _white_noise_mel_shape(SAMPLE_RATE, CONFIG)
    assert float(shape.mean()) == pytest.approx(1.0)
    noisy = add_noise(power, torch.tensor([10.0, 30.0]), shape)
    added = (noisy - power).mean(dim=(1, 2)) / power.mean(dim=(1, 2))
    torch.testing.assert_close(added, torch.tensor([0.1, 0.001]), rtol=1e-4, atol=0)

    curves = random_eq_db(64, CONFIG.n_mels, 6.0, torch.Generator().manual_seed(0))
    assert curves.abs().max() <= 12.0 and curves.std() > 1.0


def test_utterance_normalisation_removes_gain_and_a_fixed_eq():
    torch.manual_seed(0)
    network = ClassifierNetwork(CONFIG, SAMPLE_RATE, 2)
    # half a second of noise, then silence: every sounding cell is far above the clip's floor
    rng = np.random.default_rng(0)
    wave = np.zeros(SAMPLES)
    wave[: SAMPLES // 2] = rng.normal(0, 0.1, SAMPLES // 2)
    clips = np.round(wave * 32767).astype(np.int16)[None]
    power = _mel_power(clips, np.array([0]), SAMPLE_RATE, CONFIG)
    eq = torch.linspace(-6.0, 6.0, CONFIG.n_mels).unsqueeze(0) - 4.0  # a tilt and -4 dB
    before = network.utterance_normalise(torch.log(power + CONFIG.eps))
    after = network.utterance_normalise(torch.log(equalise(power, eq) + CONFIG.eps))
    sounding = slice(2, 28)  # frames well inside the noise (16 ms each)
    torch.testing.assert_close(after[..., sounding], before[..., sounding], rtol=0, atol=1e-3)
    # without the normalisation the EQ is there in full
    raw = torch.log(equalise(power, eq) + CONFIG.eps) - torch.log(power + CONFIG.eps)
    assert float(raw[0, -1, sounding].mean()) == pytest.approx(2.0 * math.log(10) / 10, abs=1e-3)


def test_augmentation_follows_the_seed_and_changes_its_input():
    torch.manual_seed(0)
    network = ClassifierNetwork(CONFIG, SAMPLE_RATE, 2)
    power = torch.cat([tone_power(f) for f in (300.0, 500.0, 900.0, 1500.0)])
    shape = _white_noise_mel_shape(SAMPLE_RATE, CONFIG)

    def run(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        return _augment(power, network, torch.Generator().manual_seed(seed), shape, Augmentation())

    first, first_mask = run(0)
    again, again_mask = run(0)
    other, _ = run(1)
    assert torch.equal(first, again) and torch.equal(first_mask, again_mask)
    assert not torch.equal(first, other)
    plain = torch.log(power + CONFIG.eps)
    assert float((first - plain).abs().mean()) > 0.5  # every clip was changed
    assert first_mask.any() and not first_mask.all()


# ---------------------------------------------------------------------------------------------
# group-disjoint accuracy on a synthetic dataset: three "speakers" (a pitch each) saying two
# "words" (a rising or a falling glide)

GROUPS = ("ann", "ben", "cid")
BASE_HZ = {"ann": 300.0, "ben": 420.0, "cid": 560.0}
WORDS = ("down", "up")
SHORT = 2048


def glide(word: str, base_hz: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    sweep = np.linspace(1.0, 1.8, SHORT) if word == "up" else np.linspace(1.8, 1.0, SHORT)
    frequency = base_hz * rng.uniform(0.97, 1.03) * sweep
    phase = 2 * np.pi * np.cumsum(frequency) / SAMPLE_RATE
    wave = sum(np.sin(k * phase) / k for k in (1, 2, 3))
    return (rng.uniform(0.3, 0.6) * wave / 1.84).astype(np.float32)


def make_group_dataset(out: Path, groups: tuple[str, ...] = GROUPS, per_word: int = 8) -> Path:
    clips, items = [], []
    for group in groups:
        for word in WORDS:
            for take in range(per_word):
                clips.append(glide(word, BASE_HZ[group], seed=len(items)))
                items.append(
                    {
                        "index": len(items),
                        "file": f"{word}_{group}_{take}.wav",
                        "offset_seconds": 0.0,
                        "label": word,
                        "split": "valid" if take < 2 else "train",
                        "group": group,
                    }
                )
    write_dataset(
        out,
        np.stack(clips),
        items,
        sample_rate=SAMPLE_RATE,
        clip_samples=SHORT,
        labels=list(WORDS),
        source="glides",
        skipped=[],
        options={},
    )
    return out


FAST = {"max_epochs": 6, "batch_size": 8}


def test_group_fold_tests_only_on_a_group_never_trained_on(tmp_path, one_thread):
    path = make_group_dataset(tmp_path / "glides")
    fold = group_fold(path, "cid", seed=0, **FAST)
    files = [f"{w}_{g}_{t}.wav" for g in GROUPS for w in WORDS for t in range(8)]
    held = {i for i, name in enumerate(files) if "_cid_" in name}
    assert set(fold.test_indices.tolist()) == held  # every clip of cid, train and valid
    assert not set(fold.train_indices.tolist()) & held
    trained = {files[i].split("_")[1] for i in fold.train_indices}
    assert trained == {"ann", "ben"}
    assert all(int(files[i].split("_")[2][0]) >= 2 for i in fold.train_indices)  # train split
    assert fold.epochs == 6 and 0.0 <= fold.accuracy <= 1.0
    # a new voice saying the same glides: the augmented, normalised classifier hears the words
    assert fold.accuracy >= 0.8


def test_train_classifier_reports_group_accuracy_and_how(tmp_path, one_thread):
    path = make_group_dataset(tmp_path / "glides")
    report = train_classifier(path, seed=0, group_folds=2, **FAST)
    assert [fold.group for fold in report.group_folds] == sorted(
        {fold.group for fold in report.group_folds}, key=[f.group for f in report.group_folds].index
    )
    assert len(report.group_folds) == 2
    mean = float(np.mean([fold.accuracy for fold in report.group_folds]))
    assert report.group_accuracy == pytest.approx(mean)
    assert report.group_note.startswith("held out 2 of 3 groups (")
    saved = json.loads((path / CONFIG_NAME).read_text())
    assert saved["group_accuracy"] == pytest.approx(mean)
    assert [fold["test_clips"] for fold in saved["group_folds"]] == [16, 16]
    loaded = load_classifier(path)
    assert loaded.group_accuracy == pytest.approx(mean)
    assert loaded.group_note == report.group_note


def test_one_group_falls_back_to_the_random_split_and_says_so(tmp_path, one_thread, caplog):
    path = make_group_dataset(tmp_path / "one", groups=("ann",), per_word=6)
    with caplog.at_level("INFO", logger="sonogen.evaluation.classifier"):
        report = train_classifier(path, seed=0, max_epochs=1, batch_size=4)
    assert report.group_accuracy is None and report.group_folds == ()
    assert report.group_note == (
        "one group only (ann): no group-disjoint split possible; accuracy on the random valid "
        "split only"
    )
    assert "one group only (ann)" in caplog.text
    assert not math.isnan(report.accuracy)
    assert load_classifier(path).group_note == report.group_note


def test_mixup_mixes_inputs_and_labels_with_one_weight():
    """Mixup blends each clip with one other of the batch, features and one-hot labels by the
    same weight (so a mixed label says how much of each clip is in it); alpha 0 changes nothing."""
    from sonogen.evaluation.classifier import _mixup

    inputs = torch.arange(4.0).view(4, 1, 1).expand(4, 3, 5).clone()
    targets = torch.nn.functional.one_hot(torch.arange(4), 4).float()
    same = _mixup(inputs, targets, 0.0, torch.Generator().manual_seed(0))
    assert same[0] is inputs and same[1] is targets
    mixed, labels = _mixup(inputs, targets, 0.4, torch.Generator().manual_seed(0))
    assert torch.allclose(labels.sum(dim=1), torch.ones(4))
    # a clip's mixed value is the label-weighted mean of the clips' values 0..3
    expected = labels @ torch.arange(4.0)
    assert torch.allclose(mixed[:, 0, 0], expected, atol=1e-6)
    assert torch.allclose(mixed, mixed[:, :1, :1].expand(4, 3, 5))
    again = _mixup(inputs, targets, 0.4, torch.Generator().manual_seed(0))
    assert torch.equal(again[0], mixed)
