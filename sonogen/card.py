"""MODEL_CARD.md of a run dir: what a person needs to know before sharing a model.

Written when training ends (``sonogen train``) and again by ``sonogen evaluate`` on the run, which
first records its headline numbers in ``RUN/evaluation.json``. The card is made only from files
of the run dir and of the dataset dir it was trained on, so it can be written again at any time:
family and size, the data's source and licence as the dataset recorded them, the training budget
and hardware, the last evaluation beside the real held-out clips, the memorization check, and
the intended use.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sonogen.run import CARD_NAME  # run.py clears an unsaved start's card, so it owns the name

EVALUATION_NAME = "evaluation.json"  # the headline numbers of the run's last evaluation

# The rows of the card's evaluation table: (key of the summary, name, format, real held-out key).
_EVALUATION_ROWS = (
    ("fad", "FAD ({embedding})", "{:.3g}", "heldout_fad"),
    ("inception_score", "Inception Score", "{:.2f}", "heldout_inception_score"),
    ("label_accuracy", "label accuracy (dataset classifier)", "{:.1%}", "heldout_label_accuracy"),
    ("intelligibility", "intelligibility (speech recogniser)", "{:.1%}", "heldout_intelligibility"),
    ("ndb_over_k", "NDB/K (missed or overfilled regions)", "{:.2f}", "heldout_ndb_over_k"),
    ("diversity_ratio", "pairwise diversity / real", "{:.2f}", None),
    ("silent_share", "silent clips", "{:.1%}", None),
    ("si_sdr", "reconstruction SI-SDR (dB)", "{:.1f}", None),
    ("real_time_factor", "generation speed (x real time)", "{:.1f}", None),
    ("memorized_share", "near-copies of training clips", "{:.1%}", None),
)


def evaluation_rows(evaluation: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Return (name, this model's value, the real held-out clips' value or "") for each number
    the last evaluation summary holds, formatted as the card and the studio show them."""
    rows = []
    for key, label, form, real_key in _EVALUATION_ROWS:
        value = evaluation.get(key)
        if not isinstance(value, (int, float)):
            continue
        real = evaluation.get(real_key) if real_key else None
        label = label.format(embedding=evaluation.get("embedding") or "embedding")
        rows.append((label, form.format(value), "" if real is None else form.format(real)))
    return rows


def evaluation_summary(metrics: dict[str, Any], out: Path) -> dict[str, Any]:
    """Return the headline numbers of an evaluation's ``metrics.json`` (a dict) for the card."""
    quality, diversity = metrics.get("quality") or {}, metrics.get("diversity") or {}
    heldout = metrics.get("heldout_real") or {}
    memorization = metrics.get("memorization") or {}

    def value(section: dict | None, *keys: str) -> Any:
        for key in keys:
            if not isinstance(section, dict):
                return None
            section = section.get(key)
        return section

    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "metrics": str(Path(out) / "metrics.json"),
        "reference": value(metrics, "reference", "path"),
        "steps": value(metrics, "target", "steps"),
        "n": metrics.get("n"),
        "embedding": value(metrics, "embedding", "name"),
        "fad": value(quality, "fad", "value"),
        "heldout_fad": value(heldout, "fad", "value"),
        "inception_score": value(quality, "inception_score", "mean"),
        "heldout_inception_score": value(heldout, "inception_score", "mean"),
        "label_accuracy": value(quality, "label_accuracy", "value"),
        "heldout_label_accuracy": value(heldout, "label_accuracy", "value"),
        "intelligibility": value(metrics, "intelligibility", "accuracy"),
        "heldout_intelligibility": value(heldout, "intelligibility", "accuracy"),
        "ndb_over_k": value(diversity, "ndb", "ndb_over_k"),
        "heldout_ndb_over_k": value(heldout, "ndb", "ndb_over_k"),
        "diversity_ratio": value(diversity, "pairwise", "ratio"),
        "silent_share": value(metrics, "signal", "silent_share"),
        "si_sdr": value(metrics, "reconstruction", "si_sdr", "mean"),
        "real_time_factor": value(metrics, "generation", "real_time_factor"),
        "memorized_share": memorization.get("flagged_share"),
        "memorized_count": memorization.get("flagged_count"),
        "memorization_threshold": memorization.get("threshold"),
        "nearest_similarity_mean": memorization.get("generated_similarity_mean"),
        "heldout_similarity_mean": memorization.get("heldout_similarity_mean"),
    }


def record_evaluation(run_dir: Path, metrics: dict[str, Any], out: Path) -> Path:
    """Write the evaluation's headline numbers to ``run_dir/evaluation.json`` and the card anew;
    return the card's path."""
    _write_text(
        run_dir / EVALUATION_NAME,
        json.dumps(evaluation_summary(metrics, out), indent=2, sort_keys=True) + "\n",
    )
    return write_model_card(run_dir)


def write_model_card(run_dir: str | Path) -> Path:
    """Write ``run_dir/MODEL_CARD.md`` from the run's files (and its dataset's); return its path."""
    from sonogen.run import info

    run_dir = Path(run_dir)
    summary = info(run_dir)
    _write_text(run_dir / CARD_NAME, model_card(summary, last_evaluation(run_dir)))
    return run_dir / CARD_NAME


def model_card(summary: dict[str, Any], evaluation: dict[str, Any] | None) -> str:
    """Return the card's Markdown for a run's ``sonogen.run.info`` summary and its last
    evaluation summary (None: not evaluated yet)."""
    dataset = _dataset(summary["data"])
    name = Path(summary["run"]).name
    lines = [
        f"# {name}: a sonogen `{summary['model']}` model",
        "",
        f"{summary['family_description']}",
        "",
        "| | |",
        "|---|---|",
        f"| family | `{summary['model']}` |",
        f"| parameters | {summary['parameters']:,} |",
        f"| sample rate | {summary['sample_rate']} Hz |",
        f"| makes | {_makes(summary)} |",
        f"| labels | {_labels(summary['labels'])} |",
        "",
        "## Data",
        "",
        f"- Dataset dir: `{summary['data']}`"
        + ("" if dataset else " (not found when this card was written)"),
        f"- Source: {dataset.get('source') or 'not recorded'}",
        f"- Licence: {dataset.get('license') or _NO_LICENSE}",
    ]
    if dataset.get("count") is not None:
        lines.append(f"- Clips: {dataset['count']:,} (train and valid splits together)")
    lines += [
        "",
        "## Training",
        "",
        f"- Steps: {summary['steps']:,}, in {summary['train_seconds'] / 60:.1f} minutes",
        f"- Hardware: {summary.get('hardware') or 'not recorded (an older run)'}",
        f"- Batch size {summary['batch_size']}, seed {summary['seed']}",
        f"- Made with: {summary.get('sonogen_version') or 'sonogen'}",
    ]
    validation = {k: v for k, v in summary["validation"].items() if k.startswith("valid_")}
    if validation:
        shown = ", ".join(f"{k[6:]} {v:.4g}" for k, v in sorted(validation.items()))
        lines.append(f"- Held-out scores at step {summary['validation'].get('step')}: {shown}")
    lines += ["", "## Evaluation", ""] + _evaluation_lines(evaluation, summary)
    lines += ["", "## Memorization", ""] + _memorization_lines(evaluation)
    lines += ["", "## Intended use", ""] + _use_lines(summary, dataset)
    return "\n".join(lines) + "\n"


_NO_LICENSE = (
    "not recorded; find the licence of the source recordings before sharing this model or its "
    "sounds (`sonogen prepare --license` records it)"
)


def _evaluation_lines(evaluation: dict[str, Any] | None, summary: dict[str, Any]) -> list[str]:
    if not evaluation:
        return [
            "Not evaluated yet. `sonogen evaluate RUN DATA` measures it against the real clips "
            "and writes the numbers here."
        ]
    lines = [
        f"Last evaluation: {evaluation.get('date')}, n {evaluation.get('n')} clips, "
        f"step {evaluation.get('steps')}, against `{evaluation.get('reference')}` "
        f"(all numbers in `{evaluation.get('metrics')}`)."
    ]
    if evaluation.get("steps") not in (None, summary["steps"]):
        lines.append(
            f"The model has trained on since (step {summary['steps']}): evaluate it again."
        )
    lines += ["", "| | this model | real held-out clips |", "|---|---:|---:|"]
    lines += [f"| {name} | {value} | {real} |" for name, value, real in evaluation_rows(evaluation)]
    return lines


def _memorization_lines(evaluation: dict[str, Any] | None) -> list[str]:
    if not evaluation or evaluation.get("memorized_share") is None:
        return ["Not checked yet (`sonogen evaluate` finds each clip's nearest training clip)."]
    share, count = evaluation["memorized_share"], evaluation.get("memorized_count")
    lines = [
        f"{count} of {evaluation.get('n')} generated clips ({share:.1%}) are near-copies of a "
        f"training clip (cosine similarity above {evaluation.get('memorization_threshold'):.3f}, "
        "a level real held-out clips rarely reach)."
    ]
    generated, heldout = (
        evaluation.get("nearest_similarity_mean"),
        evaluation.get("heldout_similarity_mean"),
    )
    if generated is not None and heldout is not None:
        lines.append(
            f"Mean similarity to the nearest training clip: {generated:.3f} for generated clips, "
            f"{heldout:.3f} for real held-out clips."
        )
    if share > 0:
        lines.append(
            "Listen to the flagged clips (the evaluation report lists them) before sharing: "
            "they may reproduce recordings of the training data."
        )
    return lines


def _use_lines(summary: dict[str, Any], dataset: dict[str, Any]) -> list[str]:
    labels = summary["labels"]
    lines = [
        f"Making new sounds like those of its dataset ({_labels(labels)}), for sound design, "
        "music and research on generative audio, with `sonogen generate "
        f"{Path(summary['run']).name}` or `sonogen.load(RUN).generate(n)`.",
        "",
        "Limits: it knows only its training data; sounds far from it come out poorly. Its "
        "output may resemble the recordings it learned from, so the data's licence (above) "
        "applies to what you share, and a model trained on voices can imitate those speakers: "
        "do not use it to pass as a real person.",
    ]
    if not dataset.get("license"):
        lines += ["", f"The data's licence is {_NO_LICENSE}."]
    return lines


def _makes(summary: dict[str, Any]) -> str:
    if summary.get("any_length"):
        return "audio of any length"
    seconds = summary["clip_samples"] / summary["sample_rate"]
    return f"clips of {summary['clip_samples']} samples ({seconds:.2f} s)"


def _labels(labels: list[str] | None) -> str:
    if not labels:
        return "none (unconditional)"
    shown = ", ".join(labels[:12]) + (f", ... ({len(labels)} in all)" if len(labels) > 12 else "")
    return shown


def _dataset(path: str) -> dict[str, Any]:
    """dataset.json of the run's dataset dir, or {} where it cannot be read (moved, damaged)."""
    try:
        values = json.loads((Path(path) / "dataset.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return {}
    return values if isinstance(values, dict) else {}


def last_evaluation(run_dir: Path) -> dict[str, Any] | None:
    """The headline numbers of the run's last evaluation (evaluation.json), or None."""
    try:
        values = json.loads((run_dir / EVALUATION_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return values if isinstance(values, dict) else None


def _write_text(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all (temp file + rename)."""
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)
