"""Transformer layers shared by the audio ``transformer`` (over frames) and ``music-transformer``
(over tokens): rotary positions, a key/value cache, windowed causal self-attention, a pre-norm
block, and :func:`extend`, which runs a stack of blocks over new positions after a cache.

Attention is a sliding window: position t attends to positions t - context + 1 .. t. Rotary
positions are absolute and attention only sees their differences, so the cache stores keys after
rotation and they stay valid as the window slides; a cached pass equals one pass over the whole
sequence with the banded mask (up to float rounding).

The module and parameter names (``attention_norm``, ``attention.qkv``, ``attention.proj``,
``mlp_norm``, ``mlp.0``, ``mlp.2``) are those both families had before these layers were shared:
run dirs store weights by name, so renaming one breaks every saved run.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Rotary = tuple[Tensor, Tensor]  # (cos, sin) [positions, head_dim // 2]
KeysValues = tuple[Tensor, Tensor]  # keys, values [B, heads, positions, head_dim]


class KVCache:
    """Each layer's keys (after rotary) and values for the last ``context - 1`` positions (None
    before the first call, or when context is 1), and the absolute position of the next one."""

    def __init__(self, layers: int):
        self.layers: list[KeysValues | None] = [None] * layers
        self.position = 0


def rotary_angles(start: int, count: int, head_dim: int, like: Tensor) -> Rotary:
    """Return (cos, sin) [count, head_dim // 2] for positions start..start+count-1.

    Angles are computed in float64 on the CPU, so that position 60000 is as exact as position 0,
    then cast to ``like``'s dtype and device.
    """
    inverse = 10000.0 ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.arange(start, start + count, dtype=torch.float64)[:, None] * inverse[None]
    return angles.cos().to(like), angles.sin().to(like)


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Return x [..., K, head_dim] with its two halves rotated by the angles of cos, sin
    [K, head_dim // 2] (pair i is (x[..., i], x[..., i + head_dim // 2]))."""
    first, second = x.chunk(2, dim=-1)
    return torch.cat([first * cos - second * sin, first * sin + second * cos], dim=-1)


def window_mask(queries: int, keys: int, context: int, device: torch.device) -> Tensor | None:
    """Return the bool mask [queries, keys] of a sliding window, where the queries are the last
    ``queries`` of ``keys`` positions and each sees itself and the ``context - 1`` before it; or
    None where no mask is needed: a fresh sequence within the window (plain causal attention) or
    one query with at most ``context`` keys (it sees them all)."""
    past = keys - queries
    if keys <= context and (past == 0 or queries == 1):
        return None
    query = torch.arange(past, keys, device=device)[:, None]
    key = torch.arange(keys, device=device)[None]
    return (key <= query) & (key > query - context)


class SelfAttention(nn.Module):
    """Multi-head causal self-attention over a window of ``context`` positions, rotary
    positions, and a key/value cache."""

    def __init__(self, width: int, heads: int, context: int, dropout: float = 0.0):
        super().__init__()
        self.heads, self.head_dim = heads, width // heads
        self.context, self.dropout = context, dropout
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(
        self, x: Tensor, rotary: Rotary, past: KeysValues | None
    ) -> tuple[Tensor, KeysValues | None]:
        """x [B, K, width] for K new positions after the ``past`` keys/values (or None), rotary
        for those K positions -> (output [B, K, width], the keys/values to keep: the last
        context - 1, or all of them while fewer; None when context is 1)."""
        batch, count, width = x.shape
        q, k, v = (
            self.qkv(x).view(batch, count, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        )
        q, k = apply_rotary(q, *rotary), apply_rotary(k, *rotary)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        mask = window_mask(count, k.shape[2], self.context, x.device)
        y = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            # without a mask, more than one query means a fresh sequence: plain causal
            is_causal=mask is None and count > 1,
            dropout_p=self.dropout if self.training else 0.0,
        )
        first = max(0, k.shape[2] - (self.context - 1))  # a negative start would keep too few
        kept = (k[:, :, first:], v[:, :, first:]) if self.context > 1 else None
        return self.proj(y.transpose(1, 2).reshape(batch, count, width)), kept


class Block(nn.Module):
    """Pre-norm transformer block: x + attention(norm(x)), then x + MLP(norm(x)), with dropout
    on both branches."""

    def __init__(self, width: int, heads: int, context: int, dropout: float = 0.0):
        super().__init__()
        self.attention_norm = nn.LayerNorm(width)
        self.attention = SelfAttention(width, heads, context, dropout)
        self.mlp_norm = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width),
            nn.GELU(),
            nn.Linear(4 * width, width),
        )
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, x: Tensor, rotary: Rotary, past: KeysValues | None
    ) -> tuple[Tensor, KeysValues | None]:
        """x [B, K, width] -> (output [B, K, width], keys/values to keep), as SelfAttention."""
        attended, kept = self.attention(self.attention_norm(x), rotary, past)
        x = x + self.dropout(attended)
        return x + self.dropout(self.mlp(self.mlp_norm(x))), kept


def extend(blocks: nn.ModuleList, x: Tensor, cache: KVCache, context: int, head_dim: int) -> Tensor:
    """Return the blocks' output [B, K, width] (before any final norm) for x [B, K, width], K new
    positions after ``cache``, which is updated in place.

    Positions go through in pieces of at most ``context``, each attending to the cache and
    itself, so that memory stays bounded for long prompts and validation sequences.
    """
    outputs = []
    for first in range(0, x.shape[1], context):
        piece = x[:, first : first + context]
        rotary = rotary_angles(cache.position, piece.shape[1], head_dim, x)
        for i, block in enumerate(blocks):
            piece, cache.layers[i] = block(piece, rotary, cache.layers[i])
        cache.position += piece.shape[1]
        outputs.append(piece)
    return torch.cat(outputs, dim=1)
