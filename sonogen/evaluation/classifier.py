"""The dataset classifier: a small CNN on log-mel features of a labelled dataset dir.

Its softmax gives the Inception Score of generated clips and its penultimate layer is an embedding
(DESIGN.md, Evaluation). `train_classifier` fits it on the dataset's "train" split, measures it on
the "valid" split and saves it next to the data, as `classifier.safetensors` (weights, with a
checksum) and `classifier.json` (architecture, features, labels, accuracy and a fingerprint of
the dataset files). `load_or_train_classifier` reuses that pair while the dataset is unchanged and
trains a new one otherwise: that is what `sonogen evaluate` calls.

The judge must hear what is said, not who says it or through what microphone (DESIGN.md). So
each clip's log-mel is normalised per clip (floored 60 dB below its peak, each bin's mean over the
active frames removed: a fixed EQ or gain leaves no trace), and training varies what a new voice
or recording changes (`Augmentation`): frequency and time warps of the mel power spectrogram
(speed perturbation, pitch/formant shift, tempo; warping the mel spectrogram stands in for
resampling the waveform at a fraction of the cost), noise at a random SNR, a random EQ, gain, a
time shift and SpecAugment masks. Mel spectrograms are computed once at the start.

Where the dataset has recording groups (items.csv's group column: FSDD's speakers, a CSV's
sessions), `train_classifier` first holds out `group_folds` groups in turn (one by default, drawn
by the seed): a classifier trained on the other groups' train split is measured on every clip of
the held-out group. That accuracy on voices never heard is `group_accuracy` (with `group_note`
saying how it was measured) in classifier.json and on the loaded `Classifier`; then the final
classifier is trained on the whole train split. Each training gets `max_minutes`, so with groups
the first `sonogen evaluate` against a dataset trains twice. With one group or none there is no
group-disjoint split; the note says so and only the random valid split's accuracy exists.

Training sees every clip once per epoch, in an order drawn from the seed. The learning rate warms
up over the first epoch and follows a cosine to zero over the planned epochs; the weights of the
last epoch are kept, so the held-out accuracy reported was never used to choose them. With
enough time for `max_epochs` the result depends only on the seed (on one machine); when
`max_minutes` would run out first, the plan is shortened to the epochs that fit.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sonogen.audio.features import log_mel_spectrogram, mel_filterbank, mel_spectrogram
from sonogen.audio.pcm import pcm16_to_float
from sonogen.data.dataset import (
    DatasetInfo,
    label_indices,
    open_dataset,
    read_clips,
    read_items,
    split_indices,
)
from sonogen.errors import SonogenError
from sonogen.models.base import read_weights, save_weights, weights_digest

log = logging.getLogger(__name__)

WEIGHTS_NAME = "classifier.safetensors"
CONFIG_NAME = "classifier.json"
FORMAT_VERSION = 2  # 2: utterance-normalised log-mel, voice augmentation, group accuracy
FEATURE_BATCH_CLIPS = 256  # clips per batch when computing spectrograms or running the network

Progress = Callable[[int, int, dict[str, float]], None]


# --------------------------------------------------------------------------------------------
# the network


@dataclass(frozen=True)
class ClassifierConfig:
    """Feature and architecture settings; everything needed to rebuild the network.

    Features: the log-mel spectrogram of `sonogen.audio.features.log_mel_spectrogram` with
    `n_fft`, `hop_length`, `n_mels`, `fmin`, `fmax` (Hz) and `eps`, floored `top_db` below each
    clip's loudest cell (so the clip's level does not move its floor) and, with `mean_normalise`,
    less each mel bin's mean over the clip's active frames (within `active_db` of its loudest
    frame): cepstral mean normalisation, which removes a fixed channel (microphone, EQ, gain) and
    some of the speaker's spectral colour. Network: one block per entry
    of `channels` (3x3 convolution, BatchNorm, ReLU, 2x2 max pooling), global average pooling, a
    linear layer of `embedding_dim` units with ReLU (the embedding), dropout, a linear layer to
    the classes.
    """

    n_fft: int = 512
    hop_length: int = 128
    n_mels: int = 64
    fmin: float = 0.0
    fmax: float | None = None
    eps: float = 1e-10
    top_db: float = 60.0
    active_db: float = 30.0
    mean_normalise: bool = True
    channels: tuple[int, ...] = (16, 32, 64, 128)
    embedding_dim: int = 128
    dropout: float = 0.3

    @classmethod
    def for_sample_rate(cls, sample_rate: int) -> ClassifierConfig:
        """Return the default settings for audio at `sample_rate` Hz: windows of about 64 ms
        (a power of two: 512 samples at 8 kHz, 1024 at 16 kHz), hops of a quarter window."""
        n_fft = 2 ** max(6, round(math.log2(0.064 * sample_rate)))
        return cls(n_fft=n_fft, hop_length=n_fft // 4)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ClassifierConfig:
        values = dict(values)
        values["channels"] = tuple(int(c) for c in values["channels"])
        return cls(**values)


class ClassifierNetwork(nn.Module):
    """The CNN: audio [batch, samples] -> logits [batch, classes].

    The log-mel input is normalised with the training set's mean and standard deviation per mel
    bin, kept in the buffers `mel_mean` and `mel_std` ([n_mels, 1]) so they travel with the
    weights.
    """

    def __init__(self, config: ClassifierConfig, sample_rate: int, num_classes: int):
        super().__init__()
        self.config = config
        self.sample_rate = sample_rate
        blocks: list[nn.Module] = []
        in_channels = 1
        for out_channels in config.channels:
            blocks += [
                nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True),
                # ceil_mode: a side of 1 stays 1, so short clips (few frames) still fit
                nn.MaxPool2d(2, ceil_mode=True),
            ]
            in_channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.embedding = nn.Linear(in_channels, config.embedding_dim)
        self.dropout = nn.Dropout(config.dropout)
        self.output = nn.Linear(config.embedding_dim, num_classes)
        self.register_buffer("mel_mean", torch.zeros(config.n_mels, 1))
        self.register_buffer("mel_std", torch.ones(config.n_mels, 1))

    def log_mel(self, audio: torch.Tensor) -> torch.Tensor:
        """Return the log-mel features [batch, n_mels, frames] of audio [batch, samples]."""
        c = self.config
        return log_mel_spectrogram(
            audio, self.sample_rate, c.n_fft, c.hop_length, c.n_mels, c.fmin, c.fmax, c.eps
        )

    def utterance_normalise(self, log_mel: torch.Tensor) -> torch.Tensor:
        """Return log-mel features [batch, n_mels, frames] floored and mean-normalised per clip."""
        c = self.config
        nepers = math.log(10.0) / 10.0  # one dB in natural-log units
        peak = log_mel.amax(dim=(1, 2), keepdim=True)
        floored = torch.maximum(log_mel, peak - c.top_db * nepers)
        if not c.mean_normalise:
            return floored
        energy = torch.logsumexp(floored, dim=1)  # [batch, frames]
        active = (energy >= energy.amax(dim=1, keepdim=True) - c.active_db * nepers).unsqueeze(1)
        mean = (floored * active).sum(dim=2, keepdim=True) / active.sum(dim=2, keepdim=True)
        return floored - mean

    def network_input(
        self, log_mel: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return the normalised features [batch, n_mels, frames] the convolutions see; where
        `mask` (bool, the features' shape) is True they are set to 0, their mean."""
        normalised = (self.utterance_normalise(log_mel) - self.mel_mean) / self.mel_std
        return normalised if mask is None else normalised.masked_fill(mask, 0.0)

    def embed_input(self, normalised: torch.Tensor) -> torch.Tensor:
        """Return the embedding [batch, embedding_dim] (after ReLU) of `network_input`'s output."""
        hidden = self.blocks(normalised.unsqueeze(1))
        return torch.relu(self.embedding(hidden.mean(dim=(2, 3))))

    def embed_log_mel(
        self, log_mel: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return the embedding [batch, embedding_dim] (after ReLU) of log-mel features."""
        return self.embed_input(self.network_input(log_mel, mask))

    def logits_of_input(self, normalised: torch.Tensor) -> torch.Tensor:
        """Return the logits [batch, classes] of `network_input`'s output."""
        return self.output(self.dropout(self.embed_input(normalised)))

    def logits_of_log_mel(
        self, log_mel: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return the logits [batch, classes] of log-mel features [batch, n_mels, frames]."""
        return self.logits_of_input(self.network_input(log_mel, mask))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.logits_of_log_mel(self.log_mel(audio))


# --------------------------------------------------------------------------------------------
# the trained classifier


@dataclass
class Classifier:
    """A trained dataset classifier, in eval mode: probabilities, embeddings and predictions.

    Audio goes in as float32 [n, samples] in [-1, 1] at `sample_rate`; clips of another length
    than `clip_samples` are centre-cropped or zero-padded (at the end, as prepare pads) to it.
    """

    network: ClassifierNetwork
    labels: list[str]
    sample_rate: int
    clip_samples: int
    accuracy: float | None = None
    weights_sha256: str = ""
    path: Path | None = None
    group_accuracy: float | None = None  # on recording groups never heard in training, or None
    group_note: str = ""  # how group_accuracy was measured, or why there is none
    name: str = field(default="classifier", init=False)

    @property
    def embedding_dim(self) -> int:
        return self.network.config.embedding_dim

    @property
    def cache_key(self) -> str:
        """A key that changes whenever the weights do (for caches of reference embeddings)."""
        return f"classifier-{self.weights_sha256[:16]}" if self.weights_sha256 else ""

    def probabilities(self, audio: np.ndarray, batch_size: int = FEATURE_BATCH_CLIPS) -> np.ndarray:
        """Return the softmax over labels, float64 [n, len(labels)] (rows sum to 1)."""
        logits = self._run(audio, batch_size, embed=False)
        return torch.softmax(torch.from_numpy(logits), dim=1).numpy()

    def embed(self, audio: np.ndarray, batch_size: int = FEATURE_BATCH_CLIPS) -> np.ndarray:
        """Return the penultimate layer's activations, float64 [n, embedding_dim]."""
        return self._run(audio, batch_size, embed=True)

    def predict(self, audio: np.ndarray, batch_size: int = FEATURE_BATCH_CLIPS) -> np.ndarray:
        """Return the most likely label index of each clip, int64 [n]."""
        return self._run(audio, batch_size, embed=False).argmax(axis=1).astype(np.int64)

    def _run(self, audio: np.ndarray, batch_size: int, embed: bool) -> np.ndarray:
        """Return float64 logits [n, classes] (or embeddings [n, dim]) of audio, in batches."""
        audio = np.asarray(audio)
        if audio.ndim != 2:
            raise SonogenError(
                f"audio: expected clips [n, samples], got an array of shape {audio.shape}; "
                "pass a 2-D array (one clip per row)"
            )
        if batch_size < 1:
            raise SonogenError(f"batch_size: must be 1 or more, got {batch_size}")
        audio = fit_length(audio.astype(np.float32, copy=False), self.clip_samples)
        width = self.embedding_dim if embed else len(self.labels)
        results = [np.zeros((0, width))]
        with torch.inference_mode():
            for start in range(0, len(audio), batch_size):
                batch = torch.from_numpy(np.ascontiguousarray(audio[start : start + batch_size]))
                log_mel = self.network.log_mel(batch)
                if embed:
                    out = self.network.embed_log_mel(log_mel)
                else:
                    out = self.network.logits_of_log_mel(log_mel)
                results.append(out.double().numpy())
        return np.concatenate(results)


def fit_length(audio: np.ndarray, samples: int) -> np.ndarray:
    """Return audio [n, samples]: longer clips centre-cropped, shorter ones end-zero-padded."""
    length = audio.shape[1]
    if length > samples:
        start = (length - samples) // 2
        return audio[:, start : start + samples]
    if length < samples:
        return np.pad(audio, ((0, 0), (0, samples - length)))
    return audio


@dataclass(frozen=True)
class ClassifierReport:
    """What a training made: where the weights went, held-out accuracy (overall and per label),
    clip counts, epochs trained and wall time in seconds; the accuracy on recording groups never
    heard in training (mean over `group_folds`; None without 2+ groups) and how it was measured."""

    path: Path
    accuracy: float
    per_class_accuracy: dict[str, float]
    train_clips: int
    valid_clips: int
    epochs: int
    seconds: float
    group_accuracy: float | None = None
    group_note: str = ""
    group_folds: tuple[GroupFold, ...] = ()


# --------------------------------------------------------------------------------------------
# training


def _open(dataset: str | Path | DatasetInfo) -> DatasetInfo:
    return dataset if isinstance(dataset, DatasetInfo) else open_dataset(dataset)


def _check_options(max_minutes: float, max_epochs: int, batch_size: int, learning_rate: float):
    if not (isinstance(max_minutes, (int, float)) and 0 < max_minutes < math.inf):
        raise SonogenError(f"--max-minutes {max_minutes}: must be a positive number")
    if isinstance(max_epochs, bool) or not isinstance(max_epochs, int) or max_epochs < 1:
        raise SonogenError(f"--max-epochs {max_epochs}: must be a whole number, 1 or more")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 2:
        raise SonogenError(f"--batch-size {batch_size}: must be a whole number, 2 or more")
    if not (isinstance(learning_rate, (int, float)) and 0 < learning_rate < math.inf):
        raise SonogenError(f"--learning-rate {learning_rate}: must be a positive number")


def _labelled_split(info: DatasetInfo, split: str, labels: np.ndarray) -> np.ndarray:
    indices = split_indices(info, split)
    return indices[labels[indices] >= 0]


@dataclass(frozen=True)
class Augmentation:
    """The ranges of what training varies in each clip: what a new voice or microphone changes.

    Applied to mel power spectrograms (computed once), per clip, in this order: a frequency warp
    by a factor from 1/`frequency_ratio` to `frequency_ratio` and a time warp by one from
    1/`time_ratio` to `time_ratio` (both log-uniform, independent: speed perturbation is the two
    together, pitch/formant shift and tempo each alone); with `noise_probability`, noise of a
    white spectrum at an SNR from `snr_db`; a random EQ (a tilt across the band and one bell, each
    up to +-`eq_db`); a gain of up to +-`gain_db`; a shift in time by up to `shift_fraction` of
    the frames (silence comes in at the edge); `masks` frequency bands and time spans of up to an
    eighth each, set to the normalised features' mean (SpecAugment). Then each batch is mixed
    with a shuffled copy of itself, features and one-hot labels alike, by a weight drawn from
    Beta(`mixup`, `mixup`) (mixup; 0 turns it off).
    """

    frequency_ratio: float = 1.15
    time_ratio: float = 1.15
    # noise often and strong, not too strong: FSDD leave-one-speaker-out mean 0.781 with noise on
    # half the clips at 15-40 dB SNR, 0.812 with this (nicolas, whose recordings keep a hiss, 0.41
    # -> 0.65); 0-30 dB helped nicolas more (0.72) but left a two-tone classifier unsure
    noise_probability: float = 0.8
    snr_db: tuple[float, float] = (5.0, 35.0)
    eq_db: float = 6.0
    gain_db: float = 6.0
    shift_fraction: float = 0.125
    masks: int = 2
    # mixup of the normalised features and labels of two clips (Beta(a, a) weights), most often of
    # two voices. Off: on FSDD leave-one-speaker-out, 0.4 lifted the hardest speaker (nicolas,
    # 0.65-0.69 -> 0.76) but cost the others (jackson 0.83 -> 0.78, theo 0.85 -> 0.78)
    mixup: float = 0.0


@dataclass(frozen=True)
class GroupFold:
    """One group-disjoint measurement: the group held out, the classifier's accuracy on its
    labelled clips (it was trained on the other groups' train split only), which dataset clips
    trained and tested it, epochs and seconds. `network` is the fold's classifier (eval mode)."""

    group: str
    accuracy: float
    train_indices: np.ndarray = field(repr=False)
    test_indices: np.ndarray = field(repr=False)
    epochs: int
    seconds: float
    network: ClassifierNetwork | None = field(default=None, repr=False, compare=False)


@dataclass
class _Features:
    """The labelled clips of a dataset, featurised once: mel power [n, n_mels, frames], label,
    dataset index, split and group ('' unknown) of each."""

    power: torch.Tensor
    labels: torch.Tensor
    indices: np.ndarray
    splits: np.ndarray
    groups: np.ndarray


@dataclass(frozen=True)
class _Plan:
    max_minutes: float
    max_epochs: int
    batch_size: int
    learning_rate: float
    augmentation: Augmentation


def train_classifier(
    dataset: str | Path | DatasetInfo,
    *,
    max_minutes: float = 5.0,
    max_epochs: int = 30,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
    seed: int = 0,
    group_folds: int = 1,
    augmentation: Augmentation | None = None,
    progress: Progress | None = None,
) -> ClassifierReport:
    """Train the classifier of a labelled dataset dir, save it there and return a report.

    Trains on the "train" split for up to `max_epochs` epochs of batches of `batch_size` clips
    (fewer for a dataset of under 8 batches: an eighth of its train clips), within
    `max_minutes` of wall time (spectrograms included), and measures accuracy on the "valid"
    split. Clips without a label are left out. When the dataset has two or more recording groups
    (items.csv's group column: speakers, kits), `group_folds` of them (drawn by the seed; 0 for
    none, more than there are for all) are first held out in turn: a classifier trained within
    `max_minutes` on the other groups' train clips is measured on the held-out group's clips, and
    the mean is the report's `group_accuracy`. `progress(epoch, epochs, metrics)` is called after
    every epoch with loss, train_accuracy and valid_accuracy (and `fold`, counting from 1, while a
    group is held out). Writes `classifier.safetensors` and `classifier.json` into the dataset
    dir, replacing any there.
    """
    info = _open(dataset)
    _check_options(max_minutes, max_epochs, batch_size, learning_rate)
    if isinstance(group_folds, bool) or not isinstance(group_folds, int) or group_folds < 0:
        raise SonogenError(f"--group-folds {group_folds}: must be a whole number, 0 or more")
    plan = _Plan(max_minutes, max_epochs, batch_size, learning_rate, augmentation or Augmentation())
    labels = _check_labelled(info)
    train_indices = _labelled_split(info, "train", labels)
    valid_indices = _labelled_split(info, "valid", labels)
    # taken before reading, so a dataset prepared again meanwhile makes this classifier stale
    fingerprint = dataset_fingerprint(info)
    config = ClassifierConfig.for_sample_rate(info.sample_rate)
    started = time.perf_counter()
    features = _featurise(info, labels, config)
    log.info("%s: classifier features in %.1f s", info.path, time.perf_counter() - started)

    held_out, group_note = _groups_to_hold_out(info, features, group_folds, seed)
    folds = []
    for number, group in enumerate(held_out, start=1):
        fold = group_fold(
            info, group, features=features, seed=seed, plan=plan, fold=number, progress=progress
        )
        folds.append(fold)
    group_accuracy = float(np.mean([fold.accuracy for fold in folds])) if folds else None

    train_rows = np.flatnonzero(features.splits == "train")
    valid_rows = np.flatnonzero(features.splits == "valid")
    final_started = time.perf_counter()
    network, valid_predictions, epoch = _fit(
        features, train_rows, valid_rows, info, config, plan, seed, final_started, progress, {}
    )
    valid_labels = features.labels[valid_rows].numpy()
    valid_accuracy = float(np.mean(valid_predictions == valid_labels))
    per_class = {
        name: float(np.mean(valid_predictions[valid_labels == i] == i))
        for i, name in enumerate(info.labels)
        if np.any(valid_labels == i)
    }
    seconds = time.perf_counter() - started
    state = {key: value.detach().clone() for key, value in network.state_dict().items()}
    digest = weights_digest(state)
    weights_path = info.path / WEIGHTS_NAME
    content = {
        "format_version": FORMAT_VERSION,
        "config": asdict(config),
        "augmentation": asdict(plan.augmentation),
        "labels": list(info.labels),
        "sample_rate": info.sample_rate,
        "clip_samples": info.clip_samples,
        "accuracy": valid_accuracy,
        "per_class_accuracy": per_class,
        "group_accuracy": group_accuracy,
        "group_note": group_note,
        "group_folds": [
            {
                "group": fold.group,
                "accuracy": fold.accuracy,
                "train_clips": len(fold.train_indices),
                "test_clips": len(fold.test_indices),
                "epochs": fold.epochs,
                "seconds": round(fold.seconds, 3),
            }
            for fold in folds
        ],
        "train_clips": len(train_indices),
        "valid_clips": len(valid_indices),
        "epochs": epoch,
        "seconds": round(seconds, 3),
        "seed": seed,
        "weights_sha256": digest,
        "dataset": fingerprint,
    }
    _save(info, state, content)
    log.info(
        "%s: classifier valid accuracy %.3f after %d epochs (%.0f s); group-disjoint: %s (%s)",
        weights_path,
        valid_accuracy,
        epoch,
        seconds,
        "none" if group_accuracy is None else f"{group_accuracy:.3f}",
        group_note,
    )
    return ClassifierReport(
        path=weights_path,
        accuracy=valid_accuracy,
        per_class_accuracy=per_class,
        train_clips=len(train_indices),
        valid_clips=len(valid_indices),
        epochs=epoch,
        seconds=seconds,
        group_accuracy=group_accuracy,
        group_note=group_note,
        group_folds=tuple(folds),
    )


def _check_labelled(info: DatasetInfo) -> np.ndarray:
    """Return each clip's label index after checking the dataset can train a classifier."""
    if not info.labels:
        raise SonogenError(
            f"{info.path}: the dataset has no labels, so no classifier can be trained on it; "
            "prepare it again with labels (`sonogen prepare SRC OUT --labels folder`, one "
            "sub-folder per label, or --labels csv:PATH)"
        )
    if len(info.labels) < 2:
        raise SonogenError(
            f"{info.path}: the dataset has one label ({info.labels[0]!r}); a classifier needs at "
            "least two; prepare it again from a source with two or more labels"
        )
    labels = label_indices(info)
    train_indices = _labelled_split(info, "train", labels)
    valid_indices = _labelled_split(info, "valid", labels)
    if len(valid_indices) == 0:
        raise SonogenError(
            f"{info.path}: the 'valid' split has no labelled clips, so the classifier's accuracy "
            "cannot be measured; prepare it again with a split (`--split 0.1`, or `--split fsdd` "
            "for the Free Spoken Digit Dataset)"
        )
    if len(train_indices) < 2:
        raise SonogenError(
            f"{info.path}: the 'train' split has {len(train_indices)} labelled clips; a "
            "classifier needs more; prepare it again with more labelled audio or a smaller --split"
        )
    missing = sorted(set(range(len(info.labels))) - set(labels[train_indices].tolist()))
    if missing:
        log.warning(
            "%s: no train clips for labels %s; the classifier will never predict them",
            info.path,
            ", ".join(info.labels[i] for i in missing),
        )
    return labels


def _featurise(info: DatasetInfo, labels: np.ndarray, config: ClassifierConfig) -> _Features:
    """Return the mel power spectrograms of every labelled clip, with their labels and groups."""
    rows = read_items(info)
    indices = np.flatnonzero(labels >= 0)
    return _Features(
        power=_mel_power(read_clips(info), indices, info.sample_rate, config),
        labels=torch.from_numpy(labels[indices]),
        indices=indices,
        splits=np.array([rows[i].get("split", "train") for i in indices]),
        groups=np.array([rows[i].get("group") or "" for i in indices], dtype=object),
    )


def _groups_to_hold_out(
    info: DatasetInfo, features: _Features, group_folds: int, seed: int
) -> tuple[list[str], str]:
    """Return (the groups to hold out in turn, drawn by the seed; the note that says how the
    group-disjoint accuracy is measured, or why there is none)."""
    known = sorted(set(features.groups.tolist()) - {""})
    if not known:
        note = "no groups in the dataset: accuracy on the random valid split only"
    elif len(known) == 1:
        note = (
            f"one group only ({known[0]}): no group-disjoint split possible; accuracy on the "
            "random valid split only"
        )
    elif group_folds == 0:
        note = f"not measured (group folds 0; {len(known)} groups)"
    else:
        order = np.random.default_rng(seed).permutation(len(known))
        chosen = [known[i] for i in order[: min(group_folds, len(known))]]
        unknown = int(np.sum(features.groups == ""))
        without = f"; {unknown} clips of unknown group left out" if unknown else ""
        if len(chosen) == len(known):
            note = f"leave-one-group-out over all {len(known)} groups, mean"
        else:
            note = f"held out {len(chosen)} of {len(known)} groups ({', '.join(chosen)})"
        note += f"; each trained on the other groups' train split{without}"
        return chosen, note
    log.info("%s: %s", info.path, note)
    return [], note


def group_fold(
    dataset: str | Path | DatasetInfo,
    group: str,
    *,
    seed: int = 0,
    max_minutes: float = 5.0,
    max_epochs: int = 30,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
    augmentation: Augmentation | None = None,
    features: _Features | None = None,
    plan: _Plan | None = None,
    fold: int = 1,
    progress: Progress | None = None,
) -> GroupFold:
    """Return the accuracy on `group`'s labelled clips of a classifier trained (not saved) on the
    train-split clips of the other known groups; clips of unknown group take no part."""
    info = _open(dataset)
    config = ClassifierConfig.for_sample_rate(info.sample_rate)
    if plan is None:
        _check_options(max_minutes, max_epochs, batch_size, learning_rate)
        plan = _Plan(
            max_minutes, max_epochs, batch_size, learning_rate, augmentation or Augmentation()
        )
    if features is None:
        features = _featurise(info, _check_labelled(info), config)
    started = time.perf_counter()
    test_rows = np.flatnonzero(features.groups == group)
    train_rows = np.flatnonzero(
        (features.splits == "train") & (features.groups != group) & (features.groups != "")
    )
    if len(test_rows) == 0 or len(train_rows) < 2:
        raise SonogenError(
            f"{info.path}: group {group!r} has {len(test_rows)} labelled clips and the other "
            f"groups {len(train_rows)} train clips; hold out a group of this dataset "
            f"(one of {', '.join(sorted(set(features.groups.tolist()) - {''}))})"
        )
    network, predictions, epochs = _fit(
        features,
        train_rows,
        test_rows,
        info,
        config,
        plan,
        seed + 7919 * fold,  # each fold its own seed, still a function of the run's seed
        started,
        progress,
        {"fold": float(fold)},
    )
    accuracy = float(np.mean(predictions == features.labels[test_rows].numpy()))
    seconds = time.perf_counter() - started
    log.info(
        "classifier: accuracy %.3f on held-out group %s (%d clips; trained on %d clips of the "
        "other groups, %d epochs, %.0f s)",
        accuracy,
        group,
        len(test_rows),
        len(train_rows),
        epochs,
        seconds,
    )
    return GroupFold(
        group=group,
        accuracy=accuracy,
        train_indices=features.indices[train_rows],
        test_indices=features.indices[test_rows],
        epochs=epochs,
        seconds=seconds,
        network=network,
    )


def _fit(
    features: _Features,
    train_rows: np.ndarray,
    test_rows: np.ndarray,
    info: DatasetInfo,
    config: ClassifierConfig,
    plan: _Plan,
    seed: int,
    started: float,
    progress: Progress | None,
    extra_metrics: dict[str, float],
) -> tuple[ClassifierNetwork, np.ndarray, int]:
    """Return (a network trained on rows `train_rows` of `features`, in eval mode; its predicted
    label of each of `test_rows`; epochs trained), within plan.max_minutes from `started`."""
    budget_seconds = plan.max_minutes * 60
    train_power = features.power[train_rows]
    train_labels = features.labels[train_rows]
    test_power = features.power[test_rows]
    test_labels = features.labels[test_rows].numpy()
    # initial weights and dropout follow the seed; the caller's RNG state is left as it was
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = ClassifierNetwork(config, info.sample_rate, len(info.labels))
        _fit_normalisation(network, train_power)
        generator = torch.Generator().manual_seed(seed)
        noise_shape = _white_noise_mel_shape(info.sample_rate, config)
        optimizer = torch.optim.AdamW(
            network.parameters(), lr=plan.learning_rate, weight_decay=1e-2
        )
        # a small dataset gets smaller batches, so that each epoch still takes several steps
        batch_size = max(2, min(plan.batch_size, len(train_rows) // 8))
        steps_per_epoch = len(train_rows) // batch_size
        planned_epochs = plan.max_epochs
        epoch_seconds: list[float] = []
        epoch = 0
        while epoch < planned_epochs:
            epoch_start = time.perf_counter()
            network.train()
            order = torch.randperm(len(train_rows), generator=generator)
            # whole batches only: BatchNorm needs 2+ clips, and equal batches keep steps alike
            batches = order[: steps_per_epoch * batch_size].view(steps_per_epoch, -1)
            total_loss = total_hits = seen = 0.0
            for step, batch in enumerate(batches):
                epochs_done = epoch + step / steps_per_epoch
                for group in optimizer.param_groups:
                    group["lr"] = plan.learning_rate * _schedule(epochs_done, planned_epochs)
                log_mel, mask = _augment(
                    train_power[batch], network, generator, noise_shape, plan.augmentation
                )
                inputs = network.network_input(log_mel, mask)
                targets = nn.functional.one_hot(train_labels[batch], len(info.labels)).float()
                inputs, targets = _mixup(inputs, targets, plan.augmentation.mixup, generator)
                logits = network.logits_of_input(inputs)
                loss = nn.functional.cross_entropy(logits, targets)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total_loss += loss.item() * len(batch)
                total_hits += float((logits.argmax(dim=1) == train_labels[batch]).sum())
                seen += len(batch)
            epoch += 1
            network.eval()
            predictions = _predict_log_mel(network, test_power, config.eps)
            metrics = {
                "loss": total_loss / seen,
                "train_accuracy": total_hits / seen,
                "valid_accuracy": float(np.mean(predictions == test_labels)),
                **extra_metrics,
            }
            epoch_seconds.append(time.perf_counter() - epoch_start)
            log.info(
                "classifier epoch %d/%d: loss %.4f, train accuracy %.3f, held-out accuracy %.3f",
                epoch,
                planned_epochs,
                metrics["loss"],
                metrics["train_accuracy"],
                metrics["valid_accuracy"],
            )
            # shorten the plan (never lengthen it) to the epochs the time left allows, so the
            # cosine still ends at zero; the last few epochs' mean time is the estimate (a shared
            # machine's load comes and goes)
            left = budget_seconds - (time.perf_counter() - started)
            fits = epoch + int(left // np.mean(epoch_seconds[-3:]))
            if fits < planned_epochs:
                log.info(
                    "classifier: --max-minutes %g leaves time for %d of %d epochs",
                    plan.max_minutes,
                    max(fits, epoch),
                    planned_epochs,
                )
                planned_epochs = max(fits, epoch)
            if progress is not None:
                progress(epoch, planned_epochs, dict(metrics))
    network.eval().requires_grad_(False)
    return network, predictions, epoch


def _fit_normalisation(network: ClassifierNetwork, power: torch.Tensor) -> None:
    """Set the network's per-bin mean and std to those of the training clips' features."""
    total = torch.zeros(network.config.n_mels, dtype=torch.float64)
    squares = torch.zeros_like(total)
    count = 0
    with torch.no_grad():
        for start in range(0, len(power), FEATURE_BATCH_CLIPS):
            log_mel = torch.log(power[start : start + FEATURE_BATCH_CLIPS] + network.config.eps)
            normalised = network.utterance_normalise(log_mel).double()
            total += normalised.sum(dim=(0, 2))
            squares += normalised.square().sum(dim=(0, 2))
            count += normalised.shape[0] * normalised.shape[2]
    mean = total / count
    std = (squares / count - mean.square()).clamp_min(0).sqrt()
    network.mel_mean.copy_(mean.float().unsqueeze(1))
    # a bin that never changes (e.g. above a low-pass) would divide by zero
    network.mel_std.copy_(std.float().clamp_min(1e-2).unsqueeze(1))


def load_or_train_classifier(dataset: str | Path | DatasetInfo, **train_options: Any) -> Classifier:
    """Return the dataset's saved classifier, or train one (with `train_options`) if it has none
    or the dataset changed since it was trained."""
    info = _open(dataset)
    classifier = load_classifier(info)
    if classifier is not None:
        return classifier
    log.info("%s: training the dataset classifier (no up-to-date one saved)", info.path)
    train_classifier(info, **train_options)
    classifier = load_classifier(info)  # read back: what evaluate uses is what was saved
    if classifier is None:
        raise SonogenError(
            f"{info.path}: the dataset changed while its classifier was trained; run again once "
            "nothing is writing to it"
        )
    return classifier


def _schedule(epochs_done: float, planned_epochs: int) -> float:
    """Return the learning-rate factor after `epochs_done` (fractional) of `planned_epochs`:
    linear warm-up over the first epoch, then a cosine from 1 to 0 at the plan's end."""
    if epochs_done < 1.0:
        return (epochs_done + 0.05) / 1.05
    if planned_epochs <= 1:
        return 1.0
    fraction = min(1.0, (epochs_done - 1.0) / (planned_epochs - 1.0))
    return 0.5 * (1.0 + math.cos(math.pi * fraction))


def _mel_power(
    audio: np.ndarray, indices: np.ndarray, sample_rate: int, config: ClassifierConfig
) -> torch.Tensor:
    """Return the power mel spectrograms float32 [len(indices), n_mels, frames] of some clips."""
    parts = []
    with torch.no_grad():
        for start in range(0, len(indices), FEATURE_BATCH_CLIPS):
            rows = indices[start : start + FEATURE_BATCH_CLIPS]
            clips = pcm16_to_float(audio[rows])
            parts.append(
                mel_spectrogram(
                    torch.from_numpy(clips),
                    sample_rate,
                    config.n_fft,
                    config.hop_length,
                    config.n_mels,
                    config.fmin,
                    config.fmax,
                    power=2.0,
                )
            )
    return torch.cat(parts)


def _slaney_hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    """Return the Slaney mel (librosa, htk=False) of Hz: linear to 1 kHz, then logarithmic."""
    linear = hz / (200.0 / 3.0)
    logarithmic = 15.0 + torch.log(hz.clamp_min(1e-6) / 1000.0) / (math.log(6.4) / 27.0)
    return torch.where(hz >= 1000.0, logarithmic, linear)


def mel_bin_frequencies(sample_rate: int, config: ClassifierConfig) -> torch.Tensor:
    """Return the centre frequency in Hz of each mel bin of the features, float64 [n_mels]."""
    import librosa

    fmax = config.fmax if config.fmax is not None else sample_rate / 2.0
    centres = librosa.mel_frequencies(config.n_mels + 2, fmin=config.fmin, fmax=fmax, htk=False)
    return torch.from_numpy(centres[1:-1])


def warp_mel_power(
    power: torch.Tensor,
    frequency_ratio: torch.Tensor,
    time_ratio: torch.Tensor,
    sample_rate: int,
    config: ClassifierConfig,
) -> torch.Tensor:
    """Return mel power spectrograms [batch, n_mels, frames] with every frequency multiplied by
    `frequency_ratio` [batch] and every time by 1 / `time_ratio` [batch] (from the clip's start).

    Resampling a clip to play `r` times faster is (frequency_ratio, time_ratio) = (r, r); a pitch
    or formant shift alone is (r, 1), a tempo change alone (1, r). Energy that would come from
    above the top bin or after the clip's end is silence.
    """
    batch, bins, frames = power.shape
    centres = mel_bin_frequencies(sample_rate, config).to(power.dtype)
    mel = _slaney_hz_to_mel(centres)
    step = (mel[-1] - mel[0]) / max(bins - 1, 1)
    # each output bin reads the input at the frequency that lands on it: f / ratio
    source_mel = _slaney_hz_to_mel(centres.unsqueeze(0) / frequency_ratio.unsqueeze(1))
    source_bin = (source_mel - mel[0]) / step  # [batch, bins], fractional
    source_frame = torch.arange(frames, dtype=power.dtype).unsqueeze(0) * time_ratio.unsqueeze(1)
    y = 2.0 * source_bin / max(bins - 1, 1) - 1.0
    x = 2.0 * source_frame / max(frames - 1, 1) - 1.0
    grid = torch.stack(
        (x.unsqueeze(1).expand(batch, bins, frames), y.unsqueeze(2).expand(batch, bins, frames)),
        dim=3,
    )
    warped = nn.functional.grid_sample(
        power.unsqueeze(1), grid, mode="bilinear", padding_mode="zeros", align_corners=True
    )
    return warped.squeeze(1)


def equalise(power: torch.Tensor, gains_db: torch.Tensor) -> torch.Tensor:
    """Return mel power [batch, n_mels, frames] with each bin's power scaled by `gains_db`
    [batch, n_mels] (decibels)."""
    return power * (10.0 ** (gains_db / 10.0)).unsqueeze(2)


def random_eq_db(batch: int, bins: int, eq_db: float, generator: torch.Generator) -> torch.Tensor:
    """Return random EQ curves [batch, bins] in dB: a tilt from -t at the lowest bin to +t at the
    highest plus one bell of height h at a random bin (width 2-8 bins), |t|, |h| <= eq_db."""
    position = torch.linspace(-1.0, 1.0, bins).unsqueeze(0)
    tilt = (torch.rand(batch, 1, generator=generator) * 2.0 - 1.0) * eq_db
    height = (torch.rand(batch, 1, generator=generator) * 2.0 - 1.0) * eq_db
    centre = torch.rand(batch, 1, generator=generator) * (bins - 1)
    width = 2.0 + 6.0 * torch.rand(batch, 1, generator=generator)
    bell = torch.exp(-0.5 * ((torch.arange(bins).unsqueeze(0) - centre) / width) ** 2)
    return tilt * position + height * bell


def add_noise(
    power: torch.Tensor,
    snr_db: torch.Tensor,
    noise_shape: torch.Tensor,
    fluctuation: torch.Tensor | None = None,
) -> torch.Tensor:
    """Return mel power [batch, n_mels, frames] plus noise whose mean power is the clip's mean
    power less `snr_db` [batch] decibels; the noise's spectrum is `noise_shape` [n_mels] (mean
    1) times `fluctuation` [batch, n_mels, frames] (mean 1; none: steady)."""
    level = power.mean(dim=(1, 2), keepdim=True) * 10.0 ** (-snr_db.view(-1, 1, 1) / 10.0)
    noise = level * noise_shape.view(1, -1, 1)
    if fluctuation is not None:
        noise = noise * fluctuation
    return power + noise


def _white_noise_mel_shape(sample_rate: int, config: ClassifierConfig) -> torch.Tensor:
    """Return white noise's mel power per bin [n_mels], mean 1: each filter's summed weight."""
    weights = mel_filterbank(sample_rate, config.n_fft, config.n_mels, config.fmin, config.fmax)
    shape = weights.sum(dim=1).float()
    return shape / shape.mean()


def _augment(
    power: torch.Tensor,
    network: ClassifierNetwork,
    generator: torch.Generator,
    noise_shape: torch.Tensor,
    augmentation: Augmentation,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (augmented log-mel features [batch, n_mels, frames], SpecAugment mask of the same
    shape: True where the network sets its normalised input to the mean) from mel power
    spectrograms, as `Augmentation` describes."""
    batch, bins, frames = power.shape
    a = augmentation

    def log_uniform(limit: float) -> torch.Tensor:
        return torch.exp((torch.rand(batch, generator=generator) * 2.0 - 1.0) * math.log(limit))

    power = warp_mel_power(
        power,
        log_uniform(a.frequency_ratio),
        log_uniform(a.time_ratio),
        network.sample_rate,
        network.config,
    )
    low, high = a.snr_db
    snr = low + (high - low) * torch.rand(batch, generator=generator)
    noisy = torch.rand(batch, generator=generator) < a.noise_probability
    fluctuation = -torch.log(torch.rand(power.shape, generator=generator).clamp_min(1e-12))
    snr = torch.where(noisy, snr, torch.full_like(snr, 300.0))  # 300 dB: no noise
    power = add_noise(power, snr, noise_shape, fluctuation)
    gains = random_eq_db(batch, bins, a.eq_db, generator)
    gains = gains + (torch.rand(batch, 1, generator=generator) * 2.0 - 1.0) * a.gain_db
    power = equalise(power, gains)
    max_shift = int(frames * a.shift_fraction)
    if max_shift > 0:
        shift = torch.randint(-max_shift, max_shift + 1, (batch, 1), generator=generator)
        source = torch.arange(frames).unsqueeze(0) - shift
        inside = ((source >= 0) & (source < frames)).unsqueeze(1)
        index = source.clamp(0, frames - 1).unsqueeze(1).expand(batch, bins, frames)
        power = power.gather(2, index) * inside
    log_mel = torch.log(power + network.config.eps)
    masked = torch.zeros(batch, bins, frames, dtype=torch.bool)
    for _ in range(a.masks):
        for size, dim in ((bins, 1), (frames, 2)):
            width = torch.randint(0, size // 8 + 1, (batch, 1), generator=generator)
            start = (torch.rand(batch, 1, generator=generator) * (size - width + 1)).long()
            position = torch.arange(size).unsqueeze(0)
            band = (position >= start) & (position < start + width)
            masked |= band.unsqueeze(3 - dim)
    return log_mel, masked


def _mixup(
    inputs: torch.Tensor, targets: torch.Tensor, alpha: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (inputs, targets) of a batch mixed with a shuffled copy of itself by a weight
    lambda ~ Beta(alpha, alpha) (Zhang et al., "mixup", 2018); alpha 0: unchanged."""
    if alpha <= 0:
        return inputs, targets
    # torch.distributions takes no generator; numpy's Beta, seeded from it, keeps runs repeatable
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    weight = float(np.random.default_rng(seed).beta(alpha, alpha))
    order = torch.randperm(len(inputs), generator=generator)
    mixed = weight * inputs + (1 - weight) * inputs[order]
    return mixed, weight * targets + (1 - weight) * targets[order]


def _predict_log_mel(network: ClassifierNetwork, power: torch.Tensor, eps: float) -> np.ndarray:
    """Return predicted label indices [n] for mel power spectrograms (network in eval mode)."""
    predictions = []
    with torch.inference_mode():
        for start in range(0, len(power), FEATURE_BATCH_CLIPS):
            log_mel = torch.log(power[start : start + FEATURE_BATCH_CLIPS] + eps)
            predictions.append(network.logits_of_log_mel(log_mel).argmax(dim=1).numpy())
    return np.concatenate(predictions) if predictions else np.zeros(0, np.int64)


# --------------------------------------------------------------------------------------------
# saving and loading


def dataset_fingerprint(info: DatasetInfo) -> dict[str, Any]:
    """Return what identifies a dataset's contents: clip count, rate, length, labels and the byte
    size and modification time (ns) of audio.npy and items.csv, which a new prepare rewrites."""
    fingerprint: dict[str, Any] = {
        "count": info.count,
        "sample_rate": info.sample_rate,
        "clip_samples": info.clip_samples,
        "labels": list(info.labels or []),
    }
    for name in ("audio.npy", "items.csv"):
        stat = (info.path / name).stat()
        fingerprint[name] = [stat.st_size, stat.st_mtime_ns]
    return fingerprint


def _save(info: DatasetInfo, state: dict[str, torch.Tensor], content: dict[str, Any]) -> None:
    """Write the weights, then the JSON that points at them (each atomically)."""
    weights_path = info.path / WEIGHTS_NAME
    config_path = info.path / CONFIG_NAME
    metadata = {
        "format": "sonogen-classifier",
        "format_version": FORMAT_VERSION,
        "accuracy": content["accuracy"],
        "epochs": content["epochs"],
    }
    temp = config_path.with_name(f".{CONFIG_NAME}.tmp-{os.getpid()}")
    try:
        save_weights(weights_path, state, metadata)
        temp.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
        os.replace(temp, config_path)
    except OSError as error:
        temp.unlink(missing_ok=True)
        raise SonogenError(
            f"{info.path}: cannot save the classifier there ({error.strerror or error}); make "
            "the dataset folder writable, or copy the dataset somewhere writable"
        ) from None


def load_classifier(dataset: str | Path | DatasetInfo) -> Classifier | None:
    """Return the classifier saved in a dataset dir, or None if there is none or the dataset
    changed since it was trained. Raises SonogenError if its files are damaged."""

    info = _open(dataset)
    weights_path = info.path / WEIGHTS_NAME
    config_path = info.path / CONFIG_NAME
    if not config_path.is_file() or not weights_path.is_file():
        return None
    retrain = (
        f"delete {config_path.name} and {weights_path.name} and train it again with "
        f"`sonogen classifier train {info.path}`"
    )
    try:
        content = json.loads(config_path.read_text(encoding="utf-8"))
        if content.get("format_version") != FORMAT_VERSION:
            log.info("%s: from another sonogen version; the classifier is retrained", config_path)
            return None
        if content.get("dataset") != dataset_fingerprint(info):
            log.info("%s: the dataset changed since the classifier was trained", config_path)
            return None
        config = ClassifierConfig.from_dict(content["config"])
        labels = [str(label) for label in content["labels"]]
        expected_digest = str(content["weights_sha256"])
        accuracy = content.get("accuracy")
        group_accuracy = content.get("group_accuracy")
        group_note = str(content.get("group_note", ""))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise SonogenError(f"{config_path}: unreadable ({error!r}); {retrain}") from None
    state, metadata = read_weights(weights_path, retrain)
    if metadata.get("sha256") is None or expected_digest != metadata["sha256"]:
        raise SonogenError(
            f"{weights_path}: the weights are not the ones {config_path.name} was written with "
            f"(the file was replaced); {retrain}"
        )
    network = ClassifierNetwork(config, info.sample_rate, len(labels))
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise SonogenError(
            f"{weights_path}: weights do not fit the network in {config_path.name} ({first}); "
            f"{retrain}"
        ) from None
    network.eval().requires_grad_(False)
    return Classifier(
        network=network,
        labels=labels,
        sample_rate=info.sample_rate,
        clip_samples=info.clip_samples,
        accuracy=None if accuracy is None else float(accuracy),
        weights_sha256=metadata["sha256"],
        path=weights_path,
        group_accuracy=None if group_accuracy is None else float(group_accuracy),
        group_note=group_note,
    )
