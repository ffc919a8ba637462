"""The music token models: both overfit a repeated scale and continue it (also through compose),
cached transformer generation equals recomputation, the generate_tokens contract, previews."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sonogen.data.dataset import open_dataset
from sonogen.errors import SonogenError
from sonogen.models.music import (
    MusicLSTM,
    MusicLSTMConfig,
    MusicTransformer,
    MusicTransformerConfig,
    _draw,
)
from sonogen.music.tokens import (
    count_bars,
    piece_tokens,
    read_score,
    tokenizer_from_extra,
    tokens_to_score,
)
from tests.music.midi_fixtures import (
    SCALE,
    data_config,
    make_scale_dataset,
    save_run,
    scale_score,
    train_steps,
)

# big enough to learn the scale in 300 steps of batch 16 (a few seconds each on one core)
LEARNING = {
    MusicLSTM: MusicLSTMConfig(
        embedding_dim=32, hidden=64, layers=1, dropout=0.0, learning_rate=1e-2
    ),
    MusicTransformer: MusicTransformerConfig(
        layers=2, heads=2, width=32, dropout=0.0, context_tokens=64, learning_rate=3e-3,
        warmup_steps=10,
    ),
}  # fmt: skip
NAMES = {MusicLSTM: "music-lstm", MusicTransformer: "music-transformer"}
OVERFIT_STEPS = 300
OVERFIT_NLL = 0.1  # nats per token on the held-out piece (measured: 0.019 LSTM, 0.008 transformer)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def scale_data(tmp_path_factory):
    return make_scale_dataset(tmp_path_factory.mktemp("scale"))


@pytest.fixture(scope="module", params=[MusicLSTM, MusicTransformer], ids=lambda c: NAMES[c])
def overfit(request, scale_data):
    """(model, losses) after OVERFIT_STEPS train_steps on the scale."""
    torch.manual_seed(0)
    model = request.param(LEARNING[request.param], data_config(scale_data))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        losses = train_steps(model, scale_data, OVERFIT_STEPS)
    finally:
        torch.set_num_threads(threads)
    return model.eval(), losses


def valid_batch(model, dataset):
    windows = model.training_data(open_dataset(dataset), "valid")
    return torch.stack([windows[i][0] for i in range(len(windows))])


def first_bar(dataset) -> list[int]:
    """Return the held-out scale piece's tokens up to its second Bar token: BOS + bar 1."""
    info = open_dataset(dataset)
    tokens = [int(t) for t in piece_tokens(info, "valid")[0]]
    bar = info.extra["bar_id"]
    second = [i for i, t in enumerate(tokens) if t == bar][1]
    return tokens[:second]


def test_overfits_the_scale_and_continues_it(overfit, scale_data):
    model, losses = overfit
    assert losses[0] > 5.0  # about ln(vocab size 357) = 5.9 at the start
    scores = model.validate(valid_batch(model, scale_data), None)
    assert scores["nll"] < OVERFIT_NLL
    assert scores["perplexity"] == pytest.approx(math.exp(scores["nll"]))
    prompt = first_bar(scale_data)
    (continuation,) = model.generate_tokens(
        1, seed=3, prompt_tokens=[prompt], max_tokens=200, top_p=0.5, stop_when=2
    )
    assert continuation[-1] == model.bar_id and continuation.count(model.bar_id) == 3
    tokenizer = tokenizer_from_extra(model.data.extra)
    score = tokens_to_score(tokenizer, prompt + continuation[:-1])
    notes = list(score.tracks[0].notes)
    # bar 1 (the prompt) is C D E F; the next two bars continue the scale: G A B C, C D E F
    assert [n.pitch for n in notes] == [*SCALE, *SCALE[:4]]
    assert [n.time for n in notes] == [i * score.ticks_per_quarter for i in range(12)]


def test_compose_continues_a_prime_rather_than_repeating_it(overfit, scale_data, tmp_path):
    from sonogen.music.compose import compose

    model, _ = overfit
    run = save_run(model, NAMES[type(model)], tmp_path / "run")
    prime = tmp_path / "prime.mid"
    scale_score(1).dump_midi(str(prime))  # C D E F
    results = compose(run, tmp_path / "out", bars=2, prime=prime, n=2, seed=0, top_p=0.5)
    assert [r["midi"].name for r in results] == ["prime_seed0_0000.mid", "prime_seed0_0001.mid"]
    for result in results:
        assert result["prime_bars"] == 1 and result["bars"] == 3 and result["complete"]
        score = read_score(result["midi"])
        assert count_bars(score) == 3
        pitches = [n.pitch for n in score.tracks[0].notes]
        assert pitches == [*SCALE, *SCALE[:4]]  # prime, then G A B C (not C D E F again)


def tiny_transformer(data, context_tokens=8):
    torch.manual_seed(1)
    config = MusicTransformerConfig(layers=2, heads=2, width=16, context_tokens=context_tokens)
    return MusicTransformer(config, data).eval()


def test_cached_generation_equals_recomputation(scale_data):
    model = tiny_transformer(data_config(scale_data))
    # shorter than the 8-token window (but more than half of it), and longer than it
    prompts = [first_bar(scale_data)[:5], list(range(5, 25))]
    for prompt in prompts:
        options = dict(seed=7, prompt_tokens=[prompt], max_tokens=30, temperature=1.5)
        cached = model.generate_tokens(2, **options)
        recomputed = model.generate_tokens(2, **options, use_cache=False)
        assert cached == recomputed
        assert all(len(tokens) == 30 for tokens in cached)  # runs past the 8-token window
        assert cached[0] != cached[1]


def test_cache_logits_match_the_banded_mask(scale_data):
    from sonogen.models.music import KVCache

    model = tiny_transformer(data_config(scale_data), context_tokens=6)
    tokens = torch.randint(3, model.vocab_size, (2, 23), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        whole = model.logits(tokens)
        cache = KVCache(len(model.blocks))
        parts = [model.extend(tokens[:, :9], cache)]  # a block longer than the window, then
        parts += [model.extend(tokens[:, i : i + 1], cache) for i in range(9, 23)]  # steps
    torch.testing.assert_close(torch.cat(parts, dim=1), whole, atol=1e-5, rtol=1e-4)


def test_lstm_steps_match_the_whole_sequence(scale_data):
    torch.manual_seed(0)
    model = MusicLSTM(MusicLSTMConfig(embedding_dim=8, hidden=16), data_config(scale_data)).eval()
    tokens = torch.randint(0, model.vocab_size, (2, 10), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        whole = model.logits(tokens)
        logits, state = model.start(tokens[:, :4])
        steps = [logits]
        for i in range(4, 9):
            logits, state = model.step(tokens[:, i], state)
            steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, dim=1), whole[:, 3:9], atol=1e-5, rtol=1e-4)
    assert model.output.weight is model.embedding.weight and model.projection is not None


@pytest.mark.parametrize("family", [MusicLSTM, MusicTransformer], ids=lambda c: NAMES[c])
def test_generate_tokens_contract(family, scale_data):
    data = data_config(scale_data)
    torch.manual_seed(0)
    small = {
        MusicLSTM: MusicLSTMConfig(embedding_dim=8, hidden=8, layers=1),
        MusicTransformer: MusicTransformerConfig(layers=1, heads=2, width=8, context_tokens=16),
    }
    model = family(small[family], data)
    first = model.generate_tokens(3, seed=5, max_tokens=20)
    assert len(first) == 3 and all(1 <= len(t) <= 20 for t in first)
    assert model.generate_tokens(3, seed=5, max_tokens=20) == first
    assert model.generate_tokens(3, seed=6, max_tokens=20) != first
    # suppressed tokens never come, and EOS (suppressed here) cannot end a piece early
    banned = list(range(0, 200))
    for tokens in model.generate_tokens(2, seed=1, max_tokens=40, suppress_tokens=banned):
        assert len(tokens) == 40 and min(tokens) >= 200
    # temperature 0 is the argmax: the seed does not matter
    greedy = model.generate_tokens(1, seed=1, max_tokens=10, temperature=0)
    assert model.generate_tokens(1, seed=2, max_tokens=10, temperature=0) == greedy
    # a callable stop rule sees the continuation and ends it after the token it accepts
    stopped = model.generate_tokens(1, seed=1, max_tokens=40, stop_when=lambda t: len(t) == 7)
    assert len(stopped[0]) <= 7
    for bad, message in [
        (dict(top_p=0.0), "--top-p"),
        (dict(temperature=-1), "--temperature"),
        (dict(prompt_tokens=[[model.vocab_size]]), "prompt_tokens"),
        (dict(prompt_tokens=[[1], [1]]), "2 prompts for 3"),
        (dict(stop_when=0), "stop_when"),
    ]:
        with pytest.raises(SonogenError, match=message):
            model.generate_tokens(3, **bad)
    with pytest.raises(SonogenError, match="sonogen compose"):
        model.generate(2)


def test_nucleus_keeps_only_the_most_likely_tokens():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]])).expand(2000, -1)
    generator = torch.Generator().manual_seed(0)
    none = torch.zeros(4, dtype=torch.bool)
    drawn = _draw(logits, generator, 1.0, 0.6, none)  # 0.5 < 0.6: the second token is needed
    counts = np.bincount(drawn.numpy(), minlength=4)
    assert counts[2] == counts[3] == 0
    assert counts[0] / 2000 == pytest.approx(0.5 / 0.8, abs=0.04)
    everything = np.bincount(_draw(logits, generator, 1.0, 1.0, none).numpy(), minlength=4)
    assert everything[3] / 2000 == pytest.approx(0.05, abs=0.02)
    assert set(_draw(logits, generator, 1.0, 0.4, none).tolist()) == {0}


def test_validation_ignores_padding(scale_data):
    torch.manual_seed(0)
    model = MusicLSTM(
        MusicLSTMConfig(embedding_dim=8, hidden=8, dropout=0.0), data_config(scale_data)
    )
    window = valid_batch(model, scale_data)[:1]
    padded = window.clone()
    padded[:, 30:] = model.pad_id
    scores = model.validate(padded, None)
    with torch.no_grad():
        logits = model.logits(window[:, :29])
        expected = torch.nn.functional.cross_entropy(logits[0], window[0, 1:30])
    assert scores["nll"] == pytest.approx(float(expected), rel=1e-5)


def test_refuses_audio_data_and_writes_midi_previews(scale_data, tmp_path):
    from sonogen.config import DataConfig

    with pytest.raises(SonogenError, match="prepare-midi"):
        MusicLSTM(MusicLSTMConfig(), DataConfig(path="notes"))
    model = tiny_transformer(data_config(scale_data))
    model.write_previews(tmp_path / "samples", "step0000010", 2)
    files = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert files == ["step0000010_0.mid", "step0000010_1.mid"]
    for name in files:
        assert count_bars(read_score(tmp_path / "samples" / name)) == 4
