"""Checks of what a user asks for (numbers, seeds, output paths) and safe file names made from
data; every layer below the API uses these, so each limit and message is written once."""

from __future__ import annotations

import math
import operator
import os
from pathlib import Path
from typing import Any

import numpy as np

from sonogen.errors import SonogenError

MAX_SHOWN = 80  # characters of a user's value shown in an error message
MAX_SEED = 2**63 - 1  # seeds are 0 .. 2**63-1 (torch and numpy take 64-bit seeds)
MAX_TEMPERATURE = 100.0  # past this, sampling is noise whatever the model learnt
MAX_INTERPOLATION_STEPS = 1000  # interpolate --steps


def shown(value: Any) -> str:
    """Return a short repr of a user's value for an error message (at most ~80 characters,
    however large or deeply nested the value is)."""
    import reprlib

    limits = reprlib.Repr()
    limits.maxlevel, limits.maxstring, limits.maxother = 3, MAX_SHOWN, MAX_SHOWN
    limits.maxlist = limits.maxtuple = limits.maxdict = limits.maxset = 6
    text = limits.repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def is_seed(value: Any) -> bool:
    """Whether an interpolation end is a seed (a whole number, not a bool) rather than a sound."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def interpolation_kind(a: Any, b: Any) -> str:
    """Return what two interpolation ends are: "seeds", "sounds" or "one of each"."""
    seeds = is_seed(a), is_seed(b)
    return "seeds" if all(seeds) else "sounds" if not any(seeds) else "one of each"


def whole_number(option: str, value: Any, low: int, high: int | None = None) -> int:
    """Return ``value`` as an int in [low, high], or raise SonogenError naming ``option``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise SonogenError(f"{option} {shown(value)}: must be a whole number")
    if value < low or (high is not None and value > high):
        upper = f" and at most {high}" if high is not None else ""
        raise SonogenError(f"{option} {shown(value)}: must be at least {low}{upper}")
    return int(value)


def check_seed(seed: Any, option: str = "--seed") -> int:
    """Return ``seed`` as an int in 0..2**63-1, or raise SonogenError naming ``option``."""
    whole = isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)
    if not whole or not 0 <= seed <= MAX_SEED:
        raise SonogenError(
            f"{option} {shown(seed)}: must be a whole number from 0 to 2**63-1 ({MAX_SEED})"
        )
    return int(seed)


def random_seed() -> int:
    """Return a fresh seed in 0..2**63-1 (printed, so that a run can be repeated)."""
    return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))


def batch_seed(seed: int, batch: int) -> int:
    """Return the seed of a batch of clips: ``seed`` itself for the first, then one derived
    from (seed, batch) by numpy's SeedSequence (stable across versions and machines)."""
    if batch == 0:
        return seed
    state = np.random.SeedSequence([seed, batch]).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(1))


def finite_number(
    option: str, value: Any, *, low: float, high: float | None = None, low_open: bool = False
) -> float:
    """Return ``value`` as a finite float in [low, high] ((low, high] with low_open)."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    below = number <= low if low_open else number < low
    if not math.isfinite(number) or below or (high is not None and number > high):
        bound = f"more than {low:g}" if low_open else f"at least {low:g}"
        upper = f" and at most {high:g}" if high is not None else ""
        raise SonogenError(f"{option} {shown(value)}: must be a finite number, {bound}{upper}")
    return number


def safe_file_stem(text: Any, limit_bytes: int = 120) -> str:
    """Return ``text`` made safe as (part of) a file name: letters, digits and ``-_.`` are kept,
    anything else (``/``, ``\\``, spaces, control characters) becomes ``_``; never empty, never
    starting with ``.``, at most ``limit_bytes`` bytes in UTF-8.

    Every file name made from data (labels, prompt and prime file names, run names) goes through
    this, so that a label such as ``../x`` cannot write outside the output folder.
    """
    kept = "".join(
        char if (char.isalnum() and char.isprintable()) or char in "-_." else "_"
        for char in str(text)
    )
    stem = "_" * (len(kept) - len(kept.lstrip("."))) + kept.lstrip(".")
    while len(stem.encode("utf-8", "replace")) > limit_bytes:
        stem = stem[:-1]
    return stem or "_"


def output_folder(path: str | Path, option: str = "--out", *, create: bool = True) -> Path:
    """Return ``path`` as a folder that can be written (created with its parents unless
    ``create`` is False); raise SonogenError naming ``option`` when it is a file, cannot be
    created or is not writable."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise SonogenError(
            f"{option} {folder}: is a file, not a folder; pass a folder (made if missing)"
        )
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise SonogenError(f"{option} {folder}: {existing} is a file, not a folder; pass a folder")
    if existing.exists() and not os.access(existing, os.W_OK | os.X_OK):
        raise SonogenError(
            f"{option} {folder}: cannot write in {existing} (permission denied); choose a "
            f"writable {option}"
        )
    if create:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SonogenError(
                f"{option} {folder}: cannot create the folder ({error.strerror or error}); "
                f"choose another {option}"
            ) from None
    return folder


def output_wav(source: str | Path, out: str | Path) -> Path:
    """Return ``out`` checked as the WAV file a command makes from ``source``: a name ending in
    .wav, not a folder, in a writable folder, and never the input itself (the same path, a
    symbolic link or a hard link to it: compared by device and inode)."""
    source, out = Path(source), Path(out)
    if out.is_dir():
        raise SonogenError(
            f"OUT {out}: is a folder; name the WAV file to write, e.g. "
            f"{out / (safe_file_stem(source.stem) + '.wav')}"
        )
    if out.exists() and source.exists():
        if out.resolve() == source.resolve() or os.path.samefile(source, out):
            raise SonogenError(
                f"OUT {out}: is the input file {source} (the same file or a link to it) and "
                "would overwrite it; choose another output file"
            )
    if out.suffix.lower() != ".wav":
        raise SonogenError(f"OUT {out}: sonogen writes WAV files; give a name ending in .wav")
    output_folder(out.parent, "OUT", create=False)
    return out


def read_small_file(path: Path, limit: int, remedy: str) -> bytes:
    """Return the bytes of a file sonogen reads whole (a config, a dataset.json), reading at most
    ``limit`` + 1 bytes: a larger file is a SonogenError ending in ``remedy``, never read in."""
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise SonogenError(f"{path}: cannot be read ({error.strerror or error})") from None
    if len(data) > limit:
        raise SonogenError(f"{path}: larger than {limit:,} bytes, too large; {remedy}")
    return data


def check_temperature(temperature: Any) -> float:
    """Return ``temperature`` as a float from 0 to MAX_TEMPERATURE, else a SonogenError naming
    ``--temperature`` (NaN would otherwise make silent clips)."""
    try:
        value = float(temperature)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond float's range
        value = math.nan
    if not 0 <= value <= MAX_TEMPERATURE:
        raise SonogenError(
            f"--temperature {shown(temperature)}: must be a finite number, 0 or more and at "
            f"most {MAX_TEMPERATURE:g}"
        )
    return value


def check_truncation(truncation: Any) -> float | None:
    """Return ``truncation`` as a positive finite float (or None), else a SonogenError naming
    ``--truncation``."""
    if truncation is None:
        return None
    try:
        value = float(truncation)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond float's range
        value = math.nan
    if not 0 < value < math.inf:
        raise SonogenError(f"--truncation {shown(truncation)}: must be a positive finite number")
    return value


def check_steps(steps: Any) -> int:
    """Return the step count of an interpolation (2..MAX_INTERPOLATION_STEPS), else a
    SonogenError naming ``--steps``."""
    try:
        value = operator.index(steps)
    except TypeError:
        value = 0
    if not 2 <= value <= MAX_INTERPOLATION_STEPS:
        raise SonogenError(
            f"--steps {shown(steps)}: an interpolation needs at least 2 steps and at most "
            f"{MAX_INTERPOLATION_STEPS}"
        )
    return value
