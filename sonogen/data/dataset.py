"""Reading a dataset dir (see DESIGN.md): its metadata, items and memory-mapped clips."""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sonogen.errors import SonogenError

FORMAT_VERSION = 1

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatasetInfo:
    """What dataset.json says, plus the dir it was read from."""

    path: Path
    sample_rate: int
    clip_samples: int
    count: int
    labels: list[str] | None
    source: str
    kind: str = "audio"  # "audio": clips in audio.npy; another kind is read by its own module
    extra: dict = field(default_factory=dict)  # dataset.json's "extra": what that kind needs


def open_dataset(path: str | Path) -> DatasetInfo:
    """Return the DatasetInfo of a dataset dir, checking that its files are there and agree."""
    path = Path(path)
    meta_path = path / "dataset.json"
    if not path.is_dir():
        raise SonogenError(
            f"{path}: dataset folder not found; make one with `sonogen prepare SRC {path}`"
        )
    if not meta_path.is_file():
        raise SonogenError(
            f"{path}: not a sonogen dataset (no dataset.json); make one with "
            f"`sonogen prepare SRC OUT` and pass OUT"
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        info = DatasetInfo(
            path=path,
            sample_rate=int(meta["sample_rate"]),
            clip_samples=int(meta["clip_samples"]),
            count=int(meta["count"]),
            labels=list(meta["labels"]) if meta.get("labels") else None,
            source=str(meta.get("source", "")),
            kind=str(meta.get("kind", "audio")),
            extra=dict(meta.get("extra") or {}),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise SonogenError(
            f"{meta_path}: unreadable ({error}); prepare the dataset again"
        ) from None
    if int(meta.get("format_version", FORMAT_VERSION)) > FORMAT_VERSION:
        raise SonogenError(f"{meta_path}: made by a newer sonogen; upgrade sonogen")
    if info.kind != "audio":
        return info  # its files are checked by the module that reads that kind
    audio = read_clips(info)
    if audio.shape != (info.count, info.clip_samples):
        raise SonogenError(
            f"{path / 'audio.npy'}: shape {audio.shape} does not match dataset.json "
            f"({info.count}, {info.clip_samples}); prepare the dataset again"
        )
    return info


def read_clips(info: DatasetInfo) -> np.ndarray:
    """Return the int16 clips [count, clip_samples], memory-mapped (nothing read yet)."""
    audio_path = info.path / "audio.npy"
    try:
        return np.load(audio_path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as error:
        raise SonogenError(
            f"{audio_path}: unreadable ({error}); prepare the dataset again"
        ) from None


def read_items(info: DatasetInfo) -> list[dict[str, str]]:
    """Return the rows of items.csv, one dict per clip, in clip order."""
    items_path = info.path / "items.csv"
    try:
        with items_path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as error:
        raise SonogenError(
            f"{items_path}: unreadable ({error}); prepare the dataset again"
        ) from None
    if len(rows) != info.count:
        raise SonogenError(
            f"{items_path}: {len(rows)} rows but dataset.json says {info.count} clips; "
            "prepare the dataset again"
        )
    return rows


def split_indices(info: DatasetInfo, split: str | None) -> np.ndarray:
    """Return the clip indices of one split ('train' or 'valid'), or all of them for None."""
    if split is None:
        return np.arange(info.count)
    rows = read_items(info)
    return np.array([i for i, row in enumerate(rows) if row.get("split", "train") == split], int)


def label_indices(info: DatasetInfo) -> np.ndarray:
    """Return each clip's label as an index into info.labels (-1 where it has none)."""
    if not info.labels:
        return np.full(info.count, -1, dtype=np.int64)
    lookup = {name: i for i, name in enumerate(info.labels)}
    return np.array([lookup.get(row.get("label", ""), -1) for row in read_items(info)], np.int64)


class ClipDataset:
    """A torch-style map dataset over one split: item i -> (audio float32 [clip_samples], label).

    The memory map is opened lazily in each process, so DataLoader workers and DDP ranks share
    the file through the page cache instead of copying it.
    """

    def __init__(self, info: DatasetInfo, split: str | None = "train"):
        self.info = info
        self.indices = split_indices(info, split)
        self.labels = label_indices(info)[self.indices]
        self._audio: np.ndarray | None = None
        if info.labels and (self.labels < 0).any():
            # a labelled dataset's unlabelled clips (files at the top of a folder-labelled source)
            # cannot condition a model; they are left out, and said so
            unlabelled = int((self.labels < 0).sum())
            log.warning(
                "%s: %d %s clips have no label and are not used", info.path, unlabelled, split
            )
            keep = self.labels >= 0
            self.indices, self.labels = self.indices[keep], self.labels[keep]
        if len(self.indices) == 0:
            raise SonogenError(
                f"{info.path}: the {split!r} split has no clips; prepare it with another --split"
            )

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        import torch

        if self._audio is None:
            self._audio = read_clips(self.info)
        clip = np.asarray(self._audio[self.indices[i]], dtype=np.float32) / 32767.0
        return torch.from_numpy(clip), int(self.labels[i])

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_audio"] = None  # never pickle the memory map into worker processes
        return state
