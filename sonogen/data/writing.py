"""What every dataset writer shares: option checks, the valid split, and publishing the folder.

The audio `prepare` (sonogen.data.prepare), the MIDI `prepare-midi` (sonogen.music.tokens) and the
built-in datasets all write a dataset dir the same way: check the paths and options, choose which
source files go to the valid split, then build the folder under a hidden name and rename it into
place (`publish`), so a run that fails leaves any previous dataset as it was. Standard library and
numpy only: the MIDI side need not import the audio decoders.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import numbers
import os
import re
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from sonogen.errors import SonogenError

log = logging.getLogger(__name__)

SPLIT_FORMS = '"0.1" (a share of source files), "0" or "none", "fsdd", "regex:PATTERN"'
# The Free Spoken Digit Dataset's file names: `--split fsdd` and `--group fsdd` read them.
FSDD_NAME = re.compile(r"^(\d)_([^_]+)_(\d+)\.[A-Za-z0-9]+$")
FSDD_RULE = "{digit}_{speaker}_{take}.wav, takes 0-4 go to valid"
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 1000, 384000  # a typo such as 160 or 16e6 is an error
# The files sonogen writes into a dataset dir (prepare, prepare-midi, the built-ins): --force
# replaces a folder only when it holds nothing else, so it never deletes a user's file.
DATASET_FILES = frozenset(
    {"dataset.json", "audio.npy", "items.csv", "skipped.csv", "tokens.npy", "pieces.csv"}
    | {"tokenizer.json"}
)
SKIPPED_HEADER = "file,reason"


def display_name(name: str) -> str:
    """Return `name` as valid UTF-8 text: bytes that are not UTF-8 (kept by Python as surrogate
    escapes) are written as backslash escapes ("bad\\xff.wav")."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def short(text: str, limit: int = 80) -> str:
    """Return `text` cut to `limit` characters (with "...") for quoting in an error message."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_sample_rate(option: str, value: object) -> int:
    """Return `value` as a sample rate in Hz within MIN_SAMPLE_RATE..MAX_SAMPLE_RATE."""
    rate = positive_int(option, value)
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise SonogenError(
            f"{option}: {rate} Hz is outside {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz; "
            "use e.g. 16000 or 44100"
        )
    return rate


def positive_int(option: str, value: object) -> int:
    """Return `value` as an int above 0 (2.0 is 2), or raise SonogenError naming `option`."""
    number = _number(option, value)
    if not math.isfinite(number) or number != int(number):
        raise SonogenError(f"{option}: must be a whole number, got {value!r}")
    if number <= 0:
        raise SonogenError(f"{option}: must be above 0, got {value!r}")
    return int(number)


def positive_float(option: str, value: object) -> float:
    """Return `value` as a finite float above 0, or raise SonogenError naming `option`."""
    number = _number(option, value)
    if not 0 < number < math.inf:
        raise SonogenError(f"{option}: must be above 0, got {value!r}")
    return number


def non_negative_float(option: str, value: object) -> float:
    """Return `value` as a finite float of 0 or more, or raise SonogenError naming `option`."""
    number = _number(option, value)
    if not 0 <= number < math.inf:
        raise SonogenError(f"{option}: must be 0 or more, got {value!r}")
    return number


def _number(option: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise SonogenError(f"{option}: must be a number, got {value!r}")
    return float(value)


def parse_split(split: str | float | None) -> tuple[str, float | re.Pattern | None]:
    """Return the split rule as (kind, value), kind "none", "share", "fsdd" or "regex"."""
    text = "none" if split is None else str(split).strip()
    if text.lower() == "none":
        return ("none", None)
    if text == "fsdd":
        return ("fsdd", None)
    if text.startswith("regex:"):
        try:
            return ("regex", re.compile(text[len("regex:") :]))
        except re.error as error:
            raise SonogenError(
                f"--split: bad regular expression {text[6:]!r} ({error}); use {SPLIT_FORMS}"
            ) from error
    try:
        share = float(text)
    except ValueError:
        share = math.nan
    if not 0.0 <= share < 1.0:
        raise SonogenError(
            f"--split: {text!r} is not a split rule; use {SPLIT_FORMS} (a share from 0 to below 1)"
        )
    return ("none", None) if share == 0 else ("share", share)


def valid_files(rule: tuple[str, object], used: list[str], seed: int) -> set[str]:
    """Return the files (from `used`, in file order) whose clips go to the valid split.

    `rule` is what `parse_split` returns; a share is drawn with `seed`, and always leaves at
    least one file in train.
    """
    kind, value = rule
    if kind == "fsdd":
        return {name for name in used if int(FSDD_NAME.match(Path(name).name).group(3)) <= 4}
    if kind == "regex":
        return {name for name in used if value.search(name)}
    if kind == "share" and len(used) >= 2:
        count = min(len(used) - 1, max(1, int(value * len(used) + 0.5)))
        order = np.random.default_rng(seed).permutation(len(used))
        return {used[i] for i in order[:count]}
    if kind == "share":
        log.warning("only one file made clips; it goes to train and valid is empty")
    return set()


def check_paths(source: str | Path, out: str | Path, force: bool) -> tuple[Path, Path]:
    """Return (source, out) as absolute paths after checking they can be used; else SonogenError."""
    source_path = Path(source).expanduser()
    if not source_path.exists():
        raise SonogenError(f"{source}: no such folder; check the path to your sounds")
    if not source_path.is_dir():
        raise SonogenError(f"{source}: is a file, not a folder; pass the folder that holds it")
    source_path = source_path.resolve()
    out_path = Path(out).expanduser().absolute()
    out_real = out_path.resolve()
    if out_real == source_path or source_path in out_real.parents:
        raise SonogenError(
            f"{out}: is inside the source folder {source}, and prepare never writes there; "
            "choose an OUT outside it"
        )
    if out_real in source_path.parents:
        raise SonogenError(f"{out}: holds the source folder {source}; choose another OUT")
    check_out(out_path, force)
    return source_path, out_path


def check_out(out: Path, force: bool) -> None:
    """Raise SonogenError unless `out` is free, or `force` is set and it is ours to replace."""
    if not (out.exists() or out.is_symlink()):
        return
    if not force:
        raise SonogenError(
            f"{out}: already exists; pass --force to overwrite it or choose another OUT"
        )
    # --force must not wipe anything a user made (a typo'd home dir, a folder that happens to
    # hold a skipped.csv): only an empty folder or one holding nothing but sonogen's own files.
    if out.is_symlink():
        raise SonogenError(
            f"{out}: is a symbolic link, so --force will not replace it; remove the link or "
            "choose another OUT"
        )
    if not out.is_dir():
        raise SonogenError(f"{out}: exists and is not a folder; remove it or choose another OUT")
    problem = _not_ours(out, need_info=True)
    if problem is not None:
        raise SonogenError(
            f"{out}: {problem}, so --force will not delete it; remove it yourself or choose "
            "another OUT"
        )


def _not_ours(folder: Path, *, need_info: bool) -> str | None:
    """Return why `folder` is not a dataset dir sonogen wrote (None when it is, or is empty).

    Ours: every entry is a regular file named in DATASET_FILES, and (with `need_info`) a
    dataset.json sonogen wrote, or only the skipped.csv a prepare that made nothing leaves.
    """
    try:
        entries = list(os.scandir(folder))
    except OSError as error:
        return f"cannot be listed ({error.strerror or error})"
    foreign = sorted(
        entry.name
        for entry in entries
        if entry.name not in DATASET_FILES or not entry.is_file(follow_symlinks=False)
    )
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        name = short(display_name(foreign[0]))
        return f"is not a sonogen dataset (it holds {name}{more}, which sonogen did not write)"
    names = {entry.name for entry in entries}
    if not need_info or not names:
        return None
    if names == {"skipped.csv"}:
        if _first_line(folder / "skipped.csv") == SKIPPED_HEADER:
            return None
        return "holds a skipped.csv sonogen did not write"
    if "dataset.json" not in names:
        return "is not a sonogen dataset (no dataset.json)"
    try:
        if (folder / "dataset.json").stat().st_size > 1 << 20:
            raise ValueError("too large")
        info = json.loads((folder / "dataset.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return f"holds a dataset.json sonogen cannot read ({short(str(error))})"
    if not (
        isinstance(info, dict)
        and "format_version" in info
        and str(info.get("created_by", "")).startswith("sonogen")
    ):
        return "holds a dataset.json sonogen did not write"
    return None


def _first_line(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            return handle.readline(200).decode("utf-8", "replace").strip()
    except OSError:
        return ""


LICENSE_NAMES = ("license", "licence", "copying")  # with no suffix or a text one
LICENSE_SUFFIXES = ("", ".txt", ".md", ".rst")
MAX_LICENSE_CHARACTERS = 200


def dataset_license(source: Path, given: str | None) -> str | None:
    """Return the licence a dataset dir records for `source`: `given` (the `--license` option)
    when set, else the first line of a LICENSE / LICENCE / COPYING file at the top of `source`
    (named, e.g. "LICENSE.txt: CC BY 4.0"), else None (not recorded)."""
    if given is not None:
        text = " ".join(str(given).split())
        if not text:
            raise SonogenError('--license: empty; give the data\'s licence, e.g. "CC BY 4.0"')
        if len(text) > MAX_LICENSE_CHARACTERS:
            raise SonogenError(
                f"--license: {len(text)} characters; give its name or a link "
                f"(at most {MAX_LICENSE_CHARACTERS})"
            )
        return text
    try:
        candidates = sorted(
            entry
            for entry in source.iterdir()
            if Path(entry.name.lower()).stem in LICENSE_NAMES
            and Path(entry.name.lower()).suffix in LICENSE_SUFFIXES
            and entry.is_file()
        )
    except OSError:
        return None
    for entry in candidates:
        try:
            with entry.open("rb") as handle:
                head = handle.read(4096).decode("utf-8", "replace")
        except OSError:
            continue
        line = next((line.strip() for line in head.splitlines() if line.strip()), "")
        if line:
            return f"{display_name(entry.name)}: {short(line, MAX_LICENSE_CHARACTERS)}"
    return None


def publish(out: Path, force: bool, fill: Callable[[Path], None]) -> None:
    """Build the output in a hidden sibling of `out` with `fill`, then rename it into place.

    A run that fails or is interrupted leaves any previous `out` as it was; the hidden sibling a
    killed run left behind is removed by the next run to the same `out`.
    """
    check_out(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out)
    temporary = out.parent / f".{out.name}.tmp-{os.getpid()}"
    temporary.mkdir()
    try:
        fill(temporary)
        if out.exists() or out.is_symlink():
            check_out(out, force)
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            out.rename(old)
            try:
                temporary.rename(out)
            except BaseException:
                old.rename(out)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            temporary.rename(out)
    finally:
        if temporary.exists():
            shutil.rmtree(temporary, ignore_errors=True)


def write_skipped(path: Path, rows: Sequence[tuple[str, str]]) -> None:
    """Write `rows` of (file, reason) as the CSV `path` (skipped.csv) under SKIPPED_HEADER."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(SKIPPED_HEADER.split(","))
        writer.writerows((display_name(name), display_name(reason)) for name, reason in rows)


def remove_stale_temporaries(out: Path) -> list[Path]:
    """Remove the `.OUT.tmp-PID` folders beside `out` that a killed run left; return them.

    Only folders whose process is gone and that hold nothing but dataset files are removed, and
    a `.OUT.old-PID` (the previous dataset, set aside for the swap) only while `out` exists.
    """
    pattern = re.compile(rf"\.{re.escape(out.name)}\.(tmp|old)-(\d+)")
    removed = []
    try:
        entries = list(os.scandir(out.parent))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if not match or not entry.is_dir(follow_symlinks=False):
            continue
        pid = int(match.group(2))
        if pid != os.getpid() and process_alive(pid):
            continue  # a prepare to the same OUT still running
        if match.group(1) == "old" and not out.exists():
            log.warning("%s: a killed run left the previous dataset here; rename it", entry.path)
            continue
        if _not_ours(Path(entry.path), need_info=False) is None:
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
            log.info("removed %s, left by a run that was killed", entry.path)
    return removed


def process_alive(pid: int) -> bool:
    """Return whether process `pid` exists (True where that cannot be told)."""
    if os.name == "nt":  # os.kill(pid, 0) would end the process there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
