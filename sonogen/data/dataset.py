"""Reading a dataset dir (see DESIGN.md): its metadata, items and memory-mapped clips."""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sonogen.audio.pcm import pcm16_to_float
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
    license: str | None = None  # the data's licence as recorded at prepare (None: not recorded)


MAX_METADATA_BYTES = 16_000_000  # dataset.json: a few kB, plus a tokenizer's settings
MAX_LABELS = 100_000
SPLITS = ("train", "valid")
TOKEN_ID_KEYS = ("pad_id", "bos_id", "eos_id", "bar_id")


def open_dataset(path: str | Path) -> DatasetInfo:
    """Return the DatasetInfo of a dataset dir, checking that its files are there and agree.

    Everything a reader will trust is checked here, cheaply (arrays by their headers and sizes,
    never read): dataset.json's fields, types and ranges, the array's dtype and shape against
    them, and every row of items.csv (pieces.csv for MIDI tokens). A problem is a SonogenError
    naming the file and field, ending with how to make the dataset again.
    """
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
    info = _read_metadata(path, meta_path)
    if info.kind == "audio":
        _check_array(path / "audio.npy", np.int16, (info.count, info.clip_samples), info)
        _check_items(info)
    else:
        _check_token_dataset(info)
    return info


def _again(info_or_kind: DatasetInfo | str) -> str:
    """Return how to make a dataset of this kind again."""
    kind = info_or_kind if isinstance(info_or_kind, str) else info_or_kind.kind
    command = "sonogen prepare-midi" if kind == "midi-tokens" else "sonogen prepare"
    return f"make the dataset again with `{command}`"


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def _read_metadata(path: Path, meta_path: Path) -> DatasetInfo:
    """Return the DatasetInfo that dataset.json describes, every field checked."""
    from sonogen.checks import read_small_file
    from sonogen.config import CLIP_SAMPLES_RANGE, DATASET_KINDS, SAMPLE_RATE_RANGE, shown

    data = read_small_file(
        meta_path, MAX_METADATA_BYTES, f"not a dataset.json that sonogen wrote; {_again('audio')}"
    )
    try:
        meta = json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise SonogenError(f"{meta_path}: not a text file; {_again('audio')}") from None
    except (ValueError, RecursionError) as error:
        message = str(error)[:120]
        raise SonogenError(f"{meta_path}: not valid JSON ({message}); {_again('audio')}") from None
    if not isinstance(meta, dict):
        raise SonogenError(
            f"{meta_path}: expected a JSON object of fields, got a {type(meta).__name__}; "
            f"{_again('audio')}"
        )
    kind = meta.get("kind", "audio")
    if kind not in DATASET_KINDS:
        raise SonogenError(
            f"{meta_path}: kind {shown(kind)} is not one sonogen reads "
            f"({', '.join(DATASET_KINDS)}); {_again('audio')}"
        )
    again = _again(kind)

    def whole(key: str, low: int, high: int, default: Any = None) -> int:
        value = meta.get(key, default)
        if value is None:
            raise SonogenError(f"{meta_path}: no {key}; {again}")
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise SonogenError(
                f"{meta_path}: {key} {shown(value)} is not a whole number from {low} to {high}; "
                f"{again}"
            )
        return value

    version = whole("format_version", 1, 10**6, default=FORMAT_VERSION)
    if version > FORMAT_VERSION:
        raise SonogenError(
            f"{meta_path}: format_version {version} was made by a newer sonogen; upgrade sonogen"
        )
    sample_rate = whole("sample_rate", *SAMPLE_RATE_RANGE)
    clip_samples = whole("clip_samples", *CLIP_SAMPLES_RANGE)
    count = whole("count", 1, 2**31)
    labels = meta.get("labels")
    if labels is not None and (
        not isinstance(labels, list)
        or len(labels) > MAX_LABELS
        or not all(isinstance(label, str) and label for label in labels)
        or len(set(labels)) != len(labels)
    ):
        raise SonogenError(
            f"{meta_path}: labels {shown(labels)} is not a list of distinct, non-empty names; "
            f"{again}"
        )
    extra = meta.get("extra")
    if extra is not None and not isinstance(extra, dict):
        raise SonogenError(f"{meta_path}: extra {shown(extra)} is not an object; {again}")
    source = meta.get("source", "")
    license = meta.get("license")
    return DatasetInfo(
        path=path,
        sample_rate=sample_rate,
        clip_samples=clip_samples,
        count=count,
        labels=list(labels) if labels else None,
        source=source if isinstance(source, str) else shown(source),
        kind=kind,
        extra=dict(extra or {}),
        license=license if isinstance(license, str) and license else None,
    )


def _check_array(file: Path, dtype: Any, shape: tuple[int, ...], info: DatasetInfo) -> None:
    """Check an .npy file's header (dtype and shape) and that the file holds all its data,
    without reading the data."""
    from numpy.lib import format as npy

    expected = f"{np.dtype(dtype).name} {list(shape)}"
    try:
        with file.open("rb") as handle:
            version = npy.read_magic(handle)
            if version == (1, 0):
                found_shape, _, found_dtype = npy.read_array_header_1_0(handle)
            elif version == (2, 0):
                found_shape, _, found_dtype = npy.read_array_header_2_0(handle)
            else:
                raise ValueError(f"npy format version {version} is not one sonogen writes")
            offset = handle.tell()
    except FileNotFoundError:
        raise SonogenError(f"{file}: missing; {_again(info)}") from None
    except (OSError, ValueError, SyntaxError) as error:
        message = str(error)[:120]
        raise SonogenError(
            f"{file}: not a readable .npy array ({message}); {_again(info)}"
        ) from None
    if found_dtype != np.dtype(dtype):
        raise SonogenError(
            f"{file}: holds {found_dtype} values, expected {expected} as dataset.json says; "
            f"{_again(info)}"
        )
    if tuple(found_shape) != tuple(shape):
        raise SonogenError(
            f"{file}: shape {list(found_shape)}, but dataset.json says {list(shape)} (count, "
            f"clip_samples); {_again(info)}"
        )
    needed = offset + int(np.prod(shape, dtype=np.int64)) * found_dtype.itemsize
    size = file.stat().st_size
    if size < needed:
        raise SonogenError(f"{file}: truncated ({size:,} bytes of {needed:,}); {_again(info)}")


def _read_csv(file: Path, info: DatasetInfo, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """Return the rows of one of a dataset's CSV files, with the columns it must have."""
    try:
        with file.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            header = reader.fieldnames or []
    except FileNotFoundError:
        raise SonogenError(f"{file}: missing; {_again(info)}") from None
    except UnicodeDecodeError:
        raise SonogenError(f"{file}: not a text file; {_again(info)}") from None
    except (OSError, csv.Error) as error:
        raise SonogenError(f"{file}: unreadable ({str(error)[:120]}); {_again(info)}") from None
    missing = [column for column in columns if column not in header]
    if missing:
        raise SonogenError(f"{file}: no {missing[0]} column; {_again(info)}")
    if len(rows) != info.count:
        raise SonogenError(
            f"{file}: {len(rows)} rows but dataset.json says count {info.count}; {_again(info)}"
        )
    return rows


def _check_items(info: DatasetInfo) -> None:
    """Check every row of items.csv: its index, split, and label (one of dataset.json's)."""
    from sonogen.config import shown

    file = info.path / "items.csv"
    rows = _read_csv(file, info, ("index", "label", "split"))
    labels = set(info.labels or [])
    for i, row in enumerate(rows):
        where = f"{file}: line {i + 2}"  # the header is line 1
        if row["index"] != str(i):
            raise SonogenError(
                f"{where}: index {shown(row['index'])}, expected {i}; {_again(info)}"
            )
        if row["split"] not in SPLITS:
            raise SonogenError(
                f"{where}: split {shown(row['split'])} is not train or valid; {_again(info)}"
            )
        if labels and row["label"] and row["label"] not in labels:
            raise SonogenError(
                f"{where}: label {shown(row['label'])} is not one of dataset.json's labels; "
                f"{_again(info)}"
            )


def check_token_ids(extra: Any, where: str) -> dict[str, int | None]:
    """Return the vocabulary size and special token ids of a MIDI-token dataset's (or run's)
    ``extra``, each checked: vocab_size a whole number from 1 to 1,000,000, the ids within it."""
    from sonogen.config import shown

    if not isinstance(extra, dict):
        raise SonogenError(f"{where}: not a mapping of tokenizer settings; {_again('midi-tokens')}")
    size = extra.get("vocab_size")
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 1_000_000:
        raise SonogenError(
            f"{where}.vocab_size {shown(size)}: not a whole number from 1 to 1000000; "
            f"{_again('midi-tokens')}"
        )
    ids: dict[str, int | None] = {"vocab_size": size}
    for key in TOKEN_ID_KEYS:
        value = extra.get(key)
        if value is None and key == "bar_id":
            ids[key] = None
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < size:
            raise SonogenError(
                f"{where}.{key} {shown(value)}: not a token id (0 to {size - 1}); "
                f"{_again('midi-tokens')}"
            )
        ids[key] = value
    return ids


def _check_token_dataset(info: DatasetInfo) -> None:
    """Check a midi-tokens dataset dir: tokenizer ids, tokens.npy's header, and pieces.csv's
    rows (whole numbers that locate each piece inside tokens.npy, train or valid)."""
    from sonogen.config import shown

    check_token_ids(info.extra, f"{info.path / 'dataset.json'}: extra")
    total = info.extra.get("tokens")
    tokens = info.path / "tokens.npy"
    if isinstance(total, bool) or not isinstance(total, int) or total < 1:
        raise SonogenError(
            f"{info.path / 'dataset.json'}: extra.tokens {shown(total)} is not a whole number "
            f"of tokens; {_again(info)}"
        )
    _check_array(tokens, np.int32, (total,), info)
    file = info.path / "pieces.csv"
    columns = ("index", "start", "length", "split", "transposition")
    for i, row in enumerate(_read_csv(file, info, columns)):
        where = f"{file}: line {i + 2}"
        try:
            index, start, length = (int(row[key]) for key in ("index", "start", "length"))
            int(row["transposition"])
        except (TypeError, ValueError):
            raise SonogenError(
                f"{where}: index, start, length and transposition must be whole numbers; "
                f"{_again(info)}"
            ) from None
        if index != i or start < 0 or length < 2 or start + length > total:
            raise SonogenError(
                f"{where}: index {index}, start {start}, length {length} do not locate a piece "
                f"in tokens.npy ({total} tokens); {_again(info)}"
            )
        if row["split"] not in SPLITS:
            raise SonogenError(
                f"{where}: split {shown(row['split'])} is not train or valid; {_again(info)}"
            )


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


def group_names(info: DatasetInfo) -> list[str]:
    """Return each clip's recording group (speaker, session, kit) from items.csv's group column,
    '' where it is unknown; all '' for a dataset prepared before groups existed."""
    return [row.get("group") or "" for row in read_items(info)]


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
        clip = pcm16_to_float(self._audio[self.indices[i]])
        return torch.from_numpy(clip), int(self.labels[i])

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_audio"] = None  # never pickle the memory map into worker processes
        return state
