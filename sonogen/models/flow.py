"""The flow-matching family: conditional flow matching over log-mel spectrograms, with
classifier-free guidance and a learned vocoder.

Training (Lipman et al., "Flow Matching for Generative Modeling", 2023; rectified flow, Liu et al.
2023): a clip's log-mel, normalised per mel bin, is x1; x0 is Gaussian noise of the same shape; at
a time t in (0, 1) drawn from a logit-normal (Esser et al., Stable Diffusion 3, 2024: it spends the
steps where the path is hardest, mid-way), or for a share ``time_uniform_share`` of the batch
uniformly (the logit-normal alone left t near 0 untrained: there the first ODE steps decide
whether a clip holds a word at all, and 7.5% of FSDD clips came out silent), the network sees
x_t = (1 - t) x0 + t x1 and regresses the straight path's velocity x1 - x0 (mean squared error).
The label is replaced by a learnt null label with probability ``label_dropout``, so one network
is both conditional and unconditional.

Generation integrates dx/dt = v(x, t) from noise at t = 0 to t = 1 with ``steps`` steps of Euler,
midpoint or Heun, on a time grid crowded toward the noise end by ``sway`` (F5-TTS's sway
sampling, Chen et al. 2024); with labels, classifier-free guidance (Ho & Salimans 2022) uses
v_uncond + w (v_cond - v_uncond), w = ``guidance`` (1: the conditional model alone). The log-mel
becomes audio through the run's own learned vocoder (`sonogen.models.vocoder`), trained in the
same steps on random segments of the same batches, or through Griffin-Lim.

The network is a 1-D U-Net over time with the mel bins as channels (``levels`` levels, by
default three at 1x, 1/2x and 1/4x the frame rate, ConvNeXt blocks whose normalisation is scaled
and shifted by the time and label embedding, self-attention at the lowest level): a 2-D U-Net
over mel x time costs several times more per step on a CPU for the same width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sonogen.config import LEARNING_RATES, DataConfig, setting, shown
from sonogen.errors import SonogenError
from sonogen.models.base import (
    ExportGraph,
    Family,
    GraphModule,
    check_temperature,
    per_bin_statistics,
    seeded_generator,
)
from sonogen.models.vocoder import MelSpec, Vocoder

SAMPLERS = ("euler", "midpoint", "heun")
MAX_ODE_STEPS = 1000
MAX_GUIDANCE = 100.0
LR_DECAY_FLOOR = 0.02  # model.lr_decay "linear" ends at this share of the learning rate


@dataclass(frozen=True)
class FlowConfig:
    n_mels: int = setting(64, 8, 256)
    # the STFT under the log-mel, in samples: 0 is a window of about 32 ms (a power of two) and a
    # hop of a quarter of it; a hop of up to half the window (a longer hop, fewer frames: a
    # cheaper step, for sounds that change slowly, such as held notes)
    window: int = setting(0, 0, 16384)
    hop: int = setting(0, 0, 8192)
    channels: int = setting(64, 8, 1024)  # width at the top level; 2x below it
    # U-Net levels, each at half the frame rate of the one above (self-attention at the lowest);
    # frames are padded to a multiple of 2 ** (levels - 1)
    levels: int = setting(3, 1, 6)
    blocks: int = setting(2, 1, 16)  # ConvNeXt blocks per level, each way
    expansion: int = setting(2, 1, 8)  # a block's inner width, in multiples of its width
    attention_heads: int = setting(4, 0, 32)  # self-attention at the lowest level; 0: none
    label_dropout: float = setting(0.15, 0, 1, below=True)  # -> the null label
    # timesteps: logit-normal (mean 0, deviation 1) or uniform
    time_sampling: str = setting("logit-normal", choices=("logit-normal", "uniform"))
    # the share of logit-normal timesteps drawn uniformly instead: the logit-normal alone puts
    # 1.4% of them below t = 0.1, where the first ODE steps decide whether a clip holds a word;
    # there the network was barely trained and 7.5% of FSDD clips came out silent (0.3: none)
    time_uniform_share: float = setting(0.3, 0, 1, older_runs=0.0)
    learning_rate: float = setting(1e-3, *LEARNING_RATES)
    warmup_steps: int = setting(200, 0, 10**7)
    # "linear": the flow network's learning rate falls linearly over the run's budget
    # (train.max_steps, or train.max_minutes of this session, whichever ends first) to
    # LR_DECAY_FLOOR of itself; the vocoder's stays. Without a budget it stays too.
    # (the quickstart's notes, 1,800 steps: instrument accuracy 0.66 -> 0.755 at guidance 3;
    # decaying the vocoder's too doubled the notes' spectral flatness. FSDD, 30 minutes, at
    # guidance 1.5: label accuracy 0.970 and NDB/K 0.12 in 6,106 steps, against 0.924 and 0.24
    # at a constant rate in 4,245 steps on a slower day: BENCHMARKS.md)
    lr_decay: str = setting("linear", choices=("none", "linear"), older_runs="none")
    # generation defaults (each can be changed per call: --steps, --guidance, --sampler)
    steps: int = setting(8, 1, MAX_ODE_STEPS)
    sampler: str = setting("euler", choices=SAMPLERS)
    # the time grid (a setting, not a per-call option): t = u + sway (cos(pi u / 2) - 1 + u) at
    # evenly spaced u (F5-TTS's sway sampling, Chen et al. 2024); below 0 the steps crowd near
    # the noise end, 0 is even
    # (on FSDD, 8 Euler steps at sway -1 matched 16 even Heun steps at a fifth of the cost)
    sway: float = setting(-1.0, -1, 1, older_runs=0.0)
    # (1.5: with lr_decay, FSDD's digits named as often as real ones and NDB/K 0.12; at 2,
    # 0.992 but NDB/K 0.36: more guidance concentrates each digit on fewer regions)
    guidance: float = setting(1.5, 0, MAX_GUIDANCE, older_runs=2.0)
    # guidance only for times t (0 noise, 1 data) in [guidance_from, guidance_until]; elsewhere
    # the conditional velocity alone, at half the cost (Kynkaanniemi et al. 2024: a limited
    # interval of guidance)
    guidance_from: float = setting(0.0, 0, 1)
    guidance_until: float = setting(1.0, 0, 1)
    # mel -> audio: the learned vocoder trained with the model, or Griffin-Lim
    vocoder: str = setting("learned", choices=("learned", "griffin-lim"))
    vocoder_channels: int = setting(128, 8, 1024)
    vocoder_blocks: int = setting(6, 1, 32)
    vocoder_learning_rate: float = setting(1e-3, *LEARNING_RATES)
    vocoder_segment_frames: int = setting(32, 4, 4096)
    # train the vocoder on every Nth step only: more of a short budget for the flow (the
    # quickstart's 4 minutes: 1,358 flow steps with 2 against 1,100 with 1)
    vocoder_every: int = setting(1, 1, 1000)
    griffin_lim_iters: int = setting(32, 1, 1000)


# --------------------------------------------------------------------------------------------
# the velocity network


def timestep_embedding(t: Tensor, dim: int) -> Tensor:
    """Return sinusoidal features [batch, dim] of times t [batch] in [0, 1]."""
    half = dim // 2
    frequencies = torch.exp(-math.log(10_000.0) * torch.arange(half, device=t.device) / half)
    angles = 1000.0 * t[:, None].float() * frequencies[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class ConditionedBlock(nn.Module):
    """A ConvNeXt block on [batch, C, T] whose LayerNorm output is scaled and shifted by the
    conditioning vector (adaLN), with a zero-initialised residual gate."""

    def __init__(self, channels: int, condition_dim: int, expansion: int, kernel_size: int = 7):
        super().__init__()
        self.depthwise = nn.Conv1d(
            channels, channels, kernel_size, padding=kernel_size // 2, groups=channels
        )
        self.norm = nn.LayerNorm(channels, elementwise_affine=False)
        self.modulation = nn.Linear(condition_dim, 3 * channels)
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)
        self.expand = nn.Linear(channels, expansion * channels)
        self.project = nn.Linear(expansion * channels, channels)

    def forward(self, x: Tensor, condition: Tensor) -> Tensor:
        scale, shift, gate = self.modulation(condition)[:, None].chunk(3, dim=2)
        h = self.norm(self.depthwise(x).transpose(1, 2)) * (1 + scale) + shift
        h = self.project(F.gelu(self.expand(h)))
        return x + (h * (1 + gate)).transpose(1, 2)


class SelfAttention(nn.Module):
    """Pre-norm multi-head self-attention over time on [batch, C, T], with a residual."""

    def __init__(self, channels: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm = nn.LayerNorm(channels)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.out = nn.Linear(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        batch, channels, frames = x.shape
        q, k, v = self.qkv(self.norm(x.transpose(1, 2))).chunk(3, dim=2)
        q, k, v = (part.view(batch, frames, self.heads, -1).transpose(1, 2) for part in (q, k, v))
        h = F.scaled_dot_product_attention(q, k, v)
        h = self.out(h.transpose(1, 2).reshape(batch, frames, channels))
        return x + h.transpose(1, 2)


class VelocityNetwork(nn.Module):
    """(x_t [batch, n_mels, frames], t [batch], label [batch]) -> velocity, the same shape as x_t.

    ``frames`` (fixed: positions are learnt) must be a multiple of 2 ** (levels - 1). Label
    ``num_labels`` is the null label (also the only one of an unlabelled model).
    """

    def __init__(self, config: FlowConfig, num_labels: int, frames: int):
        super().__init__()
        c = config
        levels = self.levels = c.levels
        widths = [c.channels] + [2 * c.channels] * (levels - 1)
        condition_dim = 4 * c.channels
        self.time = nn.Sequential(
            nn.Linear(c.channels, condition_dim), nn.SiLU(), nn.Linear(condition_dim, condition_dim)
        )
        self.label = nn.Embedding(num_labels + 1, condition_dim)
        nn.init.normal_(self.label.weight, std=0.02)
        self.time_dim = c.channels
        self.inp = nn.Conv1d(c.n_mels, widths[0], 3, padding=1)
        # learnt positions at the top and at the lowest level (where attention has none of its
        # own): a clip has a place in time (FSDD's words start at once and end in silence), which
        # convolutions alone barely see; without them a 10-minute model put words anywhere in
        # the clip, often at its end
        self.position = nn.Parameter(torch.randn(1, widths[0], frames) * 0.02)
        bottom = frames // 2 ** (levels - 1)
        self.bottom_position = nn.Parameter(torch.randn(1, widths[-1], bottom) * 0.02)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        for level, width in enumerate(widths):
            self.down.append(
                nn.ModuleList(
                    ConditionedBlock(width, condition_dim, c.expansion) for _ in range(c.blocks)
                )
            )
            if level < levels - 1:
                self.downsample.append(nn.Conv1d(width, widths[level + 1], 4, 2, padding=1))
        self.attention = (
            SelfAttention(widths[-1], c.attention_heads) if c.attention_heads else nn.Identity()
        )
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        self.merge = nn.ModuleList()
        for level in reversed(range(levels)):
            width = widths[level]
            if level < levels - 1:
                self.upsample.append(nn.ConvTranspose1d(widths[level + 1], width, 4, 2, padding=1))
                self.merge.append(nn.Conv1d(2 * width, width, 1))
            self.up.append(
                nn.ModuleList(
                    ConditionedBlock(width, condition_dim, c.expansion) for _ in range(c.blocks)
                )
            )
        # a linear path from input to output: removing the noise from x_t is mostly a linear map
        # of x_t itself, which the narrow top level, behind a SiLU, could not carry (two tones at
        # width 16: samples stayed noisy, nearest-neighbour distance 0.9 against 0.04 in the data)
        self.skip = nn.Conv1d(c.n_mels, c.n_mels, 1)
        self.out_norm = nn.GroupNorm(1, widths[0])
        self.out = nn.Conv1d(widths[0], c.n_mels, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor, t: Tensor, labels: Tensor) -> Tensor:
        condition = F.silu(self.time(timestep_embedding(t, self.time_dim)) + self.label(labels))
        h = self.inp(x) + self.position
        skips = []
        for level, blocks in enumerate(self.down):
            for block in blocks:
                h = block(h, condition)
            if level < self.levels - 1:
                skips.append(h)
                h = self.downsample[level](h)
        h = self.attention(h + self.bottom_position)
        for index, blocks in enumerate(self.up):
            if index > 0:
                h = self.upsample[index - 1](h)
                h = self.merge[index - 1](torch.cat([h, skips.pop()], dim=1))
            for block in blocks:
                h = block(h, condition)
        return self.out(F.silu(self.out_norm(h))) + self.skip(x)


# --------------------------------------------------------------------------------------------
# the family


def check_guidance(guidance: Any) -> float:
    """Return ``guidance`` as a float from 0 to MAX_GUIDANCE, else a SonogenError naming it."""
    try:
        value = float(guidance)
    except (TypeError, ValueError, OverflowError):
        value = math.nan
    if not 0 <= value <= MAX_GUIDANCE:
        raise SonogenError(
            f"--guidance {shown(guidance)}: must be a number from 0 to {MAX_GUIDANCE:g} (1: the "
            "conditional model alone, more: closer to the label, 0: unconditional)"
        )
    return value


def check_ode_steps(steps: Any) -> int:
    """Return the ODE step count (1..MAX_ODE_STEPS), else a SonogenError naming --steps."""
    try:
        value = int(steps) if not isinstance(steps, bool) and float(steps) == int(steps) else 0
    except (TypeError, ValueError, OverflowError):
        value = 0
    if not 1 <= value <= MAX_ODE_STEPS:
        raise SonogenError(
            f"--steps {shown(steps)}: must be a whole number from 1 to {MAX_ODE_STEPS}"
        )
    return value


def check_sampler(sampler: Any) -> str:
    if sampler not in SAMPLERS:
        raise SonogenError(f"--sampler {sampler!r}: choose one of {', '.join(SAMPLERS)}")
    return sampler


def mel_spec(config: FlowConfig, sample_rate: int) -> MelSpec:
    """Return the log-mel of ``config`` (``window`` and ``hop``, 0 for the defaults) at a rate,
    or a SonogenError naming the setting that does not fit."""
    spec = MelSpec.for_sample_rate(sample_rate, config.n_mels)
    window = config.window or spec.n_fft
    hop = config.hop or window // 4
    if window < 16 or window // 2 + 1 < config.n_mels:
        raise SonogenError(
            f"model.window {window}: too short for model.n_mels {config.n_mels} (a window of N "
            "samples has N // 2 + 1 frequency bins, and each mel band needs one); give a longer "
            "window or fewer mels"
        )
    if not 1 <= hop <= window // 2:
        raise SonogenError(
            f"model.hop {hop}: must be from 1 to half the window ({window // 2}), so that the "
            "windows overlap and the vocoder can add them back up"
        )
    return MelSpec(sample_rate, window, hop, config.n_mels)


def time_grid(steps: int, sway: float) -> list[float]:
    """Return the ODE's ``steps + 1`` times from 0 (noise) to 1 (data): evenly spaced for sway
    0, crowded toward 0 for sway below 0 (sway sampling; it is increasing for sway in [-1, 1])."""
    grid = [i / steps for i in range(steps + 1)]
    return [u + sway * (math.cos(math.pi / 2 * u) - 1 + u) for u in grid]


class FlowMatching(Family):
    """Conditional flow matching on normalised log-mel spectrograms: an ODE sampler with
    classifier-free guidance, and a learned vocoder for the audio (see the module docstring)."""

    Config = FlowConfig
    ema_modules = ("network", "vocoder")
    float16 = False  # the inverse STFT and the loss of the vocoder want float32 (bf16 is fine)
    interpolates = frozenset({"seeds"})
    generation_options = frozenset({"steps", "guidance", "sampler"})
    exports = ("generator",)

    def __init__(self, config: FlowConfig, data: DataConfig):
        super().__init__(config, data)
        if config.guidance_from > config.guidance_until:
            raise SonogenError(
                f"model.guidance_from {config.guidance_from:g} is after model.guidance_until "
                f"{config.guidance_until:g}; guidance acts between them, so give from <= until"
            )
        self.spec = mel_spec(config, data.sample_rate)
        multiple = 2 ** (config.levels - 1)
        # frames of a clip, padded to what the U-Net halves levels - 1 times; audio is zero-padded
        self.frames = math.ceil(self.spec.frames(data.clip_samples) / multiple) * multiple
        self.padded_samples = (self.frames - 1) * self.spec.hop_length
        self.network = VelocityNetwork(config, self.num_labels, self.frames)
        self.vocoder = Vocoder(self.spec, config.vocoder_channels, config.vocoder_blocks)
        self.last_vocoder_logs: dict[str, Tensor] = {}  # the vocoder's losses at its last step
        self.register_buffer("mel_mean", torch.zeros(config.n_mels, 1))
        self.register_buffer("mel_std", torch.ones(config.n_mels, 1))

    # --- features ---------------------------------------------------------------------------
    def log_mel(self, audio: Tensor) -> Tensor:
        """audio [batch, samples] -> log-mel [batch, n_mels, self.frames]."""
        audio = F.pad(audio, (0, self.padded_samples - audio.shape[-1]))
        return self.spec.log_mel(audio)

    def normalise(self, log_mel: Tensor) -> Tensor:
        return (log_mel - self.mel_mean) / self.mel_std

    def denormalise(self, x: Tensor) -> Tensor:
        return x * self.mel_std + self.mel_mean

    def fit_statistics(self, audio: np.ndarray) -> None:
        """Per-mel-bin mean and deviation of the log-mel over training clips (and frames)."""
        mean, deviation = per_bin_statistics(self.log_mel, audio, self.mel_mean.device)
        self.mel_mean.copy_(mean)
        self.mel_std.copy_(deviation)

    # --- training ---------------------------------------------------------------------------
    def configure_optimizers(self):
        c = self.config
        return [
            torch.optim.AdamW(self.network.parameters(), lr=c.learning_rate, weight_decay=1e-2),
            torch.optim.AdamW(
                self.vocoder.parameters(), lr=c.vocoder_learning_rate, betas=(0.8, 0.99)
            ),
        ]

    def sample_times(self, batch: int, device: torch.device, generator=None) -> Tensor:
        if self.config.time_sampling == "uniform":
            return torch.rand(batch, device=device, generator=generator)
        times = torch.sigmoid(torch.randn(batch, device=device, generator=generator))
        share = self.config.time_uniform_share
        if share:
            uniform = torch.rand(batch, device=device, generator=generator)
            pick = torch.rand(batch, device=device, generator=generator) < share
            times = torch.where(pick, uniform, times)
        return times

    def null_labels(self, batch: int, device: torch.device) -> Tensor:
        return torch.full((batch,), self.num_labels, dtype=torch.int64, device=device)

    def flow_loss(
        self, x1: Tensor, labels: Tensor | None, generator: torch.Generator | None = None
    ) -> Tensor:
        """Return the velocity regression loss on normalised log-mels x1 [batch, n_mels, frames]."""
        batch = x1.shape[0]
        noise = torch.randn(x1.shape, device=x1.device, generator=generator)
        t = self.sample_times(batch, x1.device, generator)
        condition = self.null_labels(batch, x1.device)
        if labels is not None:
            keep = torch.rand(batch, device=x1.device, generator=generator)
            condition = torch.where(keep >= self.config.label_dropout, labels, condition)
        x_t = (1 - t[:, None, None]) * noise + t[:, None, None] * x1
        return F.mse_loss(self.network(x_t, t, condition), x1 - noise)

    def learning_rate_at(self, base: float, step: int) -> float:
        """``base`` after a linear warm-up: the vocoder's rate at ``step``, and the flow's before
        its decay (`flow_learning_rate_at`)."""
        warmup = self.config.warmup_steps
        return base * min(1.0, (step + 1) / warmup) if warmup else base

    def flow_learning_rate_at(self, step: int) -> float:
        """The flow network's: the warm-up, times the linear decay over the budget when
        ``lr_decay`` is "linear" and the trainer has set ``budget_progress``."""
        rate = self.learning_rate_at(self.config.learning_rate, step)
        if self.config.lr_decay == "linear" and self.budget_progress is not None:
            rate *= max(LR_DECAY_FLOOR, 1.0 - self.budget_progress)
        return rate

    def train_step(self, audio, labels, step, optimizers, backward):
        c = self.config
        flow_optimizer, vocoder_optimizer = optimizers
        labels = labels if self.num_labels else None
        with torch.no_grad():
            x1 = self.normalise(self.log_mel(audio))
        for optimizer, rate in (
            (flow_optimizer, self.flow_learning_rate_at(step)),
            (vocoder_optimizer, self.learning_rate_at(c.vocoder_learning_rate, step)),
        ):
            for group in optimizer.param_groups:
                group["lr"] = rate
        loss = self.flow_loss(x1, labels)
        flow_optimizer.zero_grad()
        backward(loss)
        flow_optimizer.step()
        logs = {"loss": loss.detach()}
        if c.vocoder == "learned" and step % c.vocoder_every == 0:
            vocoder_loss, vocoder_logs = self.vocoder.loss(audio, c.vocoder_segment_frames)
            vocoder_optimizer.zero_grad()
            backward(vocoder_loss)
            vocoder_optimizer.step()
            self.last_vocoder_logs = {"vocoder_loss": vocoder_loss.detach()} | vocoder_logs
        # on the steps between the vocoder's (vocoder_every > 1), its last losses, so that every
        # row of metrics.csv and the progress bar show them
        return logs | self.last_vocoder_logs

    @torch.no_grad()
    def validate(self, audio, labels):
        """Held-out flow loss (noise and times drawn with a fixed seed, so it repeats) and the
        vocoder's copy synthesis of whole clips: log-mel L1 and multi-resolution STFT distance."""
        from sonogen.audio.features import multi_resolution_stft_distance

        labels = labels if self.num_labels else None
        generator = seeded_generator(0, audio.device)
        log_mel = self.log_mel(audio)
        scores = {"loss": float(self.flow_loss(self.normalise(log_mel), labels, generator))}
        if self.config.vocoder == "learned":
            output = self.vocoder(log_mel)[:, : audio.shape[-1]].clamp(-1, 1)
            scores["vocoder_feature_l1"] = float((self.log_mel(output) - log_mel).abs().mean())
            scores["vocoder_stft"] = float(multi_resolution_stft_distance(output, audio))
        return scores

    # --- generation -------------------------------------------------------------------------
    def velocity(self, x: Tensor, t: float, labels: Tensor | None, guidance: float) -> Tensor:
        """Return the (guided) velocity at x [n, n_mels, frames], time t."""
        n = x.shape[0]
        times = torch.full((n,), t, device=x.device)
        null = self.null_labels(n, x.device)
        if labels is None or guidance == 0:
            return self.network(x, times, null)
        if guidance == 1 or not self.config.guidance_from <= t <= self.config.guidance_until:
            return self.network(x, times, labels)
        both = self.network(torch.cat([x, x]), torch.cat([times, times]), torch.cat([labels, null]))
        conditional, unconditional = both.chunk(2)
        return unconditional + guidance * (conditional - unconditional)

    def integrate(
        self, noise: Tensor, labels: Tensor | None, steps: int, sampler: str, guidance: float
    ) -> Tensor:
        """Return x at t = 1 from ``noise`` at t = 0 by ``steps`` steps of ``sampler``."""
        x = noise
        times = time_grid(steps, self.config.sway)  # plain floats: exported graphs fix them
        for t, t_next in zip(times[:-1], times[1:], strict=True):
            h = t_next - t
            d = self.velocity(x, t, labels, guidance)
            if sampler == "euler":
                x = x + h * d
            elif sampler == "midpoint":
                x = x + h * self.velocity(x + 0.5 * h * d, t + 0.5 * h, labels, guidance)
            else:  # heun
                d_next = self.velocity(x + h * d, t_next, labels, guidance)
                x = x + 0.5 * h * (d + d_next)
        return x

    def mel_to_audio(self, log_mel: Tensor) -> Tensor:
        """log-mel [n, n_mels, frames] -> audio [n, clip_samples] in [-1, 1]."""
        samples = self.data.clip_samples
        if self.config.vocoder == "learned":
            audio = self.vocoder(log_mel)
        else:
            audio = self.spec.griffin_lim(
                log_mel, self.padded_samples, self.config.griffin_lim_iters
            )
        return audio[:, :samples].clamp(-1, 1)

    def _options(self, options: dict[str, Any]) -> tuple[int, str, float]:
        unknown = set(options) - self.generation_options
        if unknown:
            raise SonogenError(
                f"{', '.join(sorted(unknown))}: not an option of {type(self).__name__}"
            )
        c = self.config
        steps = check_ode_steps(options.get("steps", c.steps))
        sampler = check_sampler(options.get("sampler", c.sampler))
        guidance = check_guidance(options.get("guidance", c.guidance))
        return steps, sampler, guidance

    @torch.no_grad()
    def decode_noise(
        self,
        noise: Tensor,
        labels: Tensor | None,
        steps: int,
        sampler: str,
        guidance: float,
        batch_size: int = 64,
    ) -> Tensor:
        """Return audio [n, clip_samples] for base noise [n, n_mels, frames] (and labels [n])."""
        was_training = self.training
        self.eval()
        try:
            chunks = []
            for start in range(0, noise.shape[0], batch_size):
                part = None if labels is None else labels[start : start + batch_size]
                chunk = noise[start : start + batch_size]
                chunks.append(
                    self.graph_generate(
                        chunk, part, steps=steps, sampler=sampler, guidance=guidance
                    )
                )
            return torch.cat(chunks)
        finally:
            self.train(was_training)

    # --- export -----------------------------------------------------------------------------
    def export_graphs(self, batch, block_samples=None, **options):
        """The whole sampler, unrolled: noise [batch, n_mels, frames] (and label [batch]) ->
        audio [batch, clip_samples], with ``steps``, ``sampler`` and ``guidance`` fixed."""
        steps, sampler, guidance = self._options(options)
        if self.config.vocoder != "learned":
            raise SonogenError(
                "model.vocoder griffin-lim: Griffin-Lim's iterations are not exported; export a "
                "flow run trained with the learned vocoder (the default)"
            )
        family = self.exportable_copy()
        noise = torch.randn(batch, self.config.n_mels, self.frames)
        inputs, names = (noise,), ("noise",)
        if self.num_labels:
            inputs, names = (noise, torch.zeros(batch, dtype=torch.int64)), ("noise", "label")
        graph = GraphModule(
            family, "graph_generate", steps=steps, sampler=sampler, guidance=guidance
        )
        description = (
            f"noise [batch, {self.config.n_mels}, {self.frames}] float32 ~ N(0, 1)"
            + (f", label [batch] int64 in 0..{self.num_labels - 1}" if self.num_labels else "")
            + f" -> audio [batch, {self.data.clip_samples}] float32 in [-1, 1] ({steps} "
            f"{sampler} steps, guidance {guidance:g})"
        )
        return {"generator": ExportGraph(graph, inputs, names, "audio", description)}

    def graph_generate(
        self,
        noise: Tensor,
        labels: Tensor | None = None,
        *,
        steps: int,
        sampler: str,
        guidance: float,
    ) -> Tensor:
        """Audio [n, clip_samples] for base noise [n, n_mels, frames] (what is exported)."""
        x = self.integrate(noise, labels, steps, sampler, guidance)
        return self.mel_to_audio(self.denormalise(x))

    @torch.no_grad()
    def generate(self, n, *, seed=None, labels=None, temperature=1.0, **options):
        """Return n new clips, float32 [n, clip_samples] in [-1, 1] on the model's device.

        Base noise N(0, I) x ``temperature`` is carried to a log-mel by the ODE (``steps``,
        ``sampler`` and ``guidance`` default to the config's), then to audio by the vocoder.
        Unlabelled requests to a labelled model draw labels from the seed.
        """
        steps, sampler, guidance = self._options(options)
        if n < 1:
            raise SonogenError(f"-n {n}: ask for at least one clip")
        temperature = check_temperature(temperature)
        generator = seeded_generator(seed, self.device)
        labels = self.check_labels(labels, n)
        if labels is None and self.num_labels:
            labels = torch.randint(self.num_labels, (n,), generator=generator, device=self.device)
        shape = (n, self.config.n_mels, self.frames)
        noise = torch.randn(shape, generator=generator, device=self.device) * temperature
        return self.decode_noise(noise, labels, steps, sampler, guidance)

    @torch.no_grad()
    def interpolate_seeds(
        self, seed_a: int, seed_b: int, steps: int, *, label: int | None = None
    ) -> Tensor:
        """Return audio [steps, clip_samples] along the great circle between the base noises that
        ``generate`` draws for two seeds; the label is ``label`` or the one seed A draws, so the
        first clip is ``generate(1, seed=seed_a)``."""
        shape = (self.config.n_mels, self.frames)
        noises, labels = self.seed_path(seed_a, seed_b, steps, shape, label)
        c = self.config
        return self.decode_noise(noises, labels, c.steps, c.sampler, c.guidance)
