"""The evaluation suite: the same numbers for every family (DESIGN.md, "Evaluation").

``evaluate()`` takes a run dir (it generates the clips itself, with a fixed seed) or a folder of
audio files, and a reference dataset dir. It embeds both, computes quality (FAD, FAD-infinity,
Inception Score), diversity (NDB/K, pairwise distance ratio), memorization, reconstruction (for
families that encode and decode) and signal checks, and writes ``metrics.json`` and
``report.html`` into the output dir. ``compare()`` does that for several runs with the same seed,
n and embedding and writes a leaderboard.

Which real clips play which part:
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
from typing import Any

import numpy as np

from sonogen.errors import SonogenError

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


# --------------------------------------------------------------------------------------------
# loading the two sides


def _fit_length(audio: np.ndarray, samples: int) -> np.ndarray:
    """Return float32 [samples]: the clip cut at the end or padded with silence."""
    if len(audio) >= samples:
        return audio[:samples]
    return np.pad(audio, (0, samples - len(audio)))


def _reference_clips(info, split: str, limit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (indices, float32 clips [k, clip_samples]) of one split, at most `limit`, seeded."""
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
    """Return (clips [k, clip_samples], file names, skipped rows) from a folder of audio files.

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
    """Return labels for n generated clips, drawn with the train split's label frequencies."""
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
    """Return (float32 clips [n, samples], seconds): n clips in batches, seeded per batch."""
    batches = []
    start = time.perf_counter()
    for first in range(0, n, GENERATION_BATCH):
        count = min(GENERATION_BATCH, n - first)
        batch_labels = None if labels is None else labels[first : first + count]
        batches.append(model.generate(count, seed=seed + first, labels=batch_labels))
        if progress:
            progress("generating", first + count, n)
    return np.concatenate(batches), time.perf_counter() - start


# --------------------------------------------------------------------------------------------
# embeddings, with a cache for the reference side


def _resample(audio: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    if rate == target_rate:
        return audio
    import soxr

    return np.stack([soxr.resample(clip, rate, target_rate, quality="HQ") for clip in audio])


def _embed(embedding, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Return float64 [n, dim] embeddings of float32 clips at `sample_rate` (NaN -> silence)."""
    audio = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
    audio = _resample(np.clip(audio, -1.0, 1.0), sample_rate, embedding.sample_rate)
    return np.asarray(embedding.embed(audio.astype(np.float32)), dtype=np.float64)


def _cached_reference_embedding(
    embedding, info, split: str, indices: np.ndarray, clips: np.ndarray
) -> np.ndarray:
    """Embed reference clips, reusing `<dataset>/cache/` when the same clips were embedded before.

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


# --------------------------------------------------------------------------------------------
# the suite, in stages: load -> embed -> score -> report


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
    score (a dict, or a CSV/JSON file; digits need none), see ``intelligibility.words_for_labels``.
    """
    from sonogen.checks import check_seed, output_folder, whole_number
    from sonogen.data.dataset import open_dataset

    if isinstance(n, int) and not isinstance(n, bool) and n < 2:
        raise SonogenError(f"--n {n}: evaluate needs at least 2 clips (512 is usual)")
    n = whole_number("-n", n, 2, MAX_EVALUATION_CLIPS)
    seed = check_seed(seed)
    started = time.perf_counter()
    target = Path(target)
    info = open_dataset(reference)
    target_kind = _run_kind(target)
    if info.kind == "midi-tokens":
        if target_kind == "audio":
            raise SonogenError(
                f"{target}: an audio run, but --reference {info.path} holds MIDI tokens; "
                "evaluate it against an audio dataset dir (sonogen prepare)"
            )
        return _evaluate_music(target, info, n=n, out=out, seed=seed)
    if target_kind == "midi-tokens":
        raise SonogenError(
            f"{target}: a music run (MIDI), but --reference {info.path} holds audio clips; "
            "evaluate it against the MIDI dataset dir it learnt from (sonogen prepare-midi)"
        )
    if not target.exists():
        raise SonogenError(f"{target}: not found; pass a run dir or a folder of audio files")
    is_run = (target / "config.yaml").is_file()
    if out is None:
        out = target / "evaluation" if is_run else target.with_name(f"{target.name}-evaluation")
    out = output_folder(out, create=False)
    if out.resolve() == target.resolve():
        raise SonogenError(f"--out {out}: must not be the evaluated folder itself")

    generated = _load_generated(target, info, n, seed, progress)
    real = _load_real(info, len(generated.clips), max_reference, seed, progress)
    classifier = _load_classifier(info, progress)
    chosen, vectors, embed_seconds = _embed_sides(
        embedding, info, classifier, generated, real, progress
    )
    if progress:
        progress("metrics", 0, 1)
    metrics = _score_embeddings(vectors, real, seed)
    metrics["quality"] |= _score_labels(classifier, info, generated, real, metrics["heldout_real"])
    metrics["intelligibility"] = _score_intelligibility(
        info, generated, real, words, metrics["heldout_real"], progress
    )
    metrics["reconstruction"] = _score_reconstruction(generated.model, real, n)
    metrics = _assemble(metrics, info, generated, real, chosen, embedding, vectors, seed)
    metrics["seconds"] = {"embedding": embed_seconds}
    return _write_outputs(
        out, metrics, info, generated, real, target, is_run, report, started, progress
    )


def _load_generated(target: Path, info, n: int, seed: int, progress: Progress | None) -> _Generated:
    """Generate n clips from a run dir (labels drawn as the train split's), or read a folder."""
    target_info: dict[str, Any] = {"path": str(target)}
    if not (target / "config.yaml").is_file():
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
    """Read the train and valid splits, and choose the held-out clips: n_generated valid clips
    (seeded), all of them where there are fewer, so that both columns are scored at one n."""
    if progress:
        progress("reading reference", 0, 1)
    train_indices, train_clips = _reference_clips(info, "train", max_reference, seed)
    valid_indices, valid_clips = _reference_clips(info, "valid", max_reference, seed)
    if len(train_indices) < 2:
        raise SonogenError(f"{info.path}: the train split has fewer than 2 clips; prepare more")
    heldout, note = _heldout_at_n(len(valid_indices), n_generated, seed)
    return _Real(train_indices, train_clips, valid_indices, valid_clips, heldout, note)


def _heldout_at_n(available: int, n_generated: int, seed: int) -> tuple[np.ndarray, str | None]:
    """Return (sorted positions of the held-out clips, note): n_generated of `available` drawn
    with the seed, or all with a note saying there are fewer than the generated clips."""
    if available <= n_generated:
        note = None
        if available < n_generated:
            note = f"held-out: {available} clips (fewer than the {n_generated} generated)"
        return np.arange(available), note
    rng = np.random.default_rng(seed + 1)  # not the draw that chose the valid clips
    return np.sort(rng.choice(available, size=n_generated, replace=False)), None


def _load_classifier(info, progress: Progress | None):
    """Return the dataset classifier of a reference with two or more labels, else None."""
    if not info.labels or len(info.labels) < 2:
        return None
    from sonogen.evaluation.classifier import load_or_train_classifier

    if progress:
        progress("dataset classifier", 0, 1)
    return load_or_train_classifier(info)


def _embed_sides(name: str, info, classifier, generated: _Generated, real: _Real, progress):
    """Return (embedding, vectors, seconds): vectors holds {"generated", "train", "valid"} float64
    embeddings, and under "memorization" the same three of the `stats` embedding where the chosen
    one is the classifier's (which hears content, so a new take of a word sits as close to its
    training clip as a copy does; copies are told apart by the recording)."""
    from sonogen.evaluation.embeddings import get_embedding

    chosen = get_embedding(name, sample_rate=info.sample_rate, dataset=info, classifier=classifier)
    start = time.perf_counter()
    vectors = _embed_three(chosen, info, generated, real, progress)
    vectors["memorization"] = dict(vectors, embedding=chosen.name)
    if chosen.name == "classifier":
        stats = get_embedding("stats", sample_rate=info.sample_rate)
        vectors["memorization"] = _embed_three(stats, info, generated, real, progress)
        vectors["memorization"]["embedding"] = stats.name
    return chosen, vectors, time.perf_counter() - start


def _embed_three(embedding, info, generated: _Generated, real: _Real, progress):
    """Return {"generated", "train", "valid"}: float64 embeddings, each dimension divided by its
    spread over the train clips where the embedding's units are mixed (`standardize`)."""
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


def _score_embeddings(vectors: dict[str, np.ndarray], real: _Real, seed: int) -> dict[str, Any]:
    """Return quality (FAD), diversity, memorization and the held-out clips' numbers at one n."""
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
    """Return what the classifier's numbers are worth: its held-out accuracy and its accuracy on
    recording groups (speakers, kits) it never heard, with how that was measured."""
    group_accuracy = getattr(classifier, "group_accuracy", None)
    return {
        "classifier_accuracy": classifier.accuracy,
        "classifier_group_accuracy": group_accuracy,
        "classifier_group_note": getattr(classifier, "group_note", "")
        or ("" if group_accuracy is not None else "no group-disjoint accuracy measured"),
    }


def _score_labels(classifier, info, generated: _Generated, real: _Real, heldout) -> dict[str, Any]:
    """Return the classifier's scores (Inception Score, label accuracy per label and confused)
    of the generated clips; add the held-out clips' to `heldout` (at the same n)."""
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
    """Return the recogniser's score of the generated clips for their asked labels (and put the
    held-out clips' into `heldout`), or {"skipped": one line} where it cannot run."""
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
    """Return reconstruction metrics of up to n valid clips for families that encode, else None."""
    from sonogen.evaluation import metrics as m

    if model is None or not model.can_reconstruct or not len(real.valid_indices):
        return None
    count = min(n, len(real.valid_indices))
    rebuilt = model.reconstruct(real.valid_clips[:count])
    return m.reconstruction_metrics(rebuilt, real.valid_clips[:count], model.sample_rate)


def _assemble(
    scores: dict[str, Any],
    info,
    generated: _Generated,
    real: _Real,
    chosen,
    asked_name: str,
    vectors,
    seed: int,
) -> dict[str, Any]:
    """Return metrics.json's content in its order: what was evaluated, then the numbers."""
    from sonogen import __version__
    from sonogen.evaluation import metrics as m

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
            "name": chosen.name,
            "asked": asked_name,
            "dim": int(vectors["generated"].shape[1]),
            "standardized": bool(chosen.standardize),
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


def _write_outputs(
    out,
    metrics,
    info,
    generated: _Generated,
    real: _Real,
    target,
    is_run,
    report,
    started,
    progress,
) -> Evaluation:
    """Write metrics.json (and report.html); return the Evaluation."""
    from sonogen.checks import output_folder

    metrics["seconds"]["total"] = time.perf_counter() - started
    out = output_folder(out)
    metrics_path = out / "metrics.json"
    _write_json(metrics_path, metrics)
    report_path = out / "report.html"
    if report:
        from sonogen.evaluation.report import write_report

        if progress:
            progress("report", 0, 1)
        write_report(
            out,
            metrics,
            generated=generated.raw,
            generated_names=generated.names or None,
            reference=real.train_clips,
            reference_indices=real.train_indices,
            valid=real.valid_clips,
            sample_rate=info.sample_rate,
            run_dir=target if is_run else None,
        )
        metrics["seconds"]["total"] = time.perf_counter() - started
        _write_json(metrics_path, metrics)
    if progress:
        progress("done", 1, 1)
    return Evaluation(out=out, metrics=metrics, report=report_path)


def _run_kind(target: Path) -> str | None:
    """Return the kind of data a run dir learnt from ("audio", "midi-tokens"), or None when
    ``target`` is not a readable run dir (a folder of files, or something load() explains)."""
    from sonogen.config import load_run_config

    if not (target / "config.yaml").is_file():
        return None
    try:
        return load_run_config(target / "config.yaml").data.kind
    except SonogenError:
        return None


def _evaluate_music(target: Path, info, *, n: int, out, seed: int) -> Evaluation:
    """A music run against a MIDI-token dataset: NLL, music statistics, memorization."""
    from sonogen.checks import output_folder
    from sonogen.music.metrics import evaluate_music

    if not (target / "config.yaml").is_file():
        raise SonogenError(f"{target}: not a run dir; a MIDI dataset evaluates a music run")
    out = output_folder(out if out is not None else target / "evaluation", create=False)
    metrics = evaluate_music(target, info.path, n=n, seed=seed, out=out)
    return Evaluation(out=out, metrics=metrics, report=out / "report.html")


def _resample_for(classifier, audio: np.ndarray, info) -> np.ndarray:
    return _resample(
        np.clip(np.nan_to_num(audio), -1.0, 1.0), info.sample_rate, classifier.sample_rate
    )


def _write_json(path: Path, content: dict[str, Any]) -> None:
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
# the table a person reads


def headline(metrics: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Return rows (metric, generated value, real held-out value) for printing."""

    def get(section: dict | None, *keys: str) -> Any:
        for key in keys:
            if not isinstance(section, dict):
                return None
            section = section.get(key)
        return section

    def number(value: Any, digits: int = 3, spread: Any = None) -> str:
        if value is None:
            return "-"
        text = f"{value:.{digits}f}"
        return f"{text} ± {spread:.{digits}f}" if spread is not None else text

    if "statistics" in metrics:  # a music evaluation
        return _music_headline(metrics)
    quality, diversity, heldout = metrics["quality"], metrics["diversity"], metrics["heldout_real"]
    judged = judge_note(quality.get("inception_score"))
    rows = [
        ("clips (n)", str(metrics["n"]), heldout_count(metrics)),
        (
            "FAD (lower is better)",
            number(get(quality, "fad", "value"), 3, get(quality, "fad", "stderr")),
            number(get(heldout, "fad", "value")),
        ),
        (
            "FAD-infinity",
            number(
                get(quality, "fad_infinity", "value"), 3, get(quality, "fad_infinity", "stderr")
            ),
            "-",
        ),
        (
            "Inception Score (higher)" + (f"; {judged}" if judged else ""),
            number(
                get(quality, "inception_score", "mean"), 2, get(quality, "inception_score", "std")
            ),
            number(get(heldout, "inception_score", "mean"), 2),
        ),
        (
            "NDB/K (lower)",
            number(get(diversity, "ndb", "ndb_over_k")),
            number(get(heldout, "ndb", "ndb_over_k")),
        ),
        (
            "diversity ratio (1 = real)",
            number(get(diversity, "pairwise", "ratio")),
            number(get(heldout, "pairwise", "ratio")),
        ),
        ("memorized share", number(get(metrics, "memorization", "flagged_share")), "-"),
        ("silent share", number(get(metrics, "signal", "silent_share")), "-"),
    ]
    if get(quality, "label_accuracy") is not None:
        rows.insert(
            4,
            (
                "label accuracy" + (f"; {judged}" if judged else ""),
                number(get(quality, "label_accuracy", "value")),
                number(get(heldout, "label_accuracy", "value")),
            ),
        )
    heard = metrics.get("intelligibility") or {}
    if heard.get("accuracy") is not None:
        rows.insert(
            5,
            (
                f"intelligibility (recogniser; chance {heard['chance']:.2f})",
                number(heard["accuracy"]),
                number(get(heldout, "intelligibility", "accuracy")),
            ),
        )
    if metrics.get("reconstruction"):
        rows.append(
            ("SI-SDR (dB)", number(get(metrics, "reconstruction", "si_sdr", "mean"), 2), "-")
        )
    if metrics.get("generation"):
        rows.append(
            ("generation (x real time)", number(metrics["generation"]["real_time_factor"], 1), "-")
        )
    return rows


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


def _music_headline(metrics: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Rows (statistic, generated, reference) of a music evaluation."""
    rows = []
    valid = metrics.get("valid") or {}
    if valid.get("nll") is not None:
        rows.append(("valid NLL (nats/token)", f"{valid['nll']:.3f}", "-"))
        rows.append(("valid perplexity", f"{valid['perplexity']:.2f}", "-"))
    for name, values in metrics["statistics"].items():
        generated, reference = values["generated"], values["reference"]
        overlap = values["overlap"]
        rows.append(
            (
                name + (f" (overlap {overlap:.2f})" if overlap is not None else ""),
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
        if not (run / "config.yaml").is_file():
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
