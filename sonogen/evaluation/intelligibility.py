"""Intelligibility: does an independent, pre-trained recogniser hear the word a clip should say?

For datasets whose labels are words (FSDD's digits "0".."9" are "zero".."nine"), each clip is
decoded by CMU PocketSphinx (the optional extra `pip install sonogen[speech]`; its en-us acoustic
model and dictionary ship inside the wheel, nothing is downloaded) constrained by a JSGF grammar
whose only sentences are the label words or nothing at all. The score is the share of clips in
which it hears the word asked for; chance is 1 / (number of words).

Measured decisions (FSDD prepared at 8 kHz, 8,192-sample clips, its 250 real valid clips; chance
10%; 140 clips/s on one core at load 1.3, 62 at load 5.7): this module scores them 78.8%.

- `bestpath=False`: the lattice best-path pass (on by default) returned no hypothesis at all for
  41 of the 250 real clips, scoring 68%; the Viterbi result alone scored 78.8%.
- The "or nothing" alternative (`<NULL>`): 100 of 100 white-noise clips (-50 to -10 dBFS) are
  heard as nothing, where the grammar of words alone forced 88 of them onto "two"; the real clips
  lose 0.4 points (78.8% vs 79.2%; 3% of them heard as nothing). A garbage phone loop took 69%
  of the real clips (and ran 7x slower), the model's [SPEECH] filler as a word cost 2 points.
- Each clip is levelled to a peak of -6 dBFS before its 16-bit conversion (+1 point, and a quiet
  generated clip keeps its resolution). Clips quieter than `SILENT_PEAK` are not decoded and
  count as heard nothing: given digital silence the decoder hears "five" in 50 of 50 clips.
- Left at their defaults, measured with the nothing alternative and levelling: `lw` 4 or 10
  (78.8%, 78.4% vs 79.2%), `wip` 0.2 (78.0%), `silprob` 0.1 (79.2%), `dither` (72.8%, and it
  would need a seed), `remove_noise` (no effect: the model's feat.params sets it). Padding clips
  with 0.25 s of zeros cost 1 to 15 points. The model's features span 130-6800 Hz, so it refuses
  `samprate=8000`; audio at any other rate is resampled to 16 kHz (soxr).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sonogen.errors import SonogenError

log = logging.getLogger(__name__)

__all__ = ["DIGIT_WORDS", "NOT_INSTALLED", "NOTHING", "intelligibility", "words_for_labels"]

NOT_INSTALLED = "pocketsphinx is not installed; pip install sonogen[speech]"
NOTHING = "nothing"  # the confusion column of clips in which no word was heard
DIGIT_WORDS = {  # label "3" -> "three"
    str(digit): word
    for digit, word in enumerate("zero one two three four five six seven eight nine".split())
}
DECODER_RATE = 16_000  # the en-us model's sample rate
PEAK_LEVEL = 0.5  # each clip's peak before the 16-bit conversion
SILENT_PEAK = 1e-4  # -80 dBFS: below any recording's noise floor; such clips are not decoded
WORD_PATTERN = re.compile(r"[a-z][a-z0-9'._-]*")  # a dictionary headword that is a JSGF token
MAX_NAMED = 8  # labels named in a skip line before "and N more"

Words = Mapping[str, str] | str | os.PathLike | None


def words_for_labels(labels: Iterable[str], words: Words = None) -> dict[str, str] | str:
    """Return {label: word to hear} for each distinct label, or one line saying why there is none.

    A label's word comes from `words` (a mapping, or a CSV file of `label,word` rows or a JSON
    object), else digits "0".."9" become "zero".."nine", else a label that is a word of the
    recogniser's dictionary (any case) is its own word. The line names the labels with no word
    and the words the dictionary lacks; it is `NOT_INSTALLED` when pocketsphinx is missing.
    A words file that cannot be read is a SonogenError.
    """
    given = _read_words(words) if isinstance(words, (str, os.PathLike)) else dict(words or {})
    model = _model_paths()
    if model is None:
        return NOT_INSTALLED
    return _map_labels(_ordered(labels), given, _dictionary_words(model[1]))


def intelligibility(
    audio: np.ndarray,
    sample_rate: int,
    labels: Sequence[str],
    words: Words = None,
    *,
    all_labels: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Return how often PocketSphinx hears each clip's asked-for word: audio [n, samples] float32.

    `labels[i]` is the label clip i should say; `words` maps labels to words (see
    `words_for_labels`). The result is JSON-ready: `accuracy` (share of clips heard as their
    word), `n`, `heard` (the word heard in each clip, None for nothing), `per_label` ({label:
    accuracy}), `confusion` ({"rows": labels, "columns": words + ["nothing"], "counts": [[int]]},
    counts of clips asked for a row's label heard as a column's word), `words` ({label: word}),
    `nothing` (share heard as nothing), `chance` (1 / number of words), `seconds` and
    `recogniser`; or {"skipped": one line} when pocketsphinx is not installed or a label has no
    word. The grammar holds the words of `all_labels` (every label a clip could be asked for: the
    dataset's labels), default the labels given: a grammar of only the labels present would make
    a set that asks for few labels easier to recognise (the first 1,000 FSDD train clips, five
    digits, scored 0.92 against five words).
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 2 or audio.shape[0] != len(labels):
        raise ValueError(f"audio {audio.shape} must be [n, samples] with n = {len(labels)} labels")
    started = time.perf_counter()
    model = _model_paths()
    if model is None:
        return {"skipped": NOT_INSTALLED}
    labels = [str(label) for label in labels]
    known = list(dict.fromkeys([*(str(label) for label in all_labels or ()), *labels]))
    mapping = words_for_labels(known, words)
    if isinstance(mapping, str):
        return {"skipped": mapping}
    vocabulary = list(dict.fromkeys(mapping.values()))
    decoder = _decoder(model, vocabulary)
    heard = [_decode(decoder, clip) for clip in _decoder_pcm(audio, sample_rate)]
    result = _score(labels, heard, mapping, vocabulary)
    from importlib.metadata import version

    result["seconds"] = round(time.perf_counter() - started, 3)
    result["recogniser"] = (
        f"pocketsphinx {version('pocketsphinx')} en-us, JSGF grammar of {len(vocabulary)} "
        "words or nothing"
    )
    return result


# --------------------------------------------------------------------------------------------
# label -> word


def _ordered(labels: Iterable[str]) -> list[str]:
    """Return the distinct labels, numbers first in numeric order, then the rest sorted."""
    distinct = {str(label) for label in labels}
    return sorted(distinct, key=lambda s: (0, int(s), s) if s.isdigit() else (1, 0, s))


def _map_labels(labels: list[str], given: dict[str, str], dictionary: set[str]) -> dict | str:
    """Return {label: word} for `labels`, or the line naming labels without a dictionary word."""
    mapping, missing, unknown = {}, [], []
    for label in labels:
        word = given.get(label) or DIGIT_WORDS.get(label) or label
        word = " ".join(str(word).lower().split())
        if word and all(WORD_PATTERN.fullmatch(w) and w in dictionary for w in word.split()):
            mapping[label] = word
        elif label in given:
            unknown.append(f"{label!r} -> {word!r}")
        else:
            missing.append(repr(label))
    if not missing and not unknown:
        return mapping
    parts = []
    if missing:
        parts.append(f"labels with no word: {_named(missing)} (give a words mapping, label,word)")
    if unknown:
        parts.append(f"words not in the pocketsphinx en-us dictionary: {_named(unknown)}")
    return "intelligibility skipped: " + "; ".join(parts)


def _named(items: list[str]) -> str:
    more = len(items) - MAX_NAMED
    return ", ".join(items[:MAX_NAMED]) + (f" and {more} more" if more > 0 else "")


def _read_words(path: str | os.PathLike) -> dict[str, str]:
    """Return the {label: word} mapping of a JSON object file or a CSV file of label,word rows."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SonogenError(f"{path}: cannot read the words mapping ({error})") from None
    if path.suffix.lower() == ".json":
        try:
            mapping = json.loads(text)
        except json.JSONDecodeError as error:
            raise SonogenError(f"{path}: not JSON ({error}); write {{label: word}}") from None
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise SonogenError(f'{path}: write a JSON object label: word, e.g. {{"0": "zero"}}')
        return {str(label): word for label, word in mapping.items()}
    mapping = {}
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or (number == 1 and [c.strip().lower() for c in row] == ["label", "word"]):
            continue
        if len(row) != 2 or not row[1].strip():
            raise SonogenError(f"{path}: line {number} is not label,word; write e.g. 0,zero")
        mapping[row[0].strip()] = row[1].strip()
    return mapping


# --------------------------------------------------------------------------------------------
# the recogniser


def _model_paths() -> tuple[str, str] | None:
    """Return (acoustic model dir, dictionary file) inside the pocketsphinx wheel, or None."""
    try:
        from pocketsphinx import get_model_path
    except ImportError:
        return None
    root = Path(get_model_path())
    return str(root / "en-us" / "en-us"), str(root / "en-us" / "cmudict-en-us.dict")


def _dictionary_words(dictionary_file: str) -> set[str]:
    """Return the headwords of a pocketsphinx dictionary ("zero(2)" is "zero")."""
    with open(dictionary_file, encoding="utf-8", errors="replace") as lines:
        return {line.split(None, 1)[0].split("(", 1)[0] for line in lines if line.strip()}


def _grammar(vocabulary: list[str]) -> str:
    """Return a JSGF grammar whose sentences are one of the words (or phrases), or nothing."""
    return "#JSGF V1.0;\ngrammar words;\npublic <utterance> = ({} | <NULL>);\n".format(
        " | ".join(vocabulary)
    )


def _decoder(model: tuple[str, str], vocabulary: list[str]):
    """Return a PocketSphinx decoder that searches the grammar of `vocabulary` (see the top)."""
    from pocketsphinx import Decoder

    acoustic_model, dictionary = model
    decoder = Decoder(
        hmm=acoustic_model,
        dict=dictionary,
        lm=None,
        samprate=DECODER_RATE,
        bestpath=False,
        loglevel="FATAL",
    )
    decoder.add_jsgf_string("words", _grammar(vocabulary))
    decoder.activate_search("words")
    return decoder


def _decoder_pcm(audio: np.ndarray, sample_rate: int) -> Iterable[bytes | None]:
    """Yield each clip as 16 kHz 16-bit PCM levelled to PEAK_LEVEL, or None for a silent clip."""
    import soxr

    for clip in audio:
        clip = np.nan_to_num(clip)
        if sample_rate != DECODER_RATE:
            clip = soxr.resample(clip, sample_rate, DECODER_RATE)
        peak = float(np.max(np.abs(clip))) if clip.size else 0.0
        if peak < SILENT_PEAK:
            yield None
            continue
        yield np.round(clip * (PEAK_LEVEL / peak * 32767)).astype("<i2").tobytes()


def _decode(decoder, pcm: bytes | None) -> str | None:
    """Return the words the decoder hears in one utterance, or None for nothing."""
    if pcm is None:
        return None
    decoder.start_utt()
    decoder.process_raw(pcm, no_search=False, full_utt=True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    text = " ".join(hypothesis.hypstr.split()) if hypothesis is not None else ""
    return text or None


def _score(
    labels: list[str], heard: list[str | None], mapping: dict[str, str], vocabulary: list[str]
) -> dict[str, Any]:
    """Return accuracy, per-label accuracy and the confusion counts of heard words."""
    rows = _ordered(labels)
    columns = [*vocabulary, NOTHING]
    counts = np.zeros((len(rows), len(columns)), dtype=np.int64)
    row_of = {label: i for i, label in enumerate(rows)}
    column_of = {word: j for j, word in enumerate(vocabulary)}  # the last column is nothing
    for label, word in zip(labels, heard, strict=True):
        counts[row_of[label], column_of.get(word, len(vocabulary))] += 1
    # a label's hits are its row's count in its own word's column
    hits = {label: int(counts[i, column_of[mapping[label]]]) for i, label in enumerate(rows)}
    n = len(labels)
    per_label = {label: hits[label] / int(counts[i].sum()) for i, label in enumerate(rows)}
    return {
        "accuracy": sum(hits.values()) / n if n else None,
        "n": n,
        "heard": heard,
        "per_label": per_label,
        "confusion": {"rows": rows, "columns": columns, "counts": counts.tolist()},
        "words": {label: mapping[label] for label in rows},
        "nothing": sum(word is None for word in heard) / n if n else None,
        "chance": 1 / len(vocabulary),
    }
