"""The Python face of sonogen: prepare(), make_dataset(), train(), load(), generate(), info().

Every CLI command is a thin call into one of these.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sonogen.checks import (  # noqa: F401  (safe_file_stem and output_folder are public here too)
    batch_seed,
    check_seed,
    check_steps,
    check_temperature,
    check_truncation,
    finite_number,
    output_folder,
    output_wav,
    random_seed,
    safe_file_stem,
    shown,
    whole_number,
)
from sonogen.errors import SonogenError

log = logging.getLogger(__name__)

CONFIG_NAME = "config.yaml"

# Sizes a user may ask for. Beyond them a command would run for days or exhaust memory; each
# is refused with a one-line error that states its limit.
MAX_CLIPS = 100_000  # generate -n (written as they are made, so memory does not grow with n)
MAX_SECONDS = 600.0  # generate --seconds: ten minutes per clip
MAX_INTERPOLATION_SECONDS = 3600.0  # interpolate: steps x length of the longer sound
GENERATE_BATCH = 16  # clips generate makes at once; each batch is on disk before the next starts
BATCH_SAMPLES = 2**24  # and at most this many samples per batch (long clips go fewer at a time)


# --------------------------------------------------------------------------------------------
# data


def prepare(source: str | Path, out: str | Path, **options: Any):
    """Turn a folder of audio into a dataset dir; return a PrepareSummary.

    Options are those of :func:`sonogen.data.prepare.prepare` (sample_rate, clip_samples,
    hop_samples, trim_silence, normalize, labels, split, workers, force, ...).
    """
    from sonogen.data.prepare import prepare as prepare_folder

    return prepare_folder(Path(source), Path(out), **options)


def make_dataset(name: str, out: str | Path, **options: Any) -> Path:
    """Build a built-in dataset (``notes``: audio; ``chorales``: MIDI tokens) into ``out``."""
    if name == "chorales":
        from sonogen.music.chorales import make_chorales

        options.pop("sample_rate", None)  # audio settings have no meaning for MIDI
        options.pop("clip_samples", None)
        return make_chorales(Path(out), **options)
    from sonogen.data.builtin import make_builtin

    return make_builtin(name, Path(out), **options)


def prepare_midi(source: str | Path, out: str | Path, **options: Any):
    """Tokenize a folder of MIDI files into a dataset dir; returns its summary. Options:
    tokenizer (REMI, TSD, MIDILike, Structured), split, transpose=(low, high), seq_len, seed,
    force."""
    from sonogen.music.tokens import prepare_midi as run_prepare

    return run_prepare(source, out, **options)


def compose(run: str | Path, out: str | Path, **options: Any) -> list[dict[str, Any]]:
    """Compose MIDI pieces (and WAVs with render=True) with a music run; one dict per piece."""
    from sonogen.music.compose import compose as run_compose

    return run_compose(run, out, **options)


# --------------------------------------------------------------------------------------------
# training


TRAIN_OPTION_NAMES = (
    "max_steps",
    "max_minutes",
    "batch_size",
    "seed",
    "augment",
    "accelerator",
    "devices",
    "num_nodes",
    "strategy",
    "precision",
)


def train(
    data: str | Path | None,
    model: str | None = None,
    out: str | Path | None = None,
    *,
    config: str | Path | dict | None = None,
    overrides: Sequence[str] | None = None,
    resume: bool = False,
    progress: bool = True,
    **train_options: Any,
) -> Path:
    """Train a model on a dataset dir and return the run dir.

    ``config`` is a YAML file (or dict) with ``model:`` and ``train:`` sections; ``overrides`` are
    ``section.key=value`` strings (the CLI's ``--set``); ``train_options`` (max_steps, max_minutes,
    batch_size, seed, augment, accelerator, devices, num_nodes, strategy, precision) win over
    both. With ``resume=True`` the run continues from ``out/checkpoints/last.ckpt``; only train
    settings may change then.

    The run dir is locked (``sonogen.run.RunLock``) from before its first check until training
    ends, so two processes never train into one run dir; a run dir that stopped before its first
    checkpoint is started over, and a failed start leaves nothing behind.
    """
    from sonogen import run
    from sonogen.config import (
        DataConfig,
        RunConfig,
        TrainConfig,
        build_dataclass,
        load_run_config,
        parse_overrides,
        read_yaml,
    )
    from sonogen.data.dataset import open_dataset
    from sonogen.models.base import flush_denormals
    from sonogen.models.registry import get_family

    flush_denormals()  # before any parallel torch work, so that every worker thread has it
    unknown = sorted(set(train_options) - set(TRAIN_OPTION_NAMES))
    if unknown:
        raise TypeError(f"train() got unexpected options: {', '.join(unknown)}")
    given = {k: v for k, v in train_options.items() if v is not None}
    if out is None:
        raise SonogenError("--out: say where the run dir goes, e.g. --out runs/wavegan")
    run_dir = Path(out)
    sections = parse_overrides(list(overrides or []))
    if isinstance(config, (str, Path)):
        file_values = read_yaml(Path(config))
    else:
        file_values = dict(config or {})
    extra = sorted(set(file_values) - {"model", "train", "model_name", "data"})
    if extra:
        raise SonogenError(f"--config: unknown section {extra[0]!r}; use model: and train:")
    for section in ("model", "train"):
        if not isinstance(file_values.get(section) or {}, dict):
            raise SonogenError(f"--config: the {section}: section must map keys to values")

    # train settings, later layers winning: config file, then --set, then explicit options
    train_layers = (file_values.get("train") or {}) | sections.get("train", {}) | given

    worker = launched_worker()  # rank 0 holds the lock and has made the run dir
    if resume and not run_dir.is_dir():
        run.check_resumable(run_dir)  # never make a folder only to find nothing to resume
    lock = contextlib.nullcontext() if worker else run.RunLock(run_dir)
    with lock:
        try:
            if resume:
                run.check_resumable(run_dir)
                config_path = run_dir / run.CONFIG_NAME
                run_config = load_run_config(config_path)
                if model is not None and model != run_config.model_name:
                    raise SonogenError(
                        f"--model {model}: {run_dir} is a {run_config.model_name} run; drop --model"
                    )
                if sections.get("model") or file_values.get("model"):
                    raise SonogenError("--set model.*: a resumed run keeps its model settings")
                train_values = dataclasses.asdict(run_config.train) | train_layers
                run_config = dataclasses.replace(
                    run_config, train=build_dataclass(TrainConfig, train_values, "train")
                )
                checkpoint = run.read_checkpoint(run_dir / run.CHECKPOINT)
                run.check_resume(
                    checkpoint, run_config, open_dataset(run_config.data.path), run_dir
                )
                family_class = get_family(run_config.model_name)
            else:
                checkpoint = None
                if not worker:
                    run.prepare_fresh_start(run_dir)
                if data is None:
                    raise SonogenError("DATA: give a dataset dir made by `sonogen prepare`")
                model_name = model or file_values.get("model_name") or "wavegan"
                family_class = get_family(model_name)
                info = open_dataset(data)
                model_values = dict(file_values.get("model") or {})
                model_values.update(sections.get("model", {}))
                run_config = RunConfig(
                    model_name=model_name,
                    data=DataConfig(
                        path=str(info.path.resolve()),
                        sample_rate=info.sample_rate,
                        clip_samples=info.clip_samples,
                        labels=info.labels,
                        kind=info.kind,
                        extra=info.extra or None,
                    ),
                    model=build_dataclass(family_class.Config, model_values, "model"),
                    train=build_dataclass(TrainConfig, train_layers, "train"),
                )
            if (
                run_config.train.precision in {"16", "16-mixed", "16-true"}
                and not family_class.float16
            ):
                raise SonogenError(
                    f"--precision {run_config.train.precision}: {run_config.model_name} does "
                    "not train in float16; use bf16-mixed or 32-true"
                )
            import torch

            torch.manual_seed(run_config.train.seed)  # the initial weights follow the seed too
            family = family_class(run_config.model, run_config.data)
            if checkpoint is not None:  # before config.yaml is rewritten with the new settings
                run.check_family_fits(checkpoint, family, run_dir / run.CHECKPOINT)
            if not worker:
                run.write_config(run_dir, run_config.to_dict())

            from sonogen.trainer import fit

            fit(
                family,
                run_config,
                run_dir,
                resume=resume,
                progress=progress,
                checkpoint_state=checkpoint,
            )
        except Exception:
            if not (resume or worker):
                run.clear_unsaved(run_dir)  # a failed start leaves nothing that blocks a retry
            raise
    return run_dir


def launched_worker() -> bool:
    """True in a process that a distributed launcher started for a rank other than global 0.

    Lightning's DDP launcher re-runs the user's command once per extra device (with LOCAL_RANK
    set), and each further node runs it with NODE_RANK set; only global rank 0 writes the run dir.
    """
    import os

    return any(
        int(os.environ.get(name, "0") or 0) > 0 for name in ("RANK", "LOCAL_RANK", "NODE_RANK")
    )


# --------------------------------------------------------------------------------------------
# loading and generating


@dataclass
class Model:
    """A trained model loaded from a run dir: ``m.generate(n, seed=, labels=)`` and friends."""

    family: Any
    config: Any
    run_dir: Path
    metadata: dict[str, str]

    @property
    def sample_rate(self) -> int:
        return self.family.sample_rate

    @property
    def labels(self) -> list[str] | None:
        return self.config.data.labels

    @property
    def model_name(self) -> str:
        return self.config.model_name

    def label_indices(self, labels: Any, n: int) -> Any:
        """Return label indices [n] from names or indices (one value is repeated n times)."""
        if labels is None:
            return None
        known = self.labels or []
        values = [labels] if isinstance(labels, (str, int, np.integer)) else list(labels)
        indices = []
        for value in values:
            if isinstance(value, str):
                if value not in known:
                    choices = ", ".join(known) if known else "none (trained without labels)"
                    raise SonogenError(
                        f"--label {shown(value)}: unknown label; known labels: {shown(choices)}"
                    )
                indices.append(known.index(value))
            else:
                indices.append(int(value))
        return indices * n if len(indices) == 1 else indices

    @property
    def any_length(self) -> bool:
        """Whether the family generates audio of any length (``seconds=``), not fixed clips."""
        import inspect

        return "samples" in inspect.signature(self.family.generate).parameters

    @property
    def can_continue(self) -> bool:
        """Whether the family continues a prompt (``continue_audio``)."""
        return hasattr(self.family, "continue_audio")

    def _samples(self, seconds: float | None) -> dict[str, int]:
        if seconds is None:
            return {}
        if not self.any_length:
            clip = self.config.data.clip_samples / self.sample_rate
            raise SonogenError(
                f"--seconds {seconds}: {self.model_name} makes clips of a fixed {clip:.3g} s; "
                "leave --seconds out"
            )
        seconds = finite_number("--seconds", seconds, low=0, high=MAX_SECONDS, low_open=True)
        return {"samples": max(1, round(seconds * self.sample_rate))}

    def generate(
        self,
        n: int,
        *,
        seed: int | None = None,
        labels: Any = None,
        temperature: float = 1.0,
        seconds: float | None = None,
        **options: Any,
    ) -> np.ndarray:
        """Return n new clips, float32 [n, samples] in [-1, 1]; a seed repeats its audio.

        ``seconds`` sets the length for families that generate any length (autoregressive).
        """
        import torch

        if n < 1:
            raise SonogenError(f"-n {n}: ask for at least one clip")
        indices = self.label_indices(labels, n)
        tensor = None if indices is None else torch.tensor(indices)
        audio = self.family.generate(
            n,
            seed=seed,
            labels=tensor,
            temperature=temperature,
            **(self._samples(seconds) | options),
        )
        return audio.detach().cpu().numpy().astype(np.float32)

    def continue_audio(
        self,
        prompt: np.ndarray,
        seconds: float,
        *,
        n: int = 1,
        seed: int | None = None,
        labels: Any = None,
        temperature: float = 1.0,
    ) -> np.ndarray:
        """Return float32 [n, prompt + new samples]: the prompt followed by its continuation.

        ``prompt``: float [samples] (or [1 or n, samples]) in [-1, 1] at ``m.sample_rate``. The
        model reads the whole prompt first, so the continuation follows on from its last sample.
        """
        import torch

        if not self.can_continue:
            raise SonogenError(f"--prompt: {self.model_name} cannot continue audio")
        prompt = np.asarray(prompt, dtype=np.float32)
        if prompt.ndim == 1:
            prompt = prompt[None]
        if prompt.ndim != 2 or prompt.shape[0] not in (1, n) or prompt.shape[1] == 0:
            raise SonogenError(f"prompt: expected audio [samples], got shape {prompt.shape}")
        prompt = np.repeat(prompt, n // prompt.shape[0], axis=0)  # a new, writable array
        indices = self.label_indices(labels, n)
        continuation = self.family.continue_audio(
            torch.from_numpy(prompt).to(self.family.device),
            self._samples(seconds)["samples"],
            seed=seed,
            temperature=temperature,
            labels=None if indices is None else torch.tensor(indices),
        )
        joined = np.concatenate([prompt, continuation.detach().cpu().numpy()], axis=1)
        return joined.astype(np.float32)

    @property
    def interpolates_between(self) -> str | None:
        """What ``interpolate`` takes: "seeds" (GANs: their latent draws), "sounds" (families
        that encode: their latent sequences), or None where the family cannot interpolate."""
        if not hasattr(self.family, "interpolate"):
            return None
        return "sounds" if self.can_reconstruct else "seeds"

    def check_interpolation(self, a: Any, b: Any, label: Any = None) -> None:
        """Raise SonogenError unless (a, b) are what this family interpolates between: two
        seeds or two sounds; the message shows the command that works."""
        between = self.interpolates_between
        if between is None:
            raise SonogenError(
                f"{self.model_name} cannot interpolate; GAN runs interpolate between two seeds "
                "and fvae runs between two sounds"
            )
        seeds = [isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in (a, b)]
        if between == "seeds" and not all(seeds):
            raise SonogenError(
                f"{self.model_name} interpolates between two seeds: sonogen interpolate RUN 1 2 "
                "--out DIR"
            )
        if between == "sounds" and any(seeds):
            raise SonogenError(
                f"{self.model_name} interpolates between two sounds: sonogen interpolate RUN "
                "a.wav b.wav --out DIR"
            )
        if between == "seeds":
            check_seed(a, "A")
            check_seed(b, "B")
        if label is not None and between == "sounds":
            raise SonogenError(
                f"--label: {self.model_name} interpolates between the sounds as they are; "
                "leave --label out"
            )

    def interpolate(self, a: Any, b: Any, steps: int, label: Any = None) -> np.ndarray:
        """Return float32 [steps, samples]: a path through latent space from a to b.

        a, b: two seeds (GANs: between their latent draws) or two sounds, float [samples] at
        ``m.sample_rate`` (families that encode: between their latent sequences); see
        ``interpolates_between``.
        """
        self.check_interpolation(a, b, label)
        steps = check_steps(steps)
        if self.interpolates_between == "sounds":
            audio = self.family.interpolate(
                np.asarray(a, np.float32), np.asarray(b, np.float32), steps
            )
            return audio.cpu().numpy().astype(np.float32)
        index = None if label is None else self.label_indices(label, 1)[0]
        audio = self.family.interpolate(int(a), int(b), steps, label=index)
        return audio.cpu().numpy().astype(np.float32)

    def encode(self, audio: np.ndarray) -> np.ndarray:
        """Return the latent sequences [n, latent_dim, frames] of audio [n, samples]."""
        if not self.can_reconstruct:
            raise SonogenError(f"{self.model_name}: this model cannot encode audio")
        return self.family.encode(np.asarray(audio, np.float32)).cpu().numpy()

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Return float32 audio [n, frames * hop] for latent sequences [n, latent_dim, frames]."""
        if not self.can_reconstruct:
            raise SonogenError(f"{self.model_name}: this model cannot decode latents")
        return self.family.decode(np.asarray(z, np.float32)).cpu().numpy().astype(np.float32)

    def transfer(self, audio: np.ndarray) -> np.ndarray:
        """Return float32 [samples]: a mono signal at ``m.sample_rate`` re-made by this model
        (timbre transfer), processed in overlapping blocks so any length fits in memory."""
        if not hasattr(self.family, "transfer"):
            raise SonogenError(f"{self.model_name}: this model cannot transfer timbre")
        return np.asarray(self.family.transfer(np.asarray(audio, np.float32)), np.float32)

    @property
    def can_reconstruct(self) -> bool:
        """Whether the family encodes and decodes (so reconstruction metrics apply)."""
        return hasattr(self.family, "encode") and hasattr(self.family, "decode")

    def reconstruct(self, audio: np.ndarray) -> np.ndarray:
        """Return float32 [n, samples]: `audio` [n, samples] encoded and decoded again."""
        import torch

        if not self.can_reconstruct:
            raise SonogenError(f"{self.model_name}: this model cannot encode and decode audio")
        with torch.inference_mode():
            tensor = torch.as_tensor(np.asarray(audio, np.float32), device=self.family.device)
            rebuilt = self.family.decode(self.family.encode(tensor))[..., : tensor.shape[-1]]
        return rebuilt.cpu().numpy().astype(np.float32)

    def to(self, device: str) -> Model:
        self.family.to(device)
        return self


def load(run: str | Path, device: str = "cpu") -> Model:
    """Load a run dir for generation: YAML config + safetensors weights, never pickle."""
    from sonogen.config import load_run_config
    from sonogen.models.base import flush_denormals
    from sonogen.models.registry import get_family

    flush_denormals()  # before any parallel torch work, so that every worker thread has it
    run_dir = Path(run)
    config_path = run_dir / CONFIG_NAME
    weights_path = run_dir / "model.safetensors"
    if not run_dir.is_dir():
        raise SonogenError(f"{run_dir}: run dir not found; train one with `sonogen train`")
    if (run_dir / "dataset.json").is_file():
        raise SonogenError(
            f"{run_dir}: is a dataset dir, not a run dir; train a model on it first: "
            f"sonogen train {run_dir} --model wavegan --out runs/NAME"
        )
    if not config_path.is_file() or not weights_path.is_file():
        raise SonogenError(
            f"{run_dir}: not a finished run (config.yaml or model.safetensors missing); "
            f"train it or resume it with `sonogen train --resume --out {run_dir}`"
        )
    config = load_run_config(config_path)
    family_class = get_family(config.model_name, where=f"{config_path}: model_name")
    try:  # a family refuses settings that do not fit the data (e.g. too long a clip)
        family = family_class(config.model, config.data)
    except SonogenError as error:
        raise SonogenError(f"{config_path}: {error}") from None
    from sonogen.models.base import read_weights

    state, metadata = read_weights(
        weights_path,
        "re-export it from the checkpoint by resuming the run (`sonogen train --resume --out "
        f"{run_dir}`), or train again",
    )
    try:
        family.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise SonogenError(
            f"{weights_path}: weights do not fit the model in config.yaml ({first})"
        ) from None
    family.eval().requires_grad_(False)
    return Model(family=family.to(device), config=config, run_dir=run_dir, metadata=metadata)


def generate(
    run: str | Path,
    n: int,
    out: str | Path,
    *,
    seed: int | None = None,
    label: str | None = None,
    temperature: float = 1.0,
    truncation: float | None = None,
    seconds: float | None = None,
    prompt: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Path], int]:
    """Generate n clips from a run into ``out`` as 16-bit WAVs; return (paths, seed used).

    With ``prompt`` (an audio file of any rate and channel count) each file holds the prompt
    followed by ``seconds`` of continuation (default: one training clip's length).

    Clips are made in batches of up to 16 (fewer for long clips) and each batch is written before
    the next is made, so memory does not grow with n and a stopped command keeps what it wrote;
    ``progress(done, n)`` is called after each batch. The first batch uses ``seed``, batch k a
    seed derived from (seed, k): the same seed gives the same files, and the first 16 clips of
    ``-n 16`` and ``-n 1000`` are the same.
    """
    from sonogen.audio.io import read_audio, write_wav

    n = whole_number("-n", n, 1, MAX_CLIPS)
    seed = random_seed() if seed is None else check_seed(seed)
    check_temperature(temperature)
    options = {}
    if truncation is not None:
        options["truncation"] = check_truncation(truncation)
    if seconds is not None:
        seconds = finite_number("--seconds", seconds, low=0, high=MAX_SECONDS, low_open=True)
    output_folder(out, create=False)
    model = load(run)
    if label is not None:
        model.label_indices(label, 1)  # an unknown label is refused before any work
    prompt_audio = None
    if prompt is not None:
        if not model.can_continue:
            raise SonogenError(f"--prompt: {model.model_name} cannot continue audio")
        if truncation is not None:
            raise SonogenError("--truncation: not used with --prompt")
        prompt_audio, _ = read_audio(prompt, sample_rate=model.sample_rate)
        if seconds is None:
            seconds = model.config.data.clip_samples / model.sample_rate
    clip_seconds = seconds or model.config.data.clip_samples / model.sample_rate
    samples = round(clip_seconds * model.sample_rate)
    samples += 0 if prompt_audio is None else len(prompt_audio)
    batch = max(1, min(GENERATE_BATCH, BATCH_SAMPLES // max(1, samples)))
    prefix = (f"{safe_file_stem(label)}_" if label is not None else "") + (
        f"{safe_file_stem(Path(prompt).stem)}_" if prompt is not None else ""
    )
    folder: Path | None = None
    paths: list[Path] = []
    for index, first in enumerate(range(0, n, batch)):
        count = min(batch, n - first)
        if prompt_audio is not None:
            audio = model.continue_audio(
                prompt_audio,
                seconds,
                n=count,
                seed=batch_seed(seed, index),
                labels=label,
                temperature=temperature,
            )
        else:
            audio = model.generate(
                count,
                seed=batch_seed(seed, index),
                labels=label,
                temperature=temperature,
                seconds=seconds,
                **options,
            )
        folder = folder or output_folder(out)
        for number, clip in enumerate(audio, first):
            path = folder / f"{prefix}seed{seed}_{number:04d}.wav"
            write_wav(path, clip, model.sample_rate)
            paths.append(path)
        if progress:
            progress(len(paths), n)
    return paths, seed


def _transfer_file(run: str | Path, source: str | Path, out: str | Path) -> tuple[Path, float]:
    """Re-make an audio file with a run's model; the output has the input's rate and length.

    The output is checked before any work (see ``output_wav``: never the input, not even as a
    hard link) and written under a temporary name and renamed, so the input is never truncated.
    """
    import soxr

    from sonogen.audio.io import read_audio, write_wav

    source = Path(source)
    out = output_wav(source, out)
    model = load(run)
    audio, rate = read_audio(source)  # mono, the file's own rate
    frames = len(audio)
    if rate != model.sample_rate:
        audio = soxr.resample(audio, rate, model.sample_rate, quality="HQ")
    made = model.transfer(audio)
    if rate != model.sample_rate:
        made = soxr.resample(made, model.sample_rate, rate, quality="HQ")
    made = np.pad(made[:frames], (0, max(0, frames - len(made))))  # exactly the input's length
    write_wav(out, made, rate)
    return out, frames / rate


def transfer(run: str | Path, source: str | Path, out: str | Path) -> tuple[Path, float]:
    """Timbre transfer: encode any sound (any rate, channels, length) and decode it with this
    model; writes ``out`` at the input's rate and length and returns (path, seconds)."""
    return _transfer_file(run, source, out)


def reconstruct(run: str | Path, source: str | Path, out: str | Path) -> tuple[Path, float]:
    """Encode and decode a sound with a run's model (how well it rebuilds what it learnt)."""
    return _transfer_file(run, source, out)


def interpolate(
    run: str | Path,
    a: int | str | Path,
    b: int | str | Path,
    out: str | Path,
    steps: int = 8,
    label: str | None = None,
) -> list[Path]:
    """Morph between a and b through the model's latent space: writes ``steps`` WAVs
    ``morph_00.wav`` ... into ``out`` and returns their paths.

    a, b: two seeds (ints) for families with a latent prior (the GANs; ``label`` picks the class
    of a labelled GAN), or two audio files for families that encode (fvae). The other kind, or a
    family that cannot interpolate, is refused with the command that works.
    """
    from sonogen.audio.io import read_audio, write_wav

    steps = check_steps(steps)
    output_folder(out, create=False)
    model = load(run)
    seeds = [isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in (a, b)]
    model.check_interpolation(
        a if seeds[0] else Path(a), b if seeds[1] else Path(b), None if label is None else label
    )
    if model.interpolates_between == "sounds":
        first, _ = read_audio(a, sample_rate=model.sample_rate)
        second, _ = read_audio(b, sample_rate=model.sample_rate)
        seconds = steps * max(len(first), len(second)) / model.sample_rate
        if seconds > MAX_INTERPOLATION_SECONDS:
            raise SonogenError(
                f"--steps {steps}: {steps} sounds as long as the longer input make {seconds:.0f} "
                f"s of audio, more than the limit of {MAX_INTERPOLATION_SECONDS:.0f} s; use fewer "
                "--steps or shorter sounds"
            )
        audio = model.interpolate(first, second, steps)
    else:
        audio = model.interpolate(int(a), int(b), steps, label=label)
    folder = output_folder(out)
    width = max(2, len(str(steps - 1)))
    paths = []
    for i, clip in enumerate(audio):
        path = folder / f"morph_{i:0{width}d}.wav"
        write_wav(path, clip, model.sample_rate)
        paths.append(path)
    return paths


def info(run: str | Path) -> dict[str, Any]:
    """Return a summary of a run: model, data, steps, training time, parameters and sizes."""
    model = load(run)
    run_dir = Path(run)
    parameters = sum(p.numel() for p in model.family.parameters())
    size = (run_dir / "model.safetensors").stat().st_size
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    return {
        "run": str(run_dir),
        "model": model.model_name,
        "data": model.config.data.path,
        "sample_rate": model.sample_rate,
        "clip_samples": model.config.data.clip_samples,
        "labels": model.labels,
        "steps": int(model.metadata.get("step", 0)),
        "validation": json.loads(model.metadata.get("validation") or "{}"),
        "train_seconds": float(model.metadata.get("train_seconds", 0.0)),
        "parameters": parameters,
        "weights_bytes": size,
        "checkpoint_bytes": checkpoint.stat().st_size if checkpoint.is_file() else 0,
        "model_config": dataclasses.asdict(model.config.model),
    }


# --------------------------------------------------------------------------------------------
# evaluation


def evaluate(target: str | Path, reference: str | Path, **options: Any):
    """Evaluate a run dir or a folder of clips against a reference dataset dir.

    Returns an ``Evaluation`` (out dir, metrics dict, report path); see
    :func:`sonogen.evaluation.suite.evaluate` for the options (n, embedding, out, seed, ...).
    """
    from sonogen.evaluation.suite import evaluate as run_evaluation

    return run_evaluation(target, reference, **options)


def compare(runs: list[str | Path], reference: str | Path, out: str | Path, **options: Any):
    """Evaluate several runs alike and write a leaderboard; returns (markdown, html, rows)."""
    from sonogen.evaluation.suite import compare as run_comparison

    return run_comparison(runs, reference, out, **options)


def train_classifier(data: str | Path, **options: Any):
    """Train the dataset classifier used by the Inception Score; returns its report."""
    from sonogen.evaluation.classifier import train_classifier as run_training

    return run_training(data, **options)
