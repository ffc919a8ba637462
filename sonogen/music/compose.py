"""``sonogen compose``: new MIDI pieces of N bars from a music run, optionally continuing a prime
piece, optionally rendered to WAV.

Bars: with a tokenizer that has Bar tokens (REMI) generation stops when the continuation holds
N + 1 of them (bar N is then complete) and the last one is cut off; with the others (TSD,
MIDILike, Structured) the continuation is decoded every few tokens and generation stops once a
note starts after bar N. Either way the score is then cut to exactly its bars (notes held over
the last bar line are shortened, and an end marker makes the file that long). EOS is never
drawn, so a piece does not stop short; if ``max_tokens`` runs out first, the missing bars are
silent and the result says ``complete: False``.

A prime: its tokens (after BOS) are the prompt, and the file written holds the prime (as the
tokenizer quantizes it: ``prime_bars`` bars) followed by ``bars`` new bars, so the file is the
prime continued, and the result's ``prime_bars`` says where the continuation begins.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sonogen.checks import (
    batch_seed,
    check_seed,
    check_temperature,
    finite_number,
    output_folder,
    random_seed,
    safe_file_stem,
    whole_number,
)
from sonogen.errors import SonogenError

log = logging.getLogger(__name__)

TOKENS_PER_BAR = 256  # default max_tokens per requested bar: far above a dense bar of REMI
CHECK_EVERY_TOKENS = 16  # tokenizers without Bar tokens: decode and count bars this often
MAX_BARS = 1000  # --bars: a piece of 1000 bars is over half an hour at 120 bpm
MAX_PIECES = 1000  # -n
COMPOSE_BATCH = 16  # pieces composed at once; each batch is written before the next starts
MAX_SAMPLE_RATE = 192_000  # --sample-rate of rendered WAVs


def load_music_run(run: str | Path) -> tuple[Any, Any]:
    """Return (sonogen Model, miditok tokenizer) of a music run dir."""
    from sonogen.music.tokens import tokenizer_from_extra
    from sonogen.run import load

    model = load(run)
    if not model.makes_tokens:
        raise SonogenError(
            f"{run}: a {model.model_name} run makes audio, not MIDI; compose needs a "
            "music-lstm or music-transformer run (use `sonogen generate` for this one)"
        )
    where = f"{Path(run) / 'config.yaml'}: data.extra"
    return model, tokenizer_from_extra(model.config.data.extra, where=where)


def onset_bars(score: Any) -> int:
    """Return the number of bars up to and including the one where the last note starts."""
    from sonogen.music.tokens import bar_starts

    onsets = [note.time for track in score.tracks for note in track.notes]
    if not onsets:
        return 0
    last = max(onsets)
    return sum(1 for start in bar_starts(score, last + 1) if start <= last)


@dataclass
class Piece:
    """One composed piece: its new tokens, its score (prime + new bars, cut to ``bars``)."""

    tokens: list[int]  # the continuation's token ids (no prompt)
    score: Any  # symusic Score, ticks
    bars: int  # bars in the score: prime_bars + the bars asked for
    prime_bars: int
    complete: bool  # False where max_tokens ran out before the last bar


def compose_pieces(
    model: Any,
    tokenizer: Any,
    *,
    bars: int,
    n: int,
    seed: int,
    prime: str | Path | None = None,
    temperature: float = 1.0,
    top_p: float = 0.95,
    max_tokens: int | None = None,
) -> list[Piece]:
    """Return n pieces of ``bars`` new bars from a loaded music Model (see the module doc)."""
    from sonogen.music.tokens import (
        read_score,
        score_to_tokens,
        special_ids,
        tokens_to_score,
        trim_to_bars,
    )

    bars = whole_number("--bars", bars, 1, MAX_BARS)
    n = whole_number("-n", n, 1, MAX_PIECES)
    max_tokens = (
        bars * TOKENS_PER_BAR if max_tokens is None else whole_number("--max-tokens", max_tokens, 1)
    )
    family = model.family
    prime_tokens: list[int] = []
    prime_bars = 0
    if prime is not None:
        prime_tokens = score_to_tokens(tokenizer, read_score(prime))
        if not prime_tokens:
            raise SonogenError(f"--prime {prime}: holds no notes to continue; pass another file")
        if family.bar_id is not None:
            prime_bars = prime_tokens.count(family.bar_id)
        else:
            prime_bars = onset_bars(tokens_to_score(tokenizer, prime_tokens))
    total_bars = prime_bars + bars

    def reached(continuation: list[int]) -> bool:
        if family.bar_id is not None:
            return continuation.count(family.bar_id) > bars
        return onset_bars(tokens_to_score(tokenizer, prime_tokens + continuation)) > total_bars

    def stop(continuation: list[int]) -> bool:
        return len(continuation) % CHECK_EVERY_TOKENS == 0 and reached(continuation)

    continuations = family.generate_tokens(
        n,
        seed=seed,
        prompt_tokens=[[family.bos_id, *prime_tokens]],
        max_tokens=max_tokens,
        temperature=temperature,
        top_p=top_p,
        stop_when=bars if family.bar_id is not None else stop,
        suppress_tokens=sorted(special_ids(tokenizer)),
    )
    pieces = []
    for i, continuation in enumerate(continuations):
        complete = reached(continuation)
        if complete and family.bar_id is not None:
            continuation = continuation[:-1]  # the Bar token that opens the bar after
        if not complete:
            log.warning(
                "piece %d: bar %d not reached within %d tokens; the missing bars are silent",
                i,
                total_bars,
                max_tokens,
            )
        score = trim_to_bars(tokens_to_score(tokenizer, prime_tokens + continuation), total_bars)
        pieces.append(Piece(continuation, score, total_bars, prime_bars, complete))
    return pieces


def compose(
    run: str | Path,
    out: str | Path,
    *,
    bars: int = 16,
    prime: str | Path | None = None,
    temperature: float = 1.0,
    top_p: float = 0.95,
    n: int = 4,
    seed: int | None = None,
    render: bool = False,
    program: int = 0,
    soundfont: str | Path | None = None,
    sample_rate: int = 22050,
    max_tokens: int | None = None,
) -> list[dict[str, Any]]:
    """Write n pieces of ``bars`` new bars as MIDI (and WAV with ``render``) into ``out``.

    Returns one dict per piece: ``midi`` (Path), ``wav`` (Path or None), ``bars`` (bars in the
    file: prime_bars + bars), ``prime_bars``, ``notes``, ``tokens`` (new tokens), ``seconds``
    (the WAV's length, or None), ``seed`` and ``complete``. Files are named
    ``[PRIME_]seedS_IIII.mid``. ``program`` (0-127) is the General MIDI instrument of every
    track; ``max_tokens`` caps new tokens per piece (default 256 per bar).

    Pieces are composed 16 at a time and each batch is written before the next is made (the
    first batch uses ``seed``, batch k a seed derived from (seed, k)), so a stopped command keeps
    what it wrote.
    """
    program = whole_number("--program", program, 0, 127)
    bars = whole_number("--bars", bars, 1, MAX_BARS)
    n = whole_number("-n", n, 1, MAX_PIECES)
    seed = random_seed() if seed is None else check_seed(seed)
    check_temperature(temperature)
    finite_number("--top-p", top_p, low=0, high=1, low_open=True)
    if render:
        whole_number("--sample-rate", sample_rate, 1000, MAX_SAMPLE_RATE)
    output_folder(out, create=False)
    model, tokenizer = load_music_run(run)
    folder = None
    stem = f"{safe_file_stem(Path(prime).stem)}_" if prime is not None else ""
    results: list[dict[str, Any]] = []
    for batch, first in enumerate(range(0, n, COMPOSE_BATCH)):
        pieces = compose_pieces(
            model,
            tokenizer,
            bars=bars,
            n=min(COMPOSE_BATCH, n - first),
            seed=batch_seed(seed, batch),
            prime=prime,
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
        )
        folder = folder or output_folder(out)
        for i, piece in enumerate(pieces, first):
            results.append(
                _write_piece(
                    piece,
                    folder / f"{stem}seed{seed}_{i:04d}.mid",
                    seed,
                    program,
                    render=render,
                    soundfont=soundfont,
                    sample_rate=sample_rate,
                )
            )
    return results


def _write_piece(
    piece: Piece,
    midi_path: Path,
    seed: int,
    program: int,
    *,
    render: bool,
    soundfont: str | Path | None,
    sample_rate: int,
) -> dict[str, Any]:
    """Write one piece as MIDI (and WAV with ``render``) and return its row of compose()."""
    import os

    for track in piece.score.tracks:
        track.program = program
    temporary = midi_path.with_name(f".{midi_path.name}.tmp-{os.getpid()}")
    try:  # under a temporary name, then renamed: a stopped command never leaves half a file
        piece.score.dump_midi(str(temporary))
        os.replace(temporary, midi_path)
    finally:
        temporary.unlink(missing_ok=True)
    wav_path, seconds = None, None
    if render:
        from sonogen.music.render import render_midi

        wav_path = midi_path.with_suffix(".wav")
        seconds = render_midi(piece.score, wav_path, soundfont=soundfont, sample_rate=sample_rate)
    return {
        "midi": midi_path,
        "wav": wav_path,
        "bars": piece.bars,
        "prime_bars": piece.prime_bars,
        "notes": int(piece.score.note_num()),
        "tokens": len(piece.tokens),
        "seconds": seconds,
        "seed": seed,
        "complete": piece.complete,
    }
