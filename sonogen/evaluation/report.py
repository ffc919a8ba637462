"""report.html and the leaderboard: pages a person opens from disk, with players and pictures.

The evaluation suite's report stage writes here for both paths: ``write_report`` (audio:
clips, spectrograms, nearest pairs, training curves) and ``write_music_report`` (MIDI tokens:
statistics, likelihood, memorization, rendered pieces); both use one page skeleton
(``_write_page``, ``STYLE``) and one table writer (``_table``).

Everything a page shows lies beside it (``audio/*.wav``, ``images/*.png``) and is referred to by a
relative path, so the folder can be zipped, moved or opened offline; there are no scripts, no
fonts and no network requests.
"""

from __future__ import annotations

import csv
import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sonogen.audio.io import write_wav
from sonogen.evaluation.suite import heldout_count, judge_note, lookup
from sonogen.run import METRICS

REPORT_CLIPS = 12  # generated and reference clips with players
REPORT_PAIRS = 6  # nearest-neighbour pairs shown

# what each number means, shown beside it in the report
EXPLANATIONS = {
    "FAD": "Fréchet distance between Gaussians fitted to embeddings of generated and reference "
    "clips. 0 means the same mean and covariance; lower is better. Biased upwards at small n.",
    "FAD-infinity": "FAD extrapolated to infinitely many generated clips (fit of FAD against 1/n "
    "over several subset sizes), so runs evaluated with different n can be compared.",
    "Inception Score": "exp of the mean KL divergence between the dataset classifier's "
    "prediction for a clip and its average prediction: high when each clip is clearly one class "
    "and all classes occur. At most the number of classes. Mean ± std over 10 splits.",
    "label accuracy": "share of clips generated for a label that the dataset classifier "
    "assigns to that label (for the real held-out clips: to their own label).",
    "intelligibility": "share of clips in which an independent, pre-trained speech recogniser "
    "hears the word of the label the clip was asked for (real held-out clips: their own label).",
    "judge": "what the dataset classifier behind IS and label accuracy is worth: its accuracy on "
    "recording groups (speakers, kits) it never heard in training, where the dataset has groups.",
    "NDB/K": "share of the K k-means bins (fitted on reference embeddings) whose share of "
    "generated clips differs significantly (two-proportion z-test, alpha 0.05) from the "
    "reference's. 0 is ideal; mode collapse shows as high values.",
    "diversity ratio": "mean pairwise embedding distance among generated clips divided by the same "
    "among reference clips. Near 1 is real-like; well below 1 means the clips sound alike.",
    "memorized share": "share of generated clips closer (cosine similarity of embeddings) to a "
    "training clip than any real held-out clip ever is: likely copies.",
    "silent / clipped / NaN": "shares of generated clips that are silent (RMS below -60 dBFS), "
    "clip, or hold NaN or infinite samples.",
    "SI-SDR": "scale-invariant signal-to-distortion ratio of held-out clips encoded and decoded "
    "again, in dB; higher is better.",
    "real held-out clips": "the same numbers for the dataset's valid split scored as if it were "
    "generated: what a perfect model would reach at this n.",
}

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3em 0.8em; text-align: left;
  vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.note { color: #666; font-size: 0.85em; max-width: 40em; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(15em, 1fr)); gap: 1em; }
figure { margin: 0; } figure img { width: 100%; } audio { width: 100%; }
figcaption { font-size: 0.8em; color: #555; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; margin-bottom: 1em; }
"""


def _escape(value: Any) -> str:
    """Return `value` as HTML text (quotes escaped too, so it can stand in an attribute)."""
    # a path whose bytes are not UTF-8 (surrogate escapes in Python) shows as backslash escapes,
    # so that the page can always be written as UTF-8
    text = str(value)
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that stands for no byte
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return html.escape(text, quote=True)


def _format(value: Any, digits: int = 3) -> str:
    """Return a number with `digits` decimals (integers with thousands separators; None, NaN
    and infinity as "–"), anything else as its text."""
    if value is None:
        return "–"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return f"{int(value):,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        return f"{value:.{digits}f}"
    return str(value)


def _number(value: Any, digits: int = 3) -> str:
    """Return a number to `digits` significant digits (a large float whole; None as "–")."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e4 else f"{value:.0f}"
    return str(value)


def _table(
    header: Sequence[str], rows: Sequence[Sequence[Any]], classes: Sequence[str] = ()
) -> str:
    """Return an HTML table. Text cells are escaped; any other cell is a number, right-aligned
    and shown to 3 significant digits. classes: a CSS class per column for its text cells
    ("num": text that holds numbers, "note": an explanation)."""

    def cell(column: int, value: Any) -> str:
        css = classes[column] if column < len(classes) else ""
        if not isinstance(value, str):
            value, css = _number(value), "num"
        return f'<td class="{css}">{_escape(value)}</td>' if css else f"<td>{_escape(value)}</td>"

    head = "".join(f"<th>{_escape(title)}</th>" for title in header)
    body = "".join(
        "\n<tr>" + "".join(cell(column, value) for column, value in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _figure(audio_src: str, caption: str, image_src: str | None = None) -> str:
    """Return an HTML figure: a player of `audio_src` (a path relative to the page), the picture
    at `image_src` above it where given, the caption below."""
    image = ""
    if image_src:
        image = f'<img src="{_escape(image_src)}" alt="spectrogram of {_escape(caption)}">'
    return (
        f'<figure>{image}<audio controls preload="none" src="{_escape(audio_src)}"></audio>'
        f"<figcaption>{_escape(caption)}</figcaption></figure>"
    )


def _write_page(path: Path, title: str, body: Sequence[str]) -> Path:
    """Write one self-contained page (its head holds STYLE; `body` is HTML lines); return it."""
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{_escape(title)}</h1>",
        *body,
        "</body></html>",
    ]
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# pictures


def spectrogram_png(path: Path, audio: np.ndarray, sample_rate: int, title: str = "") -> None:
    """Write a small log-mel spectrogram picture of one clip."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from sonogen.audio.features import log_mel_spectrogram

    n_fft = 1 << max(8, int(round(math.log2(sample_rate * 0.032))))
    audio = np.nan_to_num(np.asarray(audio, np.float32))
    if len(audio) < n_fft:
        audio = np.pad(audio, (0, n_fft - len(audio)))
    mel = log_mel_spectrogram(
        torch.from_numpy(audio), sample_rate, n_fft=n_fft, hop_length=n_fft // 4, n_mels=64
    ).numpy()
    figure, axis = plt.subplots(figsize=(3.2, 1.8), dpi=80)
    seconds = len(audio) / sample_rate
    axis.imshow(
        mel, origin="lower", aspect="auto", cmap="magma", extent=(0, seconds, 0, mel.shape[0])
    )
    axis.set_xlabel("s", fontsize=7)
    axis.set_yticks([])
    axis.tick_params(labelsize=6)
    if title:
        axis.set_title(title, fontsize=7)
    figure.tight_layout(pad=0.2)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)


def _read_metrics_csv(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Return {column: (steps, values)} for the numeric columns of a run's metrics.csv."""
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    curves: dict[str, tuple[list[float], list[float]]] = {}
    for row in rows:
        try:
            step = float(row.get("step", ""))
        except ValueError:
            continue
        for key, text in row.items():
            if key in {"step", "epoch", "seconds", "train_seconds"} or text in ("", None):
                continue
            try:
                value = float(text)
            except ValueError:
                continue
            if math.isfinite(value):
                steps, values = curves.setdefault(key, ([], []))
                steps.append(step)
                values.append(value)
    return {key: (np.array(s), np.array(v)) for key, (s, v) in curves.items() if len(s) > 1}


def _curves_png(path: Path, curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """Write one picture with a small plot per logged quantity against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted(curves)[:12]
    columns = min(3, len(names))
    rows = math.ceil(len(names) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 2.4 * rows), dpi=80)
    for axis, name in zip(np.atleast_1d(axes).ravel(), names, strict=False):
        steps, values = curves[name]
        axis.plot(steps, values, linewidth=0.8)
        if len(values) > 20:  # a running mean over a 20th of the run shows the trend
            width = max(2, len(values) // 20)
            smooth = np.convolve(values, np.ones(width) / width, mode="valid")
            axis.plot(steps[width - 1 :], smooth, linewidth=1.5)
        axis.set_title(name, fontsize=9)
        axis.set_xlabel("step", fontsize=8)
        axis.tick_params(labelsize=7)
    for axis in np.atleast_1d(axes).ravel()[len(names) :]:
        axis.axis("off")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _confusion_png(path: Path, confusion: dict[str, Any], title: str, xlabel: str) -> None:
    """Write a picture of confusion counts: rows (asked label) x columns (predicted or heard),
    each row shown as shares of its clips, the counts written in the cells."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = np.asarray(confusion["counts"], dtype=np.float64)
    rows, columns = confusion["rows"], confusion["columns"]
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = 1.5 + 0.45 * max(len(rows), len(columns))
    figure, axis = plt.subplots(figsize=(size + 1, size), dpi=80)
    image = axis.imshow(shares, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    axis.set_xticks(range(len(columns)), [str(c) for c in columns], rotation=45, ha="right")
    axis.set_yticks(range(len(rows)), [str(r) for r in rows])
    if len(rows) * len(columns) <= 400:
        for i in range(len(rows)):
            for j in range(len(columns)):
                if counts[i, j]:
                    color = "white" if shares[i, j] > 0.5 else "black"
                    axis.text(
                        j, i, int(counts[i, j]), ha="center", va="center", fontsize=7, color=color
                    )
    axis.set_xlabel(xlabel)
    axis.set_ylabel("asked label")
    axis.set_title(title, fontsize=10)
    figure.colorbar(image, ax=axis, fraction=0.046, label="share of the row's clips")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)


# --------------------------------------------------------------------------------------------
# the per-label view


def _per_label_section(out: Path, metrics: dict[str, Any]) -> list[str]:
    """Return the HTML of the per-label view: accuracy per asked label (classifier and
    recogniser, generated beside real held-out clips) and the confusion pictures."""
    quality, heldout = metrics["quality"], metrics.get("heldout_real") or {}
    generated_labels = quality.get("label_accuracy") or {}
    heldout_labels = heldout.get("label_accuracy") or {}
    heard = metrics.get("intelligibility") or {}
    heldout_heard = heldout.get("intelligibility") or {}
    labels = list(
        dict.fromkeys(
            [*generated_labels.get("per_label", {}), *heldout_labels.get("per_label", {})]
            + [*heard.get("per_label", {})]
        )
    )
    if not labels:
        return []
    columns = [
        ("classifier: generated", generated_labels),
        ("classifier: real held-out", heldout_labels),
        ("recogniser: generated", heard),
        ("recogniser: real held-out", heldout_heard),
    ]
    columns = [(title, result) for title, result in columns if result.get("per_label")]
    rows = [[label, *(_label_cell(result, label) for _, result in columns)] for label in labels]
    header = ["label", *(title for title, _ in columns)]
    parts = ["<h2>Per label</h2>", _table(header, rows, ("", *["num"] * len(columns)))]
    parts.append(
        '<p class="note">Share of the clips asked for each label that the dataset classifier '
        "assigns to it, and that the speech recogniser hears as its word; the real held-out "
        "clips are scored alike, at the same n. "
        + _escape(judge_text(quality.get("label_accuracy") or quality.get("inception_score")))
        + "</p>"
    )
    return parts + _confusion_figures(out, generated_labels, heldout_labels, heard)


def _confusion_figures(
    out: Path, generated_labels: dict, heldout_labels: dict, heard: dict
) -> list[str]:
    """Return the HTML of the confusion pictures (the classifier's on the generated clips, else
    on the held-out ones; the recogniser's), writing them under images/."""
    pictures = []
    if generated_labels.get("confusion") or heldout_labels.get("confusion"):
        on_generated = bool(generated_labels.get("confusion"))
        confusion = (generated_labels if on_generated else heldout_labels)["confusion"]
        clips = "generated clips" if on_generated else "real held-out clips"
        pictures.append(
            ("confusion_classifier", confusion, f"dataset classifier, {clips}", "predicted label")
        )
    if heard.get("confusion"):
        title = "speech recogniser, generated clips"
        pictures.append(("confusion_recogniser", heard["confusion"], title, "word heard"))
    parts = ["<div class=pair>"]
    for stem, confusion, title, xlabel in pictures:
        _confusion_png(out / "images" / f"{stem}.png", confusion, title, xlabel)
        parts.append(
            f'<figure><img src="images/{stem}.png" alt="confusion matrix: {_escape(title)}">'
            f"<figcaption>{_escape(title)}: asked label (rows) by {_escape(xlabel)} "
            "(columns)</figcaption></figure>"
        )
    parts.append("</div>")
    return parts


def _label_cell(result: dict[str, Any], label: str) -> str:
    """Return one label's accuracy in a per-label result, with its n where known."""
    value = result["per_label"].get(label)
    count = (result.get("per_label_n") or {}).get(label)
    if count is None and "confusion" in result and label in result["confusion"]["rows"]:
        row = result["confusion"]["rows"].index(label)
        count = sum(result["confusion"]["counts"][row])
    return _format(value) + (f" (n {count})" if count is not None else "")


def judge_text(scores: dict[str, Any] | None) -> str:
    """Return a sentence on the classifier's group-disjoint accuracy (or why there is none)."""
    if not isinstance(scores, dict) or scores.get("classifier_accuracy") is None:
        return ""
    text = f"The classifier's held-out accuracy is {_format(scores['classifier_accuracy'])}"
    if scores.get("classifier_group_accuracy") is not None:
        text += (
            f"; on recording groups it never heard, {_format(scores['classifier_group_accuracy'])}"
        )
    note = scores.get("classifier_group_note")
    return text + (f" ({note})." if note else ".")


# --------------------------------------------------------------------------------------------
# the audio report: sections of report.html


def write_report(
    out: Path,
    metrics: dict[str, Any],
    *,
    generated: np.ndarray,
    reference: np.ndarray,
    reference_indices: np.ndarray,
    valid: np.ndarray,
    sample_rate: int,
    generated_names: Sequence[str] | None = None,
    run_dir: Path | None = None,
) -> Path:
    """Report (audio path): write report.html (and its audio/ and images/) into `out`; return
    its path.

    generated, reference: float32 [n, samples]; the first clips of each get players and
    spectrograms, the closest generated-training pairs of metrics["memorization"] are shown side by
    side, and a run's metrics.csv becomes training curves.
    """
    out = Path(out)
    for folder in ("audio", "images"):
        for old in (out / folder).glob("*"):  # a report written again shows only its own clips
            old.unlink()
    clips = (out, generated, reference, reference_indices, sample_rate)
    body = [
        *_summary_section(metrics),
        *_metrics_section(metrics),
        *_per_label_section(out, metrics),
        *_clips_section(*clips, generated_names),
        *_curves_section(out, run_dir),
        *_pairs_section(*clips, metrics.get("memorization") or {}),
    ]
    title = f"sonogen evaluation: {Path(metrics['target']['path']).name}"
    return _write_page(out / "report.html", title, body)


def _summary_section(metrics: dict[str, Any]) -> list[str]:
    """Return the HTML lines saying what was evaluated against what, how, and what was skipped."""
    target, reference, embedding = metrics["target"], metrics["reference"], metrics["embedding"]
    parts = [
        "<p>",
        f"Evaluated: {_escape(target['path'])} ({_escape(target['kind'])}"
        + (f", model {_escape(target['model'])}" if target.get("model") else "")
        + (f", {target['steps']:,} steps" if target.get("steps") is not None else "")
        + (
            f", {target['train_seconds'] / 60:.1f} min of training"
            if target.get("train_seconds")
            else ""
        )
        + ")<br>",
        f"Reference: {_escape(reference['path'])} ({reference['train_clips']:,} train clips, "
        f"{reference['valid_clips']:,} held-out), {reference['sample_rate']} Hz<br>",
        f"n = {metrics['n']:,} generated clips, seed {metrics['seed']}, embedding "
        f"<code>{_escape(embedding['name'])}</code> ({embedding['dim']} dimensions"
        + (
            ", each scaled by its spread over the reference clips"
            if embedding.get("standardized")
            else ""
        )
        + ")",
        "</p>",
    ]
    generation = metrics.get("generation")
    if generation:
        parts.append(
            f"<p>Generation: {generation['seconds']:.1f} s for {generation['n']:,} clips, "
            f"{generation['real_time_factor']:.1f}× real time (batch {generation['batch_size']})."
            "</p>"
        )
    skipped = target.get("skipped") or []
    if skipped:
        parts.append(
            f"<p>{len(skipped)} files could not be read and were left out: "
            + ", ".join(_escape(f"{row['file']} ({row['reason']})") for row in skipped[:10])
            + ("…" if len(skipped) > 10 else "")
            + "</p>"
        )
    return parts


def _metrics_section(metrics: dict[str, Any]) -> list[str]:
    """Return the HTML of the metric table: each number beside the real held-out clips' and
    what it means."""
    header = ["metric", "generated", "real held-out clips", "what it means"]
    rows = _quality_rows(metrics) + _diversity_rows(metrics) + _reconstruction_rows(metrics)
    return [
        "<h2>Metrics</h2>",
        _table(header, rows, ("", "num", "num", "note")),
        f'<p class="note">{_escape(EXPLANATIONS["real held-out clips"])} '
        f"{_escape(judge_text(metrics['quality'].get('inception_score')))} "
        "Every number, with its n and spread, is in "
        '<a href="metrics.json">metrics.json</a>.</p>',
    ]


def _with_spread(value: Any, spread: Any, digits: int = 3) -> str:
    """Return "value ± spread" (the spread left out where there is none)."""
    if value is None:
        return "–"
    return _format(value, digits) + (f" ± {_format(spread, digits)}" if spread else "")


Row = tuple[str, str, str, str]  # (name, generated, real held-out, explanation), all text


def _quality_rows(metrics: dict[str, Any]) -> list[Row]:
    """Return the metric table's rows of n, FAD, IS, label accuracy and intelligibility."""
    q, h = metrics["quality"], metrics.get("heldout_real")
    fad_ci = lookup(q, "fad", "ci95")
    judged = judge_note(q.get("inception_score"))
    judged = f" ({judged})" if judged else ""
    rows = [
        ("clips (n)", _format(metrics["n"]), heldout_count(metrics), "clips scored."),
        (
            "FAD",
            _format(lookup(q, "fad", "value"))
            + (f" (95% CI {_format(fad_ci[0])}–{_format(fad_ci[1])})" if fad_ci else ""),
            _format(lookup(h, "fad", "value")),
            EXPLANATIONS["FAD"],
        ),
        (
            "FAD-infinity",
            _with_spread(lookup(q, "fad_infinity", "value"), lookup(q, "fad_infinity", "stderr")),
            "–",
            EXPLANATIONS["FAD-infinity"],
        ),
        (
            "Inception Score" + judged,
            _with_spread(
                lookup(q, "inception_score", "mean"), lookup(q, "inception_score", "std"), 2
            )
            if q.get("inception_score")
            else "– (" + q.get("inception_score_reason", "") + ")",
            _with_spread(
                lookup(h, "inception_score", "mean"), lookup(h, "inception_score", "std"), 2
            ),
            EXPLANATIONS["Inception Score"],
        ),
    ]
    if q.get("label_accuracy"):
        rows.append(
            (
                "label accuracy" + judged,
                _with_spread(
                    lookup(q, "label_accuracy", "value"), lookup(q, "label_accuracy", "stderr")
                ),
                _format(lookup(h, "label_accuracy", "value")),
                EXPLANATIONS["label accuracy"],
            )
        )
    heard = metrics.get("intelligibility") or {}
    if heard.get("accuracy") is not None:
        rows.append(
            (
                f"intelligibility (chance {_format(heard.get('chance'))})",
                _format(heard["accuracy"]),
                _format(lookup(h, "intelligibility", "accuracy")),
                EXPLANATIONS["intelligibility"] + " " + heard.get("recogniser", ""),
            )
        )
    elif heard.get("skipped"):
        rows.append(("intelligibility", "–", "–", heard["skipped"]))
    return rows


def _diversity_rows(metrics: dict[str, Any]) -> list[Row]:
    """Return the metric table's rows of NDB/K, diversity, memorization and signal checks."""
    d, h, signal = metrics["diversity"], metrics.get("heldout_real"), metrics["signal"]
    memorization = metrics.get("memorization") or {}
    threshold = memorization.get("threshold")
    return [
        (
            "NDB/K",
            f"{_format(lookup(d, 'ndb', 'ndb_over_k'))} ({lookup(d, 'ndb', 'ndb')} of "
            f"{lookup(d, 'ndb', 'k')} bins)",
            _format(lookup(h, "ndb", "ndb_over_k")),
            EXPLANATIONS["NDB/K"],
        ),
        (
            "diversity ratio",
            _with_spread(lookup(d, "pairwise", "ratio"), lookup(d, "pairwise", "ratio_stderr")),
            _format(lookup(h, "pairwise", "ratio")),
            EXPLANATIONS["diversity ratio"],
        ),
        (
            "memorized share",
            _format(memorization.get("flagged_share"))
            + (
                f" (threshold {_format(threshold)})"
                if threshold is not None
                else " (" + (memorization.get("reason") or "") + ")"
            ),
            "–",
            EXPLANATIONS["memorized share"],
        ),
        (
            "silent / clipped / NaN",
            " / ".join(
                _format(signal.get(key)) for key in ("silent_share", "clipped_share", "nan_share")
            ),
            "–",
            EXPLANATIONS["silent / clipped / NaN"],
        ),
        (
            "RMS loudness (dBFS)",
            "median {} (5–95%: {} to {})".format(
                _format(lookup(signal, "rms_db", "p50"), 1),
                _format(lookup(signal, "rms_db", "p5"), 1),
                _format(lookup(signal, "rms_db", "p95"), 1),
            ),
            "–",
            "loudness of the generated clips.",
        ),
    ]


def _reconstruction_rows(metrics: dict[str, Any]) -> list[Row]:
    """Return the metric table's rows of reconstruction (none for a family that cannot)."""
    reconstruction = metrics.get("reconstruction")
    if not reconstruction:
        return []
    return [
        (
            "SI-SDR (dB)",
            _with_spread(
                lookup(reconstruction, "si_sdr", "mean"),
                lookup(reconstruction, "si_sdr", "stderr"),
                2,
            ),
            "–",
            EXPLANATIONS["SI-SDR"],
        ),
        (
            "multi-resolution STFT distance",
            _format(reconstruction.get("multi_resolution_stft")),
            "–",
            "spectral convergence + log-magnitude distance of reconstructions (lower is better).",
        ),
        (
            "log-mel L1",
            _format(reconstruction.get("log_mel_l1")),
            "–",
            "mean absolute log-mel difference of reconstructions (lower is better).",
        ),
    ]


def _clip_figure(out: Path, stem: str, audio: np.ndarray, sample_rate: int, caption: str) -> str:
    """Write audio/STEM.wav and images/STEM.png; return the HTML figure that shows them."""
    write_wav(out / "audio" / f"{stem}.wav", np.nan_to_num(audio), sample_rate)
    spectrogram_png(out / "images" / f"{stem}.png", audio, sample_rate)
    return _figure(f"audio/{stem}.wav", caption, f"images/{stem}.png")


def _clips_section(
    out: Path,
    generated: np.ndarray,
    reference: np.ndarray,
    reference_indices: np.ndarray,
    sample_rate: int,
    generated_names: Sequence[str] | None,
) -> list[str]:
    """Return the HTML of the first generated and reference clips, writing their files."""
    parts = ["<h2>Generated clips</h2><div class=grid>"]
    for i in range(min(REPORT_CLIPS, len(generated))):
        caption = generated_names[i] if generated_names else f"generated {i}"
        parts.append(_clip_figure(out, f"generated_{i:02d}", generated[i], sample_rate, caption))
    parts.append("</div><h2>Reference clips</h2><div class=grid>")
    for i in range(min(REPORT_CLIPS, len(reference))):
        caption = f"training clip {int(reference_indices[i])}"
        parts.append(_clip_figure(out, f"reference_{i:02d}", reference[i], sample_rate, caption))
    parts.append("</div>")
    return parts


def _curves_section(out: Path, run_dir: Path | None) -> list[str]:
    """Return the HTML of a run's training curves (none for a folder), writing the picture."""
    curves = _read_metrics_csv(Path(run_dir) / METRICS) if run_dir is not None else {}
    if not curves:
        return []
    _curves_png(out / "images" / "training_curves.png", curves)
    return [
        "<h2>Training curves</h2>",
        '<p><img src="images/training_curves.png" alt="training curves" '
        'style="max-width:100%"></p>',
    ]


def _pairs_section(
    out: Path,
    generated: np.ndarray,
    reference: np.ndarray,
    reference_indices: np.ndarray,
    sample_rate: int,
    memorization: dict[str, Any],
) -> list[str]:
    """Return the HTML of the generated clips closest to a training clip, side by side with it,
    writing their files (nothing where memorization measured no similarities)."""
    from sonogen.evaluation.metrics import closest_pairs

    if not memorization.get("similarity"):
        return []
    threshold = memorization.get("threshold")
    parts = [
        "<h2>Nearest training clips</h2>",
        '<p class="note">The generated clips closest to a training clip, with that clip. '
        f"Pairs above the threshold ({_format(threshold)}) are flagged as likely copies.</p>",
    ]
    for generated_index, train_index, similarity in closest_pairs(memorization, REPORT_PAIRS):
        flag = " — flagged" if threshold is not None and similarity > threshold else ""
        stem = f"pair_{generated_index:04d}"
        parts += [
            f"<p>similarity {similarity:.4f}{flag}</p><div class=pair>",
            _clip_figure(
                out,
                f"{stem}_generated",
                generated[generated_index],
                sample_rate,
                f"generated {generated_index}",
            ),
            _clip_figure(
                out,
                f"{stem}_training",
                reference[train_index],
                sample_rate,
                f"training clip {int(reference_indices[train_index])}",
            ),
            "</div>",
        ]
    return parts


# --------------------------------------------------------------------------------------------
# the music report


def write_music_report(
    out: Path, metrics: dict[str, Any], audio: Sequence[tuple[Path, str]]
) -> Path:
    """Report (music path): write report.html into `out`: the metric tables and players of the
    rendered pieces (`audio`: (WAV path under `out`, caption) pairs); return its path."""
    out = Path(out)
    valid = metrics.get("valid") or {}
    memo = metrics["memorization"]
    shared, baseline = memo["longest_shared_tokens"], memo["held_out_baseline"] or {}
    statistics = _table(
        ["statistic", "generated", f"reference ({metrics['reference_pieces']} pieces)", "overlap"],
        [
            [
                name,
                f"{_number(e['generated']['mean'])} ± {_number(e['generated']['std'])}",
                f"{_number(e['reference']['mean'])} ± {_number(e['reference']['std'])}",
                e["overlap"],
            ]
            for name, e in metrics["statistics"].items()
        ],
        ("", "num", "num"),
    )
    likelihood = _table(
        ["nats per token", "perplexity", "tokens"],
        [[valid.get("nll"), valid.get("perplexity"), valid.get("tokens")]],
    )
    memorization = _table(
        ["longest run of tokens shared with a training piece", "mean", "max"],
        [
            ["generated pieces", shared["mean"], shared["max"]],
            ["held-out pieces (baseline)", baseline.get("mean"), baseline.get("max")],
        ],
    )
    players = "".join(_figure(wav.relative_to(out).as_posix(), caption) for wav, caption in audio)
    settings = (
        f"Reference {metrics['reference']}; {metrics['n']} pieces of {metrics['bars']} bars, "
        f"seed {metrics['seed']}, temperature {metrics['temperature']}, top-p "
        f"{metrics['top_p']}; {metrics['empty_pieces']} empty, "
        f"{metrics['incomplete_pieces']} incomplete."
    )
    body = [
        f"<p class=note>{_escape(settings)}</p>",
        f"<h2>Held-out likelihood</h2>{likelihood}",
        f"<h2>Statistics (mean ± std)</h2>{statistics}",
        "<p class=note>Overlap: the shared area of the two kernel density estimates (1: the same",
        f"distribution, 0: disjoint). Mean overlap {_number(metrics['mean_overlap'])}.</p>",
        f"<h2>Memorization</h2>{memorization}",
        f"<h2>Listen</h2><div class=grid>{players}</div>",
    ]
    title = f"{metrics['model']}: {metrics['run']}"
    return _write_page(out / "report.html", title, body)


# --------------------------------------------------------------------------------------------
# the leaderboard

LEADERBOARD_COLUMNS = [
    ("run", "run", None),
    ("model", "family", None),
    ("parameters", "parameters", None),
    ("steps", "steps", None),
    ("train_minutes", "train min", 1),
    ("fad", "FAD ↓", 3),
    ("fad_infinity", "FAD∞ ↓", 3),
    ("inception_score", "IS ↑", 2),
    ("label_accuracy", "label acc ↑", 3),
    ("classifier_group_accuracy", "judge on unheard groups", 3),
    ("intelligibility", "intelligibility ↑", 3),
    ("heldout_intelligibility", "real held-out intelligibility", 3),
    ("ndb_over_k", "NDB/K ↓", 3),
    ("diversity_ratio", "diversity (1=real)", 3),
    ("memorized_share", "memorized ↓", 3),
    ("silent_share", "silent ↓", 3),
    ("si_sdr", "SI-SDR dB ↑", 2),
    ("real_time_factor", "gen × real time ↑", 1),
]


def write_leaderboard(
    out: Path, rows: list[dict[str, Any]], *, n: int, embedding: str, seed: int
) -> tuple[Path, Path]:
    """Write leaderboard.md and leaderboard.html (rows already sorted); return both paths."""
    out = Path(out)
    columns = [c for c in LEADERBOARD_COLUMNS if any(row.get(c[0]) is not None for row in rows)]
    header = f"n = {n} clips per run, seed {seed}, embedding `{embedding}`; sorted by FAD."
    lines = ["# sonogen leaderboard", "", header, ""]
    lines.append("| " + " | ".join(title for _, title, _ in columns) + " |")
    lines.append("|" + "|".join("---" if d is None else "---:" for _, _, d in columns) + "|")
    for row in rows:
        cells = [_format(row.get(key), 3 if d is None else d) for key, _, d in columns]
        lines.append("| " + " | ".join(cells) + " |")
    markdown = out / "leaderboard.md"
    markdown.write_text("\n".join(lines) + "\n", encoding="utf-8")

    parts = [
        f"<p>{_escape(header.replace('`', ''))} Each run's name links to its report.</p>",
        "<table><tr>" + "".join(f"<th>{_escape(t)}</th>" for _, t, _ in columns) + "</tr>",
    ]
    for row in rows:
        cells = []
        for key, _, digits in columns:
            if key == "run":
                cells.append(
                    f'<td><a href="{_escape(row["report"])}">{_escape(row["run"])}</a></td>'
                )
            else:
                text = _format(row.get(key), 3 if digits is None else digits)
                cells.append(f"<td class=num>{_escape(text)}</td>")
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</table>")
    return markdown, _write_page(out / "leaderboard.html", "sonogen leaderboard", parts)
