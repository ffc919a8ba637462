"""The family contract: what every model family provides, in plain PyTorch (no Lightning).

A family is one ``nn.Module`` subclass of :class:`Family` with a ``Config`` dataclass. The
generic trainer (``sonogen/trainer.py``) builds it with ``Family(config, data)``, asks it for its
optimizers, and calls ``train_step`` once per batch; the family does its own backward and
optimizer steps, so a GAN's critic schedule or a VAE's warm-up lives with the family, never in
the trainer.
"""

from __future__ import annotations

import copy
import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from sonogen import checks
from sonogen.checks import (  # noqa: F401  (the families take them from here)
    MAX_INTERPOLATION_STEPS,
    MAX_TEMPERATURE,
    check_steps,
    check_temperature,
    check_truncation,
)
from sonogen.config import DataConfig, check_settings, shown
from sonogen.errors import SonogenError

Backward = Callable[[torch.Tensor], None]


@dataclass
class ExportGraph:
    """One network ``sonogen export`` writes: ``module(*inputs)`` traced at the example inputs'
    shapes (fixed: a real-time host feeds blocks of one size), with names for the file."""

    module: nn.Module
    inputs: tuple[torch.Tensor, ...]
    input_names: tuple[str, ...]
    output_name: str
    description: str  # what it computes, for the file's sidecar JSON


class GraphModule(nn.Module):
    """``forward(*inputs) = family.<method>(*inputs, **fixed)``: the module an ExportGraph traces
    (``fixed``: generation options baked into the graph)."""

    def __init__(self, family: nn.Module, method: str, **fixed: Any):
        super().__init__()
        self.family, self.method, self.fixed = family, method, fixed

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return getattr(self.family, self.method)(*inputs, **self.fixed)


class Family(nn.Module):
    """Base class of every model family.

    Subclasses set ``Config`` (a frozen dataclass with defaults for every field) and
    ``ema_modules`` (names of sub-modules whose exponential moving average is used for generation),
    declare what they can do (the capabilities below: ``run.Model``, the CLI and evaluation read
    them and never guess from a method's presence or signature), and implement the methods below.
    """

    Config: ClassVar[type]
    ema_modules: ClassVar[tuple[str, ...]] = ()
    float16: ClassVar[bool] = True  # False where training breaks under fp16 loss scaling

    # --- capabilities -----------------------------------------------------------------------
    # makes token sequences (music: generate_tokens, rendered by sonogen.music), not audio
    tokens: ClassVar[bool] = False
    # generate(samples=) makes audio of any length; otherwise clips of data.clip_samples
    any_length: ClassVar[bool] = False
    # continue_audio(prompt, samples) continues a prompt
    continues: ClassVar[bool] = False
    # encode / decode / transfer: reconstruction metrics, timbre transfer, morphs between sounds
    encodes: ClassVar[bool] = False
    # what interpolate() takes: "seeds" (interpolate_seeds) and/or "sounds" (interpolate_sounds)
    interpolates: ClassVar[frozenset[str]] = frozenset()
    # the generation options generate() takes beyond seed, labels and temperature (e.g.
    # "truncation" for the GANs; "steps", "guidance", "sampler" for flow matching)
    generation_options: ClassVar[frozenset[str]] = frozenset()
    # the networks `sonogen export` writes (export_graphs): ("generator",) or ("encoder",
    # "decoder"); () where generation is a Python loop over samples or tokens
    exports: ClassVar[tuple[str, ...]] = ()

    @property
    def fixed_length(self) -> bool:
        """Whether the family makes audio clips of exactly data.clip_samples samples."""
        return not (self.tokens or self.any_length)

    def __init__(self, config: Any, data: DataConfig):
        super().__init__()
        # how much of the run's budget (train.max_steps, or train.max_minutes of this session,
        # whichever ends first) is spent, 0 to 1, set by the trainer before each step (None
        # when the run has no budget). Only a training step should read it.
        self.budget_progress: float | None = None
        # every setting within its declared range (config files are checked when read; this
        # catches a config dataclass made in Python)
        check_settings(config, "model")
        check_settings(data, "data")
        self.config = config
        self.data = data

    @property
    def sample_rate(self) -> int:
        return self.data.sample_rate

    @property
    def num_labels(self) -> int:
        return len(self.data.labels or [])

    # --- training -------------------------------------------------------------------------
    def training_data(self, info: Any, split: str) -> Any:
        """Return the map dataset of one split: item i -> (tensor, label int).

        Default: the dataset dir's audio clips (float32 [clip_samples] in [-1, 1]). A family that
        learns from something else (e.g. MIDI tokens) returns its own dataset here.
        """
        from sonogen.data.dataset import ClipDataset

        return ClipDataset(info, split)

    @property
    def needs_statistics(self) -> bool:
        """Whether the trainer should call fit_statistics (True when a family overrides it)."""
        return type(self).fit_statistics is not Family.fit_statistics

    def fit_statistics(self, audio: np.ndarray) -> None:
        """Fit data statistics (e.g. spectrogram normalisation) before training starts.

        ``audio``: float32 [n, clip_samples], a seeded sample of training clips. Statistics live
        in buffers, so they travel with the weights. Default: nothing to fit.
        """

    def configure_optimizers(self) -> Sequence[torch.optim.Optimizer]:
        raise NotImplementedError

    def train_step(
        self,
        audio: torch.Tensor,
        labels: torch.Tensor | None,
        step: int,
        optimizers: Sequence[Any],
        backward: Backward,
    ) -> dict[str, float]:
        """Run one training step on a batch and return the scalars to log.

        ``audio``: [batch, clip_samples] in [-1, 1]; ``labels``: [batch] int64 or None.
        ``optimizers`` are those of configure_optimizers (wrapped by the trainer: call
        ``zero_grad()`` and ``step()`` on them); ``backward(loss)`` must be used instead of
        ``loss.backward()`` so that mixed precision and DDP work.
        """
        raise NotImplementedError

    def augment(self, batch: torch.Tensor) -> torch.Tensor:
        """Return a randomly augmented training batch (``train.augment``; torch RNG). Default:
        audio augmentation (``sonogen.audio.augment``); a family of other data overrides it."""
        from sonogen.audio.augment import augment

        return augment(batch)

    @torch.no_grad()
    def validate(self, audio: torch.Tensor, labels: torch.Tensor | None) -> dict[str, float]:
        """Return held-out scalars for one batch (default: none)."""
        return {}

    def summarise_validation(self, means: dict[str, float]) -> dict[str, float]:
        """Return the held-out scores of a whole pass from the clip-weighted means of
        ``validate``'s values (default: the means; a score that is not a mean, such as a
        perplexity, is recomputed here)."""
        return means

    # --- generation -----------------------------------------------------------------------
    def generate(
        self,
        n: int,
        *,
        seed: int | None = None,
        labels: torch.Tensor | None = None,
        temperature: float = 1.0,
        **options: Any,
    ) -> torch.Tensor:
        """Return n new clips, float32 [n, samples] in [-1, 1]."""
        raise NotImplementedError

    def interpolate(self, a: Any, b: Any, steps: int, *, label: int | None = None) -> torch.Tensor:
        """Return audio [steps, samples] along a path through latent space from a to b.

        One contract for every family with a latent space: a and b are two seeds (ints: between
        the latents the family draws for them; ``label`` picks the class of a labelled model) or
        two sounds (mono float [samples]: between their encodings), whichever ``interpolates``
        declares; the caller's arguments choose.
        """
        kind = checks.interpolation_kind(a, b)
        if kind not in self.interpolates:
            takes = " or ".join(sorted(self.interpolates)) or "nothing"
            raise SonogenError(
                f"interpolate: {type(self).__name__} interpolates between two {takes}, not {kind}"
            )
        if kind == "seeds":
            return self.interpolate_seeds(int(a), int(b), steps, label=label)
        if label is not None:
            raise SonogenError("label: an interpolation between sounds keeps their own labels")
        return self.interpolate_sounds(a, b, steps)

    def interpolate_seeds(
        self, seed_a: int, seed_b: int, steps: int, *, label: int | None = None
    ) -> torch.Tensor:
        """Return audio [steps, samples] between the latents drawn for two seeds."""
        raise NotImplementedError

    def seed_path(
        self, seed_a: Any, seed_b: Any, steps: int, shape: tuple[int, ...], label: Any = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return (noises [steps, *shape] along the great circle between the N(0, I) noises
        ``generate(1, seed=...)`` draws for two seeds, labels [steps] or None) for a family whose
        generate draws a label (labelled model, none given) and then the noise from the seed.

        The label is ``label``, or the one seed A draws, so the first noise is seed A's own.
        """
        steps = check_steps(steps)
        seeds = check_seed(seed_a, "seed A"), check_seed(seed_b, "seed B")
        if None in seeds:
            raise SonogenError("seed A, seed B: an interpolation needs two seeds")
        noises, drawn = [], []
        for seed in seeds:  # the same draws, in the same order, as generate(1, seed=seed)
            generator = seeded_generator(seed, self.device)
            if self.num_labels and label is None:
                drawn.append(
                    torch.randint(self.num_labels, (1,), generator=generator, device=self.device)
                )
            noises.append(torch.randn((1, *shape), generator=generator, device=self.device)[0])
        labels = None
        if self.num_labels:
            labels = self.check_labels(drawn[0] if label is None else torch.tensor(label), steps)
        elif label is not None:
            self.check_labels(torch.tensor(label), steps)  # refuses: trained without labels
        return slerp(noises[0], noises[1], steps), labels

    def interpolate_sounds(self, a: Any, b: Any, steps: int) -> torch.Tensor:
        """Return audio [steps, samples] between the encodings of two sounds [samples]."""
        raise NotImplementedError

    def write_previews(self, folder: Path, prefix: str, count: int) -> None:
        """Write `count` preview files named PREFIX_i.* into `folder` (default: generated WAVs,
        seed 0, so previews of successive steps are comparable)."""
        from sonogen.audio.io import write_wav

        audio = self.generate(count, seed=0).cpu().numpy()
        for i, clip in enumerate(audio):
            write_wav(Path(folder) / f"{prefix}_{i}.wav", clip, self.sample_rate)

    # --- export -----------------------------------------------------------------------------
    def export_graphs(
        self, batch: int, block_samples: int | None = None, **options: Any
    ) -> dict[str, ExportGraph]:
        """Return the graphs named in ``exports``, for ``batch`` items at a time (``block_samples``
        for encoders; ``options`` are generation options baked into the graph)."""
        raise NotImplementedError

    def exportable_copy(self, drop: Sequence[str] = ()) -> Family:
        """Return a copy in eval mode without the training-only sub-modules ``drop`` (critics,
        discriminators) and with its vocoder's inverse STFT in real-valued operations."""
        from sonogen.models.vocoder import Vocoder

        kept = {name: module for name, module in self._modules.items() if name not in drop}
        shell = copy.copy(self)  # the dropped modules are never deep-copied
        shell._modules = kept
        family = copy.deepcopy(shell).eval().requires_grad_(False)
        for module in family.modules():
            if isinstance(module, Vocoder):
                module.use_real_istft()
        return family

    # --- helpers shared by families -------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def check_labels(self, labels: torch.Tensor | None, n: int) -> torch.Tensor | None:
        """Return labels as an int64 tensor [n] on the model's device (or None if unlabelled)."""
        if self.num_labels == 0:
            if labels is not None:
                raise SonogenError("labels: this model was trained without labels")
            return None
        if labels is None:
            return None
        labels = torch.as_tensor(labels, dtype=torch.int64, device=self.device).reshape(-1)
        if labels.numel() == 1:
            labels = labels.expand(n)
        if labels.numel() != n:
            raise SonogenError(f"labels: got {labels.numel()} labels for {n} clips")
        if labels.min() < 0 or labels.max() >= self.num_labels:
            raise SonogenError(f"labels: indices must be in 0..{self.num_labels - 1}")
        return labels


def per_bin_statistics(
    features: Callable[[torch.Tensor], torch.Tensor], audio: np.ndarray, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (mean, deviation) [bins, 1] of ``features(clips)`` [n, bins, frames] over the
    clips and frames of audio [n, samples] (in chunks of 256 clips); the deviation is floored at
    1e-3, so a bin that never changes cannot divide by zero when normalised."""
    values = torch.cat(
        [
            features(torch.from_numpy(audio[i : i + 256]).to(device))
            for i in range(0, len(audio), 256)
        ]
    )
    return values.mean(dim=(0, 2))[:, None], values.std(dim=(0, 2))[:, None].clamp_min(1e-3)


def flush_denormals() -> None:
    """Make this process flush denormal floats to zero (x86 CPUs run up to 100x slower on them:
    one LSTM training step on quiet speech took 13.8 s instead of 0.65 s).

    The flag is per thread and torch's worker threads copy it when they are created, so it is
    set before a process's first parallel torch operation: at the start of training, loading and
    evaluation. GPUs flush denormals anyway; the effect on results is below float32 resolution.
    """
    torch.set_flush_denormal(True)


def check_seed(seed: Any, option: str = "--seed") -> int | None:
    """Return ``seed`` as an int in 0..2**63-1 (or None), else a SonogenError naming ``option``."""
    return None if seed is None else checks.check_seed(seed, option)


def seeded_generator(seed: int | None, device: torch.device) -> torch.Generator:
    """Return a torch.Generator on ``device``, seeded (or from fresh entropy for None)."""
    seed = check_seed(seed)
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator


def slerp(a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
    """Return [steps, *a.shape]: the great-circle path from a to b (any shape, compared as flat
    vectors; a straight line where they are parallel), the path Gaussian latents keep their
    norm on."""
    flat_a, flat_b = a.reshape(-1), b.reshape(-1)
    omega = torch.arccos((flat_a / flat_a.norm()).dot(flat_b / flat_b.norm()).clamp(-1, 1))
    t = torch.linspace(0, 1, steps, device=a.device).view(-1, *([1] * a.dim()))
    if omega.abs() < 1e-6:
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def weights_digest(state: dict[str, torch.Tensor]) -> str:
    """Return a sha256 over every tensor's name, dtype, shape and bytes, in sorted name order."""
    digest = hashlib.sha256()
    for key in sorted(state):
        tensor = state[key].detach().cpu().contiguous()
        digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_weights(path: Path, state: dict[str, torch.Tensor], metadata: dict[str, Any]) -> None:
    """Write safetensors weights atomically, with string metadata and a checksum of the weights
    (safetensors itself has none, so a damaged or edited file would otherwise load silently)."""
    from safetensors.torch import save_file

    path = Path(path)
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    metadata = {k: str(v) for k, v in metadata.items()} | {"sha256": weights_digest(state)}
    try:
        save_file(state, str(temp), metadata=metadata)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)  # only left when writing failed


def read_weights(path: Path, remedy: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Return (tensors, metadata) of a safetensors file written by save_weights, checking its
    checksum (required) and that every weight is finite; a damaged or edited file is a
    SonogenError that ends with ``remedy``."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = dict(handle.metadata() or {})
            state = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError, TypeError) as error:
        message = " ".join(str(error).split())[:160]
        raise SonogenError(
            f"{path}: not a readable safetensors file ({message}); the file is damaged; {remedy}"
        ) from None
    expected = metadata.get("sha256")
    if expected is None:
        raise SonogenError(
            f"{path}: no checksum (sha256) in its metadata, so a damaged or edited file cannot "
            f"be told from a good one; {remedy}"
        )
    if expected != weights_digest(state):
        raise SonogenError(
            f"{path}: the weights do not match the checksum stored with them (the file was "
            f"damaged or edited); {remedy}"
        )
    for key, tensor in state.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise SonogenError(
                f"{path}: weight {shown(key)} holds NaN or infinite values (training diverged, "
                f"or the file was edited); {remedy}"
            )
    return state, metadata
