"""The transformer layers shared by ``transformer`` and ``music-transformer``: saved runs' weight
names still load, cached attention equals recomputation (with and without a window), rotary
positions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from sonogen.config import DataConfig
from sonogen.models.autoregressive import TransformerAR, TransformerARConfig
from sonogen.models.layers import (
    Block,
    KVCache,
    SelfAttention,
    apply_rotary,
    extend,
    rotary_angles,
    window_mask,
)
from sonogen.models.music import MusicTransformer, MusicTransformerConfig

# written from the models as they were before the layers were shared; run dirs store weights by
# these names, so a difference means old runs no longer load
STATE_KEYS = Path(__file__).parent / "data" / "transformer_state_keys.json"
WIDTH, HEADS = 16, 2
HEAD_DIM = WIDTH // HEADS

pytestmark = pytest.mark.usefixtures("one_thread")


def build(name: str) -> torch.nn.Module:
    """The configs that wrote STATE_KEYS."""
    if name == "transformer":
        config = TransformerARConfig(
            frame_size=4, layers=2, heads=2, width=16, context_frames=3, sample_hidden=16,
            embedding_dim=8,
        )  # fmt: skip
        data = DataConfig(sample_rate=8000, clip_samples=64, labels=["low", "high"])
        return TransformerAR(config, data)
    config = MusicTransformerConfig(layers=2, heads=2, width=16, context_tokens=6)
    extra = {"vocab_size": 40, "pad_id": 0, "bos_id": 1, "eos_id": 2, "bar_id": 3}
    return MusicTransformer(config, DataConfig(clip_samples=32, kind="midi-tokens", extra=extra))


@pytest.mark.parametrize("name", ["transformer", "music-transformer"])
def test_weight_names_and_shapes_are_those_of_saved_runs(name):
    expected = json.loads(STATE_KEYS.read_text())[name]
    model = build(name)
    assert {key: list(value.shape) for key, value in model.state_dict().items()} == expected
    # and such a state dict loads strictly into a fresh model
    state = {key: torch.randn(shape) for key, shape in expected.items()}
    build(name).load_state_dict(state, strict=True)


def step_by_step(attention: SelfAttention, x: torch.Tensor, pieces: list[int]) -> torch.Tensor:
    """Run x [B, T, width] through ``attention`` in pieces of these lengths, carrying the
    keys/values as generation does; return the outputs [B, T, width]."""
    outputs, past, position = [], None, 0
    for count in pieces:
        rotary = rotary_angles(position, count, HEAD_DIM, x)
        y, past = attention(x[:, position : position + count], rotary, past)
        outputs.append(y)
        position += count
    assert position == x.shape[1]
    return torch.cat(outputs, dim=1)


@pytest.mark.parametrize("context", [1, 4, 64], ids=["window-1", "window-4", "no-window"])
def test_cached_attention_equals_recomputation(context):
    """Each new position attends to itself and the context - 1 before it, whether the keys come
    from the cache or from one pass with the banded mask (64: a causal pass, no window)."""
    torch.manual_seed(0)
    attention = SelfAttention(WIDTH, HEADS, context).eval()
    x = torch.randn(2, 13, WIDTH)
    with torch.no_grad():
        whole, _ = attention(x, rotary_angles(0, 13, HEAD_DIM, x), None)
        # a prompt, single steps while the window fills and after, a piece after a cache
        cached = step_by_step(attention, x, [3, 1, 1, 1, 3, 1, 1, 1, 1])
    assert (cached - whole).abs().max() < 1e-5
    rotary = rotary_angles(0, 13, HEAD_DIM, x)
    for t in range(13):  # output t reads inputs first .. t, all of them and only them
        first = max(0, t - context + 1)
        outside, inside = x.clone(), x.clone()
        outside[:, :first], outside[:, t + 1 :] = 0, 0
        inside[:, first] = 0
        with torch.no_grad():
            assert (attention(outside, rotary, None)[0][:, t] - whole[:, t]).abs().max() < 1e-5
            assert (attention(inside, rotary, None)[0][:, t] - whole[:, t]).abs().max() > 1e-3


@pytest.mark.parametrize(("context", "kept"), [(1, None), (8, 5), (6, 5), (4, 3)])
def test_attention_keeps_the_last_context_minus_one_keys(context, kept):
    attention = SelfAttention(WIDTH, HEADS, context)
    x = torch.randn(1, 5, WIDTH)
    _, past = attention(x, rotary_angles(0, 5, HEAD_DIM, x), None)
    if kept is None:
        assert past is None
    else:  # all of them while fewer than context - 1 (a negative slice start once kept 2 of 5)
        assert past[0].shape[2] == past[1].shape[2] == kept


def test_blocks_extended_piece_by_piece_equal_one_banded_pass():
    """``extend`` (pieces of at most context after a cache) equals the whole sequence through the
    blocks at once, as the music transformer's teacher-forced logits run them."""
    torch.manual_seed(0)
    context = 5
    blocks = torch.nn.ModuleList(Block(WIDTH, HEADS, context) for _ in range(2)).eval()
    x = torch.randn(2, 17, WIDTH)
    with torch.no_grad():
        whole, rotary = x, rotary_angles(0, 17, HEAD_DIM, x)
        for block in blocks:
            whole, _ = block(whole, rotary, None)
        cache = KVCache(len(blocks))
        parts = [extend(blocks, x[:, :12], cache, context, HEAD_DIM)]  # pieces of 5, 5, 2
        parts += [extend(blocks, x[:, t : t + 1], cache, context, HEAD_DIM) for t in range(12, 17)]
    assert cache.position == 17
    assert (torch.cat(parts, dim=1) - whole).abs().max() < 1e-5


def test_window_mask():
    assert window_mask(5, 5, 5, torch.device("cpu")) is None  # fresh and within the window
    assert window_mask(1, 4, 4, torch.device("cpu")) is None  # one query sees all 4 keys
    mask = window_mask(2, 5, 3, torch.device("cpu"))  # queries at 3 and 4
    assert mask.tolist() == [[False, True, True, True, False], [False, False, True, True, True]]


def test_rotary_keeps_norms_and_angle_zero_is_identity():
    torch.manual_seed(0)
    x = torch.randn(3, 2, 7, HEAD_DIM, dtype=torch.float64)
    for start in (0, 60_000):
        rotated = apply_rotary(x, *rotary_angles(start, 7, HEAD_DIM, x))
        torch.testing.assert_close(rotated.norm(dim=-1), x.norm(dim=-1), rtol=1e-12, atol=0)
    cos, sin = rotary_angles(0, 1, HEAD_DIM, x)
    assert torch.equal(cos, torch.ones(1, HEAD_DIM // 2, dtype=torch.float64))
    assert torch.equal(apply_rotary(x[..., :1, :], cos, sin), x[..., :1, :])


def test_rotary_scores_depend_on_the_distance_only():
    """q at m against k at n scores the same as q at m + s against k at n + s: why cached keys
    stay valid as the window slides."""
    torch.manual_seed(0)
    q, k = torch.randn(2, HEAD_DIM, dtype=torch.float64)
    scores = []
    for shift in (0, 1000):
        cos, sin = rotary_angles(shift, 10, HEAD_DIM, q)
        scores.append(apply_rotary(q, cos[9], sin[9]) @ apply_rotary(k, cos[2], sin[2]))
    assert abs(scores[0] - scores[1]) < 1e-9
