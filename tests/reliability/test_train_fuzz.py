"""Training runs under abuse: two processes on one run dir, kill -9, edited or mismatched
resumes, damaged checkpoints, failed starts. Each bad case is one clean error line (exit 2) and
leaves the run dir and the dataset byte-identical."""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from sonogen.run import LOCK_NAME, RunLock
from tests.conftest import QUIET, TINY, make_tone_dataset
from tests.reliability.conftest import assert_clean_error, run_cli, stray_temporaries, tree_digest

SETTINGS = [f"--set={s}" for s in TINY["wavegan"] + QUIET]


def train_args(data: Path | None, out: Path, *extra: str) -> list[str]:
    """The arguments of a tiny CPU WaveGAN training into ``out`` (``data`` None: a resume)."""
    head = ["train", "--resume"] if data is None else ["train", str(data), "--model", "wavegan"]
    tail = [] if data is None else ["--batch-size", "8", *SETTINGS]
    return [*head, "--out", str(out), "--accelerator", "cpu", "--devices", "1", *tail, *extra]


def spawn_train(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sonogen.cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},  # tiny tensors: threads only add waits
    )


def wait_for(condition, process: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.time() + seconds
    while not condition():
        assert process.poll() is None, f"training ended early: {process.stderr.read()[-2000:]}"
        assert time.time() < deadline, "training did not get there in time"
        time.sleep(0.05)


def checkpoint_step(run: Path) -> int:
    return torch.load(run / "checkpoints/last.ckpt", weights_only=True)["sonogen"]["step"]


def metric_steps(run: Path) -> list[int]:
    """The steps in metrics.csv, checking every row has exactly the header's columns."""
    with open(run / "metrics.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    assert header[:2] == ["step", "seconds"], header
    assert all(len(row) == len(header) for row in body), body
    return [int(row[0]) for row in body]


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[Path, Path]:
    """(dataset, run dir) of a finished 3-step run, copied by the tests that change them."""
    root = tmp_path_factory.mktemp("base")
    data = make_tone_dataset(root / "tones")
    result = run_cli(*train_args(data, root / "run", "--max-steps", "3"))
    assert result.code == 0, result.stderr
    return data, root / "run"


@pytest.fixture
def copied(base, tmp_path) -> tuple[Path, Path]:
    """A private copy of the base dataset and run, the run's config pointing at the copy."""
    data = shutil.copytree(base[0], tmp_path / "tones")
    run = shutil.copytree(base[1], tmp_path / "run")
    edit_config(run, lambda config: config["data"].update(path=str(data)))
    return data, run


def edit_config(run: Path, change) -> None:
    config = yaml.safe_load((run / "config.yaml").read_text())
    change(config)
    (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def edit_checkpoint(run: Path, change) -> None:
    path = run / "checkpoints/last.ckpt"
    checkpoint = torch.load(path, weights_only=True)
    change(checkpoint)
    torch.save(checkpoint, path)


# --------------------------------------------------------------------------------------------
# the lock


def test_second_process_into_the_same_run_dir_is_refused(tmp_path, base, one_thread):
    data, run = base[0], tmp_path / "run"
    first = spawn_train(*train_args(data, run, "--max-steps", "60"))
    try:
        wait_for(lambda: (run / "config.yaml").is_file(), first)
        config = (run / "config.yaml").read_bytes()
        second = run_cli(*train_args(data, run, "--max-steps", "5", "--set=model.dim=8"))
        line = assert_clean_error(second, str(run), f"PID {first.pid}", "another sonogen process")
        assert "--out" in line
        assert first.wait(timeout=300) == 0, first.stderr.read()[-2000:]
    finally:
        first.kill()
        first.wait()
    # the first run finished with its own config, weights and metrics; the lock is gone
    assert (run / "config.yaml").read_bytes() == config
    assert yaml.safe_load(config)["model"]["dim"] == 4
    assert checkpoint_step(run) == 60 and metric_steps(run) == list(range(1, 61))
    assert not (run / LOCK_NAME).exists() and stray_temporaries(run) == []


def test_lock_names_the_holder_and_is_released(tmp_path):
    run = tmp_path / "run"
    with RunLock(run):
        assert (run / LOCK_NAME).read_text().split()[0] == str(os.getpid())
        result = run_cli(*train_args(tmp_path / "nodata", run, "--max-steps", "1"))
        assert_clean_error(result, f"PID {os.getpid()}", str(run))
    # released: the lock file and the folder the lock made are gone
    assert not run.exists()


def test_stale_lock_after_kill_is_taken_over_and_resume_reaches_the_step_count(
    tmp_path, base, one_thread
):
    data, run = base[0], tmp_path / "run"
    process = spawn_train(
        *train_args(data, run, "--max-steps", "120", "--set=train.checkpoint_every_steps=5")
    )
    try:
        wait_for(lambda: (run / "checkpoints/last.ckpt").is_file(), process)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert (run / LOCK_NAME).is_file()  # left behind by the killed process
    killed_at = checkpoint_step(run)
    assert 5 <= killed_at < 120
    result = run_cli(*train_args(None, run))
    assert result.code == 0, result.stderr
    info = run_cli("info", str(run))
    assert "120 steps" in " ".join(info.stdout.split()), info.stdout
    assert checkpoint_step(run) == 120
    # every step logged once: rows logged after the last checkpoint were dropped on resume
    assert metric_steps(run) == list(range(1, 121))
    assert not (run / LOCK_NAME).exists() and stray_temporaries(run) == []


def test_ctrl_c_and_errors_release_the_lock(tmp_path, base, monkeypatch):
    import sonogen.trainer

    data, run = base[0], tmp_path / "run"

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sonogen.trainer, "_fit_quietly", interrupt)
    result = run_cli(*train_args(data, run, "--max-steps", "2"))
    assert result.code == 130 and "Traceback" not in result.stderr
    assert not (run / LOCK_NAME).exists()
    monkeypatch.undo()
    result = run_cli(*train_args(data, run, "--max-steps", "2"))  # starts over in it
    assert result.code == 0, result.stderr
    assert checkpoint_step(run) == 2 and metric_steps(run) == [1, 2]
    assert not (run / LOCK_NAME).exists()


# --------------------------------------------------------------------------------------------
# starting over, and failed starts


def test_run_killed_before_first_checkpoint_restarts_but_does_not_resume(tmp_path, copied):
    data, run = copied
    shutil.rmtree(run / "checkpoints")
    (run / "model.safetensors").unlink()
    # what a kill before the first checkpoint leaves: previews, a torn temp, a stale lock
    (run / "samples").mkdir()
    (run / "samples" / "step0000002_0.wav").write_bytes(b"RIFF")
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / ".last.ckpt.tmp-999999").write_bytes(b"torn")
    before = tree_digest(run)
    (run / LOCK_NAME).write_text("999999 elsewhere\n")
    result = run_cli(*train_args(None, run))
    assert_clean_error(result, str(run), "nothing to resume yet", "without --resume")
    assert tree_digest(run) == before  # nothing changed but the stale lock, taken over
    result = run_cli(*train_args(data, run, "--max-steps", "2"))
    assert result.code == 0, result.stderr
    assert checkpoint_step(run) == 2 and metric_steps(run) == [1, 2]
    assert sorted(p.name for p in run.iterdir()) == [
        "MODEL_CARD.md",
        "checkpoints",
        "config.yaml",
        "metrics.csv",
        "model.safetensors",
    ]


@pytest.mark.parametrize(
    ("user_file", "content"),
    [
        ("precious.txt", "mine"),
        ("samples/my take.wav", "mine"),
        ("config.yaml", "model:\n  dim: 4\ntrain:\n  seed: 3\n"),  # the user's own settings
        ("metrics.csv", "epoch,accuracy\n1,0.5\n"),
    ],
)
def test_folder_with_a_user_file_is_never_cleared(tmp_path, copied, user_file, content):
    data, run = copied
    shutil.rmtree(run / "checkpoints")
    (run / "model.safetensors").unlink()
    (run / user_file).parent.mkdir(exist_ok=True)
    (run / user_file).write_text(content)
    before = tree_digest(run)
    result = run_cli(*train_args(data, run, "--max-steps", "1"))
    assert_clean_error(result, str(run), "not empty", user_file)
    assert tree_digest(run) == before


def test_finished_run_is_not_overwritten(copied):
    data, run = copied
    before = tree_digest(run)
    assert_clean_error(run_cli(*train_args(data, run)), str(run), "already holds a run")
    assert tree_digest(run) == before


@pytest.mark.parametrize(
    ("option", "needle"),
    [(["--strategy", "warp-drive"], "--strategy warp-drive"), (["--set=model.dim=0"], "dim")],
)
def test_failed_start_leaves_nothing_behind(tmp_path, base, option, needle):
    data = base[0]
    fresh, empty = tmp_path / "new" / "run", tmp_path / "empty"
    empty.mkdir()
    for run in (fresh, empty):
        assert_clean_error(run_cli(*train_args(data, run, "--max-steps", "1", *option)), needle)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]  # new/run made and removed
    assert list(empty.iterdir()) == []
    assert run_cli(*train_args(data, fresh, "--max-steps", "1")).code == 0


def test_out_that_is_a_file(tmp_path, base):
    out = tmp_path / "notes.txt"
    out.write_text("mine")
    assert_clean_error(run_cli(*train_args(base[0], out)), str(out), "not a folder")
    assert out.read_text() == "mine"
    assert_clean_error(run_cli(*train_args(None, out)), str(out), "is a file")


# --------------------------------------------------------------------------------------------
# resume: checkpoint, config and dataset must belong together


def set_model(key, value):
    return lambda config: config["model"].update({key: value})


def reprepare(**options):
    def change(data: Path) -> None:
        shutil.rmtree(data)
        make_tone_dataset(data, **options)

    return change


def strip_fingerprint(checkpoint):
    checkpoint["sonogen"].pop("dataset")
    checkpoint["sonogen"].pop("config_sha256")


def set_step(value):
    return lambda checkpoint: checkpoint["sonogen"].update(step=value)


RESUME_CASES = {
    # config.yaml edited under the run
    "model setting changed": (set_model("dim", 8), None, None, ["config.yaml", "changed"]),
    "model setting invalid": (set_model("dim", -3), None, None, ["config.yaml", "dim"]),
    "model setting unknown": (set_model("colour", 3), None, None, ["config.yaml", "colour"]),
    "model name changed": (
        lambda c: c.update(model_name="specgan"),
        None,
        None,
        ["config.yaml"],
    ),
    # old run (no fingerprint): the weights' shapes are still checked
    "old run, model changed": (
        set_model("dim", 8),
        None,
        strip_fingerprint,
        ["last.ckpt", "does not fit", "config.yaml"],
    ),
    # the dataset re-prepared under the run
    "dataset count": (None, reprepare(count=16), None, ["count 32 -> 16", "tones"]),
    "dataset clip length": (None, reprepare(samples=512), None, ["clip_samples 1024 -> 512"]),
    "dataset labels": (None, reprepare(labels=True), None, ["labels None -> ['low', 'high']"]),
    "dataset items edited": (
        None,
        lambda data: (data / "items.csv").write_text(
            (data / "items.csv").read_text().replace("valid", "train")
        ),
        None,
        ["items.csv", "restore it"],
    ),
    "old run, clip length": (
        None,
        reprepare(samples=512),
        strip_fingerprint,
        ["does not match", "clip_samples 1024 -> 512"],
    ),
    "dataset gone": (None, shutil.rmtree, None, ["tones", "not found"]),
    # crafted checkpoints
    "step negative": (None, None, set_step(-1), ["last.ckpt", "step -1"]),
    "step text": (None, None, set_step("7"), ["last.ckpt", "step '7'"]),
    "step float": (None, None, set_step(1.5), ["last.ckpt", "step 1.5"]),
    "step bool": (None, None, set_step(True), ["last.ckpt", "step True"]),
    "no sonogen state": (None, None, lambda c: c.pop("sonogen"), ["last.ckpt", "step None"]),
    "no state_dict": (None, None, lambda c: c.pop("state_dict"), ["last.ckpt", "state_dict"]),
    "state_dict not a mapping": (
        None,
        None,
        lambda c: c.update(state_dict=[1, 2]),
        ["last.ckpt", "state_dict"],
    ),
    "weights renamed": (
        None,
        None,
        lambda c: c.update(state_dict={k + "x": v for k, v in c["state_dict"].items()}),
        ["last.ckpt", "does not fit"],
    ),
}


@pytest.mark.parametrize("case", list(RESUME_CASES))
def test_resume_refuses_what_does_not_belong_together(copied, case):
    config_change, data_change, checkpoint_change, needles = RESUME_CASES[case]
    data, run = copied
    if config_change:
        edit_config(run, config_change)
    if data_change:
        data_change(data)
    if checkpoint_change:
        edit_checkpoint(run, checkpoint_change)
    before_run, before_data = tree_digest(run), data.exists() and tree_digest(data)
    result = run_cli(*train_args(None, run, "--max-steps", "5"))
    assert_clean_error(result, *needles)
    assert tree_digest(run) == before_run
    assert (data.exists() and tree_digest(data)) == before_data


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "cannot read"),
        (b"not a torch file at all", "cannot read"),
        ("truncated", "cannot read"),
        ("a list", "not a sonogen checkpoint"),
        ("code", "cannot read"),  # a pickled object: weights_only refuses to build it
    ],
)
def test_damaged_checkpoint_file(copied, content, needle):
    data, run = copied
    path = run / "checkpoints" / "last.ckpt"
    if content == "truncated":
        path.write_bytes(path.read_bytes()[:300])
    elif content == "a list":
        torch.save([1, 2, 3], path)
    elif content == "code":
        torch.save({"state_dict": argparse.Namespace(step=1)}, path)
    else:
        path.write_bytes(content)
    before = tree_digest(run)
    assert_clean_error(run_cli(*train_args(None, run, "--max-steps", "5")), str(path), needle)
    assert tree_digest(run) == before


def test_untouched_copy_and_old_run_still_resume(copied):
    """Controls for the cases above: a moved dataset (same content) and a checkpoint from before
    fingerprints were stored both resume, and the fingerprint is stored from then on."""
    data, run = copied
    edit_checkpoint(run, strip_fingerprint)
    result = run_cli(*train_args(None, run, "--max-steps", "5"))
    assert result.code == 0, result.stderr
    state = torch.load(run / "checkpoints/last.ckpt", weights_only=True)["sonogen"]
    assert state["step"] == 5 and state["dataset"]["count"] == 32 and state["config_sha256"]
    assert metric_steps(run) == [1, 2, 3, 4, 5]
