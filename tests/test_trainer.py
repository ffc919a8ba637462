"""The trainer: run dir, resume after a kill, DDP over gloo, safe loading, budget."""

from __future__ import annotations

import csv
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import sonogen
from sonogen.errors import SonogenError
from tests.conftest import QUIET, TINY


def train_tiny(data, out, name="wavegan", steps=12, extra=(), **options):
    return sonogen.train(
        data,
        name,
        out,
        overrides=TINY[name] + QUIET + list(extra),
        max_steps=steps,
        batch_size=8,
        progress=False,
        accelerator="cpu",
        devices="1",
        **options,
    )


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "model.safetensors"))


def cli_train(data: Path, out: Path, *options: str, settings: tuple[str, ...] = ()) -> list[str]:
    """Return the command line that trains a tiny WaveGAN on ``data`` into ``out``."""
    return [
        sys.executable, "-m", "sonogen.cli", "train", str(data), "--model", "wavegan",
        "--out", str(out), "--accelerator", "cpu", *options,
        *[f"--set={s}" for s in (*TINY["wavegan"], *QUIET, *settings)],
    ]  # fmt: skip


def test_run_dir_layout(tmp_path, labelled_tone_dataset):
    run = train_tiny(labelled_tone_dataset, tmp_path / "run", extra=["train.preview_count=2"])
    for name in ("config.yaml", "model.safetensors", "checkpoints/last.ckpt", "metrics.csv"):
        assert (run / name).is_file(), name
    assert len(list((run / "samples").glob("*.wav"))) == 2
    with open(run / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["step"]) for row in rows] == list(range(1, 13))
    summary = sonogen.api.info(run)
    assert summary["steps"] == 12 and summary["labels"] == ["low", "high"]
    assert summary["train_seconds"] > 0
    model = sonogen.load(run)
    audio = model.generate(3, seed=1, labels="high")
    assert audio.shape == (3, 1024) and audio.dtype.name == "float32"
    assert (run / "MODEL_CARD.md").read_text().startswith("# run: a sonogen `wavegan` model")
    assert not (run / "tensorboard").exists()  # csv is the default logger


def test_tensorboard_logger_gets_losses_and_preview_audio(tmp_path, labelled_tone_dataset):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = train_tiny(
        labelled_tone_dataset,
        tmp_path / "run",
        steps=6,
        extra=["train.preview_count=2", "train.preview_every_steps=3"],
        logger="tensorboard",
    )
    with open(run / "metrics.csv") as handle:  # metrics.csv is kept
        rows = list(csv.DictReader(handle))
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"audio": 0, "scalars": 0})
    events.Reload()
    losses = events.Scalars("critic_loss")
    assert [event.step for event in losses] == [int(row["step"]) for row in rows]
    assert [event.value for event in losses] == pytest.approx(
        [float(row["critic_loss"]) for row in rows]
    )
    assert sorted(events.Tags()["audio"]) == ["preview/0", "preview/1"]
    previews = events.Audio("preview/0")
    assert [event.step for event in previews] == [3, 6]
    assert previews[0].sample_rate == 8000 and len(previews[0].encoded_audio_string) > 1000


def test_a_missing_tensorboard_is_a_one_line_error(tmp_path, tone_dataset, monkeypatch):
    import lightning.fabric.loggers.tensorboard as module

    monkeypatch.setattr(module, "_TENSORBOARD_AVAILABLE", False)
    monkeypatch.setattr(module, "_TENSORBOARDX_AVAILABLE", False)
    with pytest.raises(SonogenError, match=r"^--logger tensorboard: the tensorboard package is"):
        train_tiny(tone_dataset, tmp_path / "run", steps=2, logger="tensorboard")
    assert not (tmp_path / "run" / "model.safetensors").exists()


@pytest.mark.parametrize("name", ["wavegan", "specgan"])
def test_resume_matches_uninterrupted_run(tmp_path, tone_dataset, name):
    """Stopping at step 7 and resuming to 14 gives bit-identical weights to a 14-step run.

    Exact on one CPU process: batches and noise are seeded by (seed, step), and the checkpoint
    holds the optimizer, EMA and step; nothing else carries state between steps.
    """
    whole = train_tiny(tone_dataset, tmp_path / "whole", name, steps=14)
    part = train_tiny(tone_dataset, tmp_path / "part", name, steps=7)
    assert sonogen.api.info(part)["steps"] == 7
    resumed = sonogen.train(
        None, None, part, resume=True, max_steps=14, progress=False, accelerator="cpu"
    )
    assert sonogen.api.info(resumed)["steps"] == 14
    a, b = weights(whole), weights(resumed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # the EMA state came back too: both runs' checkpoints hold identical EMA weights
    ema_a = torch.load(whole / "checkpoints/last.ckpt", weights_only=True)["state_dict"]
    ema_b = torch.load(resumed / "checkpoints/last.ckpt", weights_only=True)["state_dict"]
    for key in ema_a:
        if key.startswith("ema."):
            assert torch.equal(ema_a[key], ema_b[key]), key


@pytest.mark.slow
def test_kill_minus_nine_then_resume(tmp_path, tone_dataset):
    """A run killed with SIGKILL resumes from its last checkpoint and ends where an unbroken run
    ends."""
    command = cli_train(
        tone_dataset,
        tmp_path / "killed",
        *("--max-steps", "400", "--batch-size", "8", "--devices", "1"),
        settings=("train.checkpoint_every_steps=5",),
    )
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = tmp_path / "killed" / "checkpoints" / "last.ckpt"
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if (
            checkpoint.is_file()
            and torch.load(checkpoint, weights_only=True)["sonogen"]["step"] >= 10
        ):
            break
        time.sleep(0.2)
    assert process.poll() is None, "training ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = torch.load(checkpoint, weights_only=True)["sonogen"]["step"]
    assert 10 <= killed_at < 400
    # resume it to a nearby target, and compare with an unbroken run to the same step
    target = killed_at + 6
    sonogen.train(None, None, tmp_path / "killed", resume=True, max_steps=target, progress=False)
    whole = train_tiny(
        tone_dataset, tmp_path / "whole", steps=target, extra=["train.checkpoint_every_steps=5"]
    )
    a, b = weights(whole), weights(tmp_path / "killed")
    for key in a:
        assert torch.equal(a[key], b[key]), key
    with open(tmp_path / "killed" / "metrics.csv") as handle:
        steps = [int(row["step"]) for row in csv.DictReader(handle)]
    # every step logged once: the first session's rows are kept up to its checkpoint, the rows
    # it logged after the checkpoint are dropped, and the resumed session continues the file
    assert steps == list(range(1, target + 1))


@pytest.mark.slow
def test_ddp_two_cpu_processes(tmp_path, tone_dataset):
    """`--devices 2 --strategy ddp` on CPU (gloo) trains and writes the same kind of run dir."""
    run = tmp_path / "ddp"
    result = subprocess.run(
        cli_train(
            tone_dataset,
            run,
            *("--max-steps", "6", "--batch-size", "4", "--devices", "2", "--strategy", "ddp"),
        ),
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MASTER_PORT": "29517"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("config.yaml", "model.safetensors", "checkpoints/last.ckpt", "metrics.csv"):
        assert (run / name).is_file(), name
    assert sonogen.api.info(run)["steps"] == 6
    assert sonogen.load(run).generate(2, seed=0).shape == (2, 1024)


def test_loading_uses_no_pickle(tmp_path, tone_dataset, monkeypatch):
    run = train_tiny(tone_dataset, tmp_path / "run", steps=2)

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used to load a run")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    model = sonogen.load(run)
    assert model.generate(1, seed=0).shape == (1, 1024)


def test_tampered_weights_give_clear_errors(tmp_path, tone_dataset):
    run = train_tiny(tone_dataset, tmp_path / "run", steps=2)
    path = run / "model.safetensors"
    original = path.read_bytes()
    edited = bytearray(original)
    edited[-5] ^= 0xFF  # one byte of the last tensor's data
    path.write_bytes(bytes(edited))
    with pytest.raises(SonogenError, match="checksum"):
        sonogen.load(run)
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}" + original[18:])
    with pytest.raises(SonogenError, match="model.safetensors: not a readable safetensors"):
        sonogen.load(run)
    path.write_bytes(original[:100])
    with pytest.raises(SonogenError, match="model.safetensors"):
        sonogen.load(run)


def test_out_of_budget_and_bad_options(tmp_path, tone_dataset):
    run = train_tiny(tone_dataset, tmp_path / "run", steps=2)
    with pytest.raises(SonogenError, match="already holds a run"):
        train_tiny(tone_dataset, run, steps=2)
    with pytest.raises(SonogenError, match="nothing to resume"):
        sonogen.train(None, None, tmp_path / "nowhere", resume=True)
    with pytest.raises(SonogenError, match="unknown key 'width'"):
        train_tiny(tone_dataset, tmp_path / "r2", extra=["model.width=3"])
    with pytest.raises(SonogenError, match="unknown model 'gan9'"):
        sonogen.train(tone_dataset, "gan9", tmp_path / "r3")
    with pytest.raises(SonogenError, match="keeps its model settings"):
        sonogen.train(None, None, run, resume=True, overrides=["model.dim=8"])


def test_augment_changes_audio_but_keeps_shape_and_range():
    from sonogen.audio.augment import augment

    torch.manual_seed(0)
    audio = torch.sin(torch.linspace(0, 400, 4096)).repeat(16, 1) * 0.9
    out = augment(audio)
    assert out.shape == audio.shape and out.abs().max() <= 1
    changed = (out - audio).abs().amax(dim=1) > 1e-3
    assert changed.sum() >= 12  # each of 4 augmentations hits a clip with p=0.5


def test_augment_changes_the_batches_the_model_trains_on(tmp_path, tone_dataset, monkeypatch):
    """With the same seed, `augment=True` hands train_step other audio than the dataset's clips;
    without it, every row of every batch is one of the training clips, unchanged."""
    import numpy as np

    from sonogen.data.dataset import open_dataset, read_clips, split_indices
    from sonogen.models.gan import WaveGAN

    seen: list[torch.Tensor] = []
    original = WaveGAN.train_step

    def recording(self, audio, *args, **kwargs):
        seen.append(audio.detach().clone())
        return original(self, audio, *args, **kwargs)

    monkeypatch.setattr(WaveGAN, "train_step", recording)
    batches = {}
    for augment in (False, True):
        seen.clear()
        run = train_tiny(tone_dataset, tmp_path / f"run_{augment}", steps=3, augment=augment)
        assert sonogen.api.info(run)["steps"] == 3
        batches[augment] = torch.stack(seen)  # [steps, batch, samples]
    plain, augmented = batches[False], batches[True]
    assert plain.shape == augmented.shape == (3, 8, 1024)
    assert augmented.abs().max() <= 1

    info = open_dataset(tone_dataset)
    clips = torch.from_numpy(np.asarray(read_clips(info), np.float32) / 32767.0)
    train_clips = clips[split_indices(info, "train")]

    def is_a_training_clip(row: torch.Tensor) -> bool:
        return bool(((train_clips - row).abs().amax(dim=1) == 0).any())

    assert all(is_a_training_clip(row) for row in plain.flatten(0, 1))
    changed = [not is_a_training_clip(row) for row in augmented.flatten(0, 1)]
    # each of 4 augmentations hits a clip with p=0.5: all 24 rows untouched has odds 1 in 1e27
    assert sum(changed) >= 12, changed


def test_api_names_survive_submodule_imports(tmp_path, tone_dataset):
    """`sonogen.train` and `sonogen.evaluate` stay functions after every submodule is imported."""
    import sonogen.evaluation.suite  # noqa: F401

    train_tiny(tone_dataset, tmp_path / "run", steps=1)
    for name in ("train", "load", "prepare", "generate", "evaluate", "compare"):
        assert callable(getattr(sonogen, name)), name


def test_config_file_then_set_then_options(tmp_path, tone_dataset):
    """Precedence: family defaults < --config FILE < --set < explicit options."""
    import yaml

    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {"model": {"dim": 4, "latent_dim": 12}, "train": {"batch_size": 4, "seed": 3}}
        )
    )
    run = sonogen.train(
        tone_dataset,
        "wavegan",
        tmp_path / "run",
        config=config,
        overrides=["model.latent_dim=10", "train.batch_size=6", "train.preview_count=0"],
        batch_size=5,
        max_steps=1,
        progress=False,
        accelerator="cpu",
    )
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["model"]["dim"] == 4 and saved["model"]["latent_dim"] == 10
    assert saved["train"]["batch_size"] == 5 and saved["train"]["seed"] == 3
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed")
    with pytest.raises(SonogenError, match="bad.yaml: not valid YAML"):
        sonogen.train(tone_dataset, "wavegan", tmp_path / "r2", config=bad)


def test_resume_edge_cases(tmp_path, tone_dataset):
    run = train_tiny(tone_dataset, tmp_path / "run", steps=4)
    before = weights(run)
    # already at its budget: resuming trains nothing more and changes nothing
    sonogen.train(None, None, run, resume=True, max_steps=4, progress=False, accelerator="cpu")
    assert sonogen.api.info(run)["steps"] == 4
    assert all(torch.equal(before[k], v) for k, v in weights(run).items())
    # a damaged checkpoint is a one-line error, not a traceback
    checkpoint = run / "checkpoints" / "last.ckpt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:200])
    with pytest.raises(SonogenError, match="last.ckpt: cannot read the checkpoint"):
        sonogen.train(None, None, run, resume=True, max_steps=8, progress=False)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            "train.checkpoint_every_steps=abc",
            "train.checkpoint_every_steps .abc.: expected a whole number from 1 to",
        ),
        ("train.log_every_steps=0", "train.log_every_steps 0: must be a whole number from 1 to"),
        ("model.critic_steps=0", "model.critic_steps 0: must be a whole number from 1 to 100"),
        ("train.augment=3", "train.augment 3: expected true or false"),
        ("model.learning_rate=-1", "model.learning_rate -1.0: must be a number from 0 to 1"),
    ],
)
def test_bad_setting_values(tmp_path, tone_dataset, setting, message):
    with pytest.raises(SonogenError, match=message):
        train_tiny(tone_dataset, tmp_path / "run", steps=1, extra=[setting])


def test_float16_is_refused_for_gans(tmp_path, tone_dataset):
    with pytest.raises(SonogenError, match="does not train in float16; use bf16-mixed"):
        train_tiny(tone_dataset, tmp_path / "run", steps=1, precision="16-mixed")


def test_several_processes_always_get_a_ddp_that_finds_unused_parameters():
    from lightning.pytorch.strategies import DDPStrategy

    from sonogen.trainer import make_strategy, process_count

    assert process_count("cpu", "2", 1) == 2 and process_count("cpu", "auto", 3) == 3
    assert make_strategy("auto", "cpu", processes=1) == "auto"
    for name, processes in (("auto", 2), ("ddp", 1), ("ddp", 4)):
        strategy = make_strategy(name, "cpu", processes)
        assert isinstance(strategy, DDPStrategy)
        assert strategy._ddp_kwargs.get("find_unused_parameters") is True
