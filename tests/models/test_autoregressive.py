"""The autoregressive family: cached generation against recomputation, the generation contract,
a tone learnt through train_step, labels, the LSTM baseline, and one run through the trainer."""

from __future__ import annotations

import csv
import dataclasses

import numpy as np
import pytest
import torch

import sonogen
from sonogen.config import DataConfig
from sonogen.errors import SonogenError
from sonogen.models.autoregressive import (
    LSTMBaseline,
    LSTMBaselineConfig,
    SampleRNN,
    SampleRNNConfig,
    TransformerAR,
    TransformerARConfig,
)
from tests.conftest import QUIET, tone_clips

RATE = 8000
LABELLED = DataConfig(sample_rate=RATE, clip_samples=64, labels=["low", "high"])

# contract tests: as small as the models go
SMALL = {
    SampleRNN: SampleRNNConfig(frame_size=4, hidden=16, sample_hidden=16, embedding_dim=4),
    TransformerAR: TransformerARConfig(
        frame_size=4, layers=1, heads=2, width=16, context_frames=4, sample_hidden=16
    ),
    LSTMBaseline: LSTMBaselineConfig(hidden=8, window_samples=32),
}
# learning tests: big enough to learn a tone in ~150 steps of batch 16
TINY = {
    SampleRNN: SampleRNNConfig(
        hidden=64, sample_hidden=64, embedding_dim=16, window_frames=16, tbptt_frames=8,
        learning_rate=3e-3,
    ),
    TransformerAR: TransformerARConfig(
        layers=2, heads=2, width=32, context_frames=16, sample_hidden=64, embedding_dim=16,
        learning_rate=3e-3, warmup_steps=20,
    ),
    LSTMBaseline: LSTMBaselineConfig(hidden=32, window_samples=128, learning_rate=3e-3),
}  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_thread")


def train(model, clips, steps, labels=None, batch_size=16, seed=0):
    """Run ``steps`` train_steps on random batches of ``clips`` [n, samples]; return the logs."""
    optimizers = model.configure_optimizers()
    generator = torch.Generator().manual_seed(seed)
    logs = []
    for step in range(steps):
        index = torch.randint(0, len(clips), (batch_size,), generator=generator)
        batch_labels = None if labels is None else labels[index]
        logs.append(
            model.train_step(
                clips[index], batch_labels, step, optimizers, lambda loss: loss.backward()
            )
        )
    return logs


def peak_frequency(audio: np.ndarray) -> float:
    """Return the frequency (Hz) of the largest peak of a Hann-windowed, zero-padded spectrum."""
    audio = np.asarray(audio, np.float64)
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio)), n=16384))
    return float(np.argmax(spectrum)) * RATE / 16384


def teacher_forced(model, prompt, codes, labels):
    """Return logits [n, samples, 256] of one full teacher-forced pass over prompt + codes."""
    n, samples = codes.shape
    history, start = model._start(n, prompt, samples)
    history[:, start : start + samples] = codes
    logits, _ = model.teacher_forced_logits(history, labels, model.new_state(n))
    return logits[:, start - model.frame_size :][:, :samples]


# --------------------------------------------------------------------------------------------
# cached generation against recomputation


@pytest.mark.parametrize("rnn", ["gru", "lstm"])
@pytest.mark.parametrize("temperature", [1.0, 0.0])
def test_samplernn_stepwise_generation_equals_recomputation(rnn, temperature):
    """Stepping the RNN once per frame and the MLP once per sample gives exactly the codes of
    recomputing every sample's distribution from a fresh pass over the whole sequence so far."""
    torch.manual_seed(0)
    config = SampleRNNConfig(
        rnn=rnn, layers=2, frame_size=4, hidden=16, sample_hidden=16, embedding_dim=4
    )
    model = SampleRNN(config, LABELLED).eval()
    prompt = torch.rand(3, 10) * 1.6 - 0.8  # not a whole number of frames
    labels = torch.tensor([0, 1, 1])
    record = []
    with torch.inference_mode():
        fast = model._generate_codes(
            3, prompt, 30, labels, torch.Generator().manual_seed(7), temperature, record
        )
        slow = model._generate_reference(
            3, prompt, 30, labels, torch.Generator().manual_seed(7), temperature
        )
        full = teacher_forced(model, prompt, fast, labels)
    assert fast.shape == (3, 30)
    assert torch.equal(fast, slow)
    assert len(set(fast.flatten().tolist())) > 5  # it did sample, not repeat one code
    assert torch.allclose(torch.stack(record, dim=1), full, atol=1e-5)


def test_transformer_cached_logits_match_a_full_causal_pass():
    """Logits from the key/value cache equal those of one pass over the generated sequence with
    the same sliding window, for a prompt longer than the window and generation past it."""
    torch.manual_seed(0)
    config = TransformerARConfig(
        frame_size=4, layers=2, heads=2, width=16, context_frames=3, sample_hidden=16
    )
    model = TransformerAR(config, LABELLED).eval()
    prompt = torch.rand(2, 13) * 1.6 - 0.8  # 4 frames after padding: two warm-up blocks
    labels = torch.tensor([1, 0])
    record = []
    with torch.inference_mode():
        codes = model._generate_codes(
            2, prompt, 40, labels, torch.Generator().manual_seed(3), 1.0, record
        )
        full = teacher_forced(model, prompt, codes, labels)
        slow = model._generate_reference(
            2, prompt, 40, labels, torch.Generator().manual_seed(3), 1.0
        )
    cached = torch.stack(record, dim=1)
    assert cached.shape == (2, 40, 256)
    assert (cached - full).abs().max() < 1e-4
    assert (codes == slow).float().mean() > 0.99  # equal up to float ties


def test_transformer_window_slides_to_exactly_context_frames():
    """With one layer, the last frame's logits depend on exactly the last context_frames frame
    inputs: a fresh pass over only those (at other positions: rotary is relative) agrees, and
    one over a frame fewer does not."""
    torch.manual_seed(1)
    size, context = 4, 3
    config = TransformerARConfig(
        frame_size=size, layers=1, heads=2, width=16, context_frames=context, sample_hidden=16
    )
    model = TransformerAR(config, DataConfig(sample_rate=RATE, clip_samples=64)).eval()
    record = []
    with torch.inference_mode():
        codes = model._generate_codes(
            2, None, 10 * size, None, torch.Generator().manual_seed(0), 1.0, record
        )
        history, start = model._start(2, None, 10 * size)
        history[:, start:] = codes
        last = history.shape[1] - size  # first sample of the last frame
        window = history[:, last - context * size : last + size]
        logits, _ = model.teacher_forced_logits(window, None, model.new_state(2))
        shorter = history[:, last - (context - 1) * size : last + size]
        logits_shorter, _ = model.teacher_forced_logits(shorter, None, model.new_state(2))
    cached = torch.stack(record[-size:], dim=1)
    assert (cached - logits[:, -size:]).abs().max() < 1e-4
    # and it did use all of them: one frame fewer changes the logits
    assert (cached - logits_shorter[:, -size:]).abs().max() > 1e-3


# --------------------------------------------------------------------------------------------
# the generation contract


@pytest.mark.parametrize("family", [SampleRNN, TransformerAR, LSTMBaseline])
def test_generate_shape_range_seed_and_errors(family):
    torch.manual_seed(0)
    model = family(SMALL[family], LABELLED)
    threads = torch.get_num_threads()
    a = model.generate(3, seed=1)
    assert a.shape == (3, 64) and a.dtype == torch.float32 and a.device == model.device
    assert a.abs().max() <= 1 and a.std() > 0
    assert model.training and torch.get_num_threads() == threads  # both restored
    assert torch.equal(a, model.generate(3, seed=1))
    assert not torch.equal(a, model.generate(3, seed=2))
    assert model.generate(2, seed=0, samples=50).shape == (2, 50)  # not whole frames either
    # temperature 0 does not depend on the seed
    low = torch.tensor(0)
    greedy = model.generate(2, seed=1, temperature=0, labels=low)
    assert torch.equal(greedy, model.generate(2, seed=5, temperature=0, labels=low))
    high = model.generate(2, seed=1, temperature=0, labels=torch.tensor(1))
    # the two tiers condition on labels; the baseline checks them and ignores them
    assert torch.equal(greedy, high) == (family is LSTMBaseline)
    continuation = model.continue_audio(torch.zeros(2, 20), 30, seed=0)
    assert continuation.shape == (2, 30) and continuation.abs().max() <= 1
    assert model.generate(3, seed=0, samples=9, prompt=torch.zeros(1, 5)).shape == (3, 9)
    with pytest.raises(SonogenError, match="0..1"):
        model.generate(2, seed=0, labels=torch.tensor([2, 0]))
    with pytest.raises(
        SonogenError, match="--temperature -0.5: must be a finite number, 0 or more and at most 100"
    ):
        model.generate(1, seed=0, temperature=-0.5)
    with pytest.raises(SonogenError, match="--temperature nan"):
        model.generate(1, seed=0, temperature=float("nan"))
    with pytest.raises(SonogenError, match="truncation: not an option of"):
        model.generate(1, seed=0, truncation=1.0)
    with pytest.raises(SonogenError, match="samples 0: must be a whole number"):
        model.generate(1, seed=0, samples=0)
    with pytest.raises(SonogenError, match="samples 2.5: must be a whole number"):
        model.generate(1, seed=0, samples=2.5)
    with pytest.raises(SonogenError, match=r"prompt: expected audio \[3 or 1, samples\]"):
        model.generate(3, seed=0, prompt=torch.zeros(2, 10))
    with pytest.raises(SonogenError, match="prompt: holds NaN"):
        model.continue_audio(torch.full((1, 4), float("nan")), 8)


def test_samplernn_chunks_share_state():
    """One train_step takes one optimizer step per truncated-BPTT chunk and carries the RNN state
    from chunk to chunk (with a learning rate of 0, its loss is the whole window's), and
    validation's number does not depend on the chunk size."""
    torch.manual_seed(0)
    data = DataConfig(sample_rate=RATE, clip_samples=100)
    config = SampleRNNConfig(
        frame_size=4, hidden=16, sample_hidden=16, embedding_dim=4, window_frames=25,
        tbptt_frames=5, learning_rate=0.0,
    )  # fmt: skip
    model = SampleRNN(config, data)
    (optimizer,) = model.configure_optimizers()
    steps = []
    optimizer.register_step_post_hook(lambda *args: steps.append(1))
    audio = torch.from_numpy(tone_clips(4, 100, RATE, 440.0))
    logs = model.train_step(audio, None, 0, [optimizer], lambda loss: loss.backward())
    assert len(steps) == 5  # 25 frames in chunks of 5
    whole = SampleRNN(dataclasses.replace(config, tbptt_frames=100), data)
    whole.load_state_dict(model.state_dict())
    expected = whole.validate(audio, None)["nll_bits"]
    assert float(logs["nll_bits"]) == pytest.approx(expected, abs=1e-5)
    assert model.validate(audio, None)["nll_bits"] == pytest.approx(expected, abs=1e-5)
    three = SampleRNN(dataclasses.replace(config, tbptt_frames=3), data)
    three.load_state_dict(model.state_dict())
    assert three.validate(audio, None)["nll_bits"] == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("temperature", [0.5, 2.0])
def test_pick_draws_from_the_tempered_softmax(temperature):
    logits = torch.tensor([0.0, 1.0, 2.0, -1.0]).repeat(20000, 1)
    uniform = torch.rand(20000, 1, generator=torch.Generator().manual_seed(0))
    codes = SampleRNN._pick(logits, uniform, temperature)
    frequencies = torch.bincount(codes, minlength=4).float() / 20000
    assert torch.allclose(frequencies, torch.softmax(logits[0] / temperature, 0), atol=0.015)
    assert torch.equal(SampleRNN._pick(logits[:3], None, 0.0), torch.tensor([2, 2, 2]))


def test_bad_settings_are_clear_errors():
    data = DataConfig(sample_rate=RATE, clip_samples=64)
    with pytest.raises(SonogenError, match="model.rnn 'rnn': must be one of: gru, lstm"):
        SampleRNN(SampleRNNConfig(rnn="rnn"), data)
    with pytest.raises(SonogenError, match="model.layers 0: must be a whole number from 1 to 16"):
        SampleRNN(SampleRNNConfig(layers=0), data)
    with pytest.raises(SonogenError, match="model.frame_size 128: longer than the dataset's"):
        SampleRNN(SampleRNNConfig(frame_size=128), data)
    with pytest.raises(SonogenError, match="model.width 30, model.heads 4"):
        TransformerAR(TransformerARConfig(width=30, heads=4), data)
    with pytest.raises(
        SonogenError, match="model.dropout 1.0: must be a number at least 0 and below 1"
    ):
        TransformerAR(TransformerARConfig(dropout=1.0), data)


# --------------------------------------------------------------------------------------------
# learning


@pytest.mark.parametrize(("family", "steps"), [(SampleRNN, 120), (TransformerAR, 150)])
def test_two_tier_learns_a_tone_and_continues_it(family, steps):
    """On one 440 Hz tone (random phase and level) held-out bits per sample fall from ~8 to
    under 4, and a continuation of a held-out prompt keeps its pitch and joins it seamlessly."""
    torch.manual_seed(0)
    clips = torch.from_numpy(tone_clips(264, 1024, RATE, 440.0, seed=3))
    clips, held_out = clips[:256], clips[256:]
    model = family(TINY[family], DataConfig(sample_rate=RATE, clip_samples=1024))
    before = model.validate(held_out, None)["nll_bits"]
    logs = train(model, clips, steps)
    after = model.validate(held_out, None)["nll_bits"]
    assert before > 7.5 and after < 4, (before, after)
    assert float(logs[-1]["nll_bits"]) < float(logs[0]["nll_bits"]) - 3
    prompt = held_out[:4, :384]
    continuation = model.continue_audio(prompt, 512, seed=1, temperature=0.5)
    assert continuation.shape == (4, 512)
    for clip in continuation.numpy():
        assert abs(peak_frequency(clip) - 440) < 0.03 * 440
    # greedy continuation starts where the prompt left off: it tracks the held-out clip's own
    # next samples (a prompt from another clip, with another phase and level, does not)
    greedy = model.continue_audio(prompt, 16, temperature=0)
    assert (greedy - held_out[:4, 384:400]).abs().mean() < 0.05
    assert (greedy.roll(1, dims=0) - held_out[:4, 384:400]).abs().mean() > 0.2


def test_samplernn_follows_its_label():
    """Trained on 250 Hz clips labelled 0 and 1 kHz clips labelled 1, it generates from silence
    the tone its label asks for."""
    torch.manual_seed(0)
    clips = torch.cat(
        [
            torch.from_numpy(tone_clips(128, 1024, RATE, 250.0, seed=1)),
            torch.from_numpy(tone_clips(128, 1024, RATE, 1000.0, seed=2)),
        ]
    )
    labels = torch.tensor([0] * 128 + [1] * 128)
    data = DataConfig(sample_rate=RATE, clip_samples=1024, labels=["low", "high"])
    model = SampleRNN(TINY[SampleRNN], data)
    train(model, clips, 150, labels)
    for label, frequency in ((0, 250.0), (1, 1000.0)):
        audio = model.generate(4, seed=0, labels=torch.tensor(label), samples=512)
        hits = [abs(peak_frequency(clip) - frequency) < 0.05 * frequency for clip in audio.numpy()]
        assert sum(hits) >= 3, (label, [peak_frequency(clip) for clip in audio.numpy()])


def test_lstm_baseline_mse_falls_on_a_tone():
    torch.manual_seed(0)
    clips = torch.from_numpy(tone_clips(72, 1024, RATE, 440.0, seed=3))
    clips, held_out = clips[:64], clips[64:]
    model = LSTMBaseline(TINY[LSTMBaseline], DataConfig(sample_rate=RATE, clip_samples=1024))
    model.fit_statistics(clips.numpy())
    assert float(model.residual_std) == pytest.approx(float((clips / 2).std()), rel=1e-4)
    before = model.validate(held_out, None)
    logs = train(model, clips, 120)
    after = model.validate(held_out, None)
    assert after["mse"] < 0.1 * before["mse"], (before, after)
    assert after["nll_bits"] < before["nll_bits"] - 1, (before, after)
    assert float(logs[-1]["mse"]) < 0.1 * float(logs[0]["mse"])
    # the noise scale tracks the training residual: near sqrt(mse) of recent steps
    assert float(model.residual_std) < 0.5 * float(np.sqrt(float(logs[0]["mse"])))
    greedy = model.continue_audio(held_out[:2, :384], 256, temperature=0)
    assert greedy.shape == (2, 256) and greedy.abs().max() <= 1


def test_lstm_baseline_window_generation_is_the_stateful_loop_until_the_window_fills():
    data = DataConfig(sample_rate=RATE, clip_samples=64)
    torch.manual_seed(1)
    windowed = LSTMBaseline(LSTMBaselineConfig(hidden=8, window_samples=24), data)
    stateful = LSTMBaseline(
        LSTMBaselineConfig(hidden=8, window_samples=24, generation="stateful"), data
    )
    with torch.no_grad():  # a long memory (forget gates open), so forgetting shows
        windowed.lstm.bias_ih_l0[8:16] = 6.0
        windowed.residual_std.fill_(0.02)
        windowed.output.bias.fill_(0.5)  # outputs stay inside [0, 1], unclamped
    stateful.load_state_dict(windowed.state_dict())
    a = windowed.generate(2, seed=4, samples=40, temperature=1.0)
    b = stateful.generate(2, seed=4, samples=40, temperature=1.0)
    # the history (a silent first sample + the new ones) fits the window up to sample 23
    torch.testing.assert_close(a[:, :23], b[:, :23], rtol=0, atol=1e-5)
    assert (a[:, 30:] - b[:, 30:]).abs().max() > 1e-4  # then each pass forgets the oldest
    with pytest.raises(SonogenError, match="model.generation"):
        LSTMBaseline(LSTMBaselineConfig(generation="cached"), data)


# --------------------------------------------------------------------------------------------
# through the trainer


def test_samplernn_trains_through_the_trainer(tmp_path, tone_dataset):
    settings = [
        "model.frame_size=8", "model.hidden=16", "model.sample_hidden=16",
        "model.embedding_dim=4", "model.window_frames=8", "model.tbptt_frames=4",
    ]  # fmt: skip
    run = sonogen.train(
        tone_dataset,
        "samplernn",
        tmp_path / "run",
        overrides=settings + QUIET + ["train.preview_count=1", "train.preview_every_steps=2"],
        max_steps=3,
        batch_size=4,
        progress=False,
        accelerator="cpu",
        devices="1",
    )
    with open(run / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["step"]) for row in rows] == [1, 2, 3]
    assert all(0 < float(row["nll_bits"]) < 9 for row in rows)
    assert len(list((run / "samples").glob("*.wav"))) == 2  # at step 2 and at the end
    model = sonogen.load(run)
    assert model.model_name == "samplernn"
    audio = model.generate(2, seed=0)
    assert audio.shape == (2, 1024) and audio.dtype == np.float32
    assert model.generate(1, seed=0, samples=100).shape == (1, 100)
    with pytest.raises(SonogenError, match="precision 16-mixed: samplernn does not train"):
        sonogen.train(tone_dataset, "samplernn", tmp_path / "r2", max_steps=1, precision="16-mixed")
