"""MIDI files as token sequences (miditok): the ``midi-tokens`` dataset dir, and windows over it.

``prepare_midi(SOURCE, OUT)`` reads every MIDI file under SOURCE (.mid/.midi, sub-folders too),
merges the pitched tracks of each file into one (drum tracks are dropped: the models learn one
stream of notes, and compose writes one track), tokenizes it with a miditok tokenizer (REMI by
default) and writes a dataset dir:

- ``dataset.json``: ``"kind": "midi-tokens"``, ``count`` (rows of pieces.csv, transposed copies
  included), ``labels: null``, ``sample_rate`` (the rate compose renders at), ``clip_samples``
  (the training sequence length, in tokens) and ``extra``: everything needed to rebuild the
  tokenizer (``tokenizer``: miditok's parameter dict, ``tokenizer_name``, ``vocab_size``, and the
  ids of the PAD, BOS, EOS and Bar tokens). ``sonogen train`` copies ``extra`` into the run's
  config.yaml, so a run dir rebuilds its tokenizer without the dataset.
- ``tokens.npy``: int32, every piece as ``[BOS, tokens..., EOS]``, all concatenated.
- ``pieces.csv``: index, file, start, length, split, transposition (semitones; 0 for the file as
  it is). ``start``/``length`` locate the piece in tokens.npy.
- ``skipped.csv``: every MIDI file not used, with the reason (unreadable, no notes, ...).
- ``tokenizer.json``: miditok's own save of the tokenizer, for people and for miditok.

The valid split is a seeded share of files (never of windows of one file). Transposition
augmentation adds copies of the train pieces shifted by each semitone of ``range(low, high)``
except 0 (``transpose=(-5, 6)``: -5..+5), made in token space (pitch tokens remapped); a copy
whose notes would leave the tokenizer's pitch range is not made. Valid pieces are never
transposed.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sonogen.errors import SonogenError

log = logging.getLogger(__name__)

KIND = "midi-tokens"
FORMAT_VERSION = 1
MIDI_EXTENSIONS = frozenset({".mid", ".midi"})
TOKENIZERS = ("REMI", "TSD", "MIDILike", "Structured")  # one token stream each
MULTI_STREAM = ("CPWord", "Octuple", "MuMIDI")  # one token per vocabulary per step
DEFAULT_SEQ_LEN = 512
MAX_SEQ_LEN = 65536  # far beyond what attention over one sequence can afford
DEFAULT_RENDER_RATE = 22050
PIECE_COLUMNS = ("index", "file", "start", "length", "split", "transposition")
PITCH_TOKEN_TYPES = ("Pitch", "NoteOn", "NoteOff")  # the token types that carry a MIDI pitch


# --------------------------------------------------------------------------------------------
# the tokenizer


def make_tokenizer(name: str = "REMI") -> Any:
    """Return a new miditok tokenizer ``name`` with sonogen's settings (miditok's defaults: 32
    velocities, 8 positions per beat, time signatures; no programs, tempos, chords, rests or
    drum pitches)."""
    name = str(name)[:80]
    if name in MULTI_STREAM:
        raise SonogenError(
            f"--tokenizer {name}: a multi-stream tokenizer (several tokens per step); sonogen's "
            f"models read one stream; use one of {', '.join(TOKENIZERS)}"
        )
    if name not in TOKENIZERS:
        raise SonogenError(f"--tokenizer {name}: unknown; use one of {', '.join(TOKENIZERS)}")
    import miditok

    config = miditok.TokenizerConfig(
        use_programs=False,
        use_tempos=False,
        use_chords=False,
        use_rests=False,
        use_pitchdrum_tokens=False,  # drum tracks are dropped
    )
    # built again from its parameters, as every later rebuild is, so that ids always agree
    return _build(name, getattr(miditok, name)(tokenizer_config=config).to_dict(), "--tokenizer")


def _canonical(params: dict) -> dict:
    """Return miditok parameters as plain JSON values with the dicts whose order decides token
    ids (time signatures, beat resolutions) in numeric key order: JSON and YAML files may sort
    keys as strings ("16" before "4"), which would otherwise renumber the vocabulary."""
    params = json.loads(json.dumps(params))
    config = params.get("config", {})
    for key in ("beat_res", "beat_res_rest"):
        if isinstance(config.get(key), dict):
            config[key] = dict(
                sorted(config[key].items(), key=lambda item: [int(v) for v in item[0].split("_")])
            )
    if isinstance(config.get("time_signature_range"), dict):
        config["time_signature_range"] = dict(
            sorted(config["time_signature_range"].items(), key=lambda item: int(item[0]))
        )
    return params


def _build(name: str, params: dict, where: str) -> Any:
    """Return miditok tokenizer ``name`` built from its parameter dict (canonical order)."""
    import miditok

    # miditok rebuilds a tokenizer from its saved JSON file only, so the dict goes through one
    handle, path = tempfile.mkstemp(suffix=".json", prefix="sonogen-tokenizer-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(_canonical(params), file)
        return getattr(miditok, name)(params=path)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise SonogenError(
            f"{where}: cannot rebuild the {name} tokenizer ({type(error).__name__}: {error}); "
            "prepare the data again with this miditok version"
        ) from None
    finally:
        os.unlink(path)


def vocabulary_digest(tokenizer: Any) -> str:
    """Return a sha256 over the tokenizer's (token, id) pairs: equal digests, equal ids."""
    import hashlib

    pairs = sorted((str(token), int(index)) for token, index in tokenizer.vocab.items())
    return hashlib.sha256(json.dumps(pairs).encode()).hexdigest()


def tokenizer_extra(tokenizer: Any) -> dict[str, Any]:
    """Return the JSON-able ``extra`` of a dataset.json that rebuilds ``tokenizer``."""
    vocab = tokenizer.vocab
    return {
        "tokenizer": _canonical(tokenizer.to_dict()),
        "tokenizer_name": type(tokenizer).__name__,
        "vocab_size": int(tokenizer.vocab_size),
        "vocab_sha256": vocabulary_digest(tokenizer),
        "pad_id": int(tokenizer.pad_token_id),
        "bos_id": int(vocab["BOS_None"]),
        "eos_id": int(vocab["EOS_None"]),
        "bar_id": int(vocab["Bar_None"]) if "Bar_None" in vocab else None,
    }


def tokenizer_from_extra(extra: dict | None, where: str = "data.extra") -> Any:
    """Rebuild the tokenizer that ``extra`` (a dataset.json's or run config's) describes, and
    check that its token ids are those the data was made with."""
    extra = extra or {}
    name = extra.get("tokenizer_name")
    params = extra.get("tokenizer")
    if not name or not isinstance(params, dict):
        raise SonogenError(
            f"{where}: no tokenizer settings; this is not a MIDI-token dataset or run; "
            "prepare the data with `sonogen prepare-midi`"
        )
    if name not in TOKENIZERS:
        raise SonogenError(f"{where}: tokenizer {name!r} is not one sonogen reads")
    tokenizer = _build(name, params, where)
    digest = extra.get("vocab_sha256")
    if digest is not None and digest != vocabulary_digest(tokenizer):
        raise SonogenError(
            f"{where}: the {name} tokenizer rebuilt here numbers its {tokenizer.vocab_size} "
            "tokens differently from the data (another miditok version?); install the miditok "
            "that made it, or prepare the data again"
        )
    return tokenizer


def special_ids(tokenizer: Any) -> set[int]:
    """Return the ids of PAD, BOS, EOS and MASK (tokens that are not music)."""
    return {int(tokenizer.vocab[t]) for t in tokenizer.special_tokens if t in tokenizer.vocab}


# --------------------------------------------------------------------------------------------
# scores <-> tokens


def read_score(path: str | Path) -> Any:
    """Return a MIDI file as a symusic Score (ticks); SonogenError if it cannot be read."""
    from symusic import Score

    path = Path(path)
    if not path.is_file():
        raise SonogenError(f"{path}: MIDI file not found")
    problem = _midi_structure_problem(path.read_bytes())
    if problem:
        raise SonogenError(f"{path}: not a readable MIDI file ({problem})")
    try:
        return Score(str(path))
    except Exception as error:  # noqa: BLE001 - symusic raises plain RuntimeErrors
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SonogenError(f"{path}: not a readable MIDI file ({message})") from None


def _midi_structure_problem(data: bytes) -> str | None:
    """Return why `data` is not a whole Standard MIDI File (a header, then as many track chunks as
    it announces, each fitting in the file), or None. symusic reads a chunk cut short past the
    end of its buffer, so a truncated file was accepted or refused by chance. Bytes after the
    last track are ignored, as players do."""
    if data[:4] == b"RIFF":  # an RMID file wraps the MIDI data; symusic checks it
        return None
    if data[:4] != b"MThd" or len(data) < 14 or int.from_bytes(data[4:8], "big") < 6:
        return "no MIDI header (MThd)"
    tracks = int.from_bytes(data[10:12], "big")
    position, found = 8 + int.from_bytes(data[4:8], "big"), 0
    while found < tracks:
        if len(data) - position < 8:
            return f"truncated: {found} of the {tracks} tracks it announces"
        length = int.from_bytes(data[position + 4 : position + 8], "big")
        if position + 8 + length > len(data):
            left = len(data) - position - 8
            return f"truncated: a chunk of {length} bytes has {left} left in the file"
        found += data[position : position + 4] == b"MTrk"
        position += 8 + length
    return None


def merge_tracks(score: Any) -> Any:
    """Return a copy of ``score`` with its pitched tracks merged into one (drums dropped); the
    track keeps the first pitched track's program."""
    from symusic import Track

    merged = score.copy()
    pitched = [track for track in score.tracks if not track.is_drum]
    track = Track(program=pitched[0].program if pitched else 0, is_drum=False)
    for source in pitched:
        track.notes.extend(source.notes)
    track.notes.sort()
    merged.tracks = [track] if len(track.notes) else []
    return merged


def score_to_tokens(tokenizer: Any, score: Any) -> list[int]:
    """Return the token ids of a Score's notes (tracks merged; no BOS/EOS), [] if none."""
    merged = merge_tracks(score)
    if not merged.tracks:
        return []
    encoded = tokenizer.encode(merged)
    sequence = encoded if tokenizer.one_token_stream else encoded[0]
    return [int(i) for i in sequence.ids]


def tokens_to_score(tokenizer: Any, tokens: Any) -> Any:
    """Return the Score (ticks, one track) that token ids decode to; special tokens are left
    out."""
    specials = special_ids(tokenizer)
    ids = [int(t) for t in tokens if int(t) not in specials]
    if not ids:
        from symusic import Score

        return Score(tokenizer.time_division)
    return tokenizer.decode(ids if tokenizer.one_token_stream else [ids])


def pitch_table(tokenizer: Any, semitones: int) -> np.ndarray:
    """Return int64 [vocab_size]: each token id after transposing by ``semitones`` (-1 where the
    pitch would leave the vocabulary); tokens without a pitch map to themselves."""
    vocab = tokenizer.vocab
    table = np.arange(tokenizer.vocab_size, dtype=np.int64)
    for token, index in vocab.items():
        kind, _, value = token.partition("_")
        if kind in PITCH_TOKEN_TYPES and value.lstrip("-").isdigit():
            table[index] = vocab.get(f"{kind}_{int(value) + semitones}", -1)
    return table


def pitch_mask(tokenizer: Any) -> np.ndarray:
    """Return bool [vocab_size]: which token ids carry a pitch (one per note for REMI, TSD,
    Structured; NoteOn and NoteOff for MIDILike)."""
    return pitch_table(tokenizer, 0) != pitch_table(tokenizer, 1)


# --------------------------------------------------------------------------------------------
# bars


def bar_starts(score: Any, end: int | None = None) -> list[int]:
    """Return the tick of every bar line from 0 up to ``end`` (default: the score's end), from
    its time signatures (4/4 before the first one or where there is none)."""
    end = int(score.end()) if end is None else int(end)
    tpq = int(score.ticks_per_quarter)
    signatures = sorted(
        (int(sig.time), int(sig.numerator), int(sig.denominator)) for sig in score.time_signatures
    )
    starts: list[int] = []
    tick, following, numerator, denominator = 0, 0, 4, 4
    while tick < end or not starts:
        while following < len(signatures) and signatures[following][0] <= tick:
            _, numerator, denominator = signatures[following]
            following += 1
        starts.append(tick)
        length = max(1, round(tpq * 4 * numerator / denominator))
        if following < len(signatures) and signatures[following][0] < tick + length:
            length = signatures[following][0] - tick  # a change mid-bar starts a new bar there
        tick += length
    return starts


def bar_ticks(score: Any, bars: int) -> int:
    """Return the tick at which bar number ``bars`` ends (bars counted from 1)."""
    tpq = int(score.ticks_per_quarter)
    far = int(score.end()) + (bars + 1) * tpq * 16  # past the end: 4/4 bars or longer ones
    starts = bar_starts(score, far)
    while len(starts) <= bars:
        starts = bar_starts(score, far := far * 2)
    return starts[bars]


def count_bars(score: Any) -> int:
    """Return the number of bars a Score spans: bar lines before its end (events, markers)."""
    end = int(score.end())
    return 0 if end <= 0 else len(bar_starts(score, end))


def trim_to_bars(score: Any, bars: int) -> Any:
    """Return a copy of ``score`` cut to exactly ``bars`` bars: notes starting later are dropped,
    notes sounding past the last bar line are shortened, and a marker ``end`` at that bar line
    makes the file that long even where the last bars are silent."""
    from symusic import TextMeta, Track

    end = bar_ticks(score, bars)
    trimmed = score.copy()
    for track in trimmed.tracks:
        kept = [note for note in track.notes if note.time < end]
        for note in kept:
            note.duration = min(note.duration, end - note.time)
        track.notes = kept
    # events at or after the last bar line would make the file longer than its bars
    trimmed.time_signatures = [e for e in trimmed.time_signatures if e.time < end]
    trimmed.key_signatures = [e for e in trimmed.key_signatures if e.time < end]
    trimmed.tempos = [e for e in trimmed.tempos if e.time < end]
    trimmed.markers = [e for e in trimmed.markers if e.time < end]
    trimmed.markers.append(TextMeta(end, "end"))
    # symusic (0.5.9) writes each event list in its order, and a decoded score's time
    # signatures can be out of order; and a score without tracks is written with broken
    # delta times. Either would put the end marker millions of ticks late.
    trimmed.sort()
    if not len(trimmed.tracks):
        trimmed.tracks.append(Track(program=0))
    return trimmed


# --------------------------------------------------------------------------------------------
# prepare_midi


@dataclass(frozen=True)
class MidiSummary:
    """What prepare_midi made: files used and skipped, pieces per split, tokens and wall time."""

    out: Path
    files_total: int
    files_used: int
    pieces: int
    train_pieces: int
    valid_pieces: int
    transposed_pieces: int
    tokens: int
    skipped: dict[str, int]
    seconds: float


def find_midi_files(source: Path) -> list[str]:
    """Return the MIDI files under ``source`` (sub-folders too), relative, sorted; hidden names
    and folders are left out, and so are the entries ``scan_files`` reports as problems."""
    from sonogen.data.prepare import scan_files

    return scan_files(Path(source), MIDI_EXTENSIONS)[0]


def _check_transpose(transpose: Any) -> tuple[int, int] | None:
    if transpose is None:
        return None
    try:
        low, high = (int(v) for v in transpose)
        if (low, high) != tuple(transpose):
            raise ValueError
    except (TypeError, ValueError):
        raise SonogenError(
            f"--transpose {transpose!r}: expected two whole numbers LOW HIGH, e.g. -5 6 "
            "(semitones in range(LOW, HIGH))"
        ) from None
    if not low < high or low < -24 or high > 25:
        raise SonogenError(
            f"--transpose {low} {high}: need LOW < HIGH within -24..25 (semitones in "
            "range(LOW, HIGH), e.g. -5 6 for -5..+5)"
        )
    return low, high


def prepare_midi(
    source: str | Path,
    out: str | Path,
    *,
    tokenizer: str = "REMI",
    split: str = "0.1",
    transpose: tuple[int, int] | None = None,
    seq_len: int = DEFAULT_SEQ_LEN,
    sample_rate: int = DEFAULT_RENDER_RATE,
    seed: int = 0,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
    source_label: str | None = None,
    skipped_before: Sequence[tuple[str, str]] = (),
) -> MidiSummary:
    """Tokenize the MIDI files under ``source`` into a midi-tokens dataset dir at ``out``.

    ``tokenizer``: a miditok tokenizer name (REMI, TSD, MIDILike, Structured). ``split``: a share
    of files for the valid split ("0.1"), "0"/"none" or "regex:PATTERN" (as `sonogen prepare`).
    ``transpose``: (LOW, HIGH) adds train copies shifted by each semitone in range(LOW, HIGH)
    but 0. ``seq_len``: the training sequence length in tokens (dataset.json's clip_samples).
    ``sample_rate``: the rate compose renders at. ``progress(done_files, total_files)`` is called
    as files finish. A broken or empty file is a row of skipped.csv, never an error; SonogenError
    for bad options and when no file gave a piece (after writing ``out/skipped.csv``).
    ``source_label`` replaces the source path in dataset.json and ``skipped_before`` adds (file,
    reason) rows to skipped.csv (for built-in sets made in a temporary folder).
    """
    from sonogen.data.prepare import scan_files
    from sonogen.data.writing import (
        check_paths,
        check_sample_rate,
        dataset_license,
        display_name,
        parse_split,
        positive_int,
        publish,
        valid_files,
        write_skipped,
    )

    started = time.perf_counter()
    tok = make_tokenizer(tokenizer)
    seq_len = positive_int("--seq-len", seq_len)
    if seq_len > MAX_SEQ_LEN:
        raise SonogenError(f"--seq-len: {seq_len} is above the limit of {MAX_SEQ_LEN} tokens")
    sample_rate = check_sample_rate("--sample-rate", sample_rate)
    rule = parse_split(split)
    if rule[0] == "fsdd":
        raise SonogenError("--split fsdd: only for spoken digits; use a share such as 0.1")
    shifts = _check_transpose(transpose)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SonogenError(f"--seed: must be a whole number, 0 or more, got {seed!r}")
    source_path, out_path = check_paths(source, out, force)
    files, problems = scan_files(source_path, MIDI_EXTENSIONS)
    if not files and not problems:
        raise SonogenError(
            f"{source}: no MIDI files found (looked for .mid and .midi, in sub-folders too); "
            "point prepare-midi at the folder that holds them"
        )
    log.info("tokenizing %d MIDI files from %s with %s", len(files), source, tokenizer)

    extra = tokenizer_extra(tok)
    bos, eos = extra["bos_id"], extra["eos_id"]
    pieces: dict[str, list[int]] = {}
    skipped: list[tuple[str, str]] = list(skipped_before)
    skipped += [(name, f"{reason}: {detail}") for name, reason, detail in problems]
    reasons: Counter[str] = Counter(reason.split(":", 1)[0] for _, reason in skipped)
    has_pitch = pitch_mask(tok)
    for done, name in enumerate(files, start=1):
        try:
            pieces[name] = [bos, *_file_tokens(tok, source_path / name, has_pitch), eos]
        except _Skip as skip:
            skipped.append((name, f"{skip.reason}: {skip.detail}"))
            reasons[skip.reason] += 1
            log.debug("skipped %s: %s: %s", name, skip.reason, skip.detail)
        if progress is not None:
            progress(done, len(files))

    options = {
        "tokenizer": tok.__class__.__name__,
        "split": str(split).strip(),
        "transpose": None if shifts is None else list(shifts),
        "seq_len": seq_len,
        "sample_rate": sample_rate,
        "seed": seed,
    }
    if not pieces:
        publish(out_path, force, lambda tmp: write_skipped(tmp / "skipped.csv", skipped))
        counted = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
        raise SonogenError(
            f"no pieces made from {source}: {len(skipped)} files skipped ({counted}); "
            f"see {out_path / 'skipped.csv'}"
        )

    used = sorted(pieces)
    valid = valid_files(rule, used, seed)
    rows: list[dict[str, Any]] = []
    arrays: list[np.ndarray] = []
    start = 0

    def add(name: str, ids: np.ndarray, piece_split: str, semitones: int) -> None:
        nonlocal start
        rows.append(
            {
                "index": len(rows),
                "file": name,
                "start": start,
                "length": len(ids),
                "split": piece_split,
                "transposition": semitones,
            }
        )
        arrays.append(ids.astype(np.int32))
        start += len(ids)

    transposed = 0
    for name in used:
        ids = np.asarray(pieces[name], dtype=np.int64)
        add(name, ids, "valid" if name in valid else "train", 0)
    if shifts is not None:
        tables = {k: pitch_table(tok, k) for k in range(shifts[0], shifts[1]) if k != 0}
        for name in used:
            if name in valid:
                continue
            ids = np.asarray(pieces[name], dtype=np.int64)
            for semitones, table in tables.items():
                moved = table[ids]
                if (moved >= 0).all():
                    add(name, moved, "train", semitones)
                    transposed += 1
    tokens = np.concatenate(arrays)
    valid_count = sum(row["split"] == "valid" for row in rows)
    info = {
        "format_version": FORMAT_VERSION,
        "kind": KIND,
        "sample_rate": sample_rate,
        "clip_samples": seq_len,
        "count": len(rows),
        "labels": None,
        "source": source_label or display_name(str(source_path)),
        "license": dataset_license(source_path, None),
        "created_by": f"sonogen {_version()}",
        "options": options,
        "extra": extra | {"tokens": int(len(tokens))},
    }

    def fill(folder: Path) -> None:
        np.save(folder / "tokens.npy", tokens, allow_pickle=False)
        with (folder / "pieces.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=PIECE_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        write_skipped(folder / "skipped.csv", skipped)
        tok.save(folder / "tokenizer.json")
        text = json.dumps(info, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
        (folder / "dataset.json").write_text(text, encoding="utf-8")

    publish(out_path, force, fill)
    summary = MidiSummary(
        out=out_path,
        files_total=len(files) + len(problems),
        files_used=len(used),
        pieces=len(rows),
        train_pieces=len(rows) - valid_count,
        valid_pieces=valid_count,
        transposed_pieces=transposed,
        tokens=int(len(tokens)),
        skipped=dict(sorted(reasons.items())),
        seconds=time.perf_counter() - started,
    )
    log.info(
        "wrote %d pieces (%d train, %d valid, %d transposed copies), %d tokens, from %d of %d "
        "files to %s; skipped %s",
        summary.pieces,
        summary.train_pieces,
        summary.valid_pieces,
        transposed,
        summary.tokens,
        summary.files_used,
        summary.files_total,
        out_path,
        summary.skipped or "none",
    )
    return summary


class _Skip(Exception):
    """A MIDI file that gives no piece: ``reason`` is a short word, ``detail`` says more."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def _file_tokens(tokenizer: Any, path: Path, has_pitch: np.ndarray) -> list[int]:
    """Return a MIDI file's token ids (no BOS/EOS), or raise _Skip saying why there are none."""
    try:
        score = read_score(path)
    except SonogenError as error:
        raise _Skip("unreadable", str(error).split(": ", 1)[-1]) from None
    if not any(len(track.notes) for track in score.tracks if not track.is_drum):
        raise _Skip("no notes", "the file holds no pitched notes")
    try:
        ids = score_to_tokens(tokenizer, score)
    except Exception as error:  # noqa: BLE001 - miditok rejects odd files in many ways
        raise _Skip("untokenizable", f"{type(error).__name__}: {error}") from None
    if not has_pitch[np.asarray(ids, dtype=np.int64)].any():
        raise _Skip("no notes", "none within the tokenizer's pitch range")
    return ids


def _version() -> str:
    from sonogen import __version__

    return __version__


# --------------------------------------------------------------------------------------------
# reading a midi-tokens dataset dir


def check_token_dataset(info: Any) -> None:
    """Raise SonogenError unless ``info`` (a DatasetInfo) is a midi-tokens dataset dir."""
    if info.kind != KIND:
        raise SonogenError(
            f"{info.path}: a {info.kind} dataset; the music models learn from MIDI tokens: "
            "make a dataset with `sonogen prepare-midi MIDI_FOLDER OUT` and train on OUT"
        )


def read_pieces(info: Any) -> list[dict[str, Any]]:
    """Return the rows of pieces.csv (index, file, start, length, split, transposition as ints
    where numeric), in piece order."""
    check_token_dataset(info)
    path = Path(info.path) / "pieces.csv"
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        pieces = [
            row | {k: int(row[k]) for k in ("index", "start", "length", "transposition")}
            for row in rows
        ]
    except (OSError, KeyError, ValueError, TypeError) as error:
        raise SonogenError(f"{path}: unreadable ({error}); prepare the dataset again") from None
    if len(pieces) != info.count:
        raise SonogenError(
            f"{path}: {len(pieces)} rows but dataset.json says {info.count} pieces; prepare the "
            "dataset again"
        )
    return pieces


def read_tokens(info: Any) -> np.ndarray:
    """Return tokens.npy, int32 [total tokens], memory-mapped."""
    check_token_dataset(info)
    path = Path(info.path) / "tokens.npy"
    try:
        tokens = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as error:
        raise SonogenError(f"{path}: unreadable ({error}); prepare the dataset again") from None
    if tokens.ndim != 1:
        raise SonogenError(f"{path}: expected one row of tokens; prepare the dataset again")
    return tokens


def piece_tokens(info: Any, split: str | None = None, original_only: bool = False) -> list:
    """Return the token arrays (int32, BOS..EOS) of one split's pieces (None: every piece);
    ``original_only`` leaves out the transposed copies."""
    tokens = read_tokens(info)
    return [
        np.array(tokens[row["start"] : row["start"] + row["length"]])  # a copy, not the map
        for row in read_pieces(info)
        if (split is None or row["split"] == split)
        and not (original_only and row["transposition"] != 0)
    ]


class TokenWindows:
    """The map dataset the music families train on: item i -> (int64 tensor [seq_len + 1], -1).

    Windows of ``seq_len + 1`` tokens (inputs and their next-token targets) start every
    ``stride`` tokens (default ``seq_len // 2``) within each piece of the split, plus one that
    ends at the piece's last token, so every token is a target of some window; a window never
    spans two pieces. A piece shorter than a window gives one window, padded at the end with the
    PAD token (which the losses ignore). The label is -1 (the music datasets are unlabelled).
    """

    def __init__(self, info: Any, split: str | None, seq_len: int, stride: int | None = None):
        self.info = info
        self.seq_len = int(seq_len)
        self.stride = max(1, self.seq_len // 2 if stride is None else int(stride))
        self.pad_id = int(info.extra.get("pad_id", 0))
        starts: list[int] = []
        ends: list[int] = []
        for row in read_pieces(info):
            if split is not None and row["split"] != split:
                continue
            first, length = row["start"], row["length"]
            span = self.seq_len + 1
            offsets = list(range(0, max(1, length - span + 1), self.stride))
            if length > span and offsets[-1] != length - span:
                offsets.append(length - span)
            starts += [first + offset for offset in offsets]
            ends += [first + length] * len(offsets)
        if not starts:
            raise SonogenError(
                f"{info.path}: the {split!r} split has no pieces; prepare it with another --split"
            )
        self.starts = np.asarray(starts, dtype=np.int64)
        self.ends = np.asarray(ends, dtype=np.int64)
        self._tokens: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int):
        import torch

        if self._tokens is None:
            self._tokens = read_tokens(self.info)
        start = int(self.starts[i])
        stop = min(start + self.seq_len + 1, int(self.ends[i]))
        window = np.full(self.seq_len + 1, self.pad_id, dtype=np.int64)
        window[: stop - start] = self._tokens[start:stop]
        return torch.from_numpy(window), -1

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_tokens"] = None  # never pickle the memory map into worker processes
        return state
