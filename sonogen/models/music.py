"""Token language models over MIDI event tokens: ``music-lstm`` and ``music-transformer``.

Both read a ``midi-tokens`` dataset dir (``sonogen prepare-midi``; see ``sonogen/music/tokens.py``)
as windows of ``seq_len + 1`` tokens and learn the next token with cross-entropy (PAD targets are
ignored). ``validate`` reports ``nll`` in nats per token and ``perplexity`` (exp of it).

- ``music-lstm``: token embedding, dropout, a stacked LSTM, dropout, a linear layer to the
  vocabulary; with ``tie_weights`` the output layer shares the embedding's matrix (Press & Wolf
  2017), through a linear projection from ``hidden`` to ``embedding_dim`` where they differ.
- ``music-transformer``: a decoder-only, pre-norm transformer with rotary positions, tied
  input/output embeddings, and a key/value cache for generation (its layers are
  ``sonogen.models.layers``, shared with the audio ``transformer``). Attention is a sliding window:
  token t attends to tokens t - context_tokens + 1 .. t. Rotary positions are absolute and
  attention only sees their differences, so cached keys stay valid as the window slides past the
  context, and cached generation equals recomputing the whole sequence with that banded mask.

Generation is :meth:`generate_tokens` (token ids in, token ids out; `sonogen compose` turns them
into MIDI). The audio interface's ``generate()`` refuses, with the command to use instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sonogen.config import LEARNING_RATES, DataConfig, setting
from sonogen.errors import SonogenError
from sonogen.models.base import Family, check_temperature, seeded_generator
from sonogen.models.layers import Block, KVCache, extend, rotary_angles

PREVIEW_BARS = 4
PREVIEW_TOKENS = 512  # at most this many tokens per preview (a model that never closes a bar)

# --------------------------------------------------------------------------------------------
# configs


MAX_VOCABULARY = 1_000_000  # token ids a dataset's tokenizer may have


@dataclass(frozen=True)
class MusicLSTMConfig:
    embedding_dim: int = setting(256, 1, 8192)
    hidden: int = setting(512, 1, 8192)
    layers: int = setting(2, 1, 16)
    # on the embedding, between LSTM layers and on the LSTM's output
    dropout: float = setting(0.2, 0, 1, below=True)
    tie_weights: bool = True  # the output layer shares the embedding matrix
    # training window in tokens (None: the dataset's clip_samples)
    seq_len: int | None = setting(None, 2, 2**20)
    learning_rate: float = setting(2e-3, *LEARNING_RATES)
    grad_clip: float = setting(1.0, 0, 10**6)  # max gradient norm; 0 turns clipping off


@dataclass(frozen=True)
class MusicTransformerConfig:
    layers: int = setting(4, 1, 64)
    heads: int = setting(4, 1, 256)
    width: int = setting(256, 2, 8192)
    dropout: float = setting(0.1, 0, 1, below=True)
    # attention window (sliding past it when generating)
    context_tokens: int = setting(512, 1, 2**20)
    # training window in tokens (None: the dataset's clip_samples)
    seq_len: int | None = setting(None, 2, 2**20)
    tie_weights: bool = True
    learning_rate: float = setting(5e-4, *LEARNING_RATES)
    warmup_steps: int = setting(200, 0, 10**9)  # linear learning-rate warm-up
    weight_decay: float = setting(0.01, 0, 10)  # AdamW, on weight matrices only
    grad_clip: float = setting(1.0, 0, 10**6)


# --------------------------------------------------------------------------------------------
# what both families share: data, losses, sampling


class _TokenModel(Family):
    """Next-token models over a midi-tokens dataset; subclasses provide ``logits``, ``start``
    and ``step``."""

    name = "music"
    float16 = False  # gradients are clipped between backward and step: they must be unscaled
    tokens = True

    def __init__(self, config: Any, data: DataConfig):
        super().__init__(config, data)
        extra = data.extra or {}
        if data.kind != "midi-tokens" or not extra.get("vocab_size"):
            raise SonogenError(
                f"--model {self.name}: learns from MIDI tokens, and {data.path or 'this data'} is "
                f"a {data.kind} dataset; make one with `sonogen prepare-midi MIDI_FOLDER OUT`"
            )
        from sonogen.data.dataset import check_token_ids

        ids = check_token_ids(extra, "data.extra")
        self.vocab_size = ids["vocab_size"]
        self.pad_id, self.bos_id, self.eos_id = ids["pad_id"], ids["bos_id"], ids["eos_id"]
        self.bar_id = ids["bar_id"]
        self.seq_len = int(config.seq_len or data.clip_samples)
        if self.seq_len < 2:
            raise SonogenError(f"model.seq_len {self.seq_len}: must be at least 2 tokens")

    # --- data and training ----------------------------------------------------------------
    def training_data(self, info: Any, split: str) -> Any:
        from sonogen.music.tokens import TokenWindows, check_token_dataset

        check_token_dataset(info)
        size = info.extra.get("vocab_size")
        if size is not None and int(size) != self.vocab_size:
            raise SonogenError(
                f"{info.path}: {size} tokens in its vocabulary, the model has {self.vocab_size}; "
                "train a new run on this dataset"
            )
        _check_token_values(info, self.vocab_size)
        return TokenWindows(info, split, self.seq_len)

    def logits(self, tokens: Tensor) -> Tensor:
        """tokens [B, T] int64 -> next-token logits [B, T, vocab_size] (teacher forcing)."""
        raise NotImplementedError

    def token_loss(self, windows: Tensor, reduction: str = "mean") -> tuple[Tensor, Tensor]:
        """Return (cross-entropy in nats, number of scored tokens) for windows [B, T + 1]."""
        windows = windows.to(self.device, torch.int64)
        inputs, targets = windows[:, :-1], windows[:, 1:]
        logits = self.logits(inputs)
        loss = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(),
            targets.reshape(-1),
            ignore_index=self.pad_id,
            reduction=reduction,
        )
        return loss, (targets != self.pad_id).sum()

    def train_step(self, audio, labels, step, optimizers, backward):
        """One update on a batch of token windows (``audio``: int64 [batch, seq_len + 1]);
        logs ``nll``, nats per token."""
        (optimizer,) = optimizers
        loss, _ = self.token_loss(audio)
        optimizer.zero_grad()
        backward(loss)
        if self.config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.parameters(), self.config.grad_clip)
        optimizer.step()
        return {"nll": loss.detach()}

    @torch.no_grad()
    def validate(self, audio, labels):
        """Held-out nats per token (PAD not counted) and perplexity, for windows [B, T + 1]."""
        was_training = self.training
        self.eval()
        try:
            total, count = self.token_loss(audio, reduction="sum")
        finally:
            self.train(was_training)
        nll = float(total) / max(1, int(count))
        return {"nll": nll, "perplexity": math.exp(min(nll, 50.0))}

    def summarise_validation(self, means):
        # the perplexity of the pass is exp(mean nll), not the mean of the batches' exps
        return means | {"perplexity": math.exp(min(means["nll"], 50.0))}

    def augment(self, batch):
        return batch  # token windows: the audio augmentation does not apply

    # --- generation -----------------------------------------------------------------------
    def start(self, prompt: Tensor) -> tuple[Tensor, Any]:
        """Read prompts [n, P]; return (logits [n, vocab] for the next token, state)."""
        raise NotImplementedError

    def step(self, token: Tensor, state: Any) -> tuple[Tensor, Any]:
        """Read one token [n] after ``state``; return (logits [n, vocab], new state)."""
        raise NotImplementedError

    def generate(self, n, *, seed=None, labels=None, temperature=1.0, **options):
        raise SonogenError(
            f"{self.name} makes MIDI, not audio: use `sonogen compose RUN --out DIR` "
            "(add --render for WAV files)"
        )

    def generate_tokens(
        self,
        n: int = 1,
        *,
        seed: int | None = None,
        prompt_tokens: Sequence[Sequence[int]] | None = None,
        max_tokens: int = 1024,
        temperature: float = 1.0,
        top_p: float = 1.0,
        stop_when: Callable[[list[int]], bool] | int | None = None,
        suppress_tokens: Sequence[int] = (),
        use_cache: bool = True,
    ) -> list[list[int]]:
        """Return n continuations: lists of new token ids (the prompt is not repeated).

        ``prompt_tokens``: one list of ids for all n, or n lists (default: [BOS]). Sampling draws
        from softmax(logits / temperature) restricted to the smallest set of tokens whose
        probability reaches ``top_p`` (nucleus sampling; 1.0 keeps all); temperature 0 takes
        the most likely token. A sequence ends after ``max_tokens`` new tokens, after EOS, or
        after the token for which ``stop_when`` says so: a callable gets the continuation so far;
        an int B means "B bars are complete", i.e. the continuation holds B + 1 Bar tokens (the
        last one, which opens bar B + 1, is kept: cut it off). ``suppress_tokens`` are never
        drawn. The same seed gives the same tokens on the same machine. ``use_cache=False``
        recomputes the whole sequence at every step (slow; for checking the cache).
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise SonogenError(f"-n {n}: ask for at least one piece")
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise SonogenError(f"max_tokens {max_tokens}: must be a whole number, at least 1")
        temperature = check_temperature(temperature)
        top_p = _finite("--top-p", top_p, low=0.0)
        if not 0 < top_p <= 1:
            raise SonogenError(f"--top-p {top_p}: must be above 0 and at most 1")
        prompts = self._check_prompts(prompt_tokens, n)
        stop = self._stop_rule(stop_when)
        suppress = torch.zeros(self.vocab_size, dtype=torch.bool)
        for token in suppress_tokens:
            if not 0 <= int(token) < self.vocab_size:
                raise SonogenError(f"suppress_tokens: {token} is not a token id")
            suppress[int(token)] = True
        generator = seeded_generator(seed, torch.device("cpu"))
        groups: dict[int, list[int]] = {}
        for i, prompt in enumerate(prompts):
            groups.setdefault(len(prompt), []).append(i)
        results: list[list[int]] = [[] for _ in range(n)]
        was_training, threads = self.training, torch.get_num_threads()
        self.eval()
        if self.device.type == "cpu":
            torch.set_num_threads(1)  # one token at a time: threads only add fork-join waits
        try:
            with torch.inference_mode():
                for indices in groups.values():
                    batch = torch.tensor([prompts[i] for i in indices], device=self.device)
                    outputs = self._sample(
                        batch, generator, max_tokens, temperature, top_p, stop, suppress, use_cache
                    )
                    for i, output in zip(indices, outputs, strict=True):
                        results[i] = output
        finally:
            torch.set_num_threads(threads)
            self.train(was_training)
        return results

    def _check_prompts(self, prompt_tokens: Any, n: int) -> list[list[int]]:
        if prompt_tokens is None:
            return [[self.bos_id]] * n
        prompts = [[int(t) for t in prompt] for prompt in prompt_tokens]
        if len(prompts) == 1:
            prompts = prompts * n
        if len(prompts) != n:
            raise SonogenError(f"prompt_tokens: {len(prompts)} prompts for {n} pieces")
        for prompt in prompts:
            if not prompt:
                raise SonogenError("prompt_tokens: a prompt is empty; start it with BOS")
            if min(prompt) < 0 or max(prompt) >= self.vocab_size:
                raise SonogenError(
                    f"prompt_tokens: ids must be in 0..{self.vocab_size - 1} (this vocabulary)"
                )
        return prompts

    def _stop_rule(self, stop_when: Any) -> Callable[[list[int]], bool] | None:
        if stop_when is None or callable(stop_when):
            return stop_when
        if isinstance(stop_when, bool) or not isinstance(stop_when, int) or stop_when < 1:
            raise SonogenError(f"stop_when {stop_when!r}: give a number of bars (>= 1) or a test")
        if self.bar_id is None:
            raise SonogenError(
                "stop_when: this tokenizer has no Bar tokens; pass a callable that decides"
            )
        bars, bar_id = stop_when, self.bar_id
        return lambda tokens: tokens[-1] == bar_id and tokens.count(bar_id) > bars

    def _sample(self, prompt, generator, max_tokens, temperature, top_p, stop, suppress, cached):
        """Continue prompts [g, P] of one length; return g lists of new token ids."""
        count = prompt.shape[0]
        if cached:
            logits, state = self.start(prompt)
        else:
            sequence = prompt
            logits = self.logits(sequence)[:, -1]
        outputs: list[list[int]] = [[] for _ in range(count)]
        done = [False] * count
        for _ in range(max_tokens):
            token = _draw(logits.float().cpu(), generator, temperature, top_p, suppress)
            for i, value in enumerate(token.tolist()):
                if done[i]:
                    continue
                outputs[i].append(value)
                if value == self.eos_id or (stop is not None and stop(outputs[i])):
                    done[i] = True
            if all(done):
                break
            token = token.to(self.device)
            if cached:
                logits, state = self.step(token, state)
            else:
                sequence = torch.cat([sequence, token[:, None]], dim=1)
                logits = self.logits(sequence)[:, -1]
        return outputs

    def write_previews(self, folder: Path, prefix: str, count: int) -> None:
        """Write ``count`` short pieces (4 bars where the tokenizer has Bar tokens, else at most
        512 tokens; seed 0) as PREFIX_i.mid."""
        from sonogen.music.tokens import tokenizer_from_extra, tokens_to_score, trim_to_bars

        tokenizer = tokenizer_from_extra(self.data.extra)
        bars = PREVIEW_BARS if self.bar_id is not None else None
        pieces = self.generate_tokens(
            count,
            seed=0,
            max_tokens=PREVIEW_TOKENS,
            top_p=0.95,
            stop_when=bars,
            suppress_tokens=sorted({self.pad_id, self.bos_id}),
        )
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for i, tokens in enumerate(pieces):
            score = tokens_to_score(tokenizer, tokens)
            if bars is not None:
                score = trim_to_bars(score, bars)
            score.dump_midi(str(folder / f"{prefix}_{i}.mid"))


def _check_token_values(info: Any, vocab_size: int, chunk: int = 1 << 22) -> None:
    """Raise a SonogenError unless every id in tokens.npy is below ``vocab_size`` (the embedding
    would fail on the first window holding one); read in chunks of the memory map."""
    from sonogen.music.tokens import read_tokens

    tokens = read_tokens(info)
    for start in range(0, len(tokens), chunk):
        part = np.asarray(tokens[start : start + chunk])
        if part.size and (part.min() < 0 or part.max() >= vocab_size):
            raise SonogenError(
                f"{info.path / 'tokens.npy'}: holds token ids outside 0..{vocab_size - 1} (the "
                "vocabulary in dataset.json); make the dataset again with `sonogen prepare-midi`"
            )


def _finite(option: str, value: Any, low: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (number >= low and math.isfinite(number)):
        raise SonogenError(f"{option} {value!r}: must be a finite number, {low:g} or more")
    return number


def _draw(
    logits: Tensor, generator: torch.Generator, temperature: float, top_p: float, suppress: Tensor
) -> Tensor:
    """Return token ids [n] drawn from logits [n, vocab] (float32, CPU): temperature, then the
    nucleus of top_p, by inverse CDF with one uniform number per row from ``generator``."""
    logits = logits.masked_fill(suppress, -math.inf)
    uniform = torch.rand(logits.shape[0], 1, generator=generator)  # drawn always: seeds align
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        before = sorted_probs.cumsum(dim=-1) - sorted_probs  # mass of the more likely tokens
        sorted_probs = sorted_probs.masked_fill(before >= top_p, 0.0)  # the top one always stays
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_probs)
    cdf = probs.cumsum(dim=-1)
    # scaled by the total so that a rounded-down last entry still bounds the draw
    index = torch.searchsorted(cdf, uniform * cdf[:, -1:], right=True)[:, 0]
    return index.clamp_(max=logits.shape[-1] - 1)


# --------------------------------------------------------------------------------------------
# music-lstm


class MusicLSTM(_TokenModel):
    """A stacked LSTM over MIDI event tokens, rendered to audio through a SoundFont (see the
    module docstring)."""

    Config = MusicLSTMConfig
    name = "music-lstm"

    def __init__(self, config: MusicLSTMConfig, data: DataConfig):
        super().__init__(config, data)
        self.embedding = nn.Embedding(self.vocab_size, config.embedding_dim)
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        self.dropout = nn.Dropout(config.dropout)
        self.lstm = nn.LSTM(
            config.embedding_dim,
            config.hidden,
            num_layers=config.layers,
            dropout=config.dropout if config.layers > 1 else 0.0,
            batch_first=True,
        )
        width = config.hidden
        self.projection = None
        if config.tie_weights and config.hidden != config.embedding_dim:
            self.projection = nn.Linear(config.hidden, config.embedding_dim)
            width = config.embedding_dim
        self.output = nn.Linear(width, self.vocab_size)
        if config.tie_weights:
            self.output.weight = self.embedding.weight

    def forward(self, tokens: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """tokens [B, T] -> (logits [B, T, vocab], LSTM state (h, c))."""
        x = self.dropout(self.embedding(tokens))
        x, state = self.lstm(x, state)
        x = self.dropout(x)
        if self.projection is not None:
            x = self.projection(x)
        return self.output(x), state

    def logits(self, tokens):
        return self(tokens)[0]

    def configure_optimizers(self):
        return [torch.optim.Adam(self.parameters(), lr=self.config.learning_rate)]

    def start(self, prompt):
        logits, state = self(prompt)
        return logits[:, -1], state

    def step(self, token, state):
        logits, state = self(token[:, None], state)
        return logits[:, -1], state


# --------------------------------------------------------------------------------------------
# music-transformer


class MusicTransformer(_TokenModel):
    """A decoder-only transformer over MIDI event tokens, rendered to audio through a SoundFont
    (see the module docstring)."""

    Config = MusicTransformerConfig
    name = "music-transformer"

    def __init__(self, config: MusicTransformerConfig, data: DataConfig):
        super().__init__(config, data)
        if config.width % config.heads or (config.width // config.heads) % 2:
            raise SonogenError(
                f"model.width {config.width}: must be a multiple of 2 * model.heads "
                f"({2 * config.heads}), for rotary positions"
            )
        self.head_dim = config.width // config.heads
        self.context = config.context_tokens
        self.embedding = nn.Embedding(self.vocab_size, config.width)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            Block(config.width, config.heads, config.context_tokens, config.dropout)
            for _ in range(config.layers)
        )
        self.norm = nn.LayerNorm(config.width)
        self.output = nn.Linear(config.width, self.vocab_size, bias=False)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        if config.tie_weights:
            self.output.weight = self.embedding.weight

    def logits(self, tokens):
        """tokens [B, T] -> logits [B, T, vocab]; the whole sequence at once, with the
        sliding-window mask where T > context_tokens (no cache)."""
        x = self.dropout(self.embedding(tokens))
        rotary = rotary_angles(0, tokens.shape[1], self.head_dim, x)
        for block in self.blocks:
            x, _ = block(x, rotary, None)
        return self.output(self.norm(x))

    def extend(self, tokens: Tensor, cache: KVCache) -> Tensor:
        """Read tokens [B, K] after ``cache`` (updated in place), in pieces of at most
        context_tokens; return logits [B, K, vocab]."""
        x = self.dropout(self.embedding(tokens))
        return self.output(self.norm(extend(self.blocks, x, cache, self.context, self.head_dim)))

    def configure_optimizers(self):
        matrices = [p for p in self.parameters() if p.dim() >= 2]
        others = [p for p in self.parameters() if p.dim() < 2]
        groups = [
            {"params": matrices, "weight_decay": self.config.weight_decay},
            {"params": others, "weight_decay": 0.0},
        ]
        return [torch.optim.AdamW(groups, lr=self.config.learning_rate, betas=(0.9, 0.95))]

    def train_step(self, audio, labels, step, optimizers, backward):
        warmup = min(1.0, (step + 1) / max(1, self.config.warmup_steps))
        for group in optimizers[0].param_groups:
            group["lr"] = self.config.learning_rate * warmup
        return super().train_step(audio, labels, step, optimizers, backward)

    def start(self, prompt):
        cache = KVCache(len(self.blocks))
        return self.extend(prompt, cache)[:, -1], cache

    def step(self, token, state):
        return self.extend(token[:, None], state)[:, -1], state
