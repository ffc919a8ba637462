"""The evaluation suite end to end: metrics.json, report.html, folders of clips, compare, CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import sonogen
from sonogen.errors import SonogenError
from tests.conftest import QUIET, TINY, make_tone_dataset

RATE = 8000
SAMPLES = 1024


def varied_tones(count: int, low_hz: float, high_hz: float, seed: int) -> np.ndarray:
    """Return float32 [count, SAMPLES]: tones of random pitch, timbre and decay, with a faint
    noise floor, so that no two clips (and no held-out clip and training clip) are alike."""
    rng = np.random.default_rng(seed)
    t = np.arange(SAMPLES) / RATE
    clips = []
    for _ in range(count):
        frequency = rng.uniform(low_hz, high_hz)
        weights = rng.uniform(0.1, 1.0, 4)
        wave = sum(w * np.sin(2 * np.pi * frequency * (k + 1) * t) for k, w in enumerate(weights))
        wave *= np.exp(-t * rng.uniform(2, 30)) * rng.uniform(0.3, 0.8) / weights.sum()
        clips.append(wave + rng.normal(0, 1e-3, SAMPLES))
    return np.asarray(clips, dtype=np.float32)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """A labelled dataset of 64 varied tones, 'low' and 'high', every 8th clip held out."""
    from sonogen.data.prepare import write_dataset

    clips = np.concatenate([varied_tones(32, 150, 400, 1), varied_tones(32, 900, 1800, 2)])
    labels = ["low"] * 32 + ["high"] * 32
    items = [
        {
            "index": i,
            "file": f"tone_{i}.wav",
            "offset_seconds": 0.0,
            "label": labels[i],
            "split": "valid" if i % 8 == 7 else "train",
        }
        for i in range(64)
    ]
    out = tmp_path_factory.mktemp("data") / "tones"
    write_dataset(
        out,
        clips,
        items,
        sample_rate=RATE,
        clip_samples=SAMPLES,
        labels=["low", "high"],
        source="varied test tones",
        skipped=[],
        options={},
    )
    return out


@pytest.fixture(scope="module")
def runs(reference, tmp_path_factory) -> list[Path]:
    """Two tiny SpecGAN runs on the reference: 2 and 30 steps."""
    root = tmp_path_factory.mktemp("runs")
    made = []
    for steps in (2, 30):
        made.append(
            sonogen.train(
                reference,
                "specgan",
                root / f"specgan_{steps}",
                overrides=TINY["specgan"] + QUIET,
                max_steps=steps,
                batch_size=8,
                progress=False,
            )
        )
    return made


@pytest.fixture(scope="module")
def evaluated(runs, reference, tmp_path_factory):
    """One full evaluation of the 30-step run (n=40, seed 3), with its report."""
    return sonogen.evaluate(
        runs[1], reference, n=40, out=tmp_path_factory.mktemp("eval") / "eval", seed=3
    )


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in {"src", "href"} and value:
                self.links.append(value)


def page_links(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def assert_page_complete(page: Path) -> _Links:
    """Every file the page refers to exists beside it, and nothing comes from the network."""
    links = page_links(page)
    assert links.links
    for link in links.links:
        assert "://" not in link and not link.startswith("//"), link
        assert (page.parent / link).is_file(), f"{page} refers to missing {link}"
    return links


def write_folder(folder: Path, clips: np.ndarray, rate: int, channels: int = 1) -> Path:
    folder.mkdir(parents=True)
    for i, clip in enumerate(clips):
        data = np.stack([clip] * channels, axis=1) if channels > 1 else clip
        sf.write(folder / f"clip_{i:03d}.wav", data, rate, subtype="FLOAT")
    return folder


def dataset_clips(path: Path, split: str) -> np.ndarray:
    from sonogen.data.dataset import open_dataset, read_clips, split_indices

    info = open_dataset(path)
    return np.asarray(read_clips(info)[split_indices(info, split)], np.float32) / 32767.0


def test_evaluate_run_writes_every_metric_and_a_complete_report(evaluated):
    result = evaluated
    saved = json.loads((result.out / "metrics.json").read_text())
    assert saved["n"] == 40 and saved["seed"] == 3
    assert saved["target"]["model"] == "specgan" and saved["target"]["steps"] == 30
    quality = saved["quality"]
    assert quality["fad"]["n_generated"] == 40
    assert quality["fad"]["n_reference"] == 56  # the train split: 7 of every 8 clips
    assert quality["label_accuracy"]["n"] == 40
    assert len(saved["memorization"]["similarity"]) == 40
    assert saved["signal"]["n"] == 40
    generation = saved["generation"]
    assert generation["n"] == 40 and generation["seed"] == 3
    clip_seconds = 40 * SAMPLES / RATE
    assert generation["real_time_factor"] == pytest.approx(clip_seconds / generation["seconds"])
    # the held-out real clips, scored alike, are the level a perfect model reaches; a 30-step
    # tiny SpecGAN is far from it, and every metric must say so (measured: FAD 939 vs 190, IS
    # 1.00 vs 2.00, NDB/K 0.8 vs 0.0, pairwise-distance ratio 0.009 vs 1.16: one sound, collapsed)
    heldout = saved["heldout_real"]
    assert heldout["n"] == 8
    assert heldout["inception_score"]["mean"] > 1.8  # the classifier tells the real tones apart
    assert quality["inception_score"]["mean"] < heldout["inception_score"]["mean"] - 0.5
    assert quality["fad"]["value"] > 2 * heldout["fad"]["value"]
    ndb = saved["diversity"]["ndb"]["ndb_over_k"]
    assert ndb >= heldout["ndb"]["ndb_over_k"] + 0.3
    assert saved["diversity"]["pairwise"]["ratio"] < 0.2 * heldout["pairwise"]["ratio"]
    assert saved["reconstruction"] is None  # a GAN does not encode
    assert result.metrics["quality"]["fad"]["value"] == pytest.approx(quality["fad"]["value"])

    links = assert_page_complete(result.report)
    assert links.tags.count("audio") >= 12 + 8 + 2  # generated, reference, one nearest pair
    assert "images/training_curves.png" in links.links
    text = result.report.read_text(encoding="utf-8")
    for name in ("FAD", "Inception Score", "NDB/K", "memorized share", "Nearest training clips"):
        assert name in text


def test_the_same_seed_gives_the_same_numbers(evaluated, runs, reference, tmp_path):
    again = sonogen.evaluate(runs[1], reference, n=40, out=tmp_path / "b", seed=3, report=False)
    assert again.metrics["quality"]["fad"] == evaluated.metrics["quality"]["fad"]
    assert again.metrics["diversity"] == evaluated.metrics["diversity"]


@pytest.fixture(scope="module")
def folders(reference, tmp_path_factory) -> dict[str, dict]:
    """Metrics of three folders of 32 clips against the reference: new tones of both classes
    ('both'), new tones of the 'low' class only ('low'), and white noise ('noise')."""
    root = tmp_path_factory.mktemp("folders")
    clips = {
        "both": np.concatenate([varied_tones(16, 150, 400, 11), varied_tones(16, 900, 1800, 12)]),
        "low": varied_tones(32, 150, 400, 13),
        "noise": np.random.default_rng(0).uniform(-0.5, 0.5, (32, SAMPLES)).astype(np.float32),
    }
    metrics = {}
    for name, audio in clips.items():
        folder = write_folder(root / name, audio, RATE)
        result = sonogen.evaluate(folder, reference, out=root / f"{name}_eval", report=False)
        metrics[name] = result.metrics
    return metrics


def test_known_answers_on_new_tones_one_class_and_noise(folders):
    """Measured: IS 1.96 (both) / 1.00 (low) / 1.00 (noise); FAD 89 / 176 / 1597; NDB/K 0.0 /
    0.6 / 0.8; memorized share 0.03 / 0.09 / 0.0 (a new tone may come close to a training one)."""
    both, low, noise = folders["both"], folders["low"], folders["noise"]
    assert both["n"] == low["n"] == noise["n"] == 32

    def inception(metrics):
        return metrics["quality"]["inception_score"]["mean"]

    def fad(metrics):
        return metrics["quality"]["fad"]["value"]

    def ndb(metrics):
        return metrics["diversity"]["ndb"]["ndb_over_k"]

    # the classifier is sure of each tone, so IS = exp(entropy of the class mix): 2 and 1
    assert inception(both) > 1.8 and inception(low) < 1.2 and inception(noise) < 1.2
    assert fad(noise) > 8 * fad(both)  # tones are near the tones, noise is far
    assert fad(low) > 1.3 * fad(both)  # a missing class moves the embedding mean
    assert ndb(low) >= ndb(both) + 0.3  # the high class's bins are empty: mode dropping
    assert ndb(noise) >= ndb(both) + 0.3
    for metrics in (both, low, noise):
        assert metrics["memorization"]["flagged_share"] <= 0.2


def test_a_folder_of_copies_is_flagged_and_scores_like_real_data(reference, folders, tmp_path):
    train = dataset_clips(reference, "train")
    # copies of training clips at another rate and in stereo: resampled and mixed on the way in
    import soxr

    mixed = np.stack([train[:12], train[28:40]], axis=1).reshape(24, SAMPLES)  # low, high, ...
    upsampled = np.stack([soxr.resample(clip, RATE, 16000) for clip in mixed])
    copies = write_folder(tmp_path / "copies", upsampled, 16000, channels=2)
    (copies / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt nonsense")

    copied = sonogen.evaluate(copies, reference, n=100, out=tmp_path / "e1", report=False)
    assert copied.metrics["n"] == 24
    assert [row["file"] for row in copied.metrics["target"]["skipped"]] == ["broken.wav"]
    # every copy is flagged; new tones of the same two classes mostly are not (at most 0.2)
    assert copied.metrics["memorization"]["flagged_share"] >= 0.9
    fad_copies = copied.metrics["quality"]["fad"]["value"]
    fad_noise = folders["noise"]["quality"]["fad"]["value"]
    # measured: FAD 55 (copies) vs 1597 (noise); 24 clips in 176 dims carry a large small-n bias
    assert fad_noise > 5 * fad_copies
    assert copied.metrics["quality"]["inception_score"]["mean"] > 1.7  # measured 1.89
    # the user's folder is only read
    assert sorted(p.name for p in copies.iterdir())[-1] == "clip_023.wav"


def test_evaluate_errors_name_the_problem(runs, reference, tmp_path):
    with pytest.raises(SonogenError, match="nothing-here"):
        sonogen.evaluate(tmp_path / "nothing-here", reference)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SonogenError, match="no audio files"):
        sonogen.evaluate(empty, reference)
    with pytest.raises(SonogenError, match="unknown embedding|choose one of"):
        sonogen.evaluate(runs[0], reference, n=8, embedding="vggish9", out=tmp_path / "x")
    other = make_tone_dataset(tmp_path / "other", count=16, sample_rate=16000)
    with pytest.raises(SonogenError, match="16000 Hz"):
        sonogen.evaluate(runs[0], other, n=8, out=tmp_path / "y")


def test_compare_writes_a_leaderboard_sorted_by_fad(runs, reference, tmp_path):
    markdown, page, rows = sonogen.compare(runs, reference, tmp_path / "board", n=16)
    fads = [row["fad"] for row in rows]
    assert fads == sorted(fads) and len(rows) == 2
    assert {row["steps"] for row in rows} == {2, 30}
    table = markdown.read_text(encoding="utf-8")
    assert table.count("| specgan_") == 2 and "FAD" in table and "IS" in table
    assert_page_complete(page)
    for row in rows:
        assert (tmp_path / "board" / row["run"] / "metrics.json").is_file()


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")  # module scope: looked for before the module's evaluation runs
def browser() -> str:
    """Return the Chromium to render with; skip without one, except under CI=true (.ci/run sets
    it after installing the browser), where a missing browser is a failure, not a skip."""
    found = chromium()
    if found is None:
        reason = "no Chromium installed (apt-get install chromium); .ci/run installs it"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true, so this test must run")
        pytest.skip(reason)
    return found


def test_report_renders_in_headless_chromium(browser, evaluated, tmp_path):
    result = evaluated
    shot = tmp_path / "shot.png"
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1200,1600",
        f"--screenshot={shot}",
        result.report.resolve().as_uri(),
    ]
    subprocess.run(command, capture_output=True, timeout=120, check=False)
    assert shot.is_file(), "chromium wrote no screenshot"
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[0] >= 1000 and pixels.shape[1] >= 1000
    # a page with a table, players and spectrograms is far from one flat colour
    assert pixels[..., :3].std() > 0.05
    assert len(np.unique(pixels[..., :3].reshape(-1, 3).round(2), axis=0)) > 50


def test_cli_evaluate_prints_a_table_and_where_the_files_went(runs, reference, tmp_path):
    out = tmp_path / "cli-eval"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sonogen.cli",
            "evaluate",
            str(runs[0]),
            "--reference",
            str(reference),
            "-n",
            "16",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "FAD" in result.stdout and "NDB/K" in result.stdout
    assert f"report written to {out / 'report.html'}" in result.stdout.replace("\n", "")
    missing = subprocess.run(
        [sys.executable, "-m", "sonogen.cli", "evaluate", str(runs[0]), "--reference", "nowhere"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2 and missing.stderr.startswith("error: ")
    assert "nowhere" in missing.stderr and "Traceback" not in missing.stderr


def test_heldout_clips_are_scored_at_the_generated_n_and_say_when_fewer(
    evaluated, reference, tmp_path
):
    from sonogen.evaluation.suite import _heldout_at_n, headline

    saved = json.loads((evaluated.out / "metrics.json").read_text())
    heldout = saved["heldout_real"]
    assert heldout["n"] == 8 and heldout["n_generated"] == 40
    assert heldout["note"] == "held-out: 8 clips (fewer than the 40 generated)"
    assert ("clips (n)", "40", heldout["note"]) in headline(saved)
    positions, note = _heldout_at_n(250, 100, seed=3)
    assert len(positions) == 100 == len(set(positions.tolist())) and note is None
    assert (positions == _heldout_at_n(250, 100, seed=3)[0]).all()  # seeded
    # a folder of 5 clips: 5 of the 8 held-out clips beside them, no note
    folder = write_folder(tmp_path / "five", varied_tones(5, 150, 400, 21), RATE)
    small = sonogen.evaluate(folder, reference, out=tmp_path / "e", report=False)
    assert small.metrics["heldout_real"]["n"] == 5 and small.metrics["heldout_real"]["note"] is None
    assert small.metrics["heldout_real"]["fad"]["n_generated"] == 5


def test_per_label_view_in_metrics_and_report(evaluated):
    saved = json.loads((evaluated.out / "metrics.json").read_text())
    generated = saved["quality"]["label_accuracy"]
    assert set(generated["per_label"]) == {"low", "high"}
    assert sum(generated["per_label_n"].values()) == 40
    counts = np.asarray(generated["confusion"]["counts"])
    assert counts.shape == (2, 2) and counts.sum() == 40
    assert counts.trace() / 40 == pytest.approx(generated["value"])
    heldout = saved["heldout_real"]["label_accuracy"]
    assert heldout["n"] == 8 and heldout["value"] >= 0.75  # real tones: the classifier knows them
    for scores in (generated, saved["quality"]["inception_score"], heldout):
        assert "classifier_group_accuracy" in scores and scores["classifier_accuracy"] is not None
    assert saved["embedding"] == {
        "name": "classifier",
        "asked": "auto",
        "dim": 128,
        "standardized": False,
    }
    assert saved["memorization"]["embedding"] == "stats"
    text = evaluated.report.read_text(encoding="utf-8")
    assert "Per label" in text and "images/confusion_classifier.png" in text
    heard = saved["intelligibility"]
    if "skipped" in heard:  # pocketsphinx absent: one line
        assert "\n" not in heard["skipped"] and "pocketsphinx" in heard["skipped"]
    else:  # 'low' and 'high' are words: the recogniser listens, at the same n both sides
        assert heard["n"] == 40 and saved["heldout_real"]["intelligibility"]["n"] == 8
        assert "images/confusion_recogniser.png" in text
    assert (evaluated.out / "images" / "confusion_classifier.png").stat().st_size > 1000


def test_model_card_written_by_train_and_updated_by_evaluate(evaluated, runs):
    card = (runs[1] / "MODEL_CARD.md").read_text(encoding="utf-8")
    # what training wrote: family, size, data and its licence, budget and hardware
    assert card.startswith("# specgan_30: a sonogen `specgan` model")
    parameters = sonogen.api.info(runs[1])["parameters"]
    assert f"| parameters | {parameters:,} |" in card
    assert "Source: varied test tones" in card
    assert "Licence: not recorded" in card  # the test dataset records none
    assert "Steps: 30, in" in card and "Hardware: 1 process on cpu (" in card
    # what the run's last evaluation (this module's tests evaluate it more than once) added:
    # its numbers beside the real held-out clips', and memorization
    summary = json.loads((runs[1] / "evaluation.json").read_text())
    metrics = json.loads(Path(summary["metrics"]).read_text())
    n, fad = metrics["n"], metrics["quality"]["fad"]["value"]
    heldout_fad = metrics["heldout_real"]["fad"]["value"]
    assert summary["n"] == n and summary["fad"] == pytest.approx(fad)
    assert f"| FAD (classifier) | {fad:.3g} | {heldout_fad:.3g} |" in card
    flagged = metrics["memorization"]["flagged_count"]
    assert f"{flagged} of {n} generated clips" in card
    # a run not evaluated yet says so
    from sonogen.card import model_card

    fresh = model_card(sonogen.api.info(runs[0]), None)
    assert "Not evaluated yet" in fresh and "Steps: 2, in" in fresh
