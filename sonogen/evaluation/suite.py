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
    from sonogen.data.dataset import read_clips, split_indices

    indices = split_indices(info, split)
    if len(indices) > limit:
        rng = np.random.default_rng(seed)
        indices = np.sort(rng.choice(indices, size=limit, replace=False))
    clips = np.asarray(read_clips(info)[indices], dtype=np.float32) / 32767.0
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
# the suite


def evaluate(
    target: str | Path,
    reference: str | Path,
    *,
    n: int = 512,
    embedding: str = "stats",
    out: str | Path | None = None,
    seed: int = 0,
    max_reference: int = 5000,
    report: bool = True,
    progress: Progress | None = None,
) -> Evaluation:
    """Evaluate a run dir or a folder of audio files against a reference dataset dir.

    Writes ``metrics.json`` (and ``report.html`` with its audio and images) into ``out`` (default:
    ``RUN/evaluation`` for a run, ``FOLDER-evaluation`` beside a folder) and returns them.
    """
    from sonogen import __version__
    from sonogen.checks import check_seed, output_folder, whole_number
    from sonogen.data.dataset import open_dataset
    from sonogen.evaluation import metrics as m
    from sonogen.evaluation.embeddings import get_embedding

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

    # the generated side
    target_info: dict[str, Any] = {"path": str(target), "kind": "run" if is_run else "folder"}
    generation: dict[str, Any] | None = None
    labels = None
    model = None
    names: list[str] = []
    if is_run:
        from sonogen.api import info as run_info
        from sonogen.api import load

        model = load(target)
        if model.sample_rate != info.sample_rate:
            raise SonogenError(
                f"{target}: trained at {model.sample_rate} Hz but the reference {info.path} is at "
                f"{info.sample_rate} Hz; evaluate against a dataset prepared at the run's rate"
            )
        summary = run_info(target)
        target_info |= {
            key: summary[key] for key in ("model", "parameters", "steps", "train_seconds")
        }
        labels = _generation_labels(model, info, n, seed)
        generated, seconds = _generate(model, n, labels, seed, progress)
        generation = {
            "n": n,
            "seed": seed,
            "seconds": seconds,
            "real_time_factor": generated.size / model.sample_rate / max(seconds, 1e-9),
            "batch_size": GENERATION_BATCH,
        }
        generated_raw = generated
        generated = np.stack([_fit_length(clip, info.clip_samples) for clip in generated])
    else:
        generated, names, skipped = _read_folder(
            target, info.sample_rate, info.clip_samples, n, seed
        )
        generated_raw = generated
        target_info |= {"files": len(names), "skipped": skipped}

    # the real side
    if progress:
        progress("reading reference", 0, 1)
    train_indices, train_clips = _reference_clips(info, "train", max_reference, seed)
    valid_indices, valid_clips = _reference_clips(info, "valid", max_reference, seed)
    if len(train_indices) < 2:
        raise SonogenError(f"{info.path}: the train split has fewer than 2 clips; prepare more")

    chosen = get_embedding(embedding, sample_rate=info.sample_rate, dataset=info)
    if progress:
        progress(f"embedding ({chosen.name})", 0, 3)
    embed_start = time.perf_counter()
    generated_vectors = _embed(chosen, generated, info.sample_rate)
    if progress:
        progress(f"embedding ({chosen.name})", 1, 3)
    train_vectors = _cached_reference_embedding(chosen, info, "train", train_indices, train_clips)
    if progress:
        progress(f"embedding ({chosen.name})", 2, 3)
    valid_vectors = (
        _cached_reference_embedding(chosen, info, "valid", valid_indices, valid_clips)
        if len(valid_indices)
        else np.zeros((0, train_vectors.shape[1]))
    )
    embed_seconds = time.perf_counter() - embed_start
    if getattr(chosen, "standardize", False):
        # mixed units: each dimension in units of its spread over the reference (train) clips
        scale = train_vectors.std(axis=0)
        scale = np.where(scale > 1e-12 * max(1.0, float(scale.max())), scale, 1.0)
        generated_vectors, train_vectors, valid_vectors = (
            v / scale for v in (generated_vectors, train_vectors, valid_vectors)
        )
    if progress:
        progress(f"embedding ({chosen.name})", 3, 3)
        progress("metrics", 0, 1)

    quality: dict[str, Any] = {
        "fad": m.fad(generated_vectors, train_vectors, seed=seed),
        "fad_infinity": m.fad_infinity(generated_vectors, train_vectors, seed=seed),
    }
    diversity = {
        "ndb": m.ndb(generated_vectors, train_vectors, seed=seed),
        "pairwise": m.pairwise_diversity(generated_vectors, train_vectors, seed=seed),
    }
    heldout: dict[str, Any] | None = None
    if len(valid_indices) >= 2:
        heldout = {
            "n": len(valid_indices),
            "fad": m.fad(valid_vectors, train_vectors, seed=seed),
            "ndb": m.ndb(valid_vectors, train_vectors, seed=seed),
            "pairwise": m.pairwise_diversity(valid_vectors, train_vectors, seed=seed),
        }
    memorization = (
        m.memorization(generated_vectors, train_vectors, valid_vectors)
        if len(valid_indices) >= 1
        else {"threshold": None, "reason": "the reference has no valid split to calibrate on"}
    )
    if "nearest_index" in memorization:
        memorization["nearest_dataset_index"] = [
            int(train_indices[i]) for i in memorization["nearest_index"]
        ]

    if info.labels:
        from sonogen.evaluation.classifier import load_or_train_classifier

        if progress:
            progress("inception score", 0, 1)
        classifier = load_or_train_classifier(info)
        probabilities = classifier.probabilities(_resample_for(classifier, generated, info))
        quality["inception_score"] = m.inception_score(probabilities)
        # IS is only as good as the classifier's confidence: its own held-out accuracy
        quality["inception_score"]["classifier_accuracy"] = classifier.accuracy
        if labels is not None and model is not None and model.labels == info.labels:
            hits = probabilities.argmax(axis=1) == np.asarray(labels)
            quality["label_accuracy"] = {
                "value": float(hits.mean()),
                "stderr": float(hits.std(ddof=1) / math.sqrt(len(hits))) if len(hits) > 1 else None,
                "n": int(len(hits)),
            }
        if heldout is not None:
            heldout["inception_score"] = m.inception_score(
                classifier.probabilities(_resample_for(classifier, valid_clips, info))
            )
    else:
        quality["inception_score"] = None
        quality["inception_score_reason"] = "the reference dataset has no labels"

    reconstruction = None
    if model is not None and model.can_reconstruct and len(valid_indices):
        count = min(n, len(valid_indices))
        rebuilt = model.reconstruct(valid_clips[:count])
        reconstruction = m.reconstruction_metrics(rebuilt, valid_clips[:count], info.sample_rate)

    metrics: dict[str, Any] = {
        "sonogen_version": __version__,
        "target": target_info,
        "reference": {
            "path": str(info.path),
            "sample_rate": info.sample_rate,
            "clip_samples": info.clip_samples,
            "labels": info.labels,
            "train_clips": int(len(train_indices)),
            "valid_clips": int(len(valid_indices)),
        },
        "embedding": {
            "name": chosen.name,
            "dim": int(generated_vectors.shape[1]),
            "standardized": bool(getattr(chosen, "standardize", False)),
        },
        "seed": seed,
        "n": int(len(generated)),
        "generation": generation,
        "quality": quality,
        "diversity": diversity,
        "memorization": memorization,
        "reconstruction": reconstruction,
        "signal": m.signal_checks(generated_raw, info.sample_rate),
        "heldout_real": heldout,
        "seconds": {"embedding": embed_seconds},
    }
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
            generated=generated_raw,
            generated_names=names or None,
            reference=train_clips,
            reference_indices=train_indices,
            valid=valid_clips,
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
    rows = [
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
            "Inception Score (higher)",
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
        rows.insert(3, ("label accuracy", number(get(quality, "label_accuracy", "value")), "-"))
    if metrics.get("reconstruction"):
        rows.append(
            ("SI-SDR (dB)", number(get(metrics, "reconstruction", "si_sdr", "mean"), 2), "-")
        )
    if metrics.get("generation"):
        rows.append(
            ("generation (x real time)", number(metrics["generation"]["real_time_factor"], 1), "-")
        )
    return rows


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
    embedding: str = "stats",
    seed: int = 0,
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
            report=report,
            progress=progress,
        )
        if on_run:
            on_run(run, result)
        rows.append(_leaderboard_row(name, result))
    rows.sort(key=lambda row: (row["fad"] is None, row["fad"] if row["fad"] is not None else 0))
    markdown, html = write_leaderboard(out, rows, n=n, embedding=embedding, seed=seed)
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
        "ndb_over_k": diversity["ndb"]["ndb_over_k"],
        "diversity_ratio": diversity["pairwise"]["ratio"],
        "memorized_share": metrics["memorization"].get("flagged_share"),
        "silent_share": metrics["signal"]["silent_share"],
        "si_sdr": (reconstruction.get("si_sdr") or {}).get("mean"),
        "real_time_factor": (metrics.get("generation") or {}).get("real_time_factor"),
    }
