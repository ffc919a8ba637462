"""The evaluation suite: the same numbers for every family (DESIGN.md, "Evaluation").

``evaluate()`` takes a run dir (it generates the clips itself, with a fixed seed) or a folder of
audio files, and a reference dataset dir, and runs named stages:

    checks -> load -> embed -> score -> metrics.json -> report

Each kind of reference dataset has its *path*, a class with those stage methods (the
``EvaluationPath`` protocol), looked up by the dataset's kind in ``EVALUATIONS``:

- ``AudioEvaluation`` (here), for an audio dataset: it embeds both sides and computes quality
  (FAD, FAD-infinity, Inception Score), diversity (NDB/K, pairwise distance ratio),
  memorization, reconstruction (for families that encode and decode) and signal checks;
- ``MusicEvaluation`` (``sonogen.music.metrics``), for MIDI tokens: held-out likelihood, music
  statistics and memorization by shared runs of tokens.

Both write ``metrics.json`` and ``report.html`` (``sonogen.evaluation.report``) into the output
dir. A run of the other kind (its family's ``tokens`` against the path's) is refused.
``compare()`` evaluates several runs with the same seed, n and embedding and writes a
leaderboard.

Which real clips play which part on the audio path:
- quality and diversity compare the generated clips with the reference dataset's *train* split
  (what the model was asked to imitate), at most ``max_reference`` of them, chosen by the seed;
- memorization looks for each generated clip's nearest train clip, and calibrates its threshold on
  the *valid* split (real recordings the model never saw);
- the valid split is also scored as if it were generated ("real held-out clips" in the report):
  the level a perfect model would reach with the same n, since FAD and NDB are biased by n.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from sonogen.errors import SonogenError
from sonogen.music.metrics import MusicEvaluation
from sonogen.run import CONFIG_NAME, is_run_dir

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage description, done, total)

GENERATION_BATCH = 32
MAX_EVALUATION_CLIPS = 10_000  # -n: every clip and its embedding are held in memory


@dataclass
class Evaluation:
    """What evaluate() wrote: the output dir, metrics.json's content and the report's path."""

    out: Path
    metrics: dict[str, Any]
    report: Path


@dataclass(frozen=True)
class Options:
    """What evaluate() was asked, checked; each path reads what it needs (music: n, seed)."""

    n: int
    seed: int
    embedding: str = "auto"
    max_reference: int = 5000
    words: Any = None
    progress: Progress | None = None


class EvaluationPath(Protocol):
    """How one kind of reference dataset is evaluated, in the stages run_stages() runs in order.

    ``sides`` is what load read (the generated side and the reference side), ``embedded`` what
    embed made of them; score returns metrics.json's content.
    """

    tokens: ClassVar[bool]  # the runs it evaluates make tokens (their family's ``tokens``)
    wrong_run: ClassVar[str]  # the refusal of a run of the other kind; {target}, {reference}
    options: Options

    def check(self, target: Path) -> Path:
        """Checks: raise where this path cannot evaluate `target`; return the default out dir."""
        ...

    def load(self, target: Path, info: Any) -> Any:
        """Load: the generated side and the reference side."""
        ...

    def embed(self, sides: Any) -> Any:
        """Embed: both sides in the space they are compared in."""
        ...

    def score(self, sides: Any, embedded: Any) -> dict[str, Any]:
        """Score: metrics.json's content (without the seconds)."""
        ...

    def report(self, out: Path, metrics: dict[str, Any], sides: Any) -> Path:
        """Report: report.html and what it shows, in `out`; return its path."""
        ...

    def record_seconds(self, metrics: dict[str, Any], seconds: float) -> None:
        """Put the evaluation's wall time so far into `metrics`."""
        ...


# --------------------------------------------------------------------------------------------
# evaluate: checks -> load -> embed -> score -> metrics.json -> report


def evaluate(
    target: str | Path,
    reference: str | Path,
    *,
    n: int = 512,
    embedding: str = "auto",
    out: str | Path | None = None,
    seed: int = 0,
    max_reference: int = 5000,
    words: Any = None,
    report: bool = True,
    progress: Progress | None = None,
) -> Evaluation:
    """Evaluate a run dir or a folder of audio files against a reference dataset dir.

    Writes ``metrics.json`` (and ``report.html`` with its audio and images) into ``out`` (default:
    ``RUN/evaluation`` for a run, ``FOLDER-evaluation`` beside a folder) and returns them.
    embedding: one of ``embeddings.EMBEDDINGS``; ``auto`` is the dataset classifier's for a
    labelled reference, else ``stats``. words: the label -> word mapping of the intelligibility
    score (a dict, or a CSV/JSON file; digits need none), see ``intelligibility.words_for_labels``;
    False turns the recogniser off (``--no-speech``).
    A MIDI-token reference evaluates a music run (``embedding`` and ``words`` do not apply).
    """
    from sonogen.checks import check_seed
    from sonogen.data.dataset import open_dataset

    options = Options(_check_n(n), check_seed(seed), embedding, max_reference, words, progress)
    target, info = Path(target), open_dataset(reference)
    path = EVALUATIONS[info.kind](options)
    out = check_target(path, target, info, out)
    result = run_stages(path, target, info, out, report=report)
    if is_run_dir(target):
        _update_model_card(target, result)
    return result


def _update_model_card(run_dir: Path, result: Evaluation) -> None:
    """Record the evaluation's numbers in the run's MODEL_CARD.md; a run dir that cannot be
    written (read-only, a downloaded model) or a card that cannot be made keeps the old card,
    with a warning."""
    from sonogen.card import record_evaluation

    try:
        record_evaluation(run_dir, result.metrics, result.out)
    except Exception as error:  # the evaluation itself is done and written: never lose it
        log.warning("%s: model card not updated (%s)", run_dir, error)


def run_stages(
    path: EvaluationPath, target: Path, info: Any, out: Path, *, report: bool = True
) -> Evaluation:
    """Run a path's stages in order (load -> embed -> score), write metrics.json, then the report
    (metrics.json is written again with the total time); return what was written."""
    from sonogen.checks import output_folder

    started = time.perf_counter()
    sides = path.load(target, info)
    embedded = path.embed(sides)
    metrics = path.score(sides, embedded)
    out = output_folder(out)
    path.record_seconds(metrics, time.perf_counter() - started)
    _write_json(out / "metrics.json", metrics)
    if report:
        path.report(out, metrics, sides)
        path.record_seconds(metrics, time.perf_counter() - started)
        _write_json(out / "metrics.json", metrics)
    if path.options.progress:
        path.options.progress("done", 1, 1)
    return Evaluation(out=out, metrics=metrics, report=out / "report.html")


def _check_n(n: Any) -> int:
    """Checks: return -n as an int in 2..MAX_EVALUATION_CLIPS, or raise saying why not."""
    from sonogen.checks import whole_number

    if isinstance(n, int) and not isinstance(n, bool) and n < 2:
        raise SonogenError(f"--n {n}: evaluate needs at least 2 clips (512 is usual)")
    return whole_number("-n", n, 2, MAX_EVALUATION_CLIPS)


def check_target(path: EvaluationPath, target: Path, info: Any, out: str | Path | None) -> Path:
    """Checks: refuse a run of the other kind, let the path check the target; return the output
    folder (checked, not yet made: `out`, or the path's default)."""
    from sonogen.checks import output_folder

    makes_tokens = _run_makes_tokens(target)
    if makes_tokens is not None and makes_tokens != path.tokens:
        raise SonogenError(path.wrong_run.format(target=target, reference=info.path))
    default = path.check(target)
    out = output_folder(default if out is None else out, create=False)
    if out.resolve() == target.resolve():
        raise SonogenError(f"--out {out}: must not be the evaluated folder itself")
    return out


def _run_makes_tokens(target: Path) -> bool | None:
    """Checks: return whether a run dir's family makes tokens (``Family.tokens``), or None when
    ``target`` is not a readable run dir (a folder of files, or something load() explains)."""
    from sonogen.config import load_run_config
    from sonogen.models.registry import get_family

    if not is_run_dir(target):
        return None
    try:
        return bool(get_family(load_run_config(target / CONFIG_NAME).model_name).tokens)
    except SonogenError:
        return None


def _write_json(path: Path, content: dict[str, Any]) -> None:
    """Write `content` as JSON (see _plain) through a temporary file: never half a file."""
    temp = path.with_suffix(".json.tmp")
    temp.write_text(json.dumps(_plain(content), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    temp.replace(path)


def _plain(value: Any) -> Any:
    """Return `value` with numpy scalars/arrays as Python ones and NaN/inf as None (valid JSON)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --------------------------------------------------------------------------------------------
# the audio path


@dataclass
class _Generated:
    """The generated side: clips cut or padded to the reference length, as made (for the report
    and the signal checks), the label index each was asked for (None: not asked), file names."""

    clips: np.ndarray
    raw: np.ndarray
    asked: list[int] | None
    names: list[str]
    target_info: dict[str, Any]
    generation: dict[str, Any] | None
    model: Any


@dataclass
class _Real:
    """The real side: train clips (the reference), valid clips (memorization's calibration) and
    the held-out clips scored beside the generated ones: valid clips at the generated set's n."""

    train_indices: np.ndarray
    train_clips: np.ndarray
    valid_indices: np.ndarray
    valid_clips: np.ndarray
    heldout: np.ndarray  # positions into valid_indices
    heldout_note: str | None  # set when fewer held-out clips than generated ones exist


@dataclass
class _AudioSides:
    """What the audio path's load stage read: the reference dataset, both sides, the dataset
    classifier (None for a reference with fewer than two labels) and the run dir, if a run."""

    info: Any
    generated: _Generated
    real: _Real
    classifier: Any
    run_dir: Path | None


@dataclass
class _Embedded:
    """What the audio path's embed stage made: the embedding, the vectors (see _embed_sides) and
    the seconds it took."""

    embedding: Any
    vectors: dict[str, Any]
    seconds: float


class AudioEvaluation:
    """The audio path: a run's generated clips (or a folder's files) against an audio dataset's
    clips, compared in an embedding (see the module doc for which real clips play which part)."""

    tokens: ClassVar[bool] = False
    wrong_run: ClassVar[str] = (
        "{target}: a music run (MIDI), but --reference {reference} holds audio clips; "
        "evaluate it against the MIDI dataset dir it learnt from (sonogen prepare-midi)"
    )

    def __init__(self, options: Options):
        self.options = options

    def check(self, target: Path) -> Path:
        """Checks: the target must exist; return RUN/evaluation, or FOLDER-evaluation beside it."""
        if not target.exists():
            raise SonogenError(f"{target}: not found; pass a run dir or a folder of audio files")
        if is_run_dir(target):
            return target / "evaluation"
        return target.with_name(f"{target.name}-evaluation")

    def load(self, target: Path, info: Any) -> _AudioSides:
        """Load: n clips generated by a run (or read from a folder), the reference's train and
        valid clips with the held-out ones chosen at the generated n, the dataset classifier."""
        n, seed, progress = self.options.n, self.options.seed, self.options.progress
        generated = _load_generated(target, info, n, seed, progress)
        real = _load_real(info, len(generated.clips), self.options.max_reference, seed, progress)
        classifier = _load_classifier(info, progress)
        run_dir = target if generated.model is not None else None
        return _AudioSides(info, generated, real, classifier, run_dir)

    def embed(self, sides: _AudioSides) -> _Embedded:
        """Embed: the generated, train and valid clips in the chosen embedding (and in `stats`
        for memorization where that is the classifier's)."""
        return _embed_sides(self.options.embedding, sides, self.options.progress)

    def score(self, sides: _AudioSides, embedded: _Embedded) -> dict[str, Any]:
        """Score: quality, diversity, memorization, the classifier's and the recogniser's
        scores, reconstruction and signal checks, beside the real held-out clips' numbers."""
        options, info, generated, real = self.options, sides.info, sides.generated, sides.real
        if options.progress:
            options.progress("metrics", 0, 1)
        scores = _score_embeddings(embedded.vectors, real, options.seed)
        heldout = scores["heldout_real"]
        scores["quality"] |= _score_labels(sides.classifier, info, generated, real, heldout)
        scores["intelligibility"] = _score_intelligibility(
            info, generated, real, options.words, heldout, options.progress
        )
        scores["reconstruction"] = _score_reconstruction(generated.model, real, options.n)
        metrics = _assemble(scores, sides, embedded, options.embedding, options.seed)
        metrics["seconds"] = {"embedding": embedded.seconds}
        return metrics

    def report(self, out: Path, metrics: dict[str, Any], sides: _AudioSides) -> Path:
        """Report: report.html with players and spectrograms of both sides, the nearest
        generated-training pairs and a run's training curves."""
        from sonogen.evaluation.report import write_report

        if self.options.progress:
            self.options.progress("report", 0, 1)
        return write_report(
            out,
            metrics,
            generated=sides.generated.raw,
            generated_names=sides.generated.names or None,
            reference=sides.real.train_clips,
            reference_indices=sides.real.train_indices,
            valid=sides.real.valid_clips,
            sample_rate=sides.info.sample_rate,
            run_dir=sides.run_dir,
        )

    def record_seconds(self, metrics: dict[str, Any], seconds: float) -> None:
        """Put the total seconds beside the embedding's, under "seconds"."""
        metrics["seconds"]["total"] = seconds


EVALUATIONS: dict[str, Callable[[Options], EvaluationPath]] = {
    "audio": AudioEvaluation,
    "midi-tokens": MusicEvaluation,
}


# --------------------------------------------------------------------------------------------
# audio, load: the two sides


def _fit_length(audio: np.ndarray, samples: int) -> np.ndarray:
    """Load: return float32 [samples], the clip cut at the end or padded with silence."""
    if len(audio) >= samples:
        return audio[:samples]
    return np.pad(audio, (0, samples - len(audio)))


def _reference_clips(info, split: str, limit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Load: return (indices, float32 clips [k, clip_samples]) of one split, at most `limit`
    (a seeded choice)."""
    from sonogen.audio.pcm import pcm16_to_float
    from sonogen.data.dataset import read_clips, split_indices

    indices = split_indices(info, split)
    if len(indices) > limit:
        rng = np.random.default_rng(seed)
        indices = np.sort(rng.choice(indices, size=limit, replace=False))
    clips = pcm16_to_float(read_clips(info)[indices])
    return indices, clips


def _read_folder(
    folder: Path, sample_rate: int, clip_samples: int, n: int, seed: int
) -> tuple[np.ndarray, list[str], list[dict[str, str]]]:
    """Load: return (clips [k, clip_samples], file names, skipped rows) of a folder of files.

    At most n files are used (a seeded choice when there are more); each is resampled to the
    reference rate, mixed to mono and cut or padded to the reference clip length.
    """
    from sonogen.audio.io import AUDIO_EXTENSIONS, AudioFileError, read_audio
    from sonogen.data.prepare import scan_files

    # files that cannot be used at all (a name that is not UTF-8, a broken link, an unreadable
    # folder) are skipped rows too, never the end of the evaluation
    names, problems = scan_files(folder, AUDIO_EXTENSIONS)
    skipped = [{"file": name, "reason": why, "detail": detail} for name, why, detail in problems]
    for row in skipped:
        log.warning("%s: %s (%s); skipped", row["file"], row["reason"], row["detail"])
    if not names:
        raise SonogenError(
            f"{folder}: no audio files (wav, flac, ogg, aiff, mp3) found; pass a folder of "
            "generated clips or a run dir"
        )
    if len(names) > n:
        rng = np.random.default_rng(seed)
        names = [names[i] for i in np.sort(rng.choice(len(names), size=n, replace=False))]
    clips, used = [], []
    for name in names:
        try:
            audio, _ = read_audio(folder / name, sample_rate=sample_rate)
        except AudioFileError as error:
            skipped.append({"file": name, "reason": error.reason, "detail": error.detail})
            log.warning("%s", error)
            continue
        clips.append(_fit_length(audio, clip_samples))
        used.append(name)
    if not clips:
        raise SonogenError(f"{folder}: none of its {len(names)} audio files could be read")
    return np.stack(clips).astype(np.float32), used, skipped


def _generation_labels(model, info, n: int, seed: int) -> list[int] | None:
    """Load: return labels for n generated clips, drawn with the train split's frequencies."""
    from sonogen.data.dataset import label_indices, split_indices

    if not model.labels:
        return None
    train = label_indices(info)[split_indices(info, "train")]
    train = train[train >= 0]
    if info.labels != model.labels or len(train) == 0:
        counts = np.ones(len(model.labels))
    else:
        counts = np.bincount(train, minlength=len(model.labels)).astype(float)
    rng = np.random.default_rng(seed)
    return rng.choice(len(model.labels), size=n, p=counts / counts.sum()).tolist()


def _generate(
    model, n: int, labels, seed: int, progress: Progress | None
) -> tuple[np.ndarray, float]:
    """Load: return (float32 clips [n, samples], seconds): n clips in batches, seeded each."""
    batches = []
    start = time.perf_counter()
    for first in range(0, n, GENERATION_BATCH):
        count = min(GENERATION_BATCH, n - first)
        batch_labels = None if labels is None else labels[first : first + count]
        batches.append(model.generate(count, seed=seed + first, labels=batch_labels))
        if progress:
            progress("generating", first + count, n)
    return np.concatenate(batches), time.perf_counter() - start


def _load_generated(target: Path, info, n: int, seed: int, progress: Progress | None) -> _Generated:
    """Load: generate n clips from a run dir (labels drawn as the train split's), or read n
    files of a folder; return the generated side."""
    target_info: dict[str, Any] = {"path": str(target)}
    if not is_run_dir(target):
        clips, names, skipped = _read_folder(target, info.sample_rate, info.clip_samples, n, seed)
        target_info |= {"kind": "folder", "files": len(names), "skipped": skipped}
        return _Generated(clips, clips, None, names, target_info, None, None)
    from sonogen.run import info as run_info
    from sonogen.run import load

    model = load(target)
    if model.sample_rate != info.sample_rate:
        raise SonogenError(
            f"{target}: trained at {model.sample_rate} Hz but the reference {info.path} is at "
            f"{info.sample_rate} Hz; evaluate against a dataset prepared at the run's rate"
        )
    summary = run_info(model)  # the loaded model: its weights are read (and checked) once
    target_info |= {"kind": "run"}
    target_info |= {key: summary[key] for key in ("model", "parameters", "steps", "train_seconds")}
    labels = _generation_labels(model, info, n, seed)
    raw, seconds = _generate(model, n, labels, seed, progress)
    generation = {
        "n": n,
        "seed": seed,
        "seconds": seconds,
        "real_time_factor": raw.size / model.sample_rate / max(seconds, 1e-9),
        "batch_size": GENERATION_BATCH,
    }
    clips = np.stack([_fit_length(clip, info.clip_samples) for clip in raw])
    # asked labels count only where they are the reference's labels (the classifier's classes)
    asked = labels if labels is not None and model.labels == info.labels else None
    return _Generated(clips, raw, asked, [], target_info, generation, model)


def _load_real(info, n_generated: int, max_reference: int, seed: int, progress) -> _Real:
    """Load: read the train and valid splits, and choose the held-out clips: n_generated valid
    clips (seeded), all where there are fewer, so that both columns are scored at one n."""
    if progress:
        progress("reading reference", 0, 1)
    train_indices, train_clips = _reference_clips(info, "train", max_reference, seed)
    valid_indices, valid_clips = _reference_clips(info, "valid", max_reference, seed)
    if len(train_indices) < 2:
        raise SonogenError(f"{info.path}: the train split has fewer than 2 clips; prepare more")
    heldout, note = _heldout_at_n(len(valid_indices), n_generated, seed)
    return _Real(train_indices, train_clips, valid_indices, valid_clips, heldout, note)


def _heldout_at_n(available: int, n_generated: int, seed: int) -> tuple[np.ndarray, str | None]:
    """Load: return (sorted positions of the held-out clips, note): n_generated of `available`
    drawn with the seed, or all with a note saying there are fewer than the generated clips."""
    if available <= n_generated:
        note = None
        if available < n_generated:
            note = f"held-out: {available} clips (fewer than the {n_generated} generated)"
        return np.arange(available), note
    rng = np.random.default_rng(seed + 1)  # not the draw that chose the valid clips
    return np.sort(rng.choice(available, size=n_generated, replace=False)), None


def _load_classifier(info, progress: Progress | None):
    """Load: return the dataset classifier of a reference with two or more labels, else None."""
    if not info.labels or len(info.labels) < 2:
        return None
    from sonogen.evaluation.classifier import load_or_train_classifier

    if progress:
        progress("dataset classifier", 0, 1)
    return load_or_train_classifier(info)


# --------------------------------------------------------------------------------------------
# audio, embed: the chosen embedding, with a cache for the reference side


def _resample(audio: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """Embed: return clips [n, samples] resampled from `rate` to `target_rate` (soxr, HQ)."""
    if rate == target_rate:
        return audio
    import soxr

    return np.stack([soxr.resample(clip, rate, target_rate, quality="HQ") for clip in audio])


def _resample_for(classifier, audio: np.ndarray, info) -> np.ndarray:
    """Score: return clips clipped to [-1, 1] (NaN -> 0) at the classifier's sample rate."""
    return _resample(
        np.clip(np.nan_to_num(audio), -1.0, 1.0), info.sample_rate, classifier.sample_rate
    )


def _embed(embedding, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Embed: return float64 [n, dim] embeddings of float32 clips at `sample_rate` (NaN ->
    silence)."""
    audio = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
    audio = _resample(np.clip(audio, -1.0, 1.0), sample_rate, embedding.sample_rate)
    return np.asarray(embedding.embed(audio.astype(np.float32)), dtype=np.float64)


def _cached_reference_embedding(
    embedding, info, split: str, indices: np.ndarray, clips: np.ndarray
) -> np.ndarray:
    """Embed: reference clips, reusing `<dataset>/cache/` where the same clips were embedded.

    The cache key holds the embedding's name and dimensions-defining settings, the clip indices and
    the dataset's audio file size and time, so a re-prepared dataset is never served stale vectors.
    A read-only dataset dir simply means no cache.
    """
    import hashlib

    if not getattr(embedding, "cache_key", None):  # e.g. a classifier that may be retrained
        return _embed(embedding, clips, info.sample_rate)
    audio_path = info.path / "audio.npy"
    stat = audio_path.stat()
    key = hashlib.sha256()
    key.update(f"{embedding.cache_key}|{split}|{stat.st_size}|{stat.st_mtime_ns}|".encode())
    key.update(np.ascontiguousarray(indices, dtype=np.int64).tobytes())
    cache = info.path / "cache" / f"embedding-{embedding.name}-{key.hexdigest()[:16]}.npy"
    if cache.is_file():
        try:
            vectors = np.load(cache, allow_pickle=False)
            if vectors.shape[0] == len(indices):
                return vectors
        except (OSError, ValueError):
            pass
    vectors = _embed(embedding, clips, info.sample_rate)
    try:
        cache.parent.mkdir(exist_ok=True)
        temp = cache.with_suffix(".tmp.npy")
        np.save(temp, vectors)
        temp.replace(cache)
    except OSError:
        log.info("%s: not writable; reference embeddings are not cached", cache.parent)
    return vectors


def _embed_sides(name: str, sides: _AudioSides, progress: Progress | None) -> _Embedded:
    """Embed: return the chosen embedding, its vectors and the seconds they took. The vectors
    hold {"generated", "train", "valid"} float64 embeddings, and under "memorization" the same
    three of the `stats` embedding where the chosen one is the classifier's (which hears
    content, so a new take of a word sits as close to its training clip as a copy does; copies
    are told apart by the recording)."""
    from sonogen.evaluation.embeddings import get_embedding

    info = sides.info
    chosen = get_embedding(
        name, sample_rate=info.sample_rate, dataset=info, classifier=sides.classifier
    )
    start = time.perf_counter()
    vectors = _embed_three(chosen, sides, progress)
    vectors["memorization"] = dict(vectors, embedding=chosen.name)
    if chosen.name == "classifier":
        stats = get_embedding("stats", sample_rate=info.sample_rate)
        vectors["memorization"] = _embed_three(stats, sides, progress)
        vectors["memorization"]["embedding"] = stats.name
    return _Embedded(chosen, vectors, time.perf_counter() - start)


def _embed_three(embedding, sides: _AudioSides, progress: Progress | None) -> dict[str, Any]:
    """Embed: return {"generated", "train", "valid"}: float64 embeddings, each dimension divided
    by its spread over the train clips where the embedding's units are mixed (`standardize`)."""
    info, generated, real = sides.info, sides.generated, sides.real
    stage = f"embedding ({embedding.name})"
    if progress:
        progress(stage, 0, 3)
    generated_vectors = _embed(embedding, generated.clips, info.sample_rate)
    if progress:
        progress(stage, 1, 3)
    train = _cached_reference_embedding(
        embedding, info, "train", real.train_indices, real.train_clips
    )
    if progress:
        progress(stage, 2, 3)
    valid = (
        _cached_reference_embedding(embedding, info, "valid", real.valid_indices, real.valid_clips)
        if len(real.valid_indices)
        else np.zeros((0, train.shape[1]))
    )
    vectors = {"generated": generated_vectors, "train": train, "valid": valid}
    if embedding.standardize:
        scale = train.std(axis=0)
        scale = np.where(scale > 1e-12 * max(1.0, float(scale.max())), scale, 1.0)
        vectors = {key: value / scale for key, value in vectors.items()}
    if progress:
        progress(stage, 3, 3)
    return vectors


# --------------------------------------------------------------------------------------------
# audio, score


def _score_embeddings(vectors: dict[str, np.ndarray], real: _Real, seed: int) -> dict[str, Any]:
    """Score: return quality (FAD), diversity, memorization and the held-out clips' numbers (at
    the generated n)."""
    from sonogen.evaluation import metrics as m

    generated, train, valid = vectors["generated"], vectors["train"], vectors["valid"]
    quality = {
        "fad": m.fad(generated, train, seed=seed),
        "fad_infinity": m.fad_infinity(generated, train, seed=seed),
    }
    diversity = {
        "ndb": m.ndb(generated, train, seed=seed),
        "pairwise": m.pairwise_diversity(generated, train, seed=seed),
    }
    heldout: dict[str, Any] | None = None
    if len(real.heldout) >= 2:
        chosen = valid[real.heldout]
        heldout = {
            "n": int(len(real.heldout)),
            "n_generated": int(len(generated)),
            "note": real.heldout_note,
            "fad": m.fad(chosen, train, seed=seed),
            "ndb": m.ndb(chosen, train, seed=seed),
            "pairwise": m.pairwise_diversity(chosen, train, seed=seed),
        }
    near = vectors["memorization"]
    memorization = (
        m.memorization(near["generated"], near["train"], near["valid"])
        if len(valid) >= 1
        else {"threshold": None, "reason": "the reference has no valid split to calibrate on"}
    )
    memorization["embedding"] = near["embedding"]
    if "nearest_index" in memorization:
        memorization["nearest_dataset_index"] = [
            int(real.train_indices[i]) for i in memorization["nearest_index"]
        ]
    return {
        "quality": quality,
        "diversity": diversity,
        "memorization": memorization,
        "heldout_real": heldout,
    }


def _judge(classifier) -> dict[str, Any]:
    """Score: return what the classifier's numbers are worth: its held-out accuracy and its
    accuracy on recording groups (speakers, kits) it never heard, with how that was measured."""
    group_accuracy = getattr(classifier, "group_accuracy", None)
    return {
        "classifier_accuracy": classifier.accuracy,
        "classifier_group_accuracy": group_accuracy,
        "classifier_group_note": getattr(classifier, "group_note", "")
        or ("" if group_accuracy is not None else "no group-disjoint accuracy measured"),
    }


def _score_labels(classifier, info, generated: _Generated, real: _Real, heldout) -> dict[str, Any]:
    """Score: return the classifier's scores (Inception Score, label accuracy per label and
    confused) of the generated clips; add the held-out clips' to `heldout` (at the same n)."""
    from sonogen.data.dataset import label_indices
    from sonogen.evaluation import metrics as m

    if classifier is None:
        return {"inception_score": None, "inception_score_reason": "the reference has no labels"}
    judge = _judge(classifier)
    probabilities = classifier.probabilities(_resample_for(classifier, generated.clips, info))
    scores: dict[str, Any] = {"inception_score": m.inception_score(probabilities) | judge}
    if generated.asked is not None:
        scores["label_accuracy"] = (
            m.label_accuracy(probabilities.argmax(axis=1), generated.asked, list(info.labels))
            | judge
        )
    if heldout is not None:
        clips = real.valid_clips[real.heldout]
        held_probabilities = classifier.probabilities(_resample_for(classifier, clips, info))
        heldout["inception_score"] = m.inception_score(held_probabilities) | judge
        truth = label_indices(info)[real.valid_indices[real.heldout]]
        if (truth >= 0).sum() >= 1:
            heldout["label_accuracy"] = (
                m.label_accuracy(held_probabilities.argmax(axis=1), truth, list(info.labels))
                | judge
            )
    return scores


def _score_intelligibility(info, generated: _Generated, real: _Real, words, heldout, progress):
    """Score: return the recogniser's score of the generated clips for their asked labels (and
    put the held-out clips' into `heldout`), or {"skipped": one line} where it cannot run or
    `words` is False (turned off: sounds that are not speech)."""
    if words is False:
        return {"skipped": "intelligibility skipped: turned off (--no-speech)"}
    if not info.labels:
        return {"skipped": "intelligibility skipped: the reference dataset has no labels"}
    try:
        from sonogen.evaluation.intelligibility import intelligibility, words_for_labels
    except ImportError:  # an install without the module
        return {"skipped": "intelligibility skipped: sonogen.evaluation.intelligibility missing"}
    mapping = words_for_labels(info.labels, words)
    if isinstance(mapping, str):
        log.info("%s", mapping)
        return {"skipped": mapping}
    if generated.asked is None:
        return {
            "skipped": "intelligibility skipped: the clips were not asked for labels (a folder "
            "of files, or a run without the reference's labels)"
        }
    if progress:
        progress("intelligibility", 0, 2)
    asked = [info.labels[i] for i in generated.asked]
    result = intelligibility(
        generated.clips, info.sample_rate, asked, words=mapping, all_labels=info.labels
    )
    if heldout is not None and "skipped" not in result:
        from sonogen.data.dataset import label_indices

        truth = label_indices(info)[real.valid_indices[real.heldout]]
        keep = np.flatnonzero(truth >= 0)
        if len(keep):
            if progress:
                progress("intelligibility", 1, 2)
            clips = real.valid_clips[real.heldout][keep]
            heard = [info.labels[i] for i in truth[keep]]
            heldout["intelligibility"] = intelligibility(
                clips, info.sample_rate, heard, words=mapping, all_labels=info.labels
            )
    if progress:
        progress("intelligibility", 2, 2)
    return result


def _score_reconstruction(model, real: _Real, n: int) -> dict[str, Any] | None:
    """Score: return reconstruction metrics of up to n valid clips where the family encodes,
    else None."""
    from sonogen.evaluation import metrics as m

    if model is None or not model.can_reconstruct or not len(real.valid_indices):
        return None
    count = min(n, len(real.valid_indices))
    rebuilt = model.reconstruct(real.valid_clips[:count])
    return m.reconstruction_metrics(rebuilt, real.valid_clips[:count], model.sample_rate)


def _assemble(
    scores: dict[str, Any], sides: _AudioSides, embedded: _Embedded, asked: str, seed: int
) -> dict[str, Any]:
    """Score: return metrics.json's content in its order: what was evaluated, then the numbers."""
    from sonogen import __version__
    from sonogen.evaluation import metrics as m

    info, generated, real = sides.info, sides.generated, sides.real
    return {
        "sonogen_version": __version__,
        "target": generated.target_info,
        "reference": {
            "path": str(info.path),
            "sample_rate": info.sample_rate,
            "clip_samples": info.clip_samples,
            "labels": info.labels,
            "train_clips": int(len(real.train_indices)),
            "valid_clips": int(len(real.valid_indices)),
        },
        "embedding": {
            "name": embedded.embedding.name,
            "asked": asked,
            "dim": int(embedded.vectors["generated"].shape[1]),
            "standardized": bool(embedded.embedding.standardize),
        },
        "seed": seed,
        "n": int(len(generated.clips)),
        "generation": generated.generation,
        "quality": scores["quality"],
        "diversity": scores["diversity"],
        "memorization": scores["memorization"],
        "reconstruction": scores["reconstruction"],
        "intelligibility": scores["intelligibility"],
        "signal": m.signal_checks(generated.raw, info.sample_rate),
        "heldout_real": scores["heldout_real"],
    }


# --------------------------------------------------------------------------------------------
# the table a person reads


def headline(metrics: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Return rows (metric, generated value, real held-out value) for printing."""
    if "statistics" in metrics:  # a music evaluation
        from sonogen.music.metrics import music_headline

        return music_headline(metrics)
    quality, diversity, heldout = metrics["quality"], metrics["diversity"], metrics["heldout_real"]
    judged = judge_note(quality.get("inception_score"))
    judged = f"; {judged}" if judged else ""
    rows = [
        ("clips (n)", str(metrics["n"]), heldout_count(metrics)),
        (
            "FAD (lower is better)",
            _shown(lookup(quality, "fad", "value"), 3, lookup(quality, "fad", "stderr")),
            _shown(lookup(heldout, "fad", "value")),
        ),
        (
            "FAD-infinity",
            _shown(
                lookup(quality, "fad_infinity", "value"),
                3,
                lookup(quality, "fad_infinity", "stderr"),
            ),
            "-",
        ),
        (
            "Inception Score (higher)" + judged,
            _shown(
                lookup(quality, "inception_score", "mean"),
                2,
                lookup(quality, "inception_score", "std"),
            ),
            _shown(lookup(heldout, "inception_score", "mean"), 2),
        ),
        *_label_headline(metrics, judged),
        (
            "NDB/K (lower)",
            _shown(lookup(diversity, "ndb", "ndb_over_k")),
            _shown(lookup(heldout, "ndb", "ndb_over_k")),
        ),
        (
            "diversity ratio (1 = real)",
            _shown(lookup(diversity, "pairwise", "ratio")),
            _shown(lookup(heldout, "pairwise", "ratio")),
        ),
        ("memorized share", _shown(lookup(metrics, "memorization", "flagged_share")), "-"),
        ("silent share", _shown(lookup(metrics, "signal", "silent_share")), "-"),
    ]
    if metrics.get("reconstruction"):
        si_sdr = lookup(metrics, "reconstruction", "si_sdr", "mean")
        rows.append(("SI-SDR (dB)", _shown(si_sdr, 2), "-"))
    if metrics.get("generation"):
        speed = metrics["generation"]["real_time_factor"]
        rows.append(("generation (x real time)", _shown(speed, 1), "-"))
    return rows


def _label_headline(metrics: dict[str, Any], judged: str) -> list[tuple[str, str, str]]:
    """Return the headline rows of label accuracy and intelligibility, where they were scored."""
    quality, heldout = metrics["quality"], metrics["heldout_real"]
    rows = []
    if quality.get("label_accuracy") is not None:
        rows.append(
            (
                "label accuracy" + judged,
                _shown(lookup(quality, "label_accuracy", "value")),
                _shown(lookup(heldout, "label_accuracy", "value")),
            )
        )
    heard = metrics.get("intelligibility") or {}
    if heard.get("accuracy") is not None:
        rows.append(
            (
                f"intelligibility (recogniser; chance {heard['chance']:.2f})",
                _shown(heard["accuracy"]),
                _shown(lookup(heldout, "intelligibility", "accuracy")),
            )
        )
    return rows


def lookup(section: Any, *keys: str) -> Any:
    """Return section[key0][key1]..., or None where a level is missing (metrics.json's nesting)."""
    for key in keys:
        if not isinstance(section, dict):
            return None
        section = section.get(key)
    return section


def _shown(value: Any, digits: int = 3, spread: Any = None) -> str:
    """Return a number for the terminal with `digits` decimals ("-" for None), "± spread" added."""
    if value is None:
        return "-"
    text = f"{value:.{digits}f}"
    return f"{text} ± {spread:.{digits}f}" if spread is not None else text


def judge_note(scores: dict[str, Any] | None) -> str:
    """Return what the classifier behind an IS or label accuracy is worth, e.g. "classifier
    0.93 on unheard groups" (its group-disjoint accuracy) or "classifier 0.97 held-out"."""
    if not isinstance(scores, dict):
        return ""
    if scores.get("classifier_group_accuracy") is not None:
        return f"classifier {scores['classifier_group_accuracy']:.2f} on unheard groups"
    if scores.get("classifier_accuracy") is not None:
        return f"classifier {scores['classifier_accuracy']:.2f} held-out (same groups)"
    return ""


def heldout_count(metrics: dict[str, Any]) -> str:
    """Return how many real held-out clips were scored, with the note when they are fewer than
    the generated ones."""
    heldout = metrics.get("heldout_real")
    if not heldout:
        return "- (no held-out clips)"
    return heldout.get("note") or str(heldout["n"])


# --------------------------------------------------------------------------------------------
# several runs side by side


def compare(
    runs: Sequence[str | Path],
    reference: str | Path,
    out: str | Path,
    *,
    n: int = 512,
    embedding: str = "auto",
    seed: int = 0,
    words: Any = None,
    report: bool = True,
    progress: Progress | None = None,
    on_run: Callable[[Path, Evaluation], None] | None = None,
) -> tuple[Path, Path, list[dict[str, Any]]]:
    """Evaluate each run with the same seed, n and embedding; write leaderboard.md and .html.

    Returns (markdown path, html path, rows sorted by FAD, best first).
    """
    from sonogen.checks import output_folder, safe_file_stem
    from sonogen.evaluation.report import write_leaderboard

    if not runs:
        raise SonogenError("compare: give at least one run dir")
    out = output_folder(out)
    rows = []
    used: set[str] = set()
    for run in runs:
        run = Path(run)
        if not is_run_dir(run):
            raise SonogenError(f"{run}: not a run dir (no config.yaml); compare takes run dirs")
        name = safe_file_stem(run.resolve().name)
        while name in used:
            name += "_"
        used.add(name)
        result = evaluate(
            run,
            reference,
            n=n,
            embedding=embedding,
            out=out / name,
            seed=seed,
            words=words,
            report=report,
            progress=progress,
        )
        if on_run:
            on_run(run, result)
        rows.append(_leaderboard_row(name, result))
    rows.sort(key=lambda row: (row["fad"] is None, row["fad"] if row["fad"] is not None else 0))
    used_embedding = rows[0]["embedding"] if rows else embedding
    markdown, html = write_leaderboard(out, rows, n=n, embedding=used_embedding, seed=seed)
    return markdown, html, rows


def _leaderboard_row(name: str, result: Evaluation) -> dict[str, Any]:
    metrics = result.metrics
    quality, diversity = metrics["quality"], metrics["diversity"]
    inception = quality.get("inception_score") or {}
    reconstruction = metrics.get("reconstruction") or {}
    return {
        "run": name,
        "path": metrics["target"]["path"],
        "report": f"{name}/report.html",
        "model": metrics["target"].get("model"),
        "parameters": metrics["target"].get("parameters"),
        "steps": metrics["target"].get("steps"),
        "train_minutes": (metrics["target"].get("train_seconds") or 0.0) / 60,
        "fad": quality["fad"]["value"],
        "fad_stderr": quality["fad"].get("stderr"),
        "fad_infinity": quality["fad_infinity"].get("value"),
        "inception_score": inception.get("mean"),
        "label_accuracy": (quality.get("label_accuracy") or {}).get("value"),
        "classifier_group_accuracy": inception.get("classifier_group_accuracy"),
        "intelligibility": (metrics.get("intelligibility") or {}).get("accuracy"),
        "heldout_intelligibility": (
            (metrics.get("heldout_real") or {}).get("intelligibility") or {}
        ).get("accuracy"),
        "embedding": metrics["embedding"]["name"],
        "ndb_over_k": diversity["ndb"]["ndb_over_k"],
        "diversity_ratio": diversity["pairwise"]["ratio"],
        "memorized_share": metrics["memorization"].get("flagged_share"),
        "silent_share": metrics["signal"]["silent_share"],
        "si_sdr": (reconstruction.get("si_sdr") or {}).get("mean"),
        "real_time_factor": (metrics.get("generation") or {}).get("real_time_factor"),
    }
