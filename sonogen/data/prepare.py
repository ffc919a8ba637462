"""Turn a folder of sounds into a dataset dir (audio.npy, items.csv, skipped.csv, dataset.json).

`prepare()` finds, decodes, trims, normalises and cuts every audio file (in worker processes), then
`write_dataset()` writes the result; the built-in datasets call `write_dataset()` too. A bad file
never stops a prepare: it becomes a row of `skipped.csv`. Nothing inside the source folder is ever
written, and the output appears only when complete (written to a hidden sibling, then renamed).
The checks, the valid split and that publishing step are shared with `prepare-midi`: they live in
`sonogen.data.writing`.
"""

from __future__ import annotations

import csv
import errno
import json
import logging
import math
import numbers
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sonogen import __version__
from sonogen.audio.io import AUDIO_EXTENSIONS, AudioFileError, read_audio
from sonogen.audio.pcm import float_to_pcm16
from sonogen.data.writing import (
    FSDD_NAME,
    FSDD_RULE,
    check_paths,
    check_sample_rate,
    dataset_license,
    display_name,
    non_negative_float,
    parse_split,
    positive_float,
    positive_int,
    process_alive,
    publish,
    short,
    valid_files,
    write_skipped,
)
from sonogen.errors import SonogenError

log = logging.getLogger(__name__)


FORMAT_VERSION = 1
NORMALIZE_MODES = ("peak", "loudness", "none")
SILENT_PEAK = 1e-4  # -80 dBFS: below this a file holds nothing worth learning from
PEAK_TARGET = 0.95
LOUDNESS_RMS_DBFS = -20.0
LOUDNESS_PEAK_LIMIT = 0.99
CHUNK_FILES = 32  # files per worker task: enough to amortise the inter-process round trip
ITEM_COLUMNS = ("index", "file", "offset_seconds", "label", "split")
LABEL_FORMS = '"folder", "csv:PATH" (columns file,label and optionally group), "none"'
GROUP_FORMS = '"auto", "fsdd", "csv", "regex:PATTERN" (one capture group), "none"'
_JUNK_NAMES = {"__MACOSX"}  # macOS zip debris; hidden names (".DS_Store", "._x.wav") also skipped

# Limits that turn a typo into a clear error instead of hours of work or an allocator traceback.
MAX_WORKERS = 256  # prepare --workers
MAX_CLIP_SECONDS = 600  # one clip is at most 10 minutes at the sample rate
MAX_OVERLAP = 64  # --hop at least clip_samples / 64: each sample is in at most 64 clips
MAX_FILE_SECONDS = 3 * 3600  # a longer file is skipped: decoding it alone would take GBs
MAX_FILE_CLIP_BYTES = 1 << 30  # the clips cut from one file; more is skipped with its reason
CLIP_OVERHEAD_BYTES = 512  # items.csv row and bookkeeping per clip, beside its samples


@dataclass(frozen=True)
class PrepareSummary:
    """What a prepare made: counts of files and clips, skip reasons, labels and wall time."""

    out: Path
    files_total: int
    files_used: int
    clips: int
    skipped: dict[str, int]
    labels: list[str] | None
    train_clips: int
    valid_clips: int
    seconds: float
    groups: list[str] | None = None  # the distinct groups (speakers, kits) found; None: none


@dataclass(frozen=True)
class _CutSettings:
    """The per-file processing options, sent to worker processes."""

    sample_rate: int
    clip_samples: int
    hop_samples: int | None
    trim_silence: bool
    top_db: float
    normalize: str
    min_seconds: float


# One decoded file: (file index, clips int16 [k, clip_samples] and start samples) or a skip reason.
_FileResult = tuple[int, np.ndarray | None, list[int], str, str]


def prepare(
    source: str | Path,
    out: str | Path,
    *,
    sample_rate: int = 16000,
    clip_samples: int = 16384,
    hop_samples: int | None = None,
    trim_silence: bool = False,
    top_db: float = 40.0,
    normalize: str = "peak",
    labels: str = "folder",
    split: str = "0.1",
    group: str = "auto",
    min_seconds: float = 0.05,
    workers: int | None = None,
    force: bool = False,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    license: str | None = None,
) -> PrepareSummary:
    """Prepare the audio files under `source` as a dataset dir at `out`; return a PrepareSummary.

    Every clip is `clip_samples` long at `sample_rate`. With `hop_samples` None a file gives one
    clip (its start, zero-padded); otherwise clips start every `hop_samples`. `labels` is "folder",
    "csv:PATH" or "none"; `split` is a share of files ("0.1"), "0"/"none", "fsdd" or
    "regex:PATTERN". `group` says which recording group (speaker, session, kit) each file belongs
    to, for the classifier's group-disjoint accuracy: "fsdd" (the speaker of FSDD's
    `{digit}_{speaker}_{take}.wav`), "csv" (the labels CSV's `group` column, every row filled),
    "regex:PATTERN" (the pattern's one capture group, searched in the file's path relative to
    `source`; files it does not match have no group), "none", or "auto" (fsdd with `--split fsdd`,
    else csv when the labels CSV has a group column, else none).
    `license` is recorded in dataset.json (and so in each model card); None records the first line
    of a LICENSE/LICENCE/COPYING file at the top of `source` where there is one.
    `progress(done_files, total_files)` is called as files finish. Raises SonogenError for bad
    options or paths, and when no file gave a clip (after writing `out/skipped.csv`).
    """
    started = time.perf_counter()
    sample_rate = check_sample_rate("--sample-rate", sample_rate)
    clip_samples = check_clip_samples(clip_samples, sample_rate)
    settings = _CutSettings(
        sample_rate=sample_rate,
        clip_samples=clip_samples,
        hop_samples=None if hop_samples is None else _check_hop(hop_samples, clip_samples),
        trim_silence=bool(trim_silence),
        top_db=positive_float("--top-db", top_db),
        normalize=_check_normalize(normalize),
        min_seconds=non_negative_float("--min-seconds", min_seconds),
    )
    labels = _check_labels(labels)
    split_rule = parse_split(split)
    group_rule = _parse_group(group)
    workers = min(4, os.cpu_count() or 1) if workers is None else positive_int("--workers", workers)
    if workers > MAX_WORKERS:  # each is a process holding a decoder and its clips
        raise SonogenError(
            f"--workers {workers}: at most {MAX_WORKERS}; this machine has "
            f"{os.cpu_count() or 1} cores, so --workers {os.cpu_count() or 1} is plenty"
        )
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise SonogenError(f"--seed: must be a whole number, 0 or more, got {seed!r}")
    source_path, out_path = check_paths(source, out, force)
    license = dataset_license(source_path, license)

    files, problems = scan_files(source_path, AUDIO_EXTENSIONS)
    if not files and not problems:
        suffixes = " ".join(sorted(AUDIO_EXTENSIONS))
        raise SonogenError(
            f"{source}: no audio files found (looked for {suffixes}, in sub-folders too); "
            "point prepare at the folder that holds your sounds"
        )
    label_of, unlabelled, csv_groups = _resolve_labels(labels, source_path, files)
    group_rule = _choose_group_rule(group_rule, split_rule, csv_groups)
    if split_rule[0] == "fsdd":
        _check_fsdd_names(source_path, files, "split", "--split 0.1")
    group_of = _resolve_groups(group_rule, source_path, files, csv_groups or {})
    log.info("preparing %d audio files from %s", len(files), source)

    skipped: dict[int, tuple[str, str]] = {
        index: ("no label", detail) for index, detail in unlabelled.items()
    }
    todo = [(index, name) for index, name in enumerate(files) if index not in skipped]
    decoded: dict[int, tuple[np.ndarray, list[int]]] = {}
    budget = memory_budget()
    held = 0
    for index, clips, starts, reason, detail in _run(
        source_path, todo, settings, workers, progress
    ):
        if clips is None:
            skipped[index] = (reason, detail)
            log.debug("skipped %s: %s: %s", files[index], reason, detail)
            continue
        decoded[index] = (clips, starts)
        held += clips.nbytes + CLIP_OVERHEAD_BYTES * len(clips)
        if held > budget:
            raise SonogenError(
                f"{source}: the clips would take more than {budget / 2**30:.1f} GiB (half of "
                f"this machine's memory; {len(decoded)} of {len(files)} files gave "
                f"{sum(len(c) for c, _ in decoded.values())} clips); use a larger --hop, a "
                "shorter --clip-samples or prepare the files in smaller folders"
            )

    skipped_rows = sorted(
        [(files[i], f"{reason}: {detail}") for i, (reason, detail) in skipped.items()]
        + [(name, f"{reason}: {detail}") for name, reason, detail in problems]
    )
    reasons = dict(
        sorted(
            Counter(
                [reason for reason, _ in skipped.values()] + [r for _, r, _ in problems]
            ).items()
        )
    )
    options = {
        "sample_rate": settings.sample_rate,
        "clip_samples": settings.clip_samples,
        "hop_samples": settings.hop_samples,
        "trim_silence": settings.trim_silence,
        "top_db": settings.top_db,
        "normalize": settings.normalize,
        "labels": labels,
        "split": "none" if split is None else str(split).strip(),
        "group": group_rule[0] if group_rule[0] != "regex" else f"regex:{group_rule[1].pattern}",
        "min_seconds": settings.min_seconds,
        "seed": int(seed),
    }
    if not decoded:
        publish(out_path, force, lambda tmp: write_skipped(tmp / "skipped.csv", skipped_rows))
        counted = ", ".join(f"{count} {reason}" for reason, count in reasons.items())
        raise SonogenError(
            f"no clips made from {source}: {len(skipped_rows)} files skipped ({counted}); "
            f"see {out_path / 'skipped.csv'}"
        )

    used = sorted(decoded)
    valid_names = valid_files(split_rule, [files[i] for i in used], seed)
    items: list[dict] = []
    for index in used:
        name = files[index]
        clip_split = "valid" if name in valid_names else "train"
        for start in decoded[index][1]:
            items.append(
                {
                    "index": len(items),
                    "file": name,
                    "offset_seconds": round(start / settings.sample_rate, 6),
                    "label": label_of.get(name, ""),
                    "split": clip_split,
                    "group": group_of.get(name, ""),
                }
            )
    # Fill one array file by file rather than concatenate, so the clips are never held twice.
    clips = np.empty((len(items), settings.clip_samples), dtype=np.int16)
    row = 0
    for index in used:
        file_clips = decoded.pop(index)[0]
        clips[row : row + len(file_clips)] = file_clips
        row += len(file_clips)
    found_labels = sorted({item["label"] for item in items} - {""}) or None
    write_dataset(
        out_path,
        clips,
        items,
        sample_rate=settings.sample_rate,
        clip_samples=settings.clip_samples,
        labels=found_labels,
        source=display_name(str(source_path)),
        skipped=skipped_rows,
        options=options,
        force=force,
        license=license,
    )
    valid_clips = sum(item["split"] == "valid" for item in items)
    found_groups = sorted({item["group"] for item in items} - {""}) or None
    if group_rule[0] != "none":
        log.info("groups (%s): %s", group_rule[0], ", ".join(found_groups or ["none found"]))
    summary = PrepareSummary(
        out=out_path,
        files_total=len(files) + len(problems),
        files_used=len(used),
        clips=len(items),
        skipped=reasons,
        labels=found_labels,
        train_clips=len(items) - valid_clips,
        valid_clips=valid_clips,
        seconds=time.perf_counter() - started,
        groups=found_groups,
    )
    log.info(
        "wrote %d clips (%d train, %d valid) from %d of %d files to %s; skipped %s",
        summary.clips,
        summary.train_clips,
        summary.valid_clips,
        summary.files_used,
        summary.files_total,
        out_path,
        reasons or "none",
    )
    return summary


def write_dataset(
    out: str | Path,
    clips: np.ndarray,
    items: list[dict],
    *,
    sample_rate: int,
    clip_samples: int,
    labels: list[str] | None,
    source: str,
    skipped: Sequence[tuple[str, str]],
    options: dict,
    force: bool = False,
    license: str | None = None,
) -> None:
    """Write a dataset dir at `out` (replacing it only when `force`), all or nothing.

    clips: int16 `[count, clip_samples]` (float in [-1, 1] is converted). items: one dict per clip
    with index, file, offset_seconds, label ('' for none) and split ('train'/'valid'); any further
    keys become extra columns of items.csv in order of first appearance. skipped: (file, reason)
    rows. license: the data's licence as the user or the source folder gave it (None: not known).
    The files are byte-for-byte the same for the same inputs.
    """
    clips = np.asarray(clips)
    if np.issubdtype(clips.dtype, np.floating):
        clips = float_to_pcm16(clips)
    elif clips.dtype != np.int16:
        raise ValueError(f"clips must be int16 or float in [-1, 1], got {clips.dtype}")
    if clips.ndim != 2 or clips.shape[1] != clip_samples:
        raise ValueError(f"clips must have shape [count, {clip_samples}], got {clips.shape}")
    if len(items) != clips.shape[0]:
        raise ValueError(f"{len(items)} items for {clips.shape[0]} clips")
    columns = list(ITEM_COLUMNS)
    for item in items:
        columns.extend(key for key in item if key not in columns)
    info = {
        "format_version": FORMAT_VERSION,
        "sample_rate": int(sample_rate),
        "clip_samples": int(clip_samples),
        "count": int(clips.shape[0]),
        "labels": None if labels is None else list(labels),
        "source": str(source),
        "license": license,
        "created_by": f"sonogen {__version__}",
        "options": options,
    }

    def fill(folder: Path) -> None:
        from numpy.lib.format import open_memmap

        audio = open_memmap(folder / "audio.npy", mode="w+", dtype=np.int16, shape=clips.shape)
        audio[:] = clips
        audio.flush()
        del audio
        with (folder / "items.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(columns)
            for item in items:
                writer.writerow(["" if item.get(key) is None else item[key] for key in columns])
        write_skipped(folder / "skipped.csv", skipped)
        text = json.dumps(info, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
        (folder / "dataset.json").write_text(text, encoding="utf-8")

    publish(Path(out), force, fill)


def find_audio_files(source: Path) -> list[str]:
    """Return the sorted '/'-separated paths, relative to `source`, of its usable audio files.

    Hidden files and folders (".DS_Store", "._x.wav", ".git") and "__MACOSX" debris are left out;
    so are the entries `scan_files` reports as problems (broken links, names not valid UTF-8).
    """
    return scan_files(source, AUDIO_EXTENSIONS)[0]


def scan_files(
    source: Path, extensions: frozenset[str]
) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Return (files, problems) under `source`, following folder links, each folder once.

    files: the sorted '/'-separated relative paths of regular files whose suffix is in
    `extensions`. problems: sorted (name, reason, detail) for what looks like one but cannot be
    used: an unreadable folder, a broken or looping link, a pipe or device, a name that is not
    valid UTF-8 (the name escaped with backslashes, so it can be written to a CSV).
    """
    found: list[str] = []
    problems: list[tuple[str, str, str]] = []
    unreadable: list[OSError] = []
    seen_dirs: set[str] = set()
    for folder, dirnames, filenames in os.walk(source, onerror=unreadable.append, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen_dirs:  # a symlink loop, or a second link to one folder: read it once
            dirnames.clear()
            continue
        seen_dirs.add(real)
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in _JUNK_NAMES]
        relative = Path(folder).relative_to(source)
        for name in filenames:
            if name.startswith("."):
                continue
            path = os.path.join(folder, name)
            key = (relative / name).as_posix()
            suffix = Path(name).suffix.lower()
            if suffix not in extensions:
                # A link that resolves to nothing may have been a folder of sounds.
                if not suffix and os.path.islink(path) and not os.path.exists(path):
                    problems.append((display_name(key), *_not_a_file(path)))
                continue
            if not _is_utf8(key):
                problems.append((display_name(key), "bad name", "not valid UTF-8; rename the file"))
            elif os.path.isfile(path):
                found.append(key)
            else:
                problems.append((key, *_not_a_file(path)))
    for error in unreadable:
        where = Path(error.filename or source)
        if where == Path(source):
            raise SonogenError(
                f"{source}: cannot be read ({error.strerror or error}); check its permissions"
            )
        name = display_name(where.relative_to(source).as_posix()) + "/"
        problems.append(
            (name, "unreadable folder", f"{error.strerror or error}; its files were not read")
        )
    return sorted(found), sorted(problems)


def _not_a_file(path: str) -> tuple[str, str]:
    """Return (reason, detail) for a directory entry that is not a readable regular file."""
    try:
        os.stat(path)
    except OSError as error:
        if os.path.islink(path):
            if error.errno == errno.ELOOP:
                return "broken link", "the link loops back on itself"
            target = display_name(os.readlink(path))
            return "broken link", f"points to {short(target)}, which does not exist"
        return "unreadable", error.strerror or str(error)
    return "not a file", "a pipe, socket or device; copy the audio into a regular file"


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def memory_budget() -> int:
    """Return the bytes of clips prepare may hold: half of this machine's memory (8 GiB where
    it cannot be read)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (AttributeError, ValueError, OSError):
        return 8 << 30


def _run(
    source: Path,
    todo: list[tuple[int, str]],
    settings: _CutSettings,
    workers: int,
    progress: Callable[[int, int], None] | None,
) -> Iterator[_FileResult]:
    """Yield one result per (index, name) in `todo`, processed in `workers` processes, as they
    finish. Closing the generator early cancels the files not yet started."""
    total = len(todo)
    # Several chunks per worker keep all busy to the end; at most CHUNK_FILES to stream progress.
    size = max(1, min(CHUNK_FILES, math.ceil(total / (workers * 4))))
    chunks = [todo[i : i + size] for i in range(0, total, size)]
    done = 0
    if workers == 1 or len(chunks) <= 1:
        for chunk in chunks:
            yield from _process_chunk(str(source), chunk, settings)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
        return
    # Python's default start method: forcing "spawn" would re-run an unguarded script (or fail
    # in `python -`) in every worker on Linux; where Python defaults to it, the guard is needed.
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(chunks)),
        initializer=_watch_parent,
        initargs=(os.getpid(),),
    )
    try:
        futures = [pool.submit(_process_chunk, str(source), chunk, settings) for chunk in chunks]
        for future in as_completed(futures):
            results = future.result()
            yield from results
            done += len(results)
            if progress is not None:
                progress(done, total)
    finally:
        # On an early stop (a limit, an error) the chunks not started are dropped.
        pool.shutdown(wait=True, cancel_futures=True)


def _watch_parent(parent: int) -> None:
    """End this worker process soon after the prepare that started it is gone.

    A parent killed with SIGKILL never closes the task pipe, so without this its workers would
    wait on the pipe for ever.
    """
    direct = os.getppid() == parent

    def watch() -> None:
        while (os.getppid() == parent) if direct else process_alive(parent):
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="sonogen-parent-watch", daemon=True).start()


def _process_chunk(
    source: str, chunk: list[tuple[int, str]], settings: _CutSettings
) -> list[_FileResult]:
    """Decode and cut each file of `chunk` (runs in a worker process)."""
    results: list[_FileResult] = []
    for index, name in chunk:
        try:
            clips, starts = _cut_file(Path(source) / name, settings)
        except _Skip as skip:
            results.append((index, None, [], skip.reason, skip.detail))
        except AudioFileError as error:
            results.append((index, None, [], error.reason, error.detail))
        except (OSError, ValueError, RuntimeError, MemoryError) as error:
            # A decoder or resampler failing on one odd file must not end the whole prepare.
            log.warning("%s: %s", name, error)
            detail = f"{type(error).__name__}: {short(str(error))}"
            results.append((index, None, [], "unreadable", detail))
        else:
            results.append((index, clips, starts, "", ""))
    return results


class _Skip(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _cut_file(path: Path, settings: _CutSettings) -> tuple[np.ndarray, list[int]]:
    """Return (clips int16 [k, clip_samples], start sample of each) for one file, or raise _Skip."""
    rate = settings.sample_rate
    audio, _ = read_audio(path, rate, max_seconds=MAX_FILE_SECONDS)
    peak = float(np.max(np.abs(audio)))
    if peak < SILENT_PEAK:
        level = "all samples are zero" if peak == 0 else f"peak {20 * math.log10(peak):.0f} dBFS"
        raise _Skip("silent", f"{level}, below -80 dBFS")
    if settings.trim_silence:
        import librosa

        audio, _ = librosa.effects.trim(audio, top_db=settings.top_db)
    if len(audio) < settings.min_seconds * rate:
        trimmed = " after trimming silence" if settings.trim_silence else ""
        raise _Skip(
            "too short",
            f"{len(audio) / rate:.3f} s{trimmed}, need at least {settings.min_seconds:g} s",
        )
    audio = _normalize(audio, settings.normalize)

    clip = settings.clip_samples
    hop = settings.hop_samples
    if hop is None:
        starts = [0]
    elif math.ceil(len(audio) / hop) * clip * 2 > MAX_FILE_CLIP_BYTES:
        count = math.ceil(len(audio) / hop)
        raise _Skip(
            "too long",
            f"{len(audio) / rate:.0f} s would make {count} clips of {clip} samples with --hop "
            f"{hop} ({count * clip * 2 / 2**30:.1f} GiB, the limit per file is "
            f"{MAX_FILE_CLIP_BYTES / 2**30:g} GiB); use a larger --hop or split the file",
        )
    else:
        starts = []
        for start in range(0, len(audio), hop):
            # A tail clip is kept only if at least half of it is audio; a short file keeps its one.
            if len(audio) - start < clip and start > 0 and 2 * (len(audio) - start) < clip:
                break
            starts.append(start)
    clips = np.zeros((len(starts), clip), dtype=np.int16)
    for row, start in enumerate(starts):
        piece = audio[start : start + clip]
        clips[row, : len(piece)] = float_to_pcm16(piece)
    return clips, starts


def _normalize(audio: np.ndarray, mode: str) -> np.ndarray:
    """Return `audio` scaled by `mode`: "peak" (to 0.95), "loudness" (-20 dBFS RMS), "none"."""
    if mode == "peak":
        return audio * np.float32(PEAK_TARGET / np.max(np.abs(audio)))
    if mode == "loudness":
        rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
        audio = audio * np.float32(10 ** (LOUDNESS_RMS_DBFS / 20) / rms)
        peak = float(np.max(np.abs(audio)))
        # Quiet, spiky sounds would clip at -20 dBFS RMS; limit the peak instead of clipping.
        if peak > LOUDNESS_PEAK_LIMIT:
            audio = audio * np.float32(LOUDNESS_PEAK_LIMIT / peak)
        return audio
    return audio


def _resolve_labels(
    labels: str, source: Path, files: list[str]
) -> tuple[dict[str, str], dict[int, str], dict[str, str] | None]:
    """Return (label of each labelled file, {file index: detail} for files without a CSV label,
    {file: group} from the CSV's group column, or None when there is no such column)."""
    if labels == "none":
        return {}, {}, None
    if labels == "folder":
        return {name: name.split("/", 1)[0] for name in files if "/" in name}, {}, None
    given = labels[4:]
    table, groups = _read_label_csv(given, source)
    known = set(files)
    missing = {i: f"no label in {given}" for i, name in enumerate(files) if not table.get(name)}
    unused = sorted(set(table) - known)
    if unused:
        log.warning("%s: %d rows name files not found under %s", given, len(unused), source)
    return {name: table[name] for name in files if table.get(name)}, missing, groups


def _read_label_csv(given: str, source: Path) -> tuple[dict[str, str], dict[str, str] | None]:
    """Return ({file: label}, {file: group} or None) from a labels CSV (columns file,label and
    optionally group); SonogenError naming the CSV and its row for anything that is not one clean
    label per file, or a group column with empty cells."""
    path = Path(given).expanduser()
    if not path.exists() and not path.is_absolute() and (source / given).is_file():
        path = source / given  # a labels file kept inside the source folder
    if path.is_dir():
        raise SonogenError(
            f"{given}: is a folder, not a labels CSV; give the CSV's path after --labels csv:"
        )
    if not path.is_file():
        raise SonogenError(f"{given}: labels CSV not found; check the path after --labels csv:")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SonogenError(
            f"{given}: not UTF-8 text ({error.reason}); save it as UTF-8 CSV"
        ) from error
    except OSError as error:
        raise SonogenError(
            f"{given}: cannot be read ({error.strerror or error}); check its permissions"
        ) from error
    if "\x00" in text:
        raise SonogenError(f"{given}: holds NUL bytes, so it is not a text CSV; save it as CSV")
    try:
        return _label_rows(given, csv.DictReader(text.splitlines()))
    except csv.Error as error:
        raise SonogenError(f"{given}: not a readable CSV ({error}); fix or re-export it") from None


def _label_rows(given: str, reader: csv.DictReader) -> tuple[dict[str, str], dict[str, str] | None]:
    fields = [field.strip() for field in reader.fieldnames or []]
    if "file" not in fields or "label" not in fields:
        has = short(",".join(fields)) or "none"
        raise SonogenError(f"{given}: needs the columns file,label (has {has}); fix its header row")
    reader.fieldnames = fields
    table: dict[str, str] = {}
    groups: dict[str, str] | None = {} if "group" in fields else None
    no_group: list[int] = []
    first_row: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        name = (row.get("file") or "").strip().replace("\\", "/").removeprefix("./")
        label = (row.get("label") or "").strip()
        if not name and not label:
            continue  # a blank line
        where = f"{given}: row {line}"
        if not name:
            raise SonogenError(f"{where}: label {short(label)!r} has no file; fill in the file")
        if not label:
            raise SonogenError(
                f"{where}: {short(name)} has an empty label; give it one or remove the row"
            )
        bad = next((char for char in label if ord(char) < 32 or ord(char) == 127), None)
        if bad is not None:
            raise SonogenError(
                f"{where}: the label of {short(name)} holds the control character "
                f"{bad!r}; remove it"
            )
        if name in first_row:
            raise SonogenError(
                f"{where}: {short(name)} is listed again (first on row {first_row[name]}); "
                "keep one row per file"
            )
        first_row[name] = line
        table[name] = label
        if groups is not None:
            groups[name] = (row.get("group") or "").strip()
            if not groups[name]:
                no_group.append(line)
    if no_group:
        # refused rather than read as "unknown": a half-filled column would quietly put the
        # unmarked files' speakers on both sides of the group-disjoint split
        rows = ", ".join(str(line) for line in no_group[:5]) + (
            ", ..." if len(no_group) > 5 else ""
        )
        raise SonogenError(
            f"{given}: {len(no_group)} of {len(table)} rows have an empty group (rows {rows}); "
            "fill in every row's group, or delete the group column"
        )
    return table, groups


def _parse_group(group: str | None) -> tuple[str, re.Pattern | None]:
    """Return the group rule as (kind, pattern): kind "auto", "none", "fsdd", "csv" or "regex"."""
    text = "none" if group is None else str(group).strip()
    if text in ("auto", "none", "fsdd", "csv"):
        return (text, None)
    if not text.startswith("regex:"):
        raise SonogenError(f"--group: unknown form {short(text)!r}; use {GROUP_FORMS}")
    try:
        pattern = re.compile(text[len("regex:") :])
    except re.error as error:
        raise SonogenError(
            f"--group: bad regular expression {short(text[6:])!r} ({error}); use {GROUP_FORMS}"
        ) from None
    if pattern.groups != 1:
        raise SonogenError(
            f"--group: {short(text)!r} has {pattern.groups} capture groups, needs exactly one: "
            r"the part of the file path that names the group, e.g. regex:^([^/]+)/ or "
            r"regex:_(\w+)_\d+\.wav$"
        )
    return ("regex", pattern)


def _choose_group_rule(
    rule: tuple[str, re.Pattern | None],
    split_rule: tuple[str, object],
    csv_groups: dict[str, str] | None,
) -> tuple[str, re.Pattern | None]:
    """Return the group rule with "auto" resolved; "csv" without a group column is an error."""
    if rule[0] == "auto":
        if split_rule[0] == "fsdd":
            return ("fsdd", None)
        return ("csv", None) if csv_groups is not None else ("none", None)
    if rule[0] == "csv" and csv_groups is None:
        raise SonogenError(
            "--group csv: needs --labels csv:PATH with a group column (file,label,group); add "
            "the column, or use --group regex:PATTERN"
        )
    return rule


def _check_fsdd_names(source: Path, files: list[str], option: str, instead: str) -> None:
    """Raise SonogenError naming the first file whose name is not FSDD's."""
    for name in files:
        if not FSDD_NAME.match(Path(name).name):
            raise SonogenError(
                f"{source / name}: name does not follow the fsdd {option} rule "
                f"({FSDD_RULE}); rename or remove it, or use {instead}"
            )


def _resolve_groups(
    rule: tuple[str, re.Pattern | None],
    source: Path,
    files: list[str],
    csv_groups: dict[str, str],
) -> dict[str, str]:
    """Return {file: group} for the files whose group the rule tells; the rest have none."""
    kind, pattern = rule
    if kind == "fsdd":
        _check_fsdd_names(source, files, "group", "--group none")
        return {name: FSDD_NAME.match(Path(name).name).group(2) for name in files}
    if kind == "csv":
        return {name: csv_groups[name] for name in files if name in csv_groups}
    if kind != "regex":
        return {}
    found = {name: match.group(1) for name in files if (match := pattern.search(name))}
    found = {name: group for name, group in found.items() if group}
    if not found:
        raise SonogenError(
            f"--group regex:{short(pattern.pattern)}: matched none of the {len(files)} file "
            f"paths (e.g. {short(files[0])}); fix the pattern (it is searched in the path "
            "relative to the source folder)"
        )
    if len(found) < len(files):
        log.warning(
            "--group regex:%s: %d of %d files do not match and have no group",
            pattern.pattern,
            len(files) - len(found),
            len(files),
        )
    return found


def _check_labels(labels: str | None) -> str:
    labels = "none" if labels is None else str(labels)
    if labels not in ("folder", "none") and not (labels.startswith("csv:") and labels[4:]):
        raise SonogenError(f"--labels: unknown form {labels!r}; use {LABEL_FORMS}")
    return labels


def _check_normalize(normalize: str) -> str:
    if normalize not in NORMALIZE_MODES:
        raise SonogenError(
            f"--normalize: unknown mode {normalize!r}; use one of {', '.join(NORMALIZE_MODES)}"
        )
    return normalize


def check_clip_samples(value: object, sample_rate: int) -> int:
    """Return `value` as --clip-samples: at most MAX_CLIP_SECONDS at `sample_rate`."""
    from sonogen.config import CLIP_SAMPLES_RANGE

    clip = positive_int("--clip-samples", value)
    # the dataset reader refuses clips past CLIP_SAMPLES_RANGE, so prepare never writes one
    limit = min(MAX_CLIP_SECONDS * sample_rate, CLIP_SAMPLES_RANGE[1])
    if clip > limit:
        raise SonogenError(
            f"--clip-samples: {clip} is {clip / sample_rate:.0f} s at {sample_rate} Hz, above "
            f"the limit of {limit} samples ({limit / sample_rate:.0f} s); use at most {limit}"
        )
    return clip


def _check_hop(value: object, clip_samples: int) -> int:
    hop = positive_int("--hop", value)
    least = math.ceil(clip_samples / MAX_OVERLAP)
    if hop < least:
        raise SonogenError(
            f"--hop: {hop} would put each sample in {clip_samples // hop} clips of "
            f"{clip_samples} samples (the limit is {MAX_OVERLAP}); use --hop {least} or more"
        )
    return hop
