"""report.html and the leaderboard: pages a person opens from disk, with players and pictures.

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
    # a path whose bytes are not UTF-8 (surrogate escapes in Python) shows as backslash escapes,
    # so that the page can always be written as UTF-8
    text = str(value)
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that stands for no byte
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return html.escape(text, quote=True)


def _format(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return f"{int(value):,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        return f"{value:.{digits}f}"
    return str(value)


# --------------------------------------------------------------------------------------------
# pictures


def _spectrogram_png(path: Path, audio: np.ndarray, sample_rate: int, title: str = "") -> None:
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
    parts = ["<h2>Per label</h2>", "<table><tr><th>label</th>"]
    columns = [
        ("classifier: generated", generated_labels),
        ("classifier: real held-out", heldout_labels),
        ("recogniser: generated", heard),
        ("recogniser: real held-out", heldout_heard),
    ]
    columns = [(title, result) for title, result in columns if result.get("per_label")]
    parts.append("".join(f"<th>{_escape(title)}</th>" for title, _ in columns) + "</tr>")
    for label in labels:
        cells = []
        for _, result in columns:
            value = result["per_label"].get(label)
            count = (result.get("per_label_n") or {}).get(label)
            if count is None and "confusion" in result and label in result["confusion"]["rows"]:
                row = result["confusion"]["rows"].index(label)
                count = sum(result["confusion"]["counts"][row])
            text = _format(value) + (f" (n {count})" if count is not None else "")
            cells.append(f"<td class=num>{_escape(text)}</td>")
        parts.append(f"<tr><td>{_escape(label)}</td>{''.join(cells)}</tr>")
    parts.append("</table>")
    parts.append(
        '<p class="note">Share of the clips asked for each label that the dataset classifier '
        "assigns to it, and that the speech recogniser hears as its word; the real held-out "
        "clips are scored alike, at the same n. "
        + _escape(judge_text(quality.get("label_accuracy") or quality.get("inception_score")))
        + "</p>"
    )
    pictures = []
    if generated_labels.get("confusion"):
        pictures.append(
            (
                "confusion_classifier",
                generated_labels["confusion"],
                "dataset classifier, generated clips",
                "predicted label",
            )
        )
    elif heldout_labels.get("confusion"):
        pictures.append(
            (
                "confusion_classifier",
                heldout_labels["confusion"],
                "dataset classifier, real held-out clips",
                "predicted label",
            )
        )
    if heard.get("confusion"):
        pictures.append(
            (
                "confusion_recogniser",
                heard["confusion"],
                "speech recogniser, generated clips",
                "word heard",
            )
        )
    parts.append("<div class=pair>")
    for stem, confusion, title, xlabel in pictures:
        _confusion_png(out / "images" / f"{stem}.png", confusion, title, xlabel)
        parts.append(
            f'<figure><img src="images/{stem}.png" alt="confusion matrix: {_escape(title)}">'
            f"<figcaption>{_escape(title)}: asked label (rows) by {_escape(xlabel)} "
            "(columns)</figcaption></figure>"
        )
    parts.append("</div>")
    return parts


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
# the report page


def _clip_figure(out: Path, stem: str, audio: np.ndarray, sample_rate: int, caption: str) -> str:
    """Write audio/STEM.wav and images/STEM.png; return the HTML figure that shows them."""
    write_wav(out / "audio" / f"{stem}.wav", np.nan_to_num(audio), sample_rate)
    _spectrogram_png(out / "images" / f"{stem}.png", audio, sample_rate)
    return (
        f'<figure><img src="images/{stem}.png" alt="spectrogram of {_escape(caption)}">'
        f'<audio controls preload="none" src="audio/{stem}.wav"></audio>'
        f"<figcaption>{_escape(caption)}</figcaption></figure>"
    )


def _metric_rows(metrics: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Return (name, generated, real held-out, explanation) rows for the metric table."""

    def get(section: Any, *keys: str) -> Any:
        for key in keys:
            if not isinstance(section, dict):
                return None
            section = section.get(key)
        return section

    def with_spread(value: Any, spread: Any, digits: int = 3) -> str:
        if value is None:
            return "–"
        return _format(value, digits) + (f" ± {_format(spread, digits)}" if spread else "")

    from sonogen.evaluation.suite import heldout_count, judge_note

    q, d, h = metrics["quality"], metrics["diversity"], metrics.get("heldout_real")
    signal = metrics["signal"]
    fad_ci = get(q, "fad", "ci95")
    judged = judge_note(q.get("inception_score"))
    judged = f" ({judged})" if judged else ""
    rows = [
        ("clips (n)", _format(metrics["n"]), _escape(heldout_count(metrics)), "clips scored."),
        (
            "FAD",
            _format(get(q, "fad", "value"))
            + (f" (95% CI {_format(fad_ci[0])}–{_format(fad_ci[1])})" if fad_ci else ""),
            _format(get(h, "fad", "value")),
            EXPLANATIONS["FAD"],
        ),
        (
            "FAD-infinity",
            with_spread(get(q, "fad_infinity", "value"), get(q, "fad_infinity", "stderr")),
            "–",
            EXPLANATIONS["FAD-infinity"],
        ),
        (
            "Inception Score" + judged,
            with_spread(get(q, "inception_score", "mean"), get(q, "inception_score", "std"), 2)
            if q.get("inception_score")
            else "– (" + _escape(q.get("inception_score_reason", "")) + ")",
            with_spread(get(h, "inception_score", "mean"), get(h, "inception_score", "std"), 2),
            EXPLANATIONS["Inception Score"],
        ),
    ]
    if q.get("label_accuracy"):
        rows.append(
            (
                "label accuracy" + judged,
                with_spread(get(q, "label_accuracy", "value"), get(q, "label_accuracy", "stderr")),
                _format(get(h, "label_accuracy", "value")),
                EXPLANATIONS["label accuracy"],
            )
        )
    heard = metrics.get("intelligibility") or {}
    if heard.get("accuracy") is not None:
        rows.append(
            (
                f"intelligibility (chance {_format(heard.get('chance'))})",
                _format(heard["accuracy"]),
                _format(get(h, "intelligibility", "accuracy")),
                EXPLANATIONS["intelligibility"] + " " + _escape(heard.get("recogniser", "")),
            )
        )
    elif heard.get("skipped"):
        rows.append(("intelligibility", "–", "–", _escape(heard["skipped"])))
    rows += [
        (
            "NDB/K",
            f"{_format(get(d, 'ndb', 'ndb_over_k'))} ({get(d, 'ndb', 'ndb')} of "
            f"{get(d, 'ndb', 'k')} bins)",
            _format(get(h, "ndb", "ndb_over_k")),
            EXPLANATIONS["NDB/K"],
        ),
        (
            "diversity ratio",
            with_spread(get(d, "pairwise", "ratio"), get(d, "pairwise", "ratio_stderr")),
            _format(get(h, "pairwise", "ratio")),
            EXPLANATIONS["diversity ratio"],
        ),
        (
            "memorized share",
            _format(get(metrics, "memorization", "flagged_share"))
            + (
                f" (threshold {_format(get(metrics, 'memorization', 'threshold'))})"
                if get(metrics, "memorization", "threshold") is not None
                else " (" + _escape(get(metrics, "memorization", "reason") or "") + ")"
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
                _format(get(signal, "rms_db", "p50"), 1),
                _format(get(signal, "rms_db", "p5"), 1),
                _format(get(signal, "rms_db", "p95"), 1),
            ),
            "–",
            "loudness of the generated clips.",
        ),
    ]
    reconstruction = metrics.get("reconstruction")
    if reconstruction:
        rows += [
            (
                "SI-SDR (dB)",
                with_spread(
                    get(reconstruction, "si_sdr", "mean"),
                    get(reconstruction, "si_sdr", "stderr"),
                    2,
                ),
                "–",
                EXPLANATIONS["SI-SDR"],
            ),
            (
                "multi-resolution STFT distance",
                _format(reconstruction.get("multi_resolution_stft")),
                "–",
                "spectral convergence + log-magnitude distance of reconstructions "
                "(lower is better).",
            ),
            (
                "log-mel L1",
                _format(reconstruction.get("log_mel_l1")),
                "–",
                "mean absolute log-mel difference of reconstructions (lower is better).",
            ),
        ]
    return rows


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
    """Write report.html (and its audio/ and images/) into `out`; return its path.

    generated, reference: float32 [n, samples]; the first clips of each get players and
    spectrograms, the closest generated-training pairs of metrics["memorization"] are shown side by
    side, and a run's metrics.csv becomes training curves.
    """
    out = Path(out)
    for folder in ("audio", "images"):
        for old in (out / folder).glob("*"):  # a report written again shows only its own clips
            old.unlink()
    target = metrics["target"]
    title = f"sonogen evaluation: {Path(target['path']).name}"
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{_escape(title)}</h1>",
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
        f"Reference: {_escape(metrics['reference']['path'])} "
        f"({metrics['reference']['train_clips']:,} train clips, "
        f"{metrics['reference']['valid_clips']:,} held-out), "
        f"{metrics['reference']['sample_rate']} Hz<br>",
        f"n = {metrics['n']:,} generated clips, seed {metrics['seed']}, embedding "
        f"<code>{_escape(metrics['embedding']['name'])}</code> "
        f"({metrics['embedding']['dim']} dimensions"
        + (
            ", each scaled by its spread over the reference clips"
            if metrics["embedding"].get("standardized")
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

    parts.append("<h2>Metrics</h2><table><tr><th>metric</th><th>generated</th>")
    parts.append("<th>real held-out clips</th><th>what it means</th></tr>")
    for name, value, real, note in _metric_rows(metrics):
        parts.append(
            f"<tr><td>{_escape(name)}</td><td class=num>{value}</td><td class=num>{real}</td>"
            f'<td class="note">{_escape(note)}</td></tr>'
        )
    parts.append("</table>")
    parts.append(
        f'<p class="note">{_escape(EXPLANATIONS["real held-out clips"])} '
        f"{_escape(judge_text(metrics['quality'].get('inception_score')))} "
        "Every number, with its n and spread, is in "
        '<a href="metrics.json">metrics.json</a>.</p>'
    )
    parts += _per_label_section(out, metrics)

    parts.append("<h2>Generated clips</h2><div class=grid>")
    for i in range(min(REPORT_CLIPS, len(generated))):
        caption = generated_names[i] if generated_names else f"generated {i}"
        parts.append(_clip_figure(out, f"generated_{i:02d}", generated[i], sample_rate, caption))
    parts.append("</div><h2>Reference clips</h2><div class=grid>")
    for i in range(min(REPORT_CLIPS, len(reference))):
        caption = f"training clip {int(reference_indices[i])}"
        parts.append(_clip_figure(out, f"reference_{i:02d}", reference[i], sample_rate, caption))
    parts.append("</div>")

    if run_dir is not None:
        curves = _read_metrics_csv(Path(run_dir) / "metrics.csv")
        if curves:
            _curves_png(out / "images" / "training_curves.png", curves)
            parts.append("<h2>Training curves</h2>")
            parts.append(
                '<p><img src="images/training_curves.png" alt="training curves" '
                'style="max-width:100%"></p>'
            )

    memorization = metrics.get("memorization") or {}
    if memorization.get("similarity"):
        from sonogen.evaluation.metrics import closest_pairs

        parts.append("<h2>Nearest training clips</h2>")
        parts.append(
            '<p class="note">The generated clips closest to a training clip, with that clip. '
            "Pairs above the threshold "
            f"({_format(memorization.get('threshold'))}) are flagged as likely copies.</p>"
        )
        for generated_index, train_index, similarity in closest_pairs(memorization, REPORT_PAIRS):
            dataset_index = int(reference_indices[train_index])
            flag = (
                " — flagged"
                if memorization.get("threshold") is not None
                and similarity > memorization["threshold"]
                else ""
            )
            parts.append(f"<p>similarity {similarity:.4f}{flag}</p><div class=pair>")
            parts.append(
                _clip_figure(
                    out,
                    f"pair_{generated_index:04d}_generated",
                    generated[generated_index],
                    sample_rate,
                    f"generated {generated_index}",
                )
            )
            parts.append(
                _clip_figure(
                    out,
                    f"pair_{generated_index:04d}_training",
                    reference[train_index],
                    sample_rate,
                    f"training clip {dataset_index}",
                )
            )
            parts.append("</div>")
    parts.append("</body></html>")
    path = out / "report.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


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
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8"><title>sonogen leaderboard</title>',
        f"<style>{STYLE}</style></head><body><h1>sonogen leaderboard</h1>",
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
    parts.append("</table></body></html>")
    page = out / "leaderboard.html"
    page.write_text("\n".join(parts), encoding="utf-8")
    return markdown, page
