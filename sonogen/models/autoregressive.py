"""The autoregressive family: SampleRNN, a transformer version of it, and an LSTM baseline.

- ``samplernn`` (Mehri et al., "SampleRNN", ICLR 2017), the two-tier version: a *frame tier* (LSTM
  or GRU) steps once per frame of ``frame_size`` samples, reading the previous frame's 8-bit
  mu-law codes scaled to [-1, 1], and emits one vector per frame; a learned linear map per
  position in the frame turns it into ``frame_size`` conditioning vectors. A *sample tier* (an MLP)
  predicts each sample's code with a 256-way softmax from the embedded last ``frame_size`` codes
  plus the conditioning vector for its position.
- ``transformer``: the same two tiers with a causal pre-norm transformer (rotary positions) as the
  frame tier, generating with a key/value cache.
- ``lstm-baseline``: what tutorials show, the row to beat: one LSTM over raw samples min-max
  scaled from [-1, 1] to [0, 1], a linear layer, mean squared error on the next sample.

Shared by the two-tier models:

- The sample tier's first layer folds the code embedding and the per-position weights of
  SampleRNN's first MLP layer into one table [frame_size * 256, sample_hidden], rebuilt from them
  on every forward pass (so the embedding is still shared by the positions). The layer is then a
  gather-and-sum, O(frame_size * sample_hidden) per sample instead of O(frame_size *
  embedding_dim * sample_hidden), which is what makes per-sample generation cheap.
- A sequence starts after one frame of silence (mu-law code 128); generation from nothing starts
  there too, with a zero RNN state or an empty cache.
- Training: teacher forcing with cross-entropy on a random window of each training clip (a random
  offset per clip; the frame before the window, or silence at the clip's start, is its context).
  SampleRNN splits the window into chunks of ``tbptt_frames`` frames (truncated back-propagation
  through time): the RNN state is carried from chunk to chunk, detached, and every chunk takes
  one optimizer step, as SampleRNN did, so one trainer step is ``window_frames / tbptt_frames``
  updates. The transformer trains on windows of ``context_frames`` frames, one update per step.
- Sampling: inverse-CDF draws from softmax(logits / temperature) with uniform numbers from a
  generator seeded by ``seed``, drawn one frame at a time ([frame_size, n, 1]), so a seed repeats
  its audio; temperature 0 is the argmax. (Gumbel-argmax needs 256 noise values per sample, and
  their logarithms cost more than the rest of a batch-16 step on a CPU.)
- Losses are reported as ``nll_bits``, bits per sample (cross-entropy / ln 2); 8 is a uniform
  guess over the 256 codes.

Float16 loss scaling is refused (``float16 = False``): the families clip gradients between their
own backward and step calls, which needs unscaled gradients; bf16-mixed and 32-true are fine.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sonogen.audio.features import mu_law_decode, mu_law_encode
from sonogen.config import LEARNING_RATES, DataConfig, setting, shown
from sonogen.errors import SonogenError
from sonogen.models.base import Family, check_temperature, seeded_generator
from sonogen.models.layers import Block, KVCache, extend

QUANTIZATION = 256  # 8-bit mu-law
SILENCE_CODE = QUANTIZATION // 2  # mu_law_encode(0.0)

# --------------------------------------------------------------------------------------------
# configs


@dataclass(frozen=True)
class SampleRNNConfig:
    frame_size: int = setting(16, 1, 256)  # samples per frame-tier step
    rnn: str = setting("gru", choices=("gru", "lstm"))
    layers: int = setting(1, 1, 16)  # RNN layers
    # RNN width (the paper's is 1024; this is a CPU default)
    hidden: int = setting(256, 1, 8192)
    sample_hidden: int = setting(128, 1, 8192)  # width of the sample-tier MLP
    embedding_dim: int = setting(64, 1, 4096)  # size of the mu-law code embedding
    # training window per clip (2048 samples), at most the clip
    window_frames: int = setting(128, 1, 2**20)
    # frames per truncated-BPTT chunk; one optimizer step per chunk
    tbptt_frames: int = setting(32, 1, 2**20)
    learning_rate: float = setting(1e-3, *LEARNING_RATES)
    grad_clip: float = setting(1.0, 0, 10**6)  # max gradient norm; 0 turns clipping off


@dataclass(frozen=True)
class TransformerARConfig:
    frame_size: int = setting(16, 1, 256)
    layers: int = setting(4, 1, 64)
    heads: int = setting(4, 1, 256)
    width: int = setting(128, 2, 8192)
    dropout: float = setting(0.0, 0, 1, below=True)
    # attention window in frames; also the training window
    context_frames: int = setting(128, 1, 65536)
    sample_hidden: int = setting(128, 1, 8192)
    embedding_dim: int = setting(64, 1, 4096)
    learning_rate: float = setting(5e-4, *LEARNING_RATES)
    warmup_steps: int = setting(200, 0, 10**9)  # linear learning-rate warm-up
    grad_clip: float = setting(1.0, 0, 10**6)


@dataclass(frozen=True)
class LSTMBaselineConfig:
    hidden: int = setting(128, 1, 8192)
    # training window per clip, at most the clip
    window_samples: int = setting(1024, 1, 2**20)
    learning_rate: float = setting(1e-3, *LEARNING_RATES)
    grad_clip: float = setting(1.0, 0, 10**6)
    # "window": as the tutorials generate, each new sample is predicted by a fresh pass over the
    # last window_samples samples (the model only ever saw windows that start from a zero
    # state); "stateful": carry the LSTM state, one cell step per sample (far faster, but runs
    # the LSTM on sequences longer than any it was trained on)
    generation: str = setting("window", choices=("window", "stateful"))


# --------------------------------------------------------------------------------------------
# sample tier (shared by SampleRNN and the transformer)


class SampleTier(nn.Module):
    """Per-sample MLP: (last frame_size codes, conditioning vector) -> logits over 256 codes."""

    def __init__(self, frame_size: int, embedding_dim: int, hidden: int):
        super().__init__()
        self.frame_size, self.hidden = frame_size, hidden
        self.code_embedding = nn.Embedding(QUANTIZATION, embedding_dim)
        scale = 1 / math.sqrt(frame_size * embedding_dim)
        self.input_weight = nn.Parameter(torch.randn(frame_size, embedding_dim, hidden) * scale)
        self.hidden_layer = nn.Linear(hidden, hidden)
        self.output = nn.Linear(hidden, QUANTIZATION)
        offsets = torch.arange(frame_size) * QUANTIZATION  # row of code c at position i: i*256+c
        self.register_buffer("offsets", offsets, persistent=False)

    def input_table(self) -> Tensor:
        """Return [frame_size * 256, hidden]: each (position, code)'s first-layer contribution."""
        table = torch.einsum("ce,peh->pch", self.code_embedding.weight, self.input_weight)
        return table.reshape(-1, self.hidden)

    def forward(self, context: Tensor, conditioning: Tensor, table: Tensor | None = None) -> Tensor:
        """context: [N, frame_size] codes (oldest first); conditioning: [N, hidden] -> [N, 256]."""
        table = self.input_table() if table is None else table
        x = F.embedding_bag(context + self.offsets, table, mode="sum") + conditioning
        x = F.relu(self.hidden_layer(F.relu(x)))
        return self.output(x)


# --------------------------------------------------------------------------------------------
# frame tiers


class RNNFrameTier(nn.Module):
    """frames [B, K, frame_size] in [-1, 1] (+ labels [B]) -> ([B, K, hidden], RNN state)."""

    def __init__(self, config: SampleRNNConfig, num_labels: int):
        super().__init__()
        self.input = nn.Linear(config.frame_size, config.hidden)
        self.label_embedding = nn.Embedding(num_labels, config.hidden) if num_labels else None
        rnn = nn.LSTM if config.rnn == "lstm" else nn.GRU
        self.rnn = rnn(config.hidden, config.hidden, num_layers=config.layers, batch_first=True)

    def forward(self, frames: Tensor, labels: Tensor | None, state: Any) -> tuple[Tensor, Any]:
        x = self.input(frames)
        if self.label_embedding is not None and labels is not None:
            x = x + self.label_embedding(labels)[:, None]
        return self.rnn(x, state)


class TransformerFrameTier(nn.Module):
    """frames [B, K, frame_size] in [-1, 1] (+ labels) -> ([B, K, width], KVCache): the shared
    transformer blocks (``sonogen.models.layers``) over frames, after the cache, in pieces of at
    most context_frames (bounded memory for long prompts and validation clips)."""

    def __init__(self, config: TransformerARConfig, num_labels: int):
        super().__init__()
        self.context = config.context_frames
        self.head_dim = config.width // config.heads
        self.input = nn.Linear(config.frame_size, config.width)
        self.label_embedding = nn.Embedding(num_labels, config.width) if num_labels else None
        self.blocks = nn.ModuleList(
            Block(config.width, config.heads, config.context_frames, config.dropout)
            for _ in range(config.layers)
        )
        self.norm = nn.LayerNorm(config.width)

    def forward(
        self, frames: Tensor, labels: Tensor | None, cache: KVCache | None
    ) -> tuple[Tensor, KVCache]:
        cache = KVCache(len(self.blocks)) if cache is None else cache
        x = self.input(frames)
        if self.label_embedding is not None and labels is not None:
            x = x + self.label_embedding(labels)[:, None]
        return self.norm(extend(self.blocks, x, cache, self.context, self.head_dim)), cache


# --------------------------------------------------------------------------------------------
# what every autoregressive family shares: argument checks for generate / continue_audio


class _Autoregressive(Family):
    """generate() and continue_audio() front end; subclasses implement ``_continue``."""

    float16 = False  # gradients are clipped between backward and step: they must be unscaled
    any_length = True
    continues = True

    def _continue(
        self,
        n: int,
        prompt: Tensor | None,
        samples: int,
        labels: Tensor | None,
        generator: torch.Generator,
        temperature: float,
    ) -> Tensor:
        """Return n continuations [n, samples] in [-1, 1] of prompt [n, prompt_samples] (or of
        silence when None)."""
        raise NotImplementedError

    def generate(
        self,
        n: int,
        *,
        seed: int | None = None,
        labels: Tensor | None = None,
        temperature: float = 1.0,
        samples: int | None = None,
        prompt: Tensor | None = None,
        **options: Any,
    ) -> Tensor:
        """Return n new clips, float32 [n, samples] in [-1, 1] on the model's device.

        ``samples``: how many new samples (default: the dataset's clip_samples); any length.
        ``prompt``: [n or 1, prompt_samples] audio in [-1, 1] to continue; only the continuation
        is returned. temperature 0 picks the most likely sample at every step (deterministic).
        """
        if options:
            raise SonogenError(f"{', '.join(options)}: not an option of {type(self).__name__}")
        if n < 1:
            raise SonogenError(f"-n {n}: ask for at least one clip")
        given = samples
        try:
            samples = operator.index(self.data.clip_samples if samples is None else samples)
        except TypeError:
            samples = 0
        if samples < 1:
            raise SonogenError(f"samples {shown(given)}: must be a whole number of at least 1")
        temperature = check_temperature(temperature)
        generator = seeded_generator(seed, self.device)
        labels = self.check_labels(labels, n)
        if labels is None and self.num_labels:
            labels = torch.randint(
                self.num_labels, (n,), generator=generator, device=generator.device
            )
        if prompt is not None:
            prompt = self._check_prompt(prompt, n)
        was_training, threads = self.training, torch.get_num_threads()
        self.eval()
        if self.device.type == "cpu":
            # each step's tensors are tiny ([n, 128]): with several threads the fork and join
            # costs more than the arithmetic, and on a busy machine many times more
            torch.set_num_threads(1)
        try:
            with torch.inference_mode():
                audio = self._continue(n, prompt, samples, labels, generator, temperature)
        finally:
            torch.set_num_threads(threads)
            self.train(was_training)
        # a clone made outside inference mode is an ordinary tensor again
        return audio.float().clamp(-1, 1).clone()

    def continue_audio(
        self,
        prompt: Tensor,
        samples: int,
        *,
        seed: int | None = None,
        temperature: float = 1.0,
        labels: Tensor | None = None,
    ) -> Tensor:
        """Return the continuation [n, samples] of prompt [n, prompt_samples] (float in [-1, 1]
        at the model's sample rate); join them with torch.cat([prompt, continuation], 1)."""
        prompt = torch.as_tensor(prompt)
        n = 1 if prompt.dim() == 1 else prompt.shape[0]
        return self.generate(
            n, seed=seed, labels=labels, temperature=temperature, samples=samples, prompt=prompt
        )

    def _check_prompt(self, prompt: Tensor, n: int) -> Tensor:
        prompt = torch.as_tensor(prompt)
        if prompt.dim() == 1:
            prompt = prompt[None]
        if prompt.dim() != 2 or prompt.shape[0] not in (1, n):
            raise SonogenError(
                f"prompt: expected audio [{n} or 1, samples], got shape {tuple(prompt.shape)}"
            )
        if not prompt.is_floating_point():
            raise SonogenError(f"prompt: expected float audio in [-1, 1], got {prompt.dtype}")
        prompt = prompt.to(self.device, torch.float32)
        if not torch.isfinite(prompt).all():
            raise SonogenError("prompt: holds NaN or infinite values; pass finite audio")
        return prompt.expand(n, -1)


def _clip_and_step(module: nn.Module, optimizer: Any, grad_clip: float) -> None:
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(module.parameters(), grad_clip)
    optimizer.step()


# --------------------------------------------------------------------------------------------
# the two-tier models


class _TwoTier(_Autoregressive):
    """Frame tier + sample tier over 8-bit mu-law codes; subclasses build ``frame_tier`` and set
    ``frame_dim``, ``train_window_frames`` and ``chunk_frames``."""

    frame_tier: nn.Module

    def __init__(self, config: Any, data: DataConfig, frame_dim: int):
        super().__init__(config, data)
        if data.clip_samples < config.frame_size:
            raise SonogenError(
                f"model.frame_size {config.frame_size}: longer than the dataset's clips "
                f"({data.clip_samples} samples); lower it"
            )
        self.frame_size = config.frame_size
        self.sample_tier = SampleTier(config.frame_size, config.embedding_dim, config.sample_hidden)
        # SampleRNN's learned upsampling: one linear map per position in the frame, straight
        # into the sample tier's first-layer width
        self.upsample = nn.Linear(frame_dim, config.frame_size * config.sample_hidden)

    def new_state(self, n: int) -> Any:
        """Return the frame tier's state at the start of a sequence."""
        return None

    def detach_state(self, state: Any) -> Any:
        return state

    def frame_inputs(self, codes: Tensor) -> Tensor:
        """codes [B, K * frame_size] -> frames [B, K, frame_size] scaled to [-1, 1]."""
        frames = codes.reshape(codes.shape[0], -1, self.frame_size) / (SILENCE_CODE - 0.5) - 1
        return frames.to(self.upsample.weight.dtype)

    def conditioning(self, hidden: Tensor) -> Tensor:
        """Return vectors [B, K * frame_size, sample_hidden] from frame-tier output [B, K, _]."""
        return self.upsample(hidden).view(hidden.shape[0], -1, self.config.sample_hidden)

    def teacher_forced_logits(
        self, codes: Tensor, labels: Tensor | None, state: Any
    ) -> tuple[Tensor, Any]:
        """codes [B, frame_size + S] (one frame of context, then S = K * frame_size targets)
        -> (logits [B, S, 256] for the targets, frame-tier state after them)."""
        size = self.frame_size
        targets = codes.shape[1] - size
        hidden, state = self.frame_tier(self.frame_inputs(codes[:, :targets]), labels, state)
        conditioning = self.conditioning(hidden)
        context = codes.unfold(1, size, 1)[:, :targets]  # context of target t: codes t..t+size-1
        logits = self.sample_tier(
            context.reshape(-1, size), conditioning.reshape(-1, conditioning.shape[-1])
        )
        return logits.view(codes.shape[0], targets, QUANTIZATION), state

    def encode(self, audio: Tensor) -> Tensor:
        """audio [B, samples] -> codes [B, frame_size + samples], after one frame of silence."""
        codes = mu_law_encode(audio, QUANTIZATION)
        return F.pad(codes, (self.frame_size, 0), value=SILENCE_CODE)

    # --- training -------------------------------------------------------------------------
    def configure_optimizers(self):
        return [torch.optim.Adam(self.parameters(), lr=self.config.learning_rate)]

    def train_step(self, audio, labels, step, optimizers, backward):
        (optimizer,) = optimizers
        size = self.frame_size
        window = min(self.train_window_frames, audio.shape[1] // size) * size
        codes = self.encode(audio)
        offsets = torch.randint(0, audio.shape[1] - window + 1, (audio.shape[0], 1))
        index = offsets.to(codes.device) + torch.arange(size + window, device=codes.device)
        codes = codes.gather(1, index)
        chunk = self.chunk_frames * size
        state = self.new_state(audio.shape[0])
        losses = []
        for start in range(0, window, chunk):
            logits, state = self.teacher_forced_logits(
                codes[:, start : start + size + chunk], labels, state
            )
            targets = codes[:, start + size : start + size + chunk]
            loss = F.cross_entropy(logits.reshape(-1, QUANTIZATION), targets.reshape(-1))
            optimizer.zero_grad()
            backward(loss)
            _clip_and_step(self, optimizer, self.config.grad_clip)
            state = self.detach_state(state)
            losses.append(loss.detach())
        return {"nll_bits": torch.stack(losses).mean() / math.log(2)}

    @torch.no_grad()
    def validate(self, audio, labels):
        """Held-out bits per sample over whole clips (teacher forcing, chunk by chunk)."""
        was_training = self.training
        self.eval()
        size, total_samples = self.frame_size, audio.shape[1]
        padded_samples = -(-total_samples // size) * size
        codes = F.pad(self.encode(audio), (0, padded_samples - total_samples), value=SILENCE_CODE)
        chunk = self.chunk_frames * size
        state = self.new_state(audio.shape[0])
        total = torch.zeros((), device=audio.device)
        for start in range(0, padded_samples, chunk):
            logits, state = self.teacher_forced_logits(
                codes[:, start : start + size + chunk], labels, state
            )
            targets = codes[:, start + size : start + size + chunk]
            counted = min(chunk, total_samples - start)  # the padding at the end is not scored
            total += F.cross_entropy(
                logits[:, :counted].reshape(-1, QUANTIZATION),
                targets[:, :counted].reshape(-1),
                reduction="sum",
            )
        self.train(was_training)
        return {"nll_bits": float(total / (audio.shape[0] * total_samples) / math.log(2))}

    # --- generation -----------------------------------------------------------------------
    def _continue(self, n, prompt, samples, labels, generator, temperature):
        codes = self._generate_codes(n, prompt, samples, labels, generator, temperature)
        return mu_law_decode(codes, QUANTIZATION)

    def _start(self, n: int, prompt: Tensor | None, samples: int) -> tuple[Tensor, int]:
        """Return (history [n, ...] of codes: a frame of silence, silence padding the prompt to
        whole frames, the prompt, then room for the new samples; index of the first new one)."""
        size = self.frame_size
        prompt_codes = (
            mu_law_encode(prompt, QUANTIZATION)
            if prompt is not None
            else torch.empty(n, 0, dtype=torch.int64, device=self.device)
        )
        padding = -prompt_codes.shape[1] % size
        start = size + padding + prompt_codes.shape[1]
        room = -(-samples // size) * size
        history = torch.full((n, start + room), SILENCE_CODE, dtype=torch.int64, device=self.device)
        history[:, start - prompt_codes.shape[1] : start] = prompt_codes
        return history, start

    def _uniform(self, generator: torch.Generator, n: int, temperature: float) -> Tensor | None:
        """Return uniform numbers [frame_size, n, 1] for one frame's draws (None: argmax)."""
        if temperature == 0:
            return None
        return torch.rand(self.frame_size, n, 1, generator=generator, device=generator.device)

    @staticmethod
    def _pick(logits: Tensor, uniform: Tensor | None, temperature: float) -> Tensor:
        """Return codes [n] drawn from softmax(logits [n, 256] / temperature) by inverse CDF."""
        if uniform is None:
            return logits.argmax(dim=-1)
        if temperature != 1:
            logits = logits / temperature
        cdf = torch.softmax(logits, dim=-1).cumsum_(dim=-1)
        # scaled by the total so that a rounded-down last entry still bounds the draw
        return torch.searchsorted(cdf, uniform * cdf[:, -1:], right=True)[:, 0]

    def _generate_codes(
        self,
        n: int,
        prompt: Tensor | None,
        samples: int,
        labels: Tensor | None,
        generator: torch.Generator,
        temperature: float,
        record: list[Tensor] | None = None,
    ) -> Tensor:
        """Return codes [n, samples]: the frame tier steps once per frame (the prompt in one
        batched pass), the sample tier once per sample. ``record`` collects each step's logits."""
        size = self.frame_size
        history, start = self._start(n, prompt, samples)
        # frame k's input is frame k-1: the warm-up reads every frame before the first new one
        hidden, state = self.frame_tier(
            self.frame_inputs(history[:, :start]), labels, self.new_state(n)
        )
        hidden = hidden[:, -1:]
        table = self.sample_tier.input_table()
        offsets = self.sample_tier.offsets
        hidden_weight, hidden_bias = (
            self.sample_tier.hidden_layer.weight,
            self.sample_tier.hidden_layer.bias,
        )
        output_weight, output_bias = self.sample_tier.output.weight, self.sample_tier.output.bias
        for frame_start in range(start, history.shape[1], size):
            if frame_start > start:
                frame = self.frame_inputs(history[:, frame_start - size : frame_start])
                hidden, state = self.frame_tier(frame, labels, state)
            conditioning = self.conditioning(hidden)  # [n, frame_size, sample_hidden]
            uniform = self._uniform(generator, n, temperature)
            for j in range(min(size, start + samples - frame_start)):
                t = frame_start + j
                x = F.embedding_bag(history[:, t - size : t] + offsets, table, mode="sum")
                x = torch.relu_(x.add_(conditioning[:, j]))
                logits = F.linear(
                    F.relu(F.linear(x, hidden_weight, hidden_bias)), output_weight, output_bias
                )
                if record is not None:
                    record.append(logits)
                history[:, t] = self._pick(
                    logits, None if uniform is None else uniform[j], temperature
                )
        return history[:, start : start + samples]

    @torch.inference_mode()
    def _generate_reference(
        self,
        n: int,
        prompt: Tensor | None,
        samples: int,
        labels: Tensor | None,
        generator: torch.Generator,
        temperature: float,
    ) -> Tensor:
        """The slow twin of _generate_codes, for tests: every sample's logits come from a fresh
        teacher-forced pass over the whole sequence so far, with no state carried between steps.
        Draws the same random numbers in the same order, so a seed gives the same codes."""
        size = self.frame_size
        history, start = self._start(n, prompt, samples)
        for frame_start in range(start, history.shape[1], size):
            uniform = self._uniform(generator, n, temperature)
            for j in range(min(size, start + samples - frame_start)):
                t = frame_start + j
                logits, _ = self.teacher_forced_logits(
                    history[:, : frame_start + size], labels, self.new_state(n)
                )
                draw = None if uniform is None else uniform[j]
                history[:, t] = self._pick(logits[:, t - size], draw, temperature)
        return history[:, start : start + samples]


class SampleRNN(_TwoTier):
    """Two-tier SampleRNN: an LSTM or GRU over frames, an MLP over samples."""

    Config = SampleRNNConfig

    def __init__(self, config: SampleRNNConfig, data: DataConfig):
        super().__init__(config, data, frame_dim=config.hidden)
        self.frame_tier = RNNFrameTier(config, self.num_labels)
        self.train_window_frames = config.window_frames
        self.chunk_frames = config.tbptt_frames

    def detach_state(self, state):
        if isinstance(state, tuple):  # LSTM: (h, c)
            return tuple(s.detach() for s in state)
        return state.detach()


class TransformerAR(_TwoTier):
    """Two tiers with a causal transformer over frames; generation uses a key/value cache.

    Past context_frames frames the window slides: the cache keeps the last context_frames - 1
    frames' keys and values, so every new frame attends to exactly context_frames frames, as the
    last frame of a training window does. Validation and long prompts use the same sliding
    window (a banded mask), so their numbers describe what generation sees.
    """

    Config = TransformerARConfig

    def __init__(self, config: TransformerARConfig, data: DataConfig):
        super().__init__(config, data, frame_dim=config.width)
        if config.width % config.heads or (config.width // config.heads) % 2:
            raise SonogenError(
                f"model.width {config.width}, model.heads {config.heads}: the width must split "
                "into heads of an even size (rotary positions rotate pairs), e.g. 256 and 4"
            )
        self.frame_tier = TransformerFrameTier(config, self.num_labels)
        self.train_window_frames = config.context_frames
        self.chunk_frames = config.context_frames

    def new_state(self, n):
        return KVCache(self.config.layers)

    def configure_optimizers(self):
        return [
            torch.optim.AdamW(self.parameters(), lr=self.config.learning_rate, weight_decay=0.0)
        ]

    def train_step(self, audio, labels, step, optimizers, backward):
        (optimizer,) = optimizers
        warmup = min(1.0, (step + 1) / max(1, self.config.warmup_steps))
        for group in optimizer.param_groups:
            group["lr"] = self.config.learning_rate * warmup
        return super().train_step(audio, labels, step, optimizers, backward)


# --------------------------------------------------------------------------------------------
# the LSTM baseline


class LSTMBaseline(_Autoregressive):
    """One LSTM over min-max scaled samples, a linear layer, MSE on the next sample.

    Generation feeds each output back in, one sample at a time. Temperature adds Gaussian noise of
    deviation temperature * ``residual_std``, the RMS of the training residual (an average over
    recent steps, in scaled units; before training, the deviation of the training clips), so
    temperature 1 puts back noise of the size the model could not predict. Unconditional: labels
    are checked and then ignored.
    """

    Config = LSTMBaselineConfig

    def __init__(self, config: LSTMBaselineConfig, data: DataConfig):
        super().__init__(config, data)
        self.lstm = nn.LSTM(1, config.hidden, batch_first=True)
        self.output = nn.Linear(config.hidden, 1)
        self.register_buffer("residual_std", torch.tensor(0.5))

    @staticmethod
    def scale(audio: Tensor) -> Tensor:
        """[-1, 1] -> [0, 1]."""
        return (audio + 1) / 2

    def forward(self, inputs: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """inputs [B, T] scaled samples -> (next-sample predictions [B, T], LSTM state)."""
        out, state = self.lstm(inputs[..., None], state)
        return self.output(out)[..., 0], state

    def fit_statistics(self, audio):
        self.residual_std.fill_(float(self.scale(torch.from_numpy(audio)).std()))

    def configure_optimizers(self):
        return [torch.optim.Adam(self.parameters(), lr=self.config.learning_rate)]

    def train_step(self, audio, labels, step, optimizers, backward):
        (optimizer,) = optimizers
        window = min(self.config.window_samples, audio.shape[1])
        scaled = F.pad(self.scale(audio), (1, 0), value=0.5)  # one sample of silence first
        offsets = torch.randint(0, audio.shape[1] - window + 1, (audio.shape[0], 1))
        index = offsets.to(audio.device) + torch.arange(window + 1, device=audio.device)
        sequence = scaled.gather(1, index)
        predictions, _ = self(sequence[:, :-1])
        loss = F.mse_loss(predictions, sequence[:, 1:])
        optimizer.zero_grad()
        backward(loss)
        _clip_and_step(self, optimizer, self.config.grad_clip)
        with torch.no_grad():
            self.residual_std.lerp_(loss.detach().sqrt().to(self.residual_std.dtype), 0.05)
        return {"mse": loss.detach()}

    @torch.no_grad()
    def validate(self, audio, labels):
        """Held-out MSE (scaled units, as trained) and bits per sample: the probability of each
        sample's 8-bit mu-law bin under a Gaussian at the prediction with deviation
        residual_std, so that the number compares with the two-tier models'."""
        was_training = self.training
        self.eval()
        scaled = F.pad(self.scale(audio), (1, 0), value=0.5)
        predictions, _ = self(scaled[:, :-1])
        mse = F.mse_loss(predictions, scaled[:, 1:])
        # bin edges of each code in [-1, 1] amplitude, through the mu-law expansion
        mu = QUANTIZATION - 1
        compressed = torch.linspace(-1, 1, QUANTIZATION, dtype=torch.float64, device=audio.device)
        edges = torch.sign(compressed) / mu * ((1 + mu) ** compressed.abs() - 1)
        codes = mu_law_encode(audio, QUANTIZATION)
        upper = edges[codes]
        lower = torch.where(codes > 0, edges[(codes - 1).clamp(min=0)], -math.inf)
        upper = torch.where(codes < mu, upper, math.inf)
        mean = predictions.double() * 2 - 1
        deviation = 2 * self.residual_std.double().clamp(min=1e-4)
        normal = torch.distributions.Normal(mean, deviation)
        probability = (normal.cdf(upper) - normal.cdf(lower)).clamp(min=1e-12)
        self.train(was_training)
        return {"mse": float(mse), "nll_bits": float(-torch.log2(probability).mean())}

    def _continue(self, n, prompt, samples, labels, generator, temperature):
        noise = torch.randn(samples, n, generator=generator, device=generator.device)
        dtype = self.output.weight.dtype
        noise = (noise * (temperature * float(self.residual_std))).to(dtype)
        previous = torch.full((n, 1), 0.5, device=self.device, dtype=dtype)
        if prompt is not None:
            previous = torch.cat([previous, self.scale(prompt).to(dtype)], dim=1)
        if self.config.generation == "window":
            return self._continue_windowed(previous, noise, samples) * 2 - 1
        # the prompt warms the LSTM up in one pass; its last output predicts the first new sample
        prediction, state = self(previous)
        value = prediction[:, -1:]
        out = torch.empty(n, samples, device=self.device, dtype=dtype)
        for t in range(samples):
            value = (value + noise[t, :, None]).clamp(0, 1)
            out[:, t] = value[:, 0]
            if t + 1 < samples:
                value, state = self(value, state)
        return out * 2 - 1

    def _continue_windowed(self, previous: Tensor, noise: Tensor, samples: int) -> Tensor:
        """The tutorials' loop: predict each sample from a fresh pass over the last window."""
        window = self.config.window_samples
        history = previous[:, -window:]
        out = torch.empty(previous.shape[0], samples, device=self.device, dtype=history.dtype)
        for t in range(samples):
            prediction, _ = self(history)
            value = (prediction[:, -1:] + noise[t, :, None]).clamp(0, 1)
            out[:, t] = value[:, 0]
            history = torch.cat([history, value], dim=1)[:, -window:]
        return out
