"""Music evaluation: per-piece statistics, overlap of their distributions, memorization, and
``MusicEvaluation``, the evaluation suite's path for a music run against a midi-tokens dataset
(the same stages as the audio path: load -> embed -> score -> report; ``sonogen.evaluate`` picks
it by the reference's kind, ``evaluate_music`` runs it with more settings).

The statistics follow MGEval (Yang & Lerch, "On the evaluation of generative models in music",
2018), per piece over all pitched notes:

- ``pitch_class_entropy``: entropy (bits) of the 12-bin pitch-class histogram of the notes;
  log2(12) = 3.585 when all classes are equally used, 0 for a single class.
- ``pitch_range``: highest minus lowest pitch, semitones.
- ``notes_per_bar``: notes divided by the bars the piece spans.
- ``polyphony``: mean number of notes sounding at once, over the time when any note sounds.
- ``inter_onset_beats``: mean time between successive distinct onsets, in beats (quarter notes;
  beats rather than seconds because generated pieces have no tempo of their own).
- ``scale_consistency``: share of notes in the best-fitting major (equivalently natural-minor)
  scale, the fraction C-RNN-GAN (Mogren 2016) reports; 1.0 when every note fits one scale.

``overlap`` compares one statistic between two sets as the overlapping area of their kernel
density estimates (1: the same distribution, 0: disjoint). MGEval computes that area between
the intra-set and inter-set *distance* distributions; here it is taken between the statistic's
own distributions, generated vs reference, which reads more directly and needs no pairs.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from sonogen.errors import SonogenError
from sonogen.run import is_run_dir

if TYPE_CHECKING:
    from sonogen.evaluation.suite import Options

log = logging.getLogger(__name__)

STATISTICS = (
    "pitch_class_entropy",
    "pitch_range",
    "notes_per_bar",
    "polyphony",
    "inter_onset_beats",
    "scale_consistency",
)
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
GRID_POINTS = 2001
REFERENCE_LIMIT = 200  # reference pieces whose statistics are computed (a seeded choice)
REPORT_PIECES = 4  # generated pieces rendered with players in report.html


# --------------------------------------------------------------------------------------------
# per-piece statistics


def _notes(score: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (onsets, ends, pitches) of every pitched note, int64 arrays in ticks."""
    notes = [n for track in score.tracks if not track.is_drum for n in track.notes]
    onsets = np.array([n.time for n in notes], dtype=np.int64)
    ends = np.array([n.time + n.duration for n in notes], dtype=np.int64)
    pitches = np.array([n.pitch for n in notes], dtype=np.int64)
    return onsets, ends, pitches


def pitch_class_entropy(pitches: np.ndarray) -> float:
    """Return the entropy (bits) of the pitch-class histogram of MIDI pitches [n]."""
    counts = np.bincount(np.asarray(pitches, dtype=np.int64) % 12, minlength=12)
    if counts.sum() == 0:
        return math.nan
    share = counts[counts > 0] / counts.sum()
    return float(-(share * np.log2(share)).sum())


def scale_consistency(pitches: np.ndarray) -> float:
    """Return the largest share of notes that fall in one major (or natural-minor) scale."""
    counts = np.bincount(np.asarray(pitches, dtype=np.int64) % 12, minlength=12)
    if counts.sum() == 0:
        return math.nan
    best = max(sum(counts[(root + step) % 12] for step in MAJOR_SCALE) for root in range(12))
    return float(best / counts.sum())


def polyphony(onsets: np.ndarray, ends: np.ndarray) -> float:
    """Return the mean number of sounding notes over the time when at least one sounds."""
    keep = ends > onsets
    if not keep.any():
        return math.nan
    times = np.concatenate([onsets[keep], ends[keep]])
    steps = np.concatenate([np.ones(keep.sum()), -np.ones(keep.sum())])
    order = np.lexsort((steps, times))  # at equal times, ends (-1) before onsets (+1)
    times, steps = times[order], steps[order]
    sounding = np.cumsum(steps)[:-1]
    spans = np.diff(times).astype(np.float64)
    busy = spans[sounding > 0].sum()
    return float((spans * sounding).sum() / busy) if busy > 0 else math.nan


def music_statistics(score: Any) -> dict[str, float]:
    """Return the statistics of one piece (a symusic Score or a MIDI path); NaN for each where
    the piece has no notes (inter_onset_beats also needs two distinct onsets)."""
    from sonogen.music.tokens import count_bars, read_score

    if isinstance(score, (str, Path)):
        score = read_score(score)
    onsets, ends, pitches = _notes(score)
    if len(pitches) == 0:
        return dict.fromkeys(STATISTICS, math.nan)
    distinct = np.unique(onsets)
    tpq = float(score.ticks_per_quarter)
    return {
        "pitch_class_entropy": pitch_class_entropy(pitches),
        "pitch_range": float(pitches.max() - pitches.min()),
        "notes_per_bar": len(pitches) / max(1, count_bars(score)),
        "polyphony": polyphony(onsets, ends),
        "inter_onset_beats": float(np.diff(distinct).mean() / tpq)
        if len(distinct) > 1
        else math.nan,
        "scale_consistency": scale_consistency(pitches),
    }


# --------------------------------------------------------------------------------------------
# overlap of two distributions


def _kernel_density(values: np.ndarray, fallback_width: float):
    """Return (density function, its bandwidth) for 1-D values: scipy's gaussian_kde (Scott's
    rule) where they vary, else one Gaussian of ``fallback_width`` at their mean."""
    from scipy.stats import gaussian_kde

    if len(values) >= 2 and np.std(values) > 0:
        kde = gaussian_kde(values)
        return kde, float(np.sqrt(kde.covariance[0, 0]))
    centre = float(np.mean(values))

    def single(x: np.ndarray) -> np.ndarray:
        return np.exp(-0.5 * ((x - centre) / fallback_width) ** 2)

    return single, fallback_width


def overlap(generated_values: Any, reference_values: Any) -> float:
    """Return the overlapping area (0..1) of the kernel density estimates of two sets of values.

    NaN values are left out; NaN if either set is then empty. A set without spread (one value,
    or all equal) is a Gaussian of width 1% of the values' scale (at least 1e-3).
    """
    a = np.asarray(generated_values, dtype=np.float64).reshape(-1)
    b = np.asarray(reference_values, dtype=np.float64).reshape(-1)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) == 0 or len(b) == 0:
        return math.nan
    both = np.concatenate([a, b])
    fallback = max(1e-3, 0.01 * max(float(np.ptp(both)), float(np.abs(both).max())))
    density_a, width_a = _kernel_density(a, fallback)
    density_b, width_b = _kernel_density(b, fallback)
    margin = 5 * max(width_a, width_b)
    grid = np.linspace(both.min() - margin, both.max() + margin, GRID_POINTS)
    pa, pb = density_a(grid), density_b(grid)
    pa, pb = pa / np.trapezoid(pa, grid), pb / np.trapezoid(pb, grid)
    return float(min(1.0, np.trapezoid(np.minimum(pa, pb), grid)))


# --------------------------------------------------------------------------------------------
# memorization: longest run of tokens shared with the training data

_BASE = 0x9E3779B97F4A7C15  # odd, so it has an inverse modulo 2**64
_BASE_INVERSE = pow(_BASE, -1, 2**64)


def _powers(base: int, count: int) -> np.ndarray:
    steps = np.full(count, base, dtype=np.uint64)
    steps[:1] = 1
    return np.cumprod(steps, dtype=np.uint64)  # wraps modulo 2**64, as intended


def _prefix_hashes(tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (G [n + 1], B**i [n]) so that the hash of tokens[i:i+L] is
    (G[i+L] - G[i]) * B**i mod 2**64 = sum_k (tokens[i+k] + 1) * B**-k, the same at any i."""
    inverse = _powers(_BASE_INVERSE, len(tokens))
    values = (tokens.astype(np.uint64) + np.uint64(1)) * inverse
    prefix = np.zeros(len(tokens) + 1, dtype=np.uint64)
    np.cumsum(values, dtype=np.uint64, out=prefix[1:])
    return prefix, _powers(_BASE, len(tokens))


class NgramIndex:
    """Training pieces, hashed so that the longest run of tokens a sequence shares with any of
    them is found in O(N log L) numpy work (rolling polynomial hashes modulo 2**64, binary
    search on the length; runs never span two pieces). A false match needs a 64-bit hash
    collision, which over a million-token dataset has odds of about 1 in 10**7."""

    def __init__(self, pieces: Sequence[Sequence[int]]):
        arrays = [np.asarray(p, dtype=np.int64).reshape(-1) for p in pieces]
        arrays = [a for a in arrays if len(a)]
        self.tokens = np.concatenate(arrays) if arrays else np.zeros(0, np.int64)
        lengths = np.array([len(a) for a in arrays], dtype=np.int64)
        self.longest_piece = int(lengths.max()) if len(lengths) else 0
        # tokens from each position to the end of its piece: runs never span two pieces
        self.remaining = np.repeat(np.cumsum(lengths), lengths) - np.arange(len(self.tokens))
        self.prefix, self.powers = _prefix_hashes(self.tokens)

    def hashes(self, length: int) -> np.ndarray:
        """Return the hashes of every run of ``length`` tokens within one piece."""
        starts = np.flatnonzero(self.remaining >= length)
        return (self.prefix[starts + length] - self.prefix[starts]) * self.powers[starts]

    def longest_shared(self, tokens: Sequence[int]) -> int:
        """Return the length of the longest run of ``tokens`` found in some training piece."""
        tokens = np.asarray(tokens, dtype=np.int64).reshape(-1)
        prefix, powers = _prefix_hashes(tokens)

        def shared(length: int) -> bool:
            starts = np.arange(len(tokens) - length + 1)
            mine = np.sort((prefix[starts + length] - prefix[starts]) * powers[starts])
            theirs = self.hashes(length)
            spot = np.searchsorted(mine, theirs).clip(max=len(mine) - 1)
            return bool((mine[spot] == theirs).any())

        low, high = 0, min(len(tokens), self.longest_piece)  # shared(low) holds
        while low < high:
            middle = (low + high + 1) // 2
            if shared(middle):
                low = middle
            else:
                high = middle - 1
        return low


def longest_shared_ngram(generated_tokens: Sequence[int], training_tokens: Any) -> int:
    """Return the longest run of ``generated_tokens`` that occurs in the training data.

    ``training_tokens``: a list of pieces (token lists or arrays; runs never span two pieces),
    or an NgramIndex built from them (build one to check many sequences).
    """
    index = training_tokens if isinstance(training_tokens, NgramIndex) else None
    if index is None:
        pieces = training_tokens
        if len(pieces) and np.ndim(pieces[0]) == 0:
            pieces = [pieces]  # one flat piece
        index = NgramIndex(pieces)
    return index.longest_shared(generated_tokens)


# --------------------------------------------------------------------------------------------
# the music path of the evaluation suite: load -> embed -> score -> report


def _summary(values: Sequence[float]) -> dict[str, float | None]:
    """Score: return the mean, std and count of the finite values (None where there are none)."""
    finite = np.asarray([v for v in values if math.isfinite(v)], dtype=np.float64)
    if len(finite) == 0:
        return {"mean": None, "std": None, "count": 0}
    return {"mean": float(finite.mean()), "std": float(finite.std()), "count": int(len(finite))}


def _finite_or_none(value: float | None) -> float | None:
    """Return `value` as a float, or None where it is None, NaN or infinite."""
    return None if value is None or not math.isfinite(value) else float(value)


def valid_nll(family: Any, info: Any, batch_size: int = 16) -> dict[str, Any] | None:
    """Score: return the model's nats per token and perplexity on the valid split's pieces, each
    cut into consecutive windows of the model's seq_len (every token scored once), or None when
    the dataset has no valid split."""
    import torch

    from sonogen.music.tokens import piece_tokens

    pieces = piece_tokens(info, "valid")
    if not pieces:
        return None
    span, pad = family.seq_len + 1, family.pad_id
    windows = []
    for piece in pieces:
        for first in range(0, max(1, len(piece) - 1), family.seq_len):
            window = np.full(span, pad, dtype=np.int64)
            chunk = piece[first : first + span]
            window[: len(chunk)] = chunk
            windows.append(window)
    total, count = 0.0, 0
    was_training = family.training
    family.eval()
    try:
        with torch.no_grad():
            for first in range(0, len(windows), batch_size):
                batch = torch.from_numpy(np.stack(windows[first : first + batch_size]))
                loss, scored = family.token_loss(batch, reduction="sum")
                total, count = total + float(loss), count + int(scored)
    finally:
        family.train(was_training)
    nll = total / max(1, count)
    return {"nll": nll, "perplexity": math.exp(min(nll, 50.0)), "tokens": count}


def _reference_scores(info: Any, tokenizer: Any, bars: int, limit: int, seed: int) -> list:
    """Load: return the original (untransposed) pieces of the reference, a seeded choice of at
    most ``limit``, each decoded and cut to its first ``bars`` bars (or fewer, if shorter)."""
    from sonogen.music.tokens import count_bars, piece_tokens, tokens_to_score, trim_to_bars

    pieces = piece_tokens(info, None, original_only=True)
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(pieces), min(limit, len(pieces)), replace=False))
    scores = []
    for i in chosen:
        score = tokens_to_score(tokenizer, pieces[i])
        length = count_bars(score)
        if length:
            scores.append(trim_to_bars(score, min(bars, length)))
    return scores


def _check_tokenizer(info: Any, tokenizer: Any) -> None:
    """Load: raise unless the dataset was tokenized as the run's tokenizer tokenizes."""
    theirs = (info.extra.get("tokenizer_name"), info.extra.get("vocab_size"))
    mine = (type(tokenizer).__name__, tokenizer.vocab_size)
    if theirs != mine:
        raise SonogenError(
            f"--reference {info.path}: tokenized with {theirs[0]} ({theirs[1]} tokens), the run "
            f"with {mine[0]} ({mine[1]} tokens); evaluate against the dataset the run learnt from"
        )


@dataclass
class _MusicSides:
    """What the music path's load stage read. The generated side: the run's model and its
    composed pieces; the reference side: the dataset, its untransposed pieces cut to ``bars``
    bars, the train pieces' tokens (transposed copies included) and held-out pieces' tokens."""

    run: Path
    info: Any
    model: Any
    pieces: list  # sonogen.music.compose.Piece
    reference_scores: list
    train_pieces: list
    held_out: list


@dataclass
class _MusicEmbedded:
    """What the music path's embed stage made: each piece's statistics, both sides, and the
    train pieces hashed for the longest shared runs."""

    generated: list[dict[str, float]]
    reference: list[dict[str, float]]
    index: NgramIndex


class MusicEvaluation:
    """The music path: a music run's composed pieces against a midi-tokens dataset (the stages of
    ``sonogen.evaluation.suite.EvaluationPath``).

    Metrics: the valid split's nats per token and perplexity; each statistic's mean and std,
    generated vs reference (up to ``reference_limit`` untransposed pieces, cut to ``bars``
    bars), and their overlap; memorization: per generated piece the longest run of tokens
    shared with a training piece (transposed copies included), beside the same for held-out
    pieces as a baseline (real music shares cadences and scales too).
    """

    tokens: ClassVar[bool] = True
    wrong_run: ClassVar[str] = (
        "{target}: an audio run, but --reference {reference} holds MIDI tokens; "
        "evaluate it against an audio dataset dir (sonogen prepare)"
    )

    def __init__(
        self,
        options: Options,
        *,
        bars: int = 16,
        temperature: float = 1.0,
        top_p: float = 0.95,
        reference_limit: int = REFERENCE_LIMIT,
        report_pieces: int = REPORT_PIECES,
    ):
        """Checks: -n (at most MAX_PIECES), --bars and the seed."""
        from sonogen.checks import check_seed, whole_number
        from sonogen.music.compose import MAX_BARS, MAX_PIECES

        n = whole_number("-n", options.n, 1, MAX_PIECES)
        self.options = dataclasses.replace(options, n=n, seed=check_seed(options.seed))
        self.bars = whole_number("--bars", bars, 1, MAX_BARS)
        self.temperature, self.top_p = temperature, top_p
        self.reference_limit, self.report_pieces = reference_limit, report_pieces

    def _progress(self, stage: str, done: int = 0) -> None:
        """Tell the progress callback, where one was given, that `stage` is begun (0) or done."""
        if self.options.progress:
            self.options.progress(stage, done, 1)

    def check(self, target: Path) -> Path:
        """Checks: the target must be a run dir; return RUN/evaluation."""
        if not is_run_dir(target):
            raise SonogenError(f"{target}: not a run dir; a MIDI dataset evaluates a music run")
        return target / "evaluation"

    def load(self, target: Path, info: Any) -> _MusicSides:
        """Load: n pieces of ``bars`` bars composed by the run (seeded), the reference's pieces
        cut alike, its train pieces and up to n held-out pieces."""
        from sonogen.music.compose import compose_pieces, load_music_run
        from sonogen.music.tokens import check_token_dataset, piece_tokens

        n, seed = self.options.n, self.options.seed
        model, tokenizer = load_music_run(target)
        check_token_dataset(info)
        _check_tokenizer(info, tokenizer)
        self._progress("composing")
        pieces = compose_pieces(
            model,
            tokenizer,
            bars=self.bars,
            n=n,
            seed=seed,
            temperature=self.temperature,
            top_p=self.top_p,
        )
        self._progress("composing", 1)
        reference = _reference_scores(info, tokenizer, self.bars, self.reference_limit, seed)
        train = piece_tokens(info, "train")
        held_out = piece_tokens(info, "valid", original_only=True)[:n]
        return _MusicSides(target, info, model, pieces, reference, train, held_out)

    def embed(self, sides: _MusicSides) -> _MusicEmbedded:
        """Embed: each piece (generated and reference) as its statistics; the train pieces as an
        n-gram index."""
        self._progress("music statistics")
        embedded = _MusicEmbedded(
            generated=[music_statistics(piece.score) for piece in sides.pieces],
            reference=[music_statistics(score) for score in sides.reference_scores],
            index=NgramIndex(sides.train_pieces),
        )
        self._progress("music statistics", 1)
        return embedded

    def score(self, sides: _MusicSides, embedded: _MusicEmbedded) -> dict[str, Any]:
        """Score: the valid split's NLL, each statistic generated vs reference with their
        overlap, and memorization; return metrics.json's content (without the seconds)."""
        self._progress("metrics")
        statistics = _compare_statistics(embedded.generated, embedded.reference)
        overlaps = [s["overlap"] for s in statistics.values() if s["overlap"] is not None]
        pieces = sides.pieces
        return {
            "run": str(sides.run),
            "reference": str(sides.info.path),
            "model": sides.model.model_name,
            "n": self.options.n,
            "bars": self.bars,
            "seed": self.options.seed,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "valid": valid_nll(sides.model.family, sides.info),
            "statistics": statistics,
            "mean_overlap": float(np.mean(overlaps)) if overlaps else None,
            "reference_pieces": len(sides.reference_scores),
            "empty_pieces": int(sum(piece.score.note_num() == 0 for piece in pieces)),
            "incomplete_pieces": int(sum(not piece.complete for piece in pieces)),
            "memorization": _memorization(embedded.index, pieces, sides.held_out),
        }

    def report(self, out: Path, metrics: dict[str, Any], sides: _MusicSides) -> Path:
        """Report: the composed pieces as MIDI (generated/), the first few and two reference
        excerpts rendered to WAV (audio/), and report.html."""
        from sonogen.evaluation.report import write_music_report
        from sonogen.music.render import render_midi

        self._progress("report")
        (out / "generated").mkdir(exist_ok=True)
        shared = metrics["memorization"]["longest_shared_tokens"]["per_piece"]
        rate = sides.model.sample_rate
        audio = []
        for i, piece in enumerate(sides.pieces):
            midi = out / "generated" / f"seed{self.options.seed}_{i:04d}.mid"
            piece.score.dump_midi(str(midi))
            if i < self.report_pieces:
                wav = out / "audio" / f"{midi.stem}.wav"
                render_midi(piece.score, wav, sample_rate=rate)
                notes = piece.score.note_num()
                audio.append((wav, f"generated {i}: {notes} notes, shared run {shared[i]}"))
        for i, score in enumerate(sides.reference_scores[:2]):
            wav = out / "audio" / f"reference_{i}.wav"
            render_midi(score, wav, sample_rate=rate)
            audio.append((wav, f"reference {i} (first {self.bars} bars)"))
        page = write_music_report(out, metrics, audio)
        log.info("music evaluation of %s written to %s", sides.run, out)
        return page

    def record_seconds(self, metrics: dict[str, Any], seconds: float) -> None:
        """Put the total seconds, rounded to milliseconds, under "seconds"."""
        metrics["seconds"] = round(seconds, 3)


def _compare_statistics(
    generated: list[dict[str, float]], reference: list[dict[str, float]]
) -> dict[str, Any]:
    """Score: return per statistic the generated and reference summaries and their overlap."""
    statistics = {}
    for name in STATISTICS:
        ours = [s[name] for s in generated]
        base = [s[name] for s in reference]
        statistics[name] = {
            "generated": _summary(ours),
            "reference": _summary(base),
            "overlap": _finite_or_none(overlap(ours, base)),
        }
    return statistics


def _memorization(index: NgramIndex, pieces: list, held_out: list) -> dict[str, Any]:
    """Score: return the longest run each generated piece shares with training, beside the same
    for held-out pieces cut to the generated pieces' median length (the baseline)."""
    shared = [index.longest_shared(piece.tokens) for piece in pieces]
    typical = int(np.median([len(p.tokens) for p in pieces])) if pieces else 0
    baseline = [index.longest_shared(p[1 : 1 + typical]) for p in held_out]
    return {
        "longest_shared_tokens": _summary(shared) | {"max": max(shared), "per_piece": shared},
        "held_out_baseline": (_summary(baseline) | {"max": max(baseline)}) if baseline else None,
        "generated_tokens_median": typical,
    }


def evaluate_music(
    run: str | Path,
    reference: str | Path,
    *,
    n: int = 32,
    bars: int = 16,
    seed: int = 0,
    out: str | Path,
    temperature: float = 1.0,
    top_p: float = 0.95,
    reference_limit: int = REFERENCE_LIMIT,
    report_pieces: int = REPORT_PIECES,
) -> dict[str, Any]:
    """Evaluate a music run against a midi-tokens dataset dir; write ``out/metrics.json``,
    ``out/report.html``, the generated pieces (``out/generated/*.mid``) and a few renderings
    (``out/audio/*.wav``); return the metrics (see MusicEvaluation).

    ``sonogen.evaluate`` runs the same stages with the defaults; this sets bars, sampling and
    how much of the reference and the report to use.
    """
    from sonogen.data.dataset import open_dataset
    from sonogen.evaluation.suite import Options, check_target, run_stages

    path = MusicEvaluation(
        Options(n=n, seed=seed),
        bars=bars,
        temperature=temperature,
        top_p=top_p,
        reference_limit=reference_limit,
        report_pieces=report_pieces,
    )
    run, info = Path(run), open_dataset(reference)
    return run_stages(path, run, info, check_target(path, run, info, out)).metrics


def music_headline(metrics: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Return rows (statistic, generated, reference) of a music evaluation for printing."""
    rows = []
    valid = metrics.get("valid") or {}
    if valid.get("nll") is not None:
        rows.append(("valid NLL (nats/token)", f"{valid['nll']:.3f}", "-"))
        rows.append(("valid perplexity", f"{valid['perplexity']:.2f}", "-"))
    for name, values in metrics["statistics"].items():
        generated, reference = values["generated"], values["reference"]
        shared_area = values["overlap"]
        rows.append(
            (
                name + (f" (overlap {shared_area:.2f})" if shared_area is not None else ""),
                "-" if generated["mean"] is None else f"{generated['mean']:.3g}",
                "-" if reference["mean"] is None else f"{reference['mean']:.3g}",
            )
        )
    shared = metrics["memorization"]["longest_shared_tokens"]
    baseline = metrics["memorization"]["held_out_baseline"] or {}
    rows.append(
        (
            "longest run shared with training (tokens)",
            f"{shared['mean']:.1f} (max {shared['max']})",
            "-" if not baseline else f"{baseline['mean']:.1f} (max {baseline['max']})",
        )
    )
    return rows
