"""The one trainer: a generic LightningModule around any family, and the Trainer set-up.

Families (``sonogen/models``) know nothing of Lightning. This module adds what every family needs:
deterministic batches, augmentation, EMA weights, checkpoints written atomically every few steps
or minutes, preview clips, metrics.csv, a step/time budget, and the export of generation weights
to ``model.safetensors``.

Determinism and resuming: batch ``s`` always holds the same clips (drawn from a generator seeded
with (seed, s, rank)) and the torch RNG is re-seeded from (seed, s, rank) before every step, so a
run killed at step N and resumed from its checkpoint continues as if it had never stopped: same
batches, same noise. On a CPU the weights are then bit-identical; on a GPU, cuDNN's convolution
backward is not deterministic, so they agree to float tolerance only.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import json
import logging
import math
import os
import time
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.fabric.utilities.exceptions import MisconfigurationException
from torch import nn

from sonogen.audio.pcm import pcm16_to_float
from sonogen.config import RunConfig
from sonogen.data.dataset import DatasetInfo, open_dataset, read_clips, split_indices
from sonogen.errors import SonogenError
from sonogen.models.base import Family, flush_denormals, save_weights
from sonogen.run import CHECKPOINT as CHECKPOINT_NAME
from sonogen.run import (
    METRICS,
    SAMPLES,
    WEIGHTS_NAME,
    check_resume,
    check_weights_fit,
    config_hash,
    dataset_fingerprint,
    read_checkpoint,
)

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# data


class StepBatchSampler:
    """Infinite batch sampler: the indices of batch ``s`` depend only on (seed, s, rank).

    It reads the step to start from when iteration begins, so a resumed run continues with the
    batches it would have seen. Each rank draws its own batch (DDP without a DistributedSampler).
    """

    def __init__(self, size: int, batch_size: int, seed: int, start_step, rank):
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.start_step, self.rank = start_step, rank  # callables, read when iteration starts

    def __iter__(self):
        step, rank = self.start_step(), self.rank()
        while True:
            rng = np.random.default_rng([self.seed, step, rank])
            yield rng.choice(
                self.size, self.batch_size, replace=self.size < self.batch_size
            ).tolist()
            step += 1


def collate(items):
    audio = torch.stack([item[0] for item in items])
    labels = torch.tensor([item[1] for item in items], dtype=torch.int64)
    return audio, labels


# --------------------------------------------------------------------------------------------
# checkpoints and weights


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write checkpoints to a temp file and rename (a kill never leaves a torn file); load them
    with ``weights_only=True`` so a checkpoint cannot run code. ``preloaded`` is (path,
    checkpoint) already read and checked by the caller, handed to Lightning without reading the
    file twice."""

    def __init__(self, preloaded: tuple[Path, dict] | None = None):
        super().__init__()
        self.preloaded = preloaded

    def save_checkpoint(self, checkpoint, path, storage_options=None):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        torch.save(checkpoint, temp)
        os.replace(temp, path)

    def load_checkpoint(self, path, map_location=None, weights_only=None):
        if self.preloaded is not None and Path(path) == Path(self.preloaded[0]):
            checkpoint, self.preloaded = self.preloaded[1], None
            return checkpoint
        return read_checkpoint(Path(path))


def generation_state(family: Family, ema: nn.ModuleDict | None) -> dict[str, torch.Tensor]:
    """Return the family's state dict with EMA weights in place of their live modules."""
    state = {k: v.detach().cpu().contiguous().clone() for k, v in family.state_dict().items()}
    for name, module in (ema or {}).items():
        for key, value in module.state_dict().items():
            state[f"{name}.{key}"] = value.detach().cpu().contiguous().clone()
    return state


# --------------------------------------------------------------------------------------------
# the LightningModule


class TrainingModule(L.LightningModule):
    """Generic manual-optimisation wrapper: calls the family's train_step, keeps EMA and state."""

    def __init__(self, family: Family, config: RunConfig, dataset: dict | None = None):
        super().__init__()
        self.automatic_optimization = False
        self.family = family
        self.run_config = config
        self.ema = nn.ModuleDict(
            {name: copy.deepcopy(getattr(family, name)) for name in family.ema_modules}
        )
        self.ema.requires_grad_(False)
        self.step_count = 0
        self.train_seconds = 0.0  # summed over sessions of this run
        self.validation: dict[str, float] = {}  # the last held-out scores, with their step
        self.metrics: MetricsFile | None = None  # set on global rank 0 when training starts
        # what --resume checks this run's checkpoint against (see sonogen.run.check_resume)
        self.dataset_fingerprint = dataset
        self.config_sha256 = config_hash(config)

    def configure_optimizers(self):
        return list(self.family.configure_optimizers())

    def training_step(self, batch, batch_index):
        train = self.run_config.train
        torch.manual_seed(hash_seed(train.seed, self.step_count, self.global_rank))
        audio, labels = batch
        if train.augment:
            audio = self.family.augment(audio)
        optimizers = self.optimizers()
        if not isinstance(optimizers, list):
            optimizers = [optimizers]
        logs = self.family.train_step(
            audio,
            labels if self.family.num_labels else None,
            self.step_count,
            optimizers,
            self.manual_backward,
        )
        self.update_ema()
        self.step_count += 1
        if logs:
            self.log_dict(logs, prog_bar=True, logger=False)  # tensors: no device sync here
            if self.step_count % train.log_every_steps == 0 and self.metrics is not None:
                values = {"step": self.step_count, "seconds": round(self.train_seconds, 3)}
                self.metrics.append(values | {k: float(v) for k, v in logs.items()})

    @torch.no_grad()
    def update_ema(self) -> None:
        decay = min(self.run_config.train.ema_decay, (1 + self.step_count) / (10 + self.step_count))
        for name, average in self.ema.items():
            live = getattr(self.family, name)
            for a, p in zip(average.parameters(), live.parameters(), strict=True):
                a.lerp_(p.detach(), 1 - decay)
            for a, b in zip(average.buffers(), live.buffers(), strict=True):
                a.copy_(b)

    def on_save_checkpoint(self, checkpoint):
        checkpoint["sonogen"] = {
            "step": self.step_count,
            "train_seconds": self.train_seconds,
            "validation": self.validation,
            "dataset": self.dataset_fingerprint,
            "config_sha256": self.config_sha256,
        }

    def on_load_checkpoint(self, checkpoint):
        state = checkpoint.get("sonogen", {})
        self.step_count = int(state.get("step", 0))
        self.train_seconds = float(state.get("train_seconds", 0.0))
        self.validation = dict(state.get("validation", {}))


def hash_seed(seed: int, step: int, rank: int) -> int:
    """Return a 63-bit seed that depends on (seed, step, rank)."""
    return int(np.random.SeedSequence([seed, step, rank]).generate_state(2, np.uint64)[0] >> 1)


# --------------------------------------------------------------------------------------------
# callbacks: budget, checkpoints, previews, final export


class RunKeeper(L.Callback):
    """Stops at the step/time budget, checkpoints on a cadence, writes previews and weights."""

    def __init__(self, run_dir: Path, config: RunConfig, resume: bool, validation_data: Any = None):
        self.run_dir = run_dir
        self.config = config
        self.resume = resume
        self.validation_data = validation_data  # batches of held-out clips, or None
        self.tensorboard = tensorboard_logger(run_dir, config.train.logger)
        self.in_step = False
        # set when training starts (after a resumed run's checkpoint has been restored)
        self.clock_start = self.last_checkpoint_time = self.session_start_seconds = 0.0

    def on_train_start(self, trainer, module):
        self.session_start_seconds = module.train_seconds
        self.clock_start = time.monotonic()
        self.last_checkpoint_time = self.clock_start
        if trainer.is_global_zero:  # the step is known now: the checkpoint has been restored
            resumed = module.step_count if self.resume else None
            module.metrics = MetricsFile(self.run_dir / METRICS, resumed, self.tensorboard)
        max_steps = self.config.train.max_steps
        if max_steps is not None and module.step_count >= max_steps:
            trainer.should_stop = True  # a resumed run already at its budget trains no more
        self.in_step = False

    def on_train_batch_start(self, trainer, module, batch, batch_index):
        self.in_step = True
        module.family.budget_progress = self.budget_progress(module.step_count)

    def budget_progress(self, step: int) -> float | None:
        """How much of the budget is spent before this step, 0 to 1: the larger of step /
        max_steps and this session's time / max_minutes (None when neither is set)."""
        train = self.config.train
        shares = []
        if train.max_steps is not None:
            shares.append(step / train.max_steps)
        if train.max_minutes is not None:
            shares.append((time.monotonic() - self.clock_start) / (train.max_minutes * 60))
        return min(1.0, max(shares)) if shares else None

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_index):
        self.in_step = False
        train = self.config.train
        now = time.monotonic()
        module.train_seconds = self.session_start_seconds + (now - self.clock_start)
        step = module.step_count
        stop = train.max_steps is not None and step >= train.max_steps
        if train.max_minutes is not None:
            out_of_time = (now - self.clock_start) >= train.max_minutes * 60
            stop = trainer.strategy.reduce_boolean_decision(stop or out_of_time, all=False)
        if stop:
            trainer.should_stop = True
            return  # the final checkpoint is written in on_train_end
        due = step % train.checkpoint_every_steps == 0
        due_by_time = (now - self.last_checkpoint_time) >= train.checkpoint_every_minutes * 60
        due = trainer.strategy.reduce_boolean_decision(due or due_by_time, all=False)
        if due:
            self.save(trainer, module)
            self.last_checkpoint_time = now
        if train.validate_every_steps and step % train.validate_every_steps == 0:
            self.validate(trainer, module)
        if step % train.preview_every_steps == 0:
            self.preview(trainer, module)

    def on_train_end(self, trainer, module):
        self.validate(trainer, module)
        self.save(trainer, module)
        self.preview(trainer, module)
        if self.tensorboard is not None:
            self.tensorboard.finalize("success")

    def on_exception(self, trainer, module, exception):
        # Ctrl-C in a single process: keep the steps since the last checkpoint. (With several
        # processes a save is a collective that the others may never join, so it is skipped.)
        # A step cut in half (weights updated, step not yet counted) is not saved: the last
        # checkpoint stands, so a resumed run still repeats exactly.
        if self.tensorboard is not None:
            self.tensorboard.finalize("failed")  # what it logged is flushed to disk
        if not isinstance(exception, KeyboardInterrupt):
            return
        if trainer.world_size == 1 and not self.in_step:
            self.save(trainer, module)
            what = f"checkpoint saved at step {module.step_count}"
        else:
            what = "the last checkpoint stands"
        log.warning(
            "interrupted; %s; continue with `sonogen train --resume --out %s`",
            what,
            self.run_dir,
        )

    def save(self, trainer, module) -> None:
        trainer.save_checkpoint(self.run_dir / CHECKPOINT_NAME, weights_only=False)
        if trainer.is_global_zero:
            metadata = {
                "model_name": self.config.model_name,
                "step": module.step_count,
                "train_seconds": round(module.train_seconds, 3),
                "sonogen_version": _version(),
                "validation": json.dumps(module.validation),
                "hardware": hardware_description(trainer),
            }
            save_weights(
                self.run_dir / WEIGHTS_NAME, generation_state(module.family, module.ema), metadata
            )

    def validate(self, trainer, module) -> None:
        """Score the held-out clips (EMA weights, as generation uses) and log `valid_*` columns."""
        if not trainer.is_global_zero or self.validation_data is None:
            return
        if module.validation.get("step") == module.step_count:
            return  # already scored at this step (a budget that ends on the cadence)
        sums: dict[str, float] = {}
        count = 0
        # its own RNG stream, so validating never changes what the training steps draw
        with generation_weights(module), torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            for audio, labels in self.validation_data:
                audio = audio.to(module.device)
                labels = labels.to(module.device) if module.family.num_labels else None
                values = module.family.validate(audio, labels)
                for key, value in values.items():
                    sums[key] = sums.get(key, 0.0) + float(value) * len(audio)
                count += len(audio)
        if not sums:
            return
        means = module.family.summarise_validation({k: v / count for k, v in sums.items()})
        scores = {f"valid_{key}": value for key, value in means.items()}
        module.validation = {"step": module.step_count, "clips": count} | scores
        if module.metrics is not None:
            row = {"step": module.step_count, "seconds": round(module.train_seconds, 3)}
            module.metrics.append(row | scores)

    def preview(self, trainer, module) -> None:
        if not trainer.is_global_zero or self.config.train.preview_count <= 0:
            return
        prefix = f"step{module.step_count:07d}"
        with generation_weights(module) as family:  # EMA weights, as generate uses
            family.write_previews(self.run_dir / SAMPLES, prefix, self.config.train.preview_count)
        if self.tensorboard is not None:
            log_preview_audio(self.tensorboard, self.run_dir / SAMPLES, prefix, module.step_count)


@contextlib.contextmanager
def generation_weights(module: TrainingModule):
    """Run the block with the family's EMA weights (where it keeps any) in eval mode, then put
    the live weights and the training mode back."""
    family = module.family
    live = {name: copy.deepcopy(getattr(family, name).state_dict()) for name in module.ema}
    for name, average in module.ema.items():
        getattr(family, name).load_state_dict(average.state_dict())
    was_training = family.training
    family.eval()
    try:
        with torch.no_grad():
            yield family
    finally:
        family.train(was_training)
        for name, state in live.items():
            getattr(family, name).load_state_dict(state)


def hardware_description(trainer) -> str:
    """Return what this run trains on, for the model card: e.g. "1 process on cuda (NVIDIA
    H200)" or "1 process on cpu (Intel Xeon ..., 2 threads)"."""
    import platform

    device = trainer.strategy.root_device
    processes = f"{trainer.world_size} process{'es' if trainer.world_size > 1 else ''}"
    if device.type == "cuda":
        return f"{processes} on cuda ({torch.cuda.get_device_name(device)})"
    name = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.partition(":")[2].strip()
                break
    return f"{processes} on {device.type} ({name}, {torch.get_num_threads()} threads)"


def tensorboard_logger(run_dir: Path, logger: str):
    """Return Lightning's TensorBoardLogger writing to ``run_dir/tensorboard`` for ``--logger
    tensorboard``, else None. (The Trainer itself is given no logger: rows are logged in the
    run's own step count, which a resumed run continues.)"""
    if logger != "tensorboard":
        return None
    from lightning.pytorch.loggers import TensorBoardLogger

    try:
        return TensorBoardLogger(save_dir=str(run_dir), name="tensorboard", version="")
    except ModuleNotFoundError:
        raise SonogenError(
            "--logger tensorboard: the tensorboard package is not installed; "
            "pip install 'sonogen[tensorboard]', or train with --logger csv"
        ) from None


def log_preview_audio(tensorboard, folder: Path, prefix: str, step: int) -> None:
    """Add the preview WAVs ``folder/PREFIX_*.wav`` to TensorBoard's audio tab at ``step``."""
    from sonogen.audio.io import read_audio

    for path in sorted(folder.glob(f"{prefix}_*.wav")):
        audio, sample_rate = read_audio(path)
        clip = torch.from_numpy(np.asarray(audio, dtype=np.float32).reshape(1, -1))
        tensorboard.experiment.add_audio(
            f"preview/{path.stem.removeprefix(prefix + '_')}", clip, step, sample_rate
        )
    tensorboard.experiment.flush()


def _version() -> str:
    from sonogen import __version__

    return __version__


# --------------------------------------------------------------------------------------------
# the Trainer set-up


def process_count(accelerator: str, devices: Any, num_nodes: int) -> int:
    """Return how many training processes Lightning will start for these options (best effort)."""
    devices = parse_devices(devices)
    if isinstance(devices, str) and "," in devices:
        per_node = len([d for d in devices.split(",") if d.strip()])
    elif isinstance(devices, int) and devices > 0:
        per_node = devices
    elif accelerator == "cpu" or not torch.cuda.is_available():
        per_node = 1  # "auto" (or -1) on a CPU: one process
    else:
        per_node = torch.cuda.device_count()
    return per_node * max(1, int(num_nodes))


def make_strategy(name: str, accelerator: str, processes: int = 1):
    """Map a strategy name to a Lightning strategy. DDP must find unused parameters, because a
    GAN's critic and generator steps each leave the other network without gradients; "auto" with
    several processes would otherwise pick a DDP that fails on the second step."""
    if name in {"ddp", "ddp_find_unused_parameters_true"} or (name == "auto" and processes > 1):
        from lightning.pytorch.strategies import DDPStrategy

        backend = "gloo" if accelerator == "cpu" or not torch.cuda.is_available() else None
        return DDPStrategy(find_unused_parameters=True, process_group_backend=backend)
    return name


def parse_devices(devices: Any) -> Any:
    if isinstance(devices, str) and devices.isdigit():
        return int(devices)
    return devices


class MetricsFile:
    """metrics.csv of a run: one row per logged step, appended and flushed as it is logged.

    Written by global rank 0 only. On resume it keeps the earlier rows up to the checkpoint's
    step (a killed run has logged past its last checkpoint) and continues the same file; a new
    column (a loss first logged later) rewrites the header with the union of columns.
    """

    def __init__(self, path: Path, resume_step: int | None, tensorboard: Any = None):
        self.path = path
        self.tensorboard = tensorboard  # a Lightning logger that gets every row too, or None
        self.fields: list[str] = []
        self.rows: list[dict] = []
        if resume_step is not None and path.is_file():
            with path.open(newline="") as handle:
                reader = csv.DictReader(handle)
                self.fields = list(reader.fieldnames or [])
                self.rows = [r for r in reader if _row_step(r) <= resume_step]
        self._rewrite()

    def _rewrite(self) -> None:
        with self.path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.fields)
            if self.fields:
                writer.writeheader()
            writer.writerows(self.rows)

    def append(self, values: dict[str, float]) -> None:
        if self.tensorboard is not None:
            scalars = {k: float(v) for k, v in values.items() if k not in ("step", "seconds")}
            self.tensorboard.log_metrics(scalars, step=int(values["step"]))
        if self.rows and str(self.rows[-1].get("step")) == str(values.get("step")):
            # more values for the step just logged (held-out scores): one row per step
            self.rows[-1].update({k: v for k, v in values.items() if k != "seconds"})
            self.fields += [key for key in values if key not in self.fields]
            self.fields = ["step", "seconds"] + sorted(set(self.fields) - {"step", "seconds"})
            self._rewrite()
            return
        self.rows.append(values)
        new = [key for key in values if key not in self.fields]
        if new:
            self.fields = ["step", "seconds"] + sorted(
                (set(self.fields) | set(new)) - {"step", "seconds"}
            )
            self._rewrite()
            return
        with self.path.open("a", newline="") as handle:
            csv.DictWriter(handle, fieldnames=self.fields).writerow(values)


def _row_step(row: dict) -> float:
    """The step of a metrics.csv row; a row that is not a logged step (a line torn by a kill)
    sorts after every checkpoint, so resuming drops it."""
    try:
        step = float(row.get("step") or "")
    except (TypeError, ValueError):
        return math.inf
    return step if math.isfinite(step) else math.inf


STATISTICS_CLIPS = 2000


def fit_statistics_from_dataset(family: Family, info: DatasetInfo, seed: int) -> None:
    """Fit ``family``'s data statistics (``family.fit_statistics``) on a sample of at most
    2,000 training clips of ``info``, drawn with ``numpy.random.default_rng(seed)``.

    The trainer calls this before its first step; a baseline that stands for "the model before
    training" calls it too, so it holds the same statistics as the run it is compared with.
    """
    indices = split_indices(info, "train")
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(indices, min(STATISTICS_CLIPS, len(indices)), replace=False))
    clips = pcm16_to_float(read_clips(info)[sample])
    family.fit_statistics(clips)


def fit(
    family: Family,
    config: RunConfig,
    run_dir: Path,
    resume: bool = False,
    progress: bool = True,
    checkpoint_state: dict | None = None,
) -> TrainingModule:
    """Train ``family`` into ``run_dir`` under ``config`` and return the trained module.

    With ``resume``, training continues from ``run_dir/checkpoints/last.ckpt``;
    ``checkpoint_state`` is that checkpoint when the caller has already read and checked it
    (``sonogen.run.read_checkpoint`` and ``check_resume``), so it is not read twice.
    """
    from lightning.pytorch.callbacks import RichProgressBar

    train = config.train
    info = open_dataset(config.data.path)
    checkpoint = run_dir / CHECKPOINT_NAME
    if resume and checkpoint_state is None:
        checkpoint_state = read_checkpoint(checkpoint)
        check_resume(checkpoint_state, config, info, run_dir)
    dataset = family.training_data(info, "train")
    validation_data = _validation_batches(family, info, train)
    if not resume and family.needs_statistics:
        # fitted before the EMA copies are made so that they hold the statistics too
        fit_statistics_from_dataset(family, info, train.seed)
    module = TrainingModule(family, config, dataset_fingerprint(info))
    if resume:
        check_weights_fit(checkpoint_state["state_dict"], module.state_dict(), checkpoint)

    sampler = StepBatchSampler(
        len(dataset),
        train.batch_size,
        train.seed,
        start_step=lambda: module.step_count,
        rank=lambda: module.global_rank,
    )
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=collate,
        num_workers=train.num_workers,
        persistent_workers=train.num_workers > 0,
    )
    callbacks: list[L.Callback] = [RunKeeper(run_dir, config, resume, validation_data)]
    if progress:
        callbacks.append(RichProgressBar(leave=True))
    # Lightning announces hardware and advertises services at INFO when a Trainer is built; a
    # sonogen run reports its own outcome, so those lines are held back while it trains.
    chatty = [
        logging.getLogger(name)
        for name in list(logging.root.manager.loggerDict)
        if name.startswith(("lightning", "pytorch_lightning"))
    ]
    levels = [logger.level for logger in chatty]
    for logger in chatty:
        logger.setLevel(logging.WARNING)
    flush_denormals()
    try:
        try:
            preloaded = (checkpoint, checkpoint_state) if resume else None
            trainer = _make_trainer(train, run_dir, callbacks, progress, preloaded)
        except (MisconfigurationException, ValueError) as error:
            first = str(error).split(". ")[0].strip().rstrip(".")
            raise SonogenError(
                f"--accelerator {train.accelerator} --devices {train.devices} --strategy "
                f"{train.strategy} --precision {train.precision}: {first}; change these options"
            ) from None
        _fit_quietly(trainer, module, loader, checkpoint if resume else None)
    finally:
        for logger, level in zip(chatty, levels, strict=True):
            logger.setLevel(level)
    return module


def _validation_batches(family: Family, info, train) -> list | None:
    """Return the held-out batches scored during training: a fixed, seeded choice of at most
    ``train.validate_clips`` clips of the valid split (None when there are none)."""
    if not train.validate_every_steps or train.validate_clips <= 0:
        return None
    if type(family).validate is Family.validate:
        return None  # the family scores nothing held out
    try:
        data = family.training_data(info, "valid")
    except SonogenError:
        return None  # no valid split
    rng = np.random.default_rng(train.seed)
    chosen = np.sort(rng.choice(len(data), min(len(data), train.validate_clips), replace=False))
    items = [data[int(i)] for i in chosen]
    return [
        collate(items[first : first + train.batch_size])
        for first in range(0, len(items), train.batch_size)
    ]


def _make_trainer(
    train, run_dir: Path, callbacks: list, progress: bool, preloaded: tuple | None = None
) -> L.Trainer:
    return L.Trainer(
        accelerator=train.accelerator,
        devices=parse_devices(train.devices),
        num_nodes=train.num_nodes,
        strategy=make_strategy(
            train.strategy,
            train.accelerator,
            process_count(train.accelerator, train.devices, train.num_nodes),
        ),
        precision=train.precision,
        max_epochs=-1,
        max_steps=-1,
        logger=False,  # metrics.csv is written by MetricsFile, in the run's own step count
        callbacks=callbacks,
        enable_progress_bar=progress,
        enable_checkpointing=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        use_distributed_sampler=False,
        plugins=[AtomicCheckpointIO(preloaded)],
        default_root_dir=str(run_dir),
        log_every_n_steps=1,
    )


def _fit_quietly(trainer, module, loader, checkpoint) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*max_epochs.*")
        warnings.filterwarnings("ignore", message=".*is an infinite.*")
        warnings.filterwarnings("ignore", message=".*`IterableDataset`.*")
        warnings.filterwarnings("ignore", message=".*LeafSpec.*")
        trainer.fit(module, train_dataloaders=loader, ckpt_path=checkpoint)
