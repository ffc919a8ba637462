"""The flow-matching family and its vocoder: the flow learns a two-tone distribution and guidance
pulls towards the asked label, the ODE samplers agree, seeds repeat, options are checked, the
vocoder learns copy synthesis, and one run goes through the trainer, the API and the CLI."""

from __future__ import annotations

import dataclasses
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import sonogen
from sonogen.config import DataConfig
from sonogen.errors import SonogenError
from sonogen.models.flow import FlowConfig, FlowMatching, mel_spec, time_grid
from sonogen.models.vocoder import MelSpec, Vocoder
from tests.conftest import QUIET, TINY, tone_clips

RATE = 8000
SAMPLES = 1024
DATA = DataConfig(sample_rate=RATE, clip_samples=SAMPLES, labels=["low", "high"])
SMALL = FlowConfig(
    n_mels=16, channels=16, blocks=1, attention_heads=2, learning_rate=3e-3, warmup_steps=20,
    steps=8, vocoder="griffin-lim", griffin_lim_iters=4, vocoder_channels=16, vocoder_blocks=1,
    vocoder_segment_frames=8,
)  # fmt: skip

pytestmark = pytest.mark.usefixtures("one_thread")


def two_tones(count: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (clips [count, SAMPLES], labels [count]): half 250 Hz ("low"), half 1 kHz."""
    low = tone_clips(count // 2, SAMPLES, RATE, 250.0, seed=1)
    high = tone_clips(count // 2, SAMPLES, RATE, 1000.0, seed=2)
    labels = torch.tensor([0] * (count // 2) + [1] * (count // 2))
    return torch.from_numpy(np.concatenate([low, high])), labels


def train(model, clips, labels, steps, batch_size=16, seed=0):
    optimizers = model.configure_optimizers()
    generator = torch.Generator().manual_seed(seed)
    logs = []
    for step in range(steps):
        index = torch.randint(0, len(clips), (batch_size,), generator=generator)
        logs.append(
            model.train_step(
                clips[index], labels[index], step, optimizers, lambda loss: loss.backward()
            )
        )
    return logs


def nearest_class(x: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """Return the index of the nearest class centroid of each normalised log-mel."""
    distances = (x[:, None] - centroids[None]).flatten(2).square().sum(dim=2)
    return distances.argmin(dim=1)


@pytest.fixture(scope="module")
def toy():
    """A flow model trained for 300 steps on two tones, with the data's normalised log-mels."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a module fixture runs before the function-scoped one_thread
    torch.manual_seed(0)
    clips, labels = two_tones()
    model = FlowMatching(SMALL, DATA)
    model.fit_statistics(clips.numpy())
    untrained = FlowMatching(SMALL, DATA)
    untrained.load_state_dict(model.state_dict())
    logs = train(model, clips, labels, 300)
    with torch.no_grad():
        data = model.normalise(model.log_mel(clips))
    torch.set_num_threads(threads)
    return model.eval(), untrained.eval(), data, labels, logs


def test_flow_loss_falls(toy):
    _, _, _, _, logs = toy
    first = np.mean([float(log["loss"]) for log in logs[:10]])
    last = np.mean([float(log["loss"]) for log in logs[-10:]])
    assert last < 0.5 * first, (first, last)


def test_samples_match_the_two_tone_distribution(toy):
    """A two-sided nearest-neighbour distance between 64 generated log-mels and the data's (each
    generated one's distance to its nearest data item, and each data item's to its nearest
    generated one, averaged; per dimension): it falls at least 3-fold from the untrained model
    to the trained one, unguided (300 steps: 1.45 -> 0.38)."""
    model, untrained, data, _, _ = toy

    def distance(m):
        noise = torch.randn(64, *data.shape[1:], generator=torch.Generator().manual_seed(5))
        with torch.no_grad():
            x = m.integrate(noise, None, 16, "heun", 0.0)
        pairs = torch.cdist(x.flatten(1), data.flatten(1)) / data[0].numel() ** 0.5
        return float(pairs.min(dim=1).values.mean() + pairs.min(dim=0).values.mean()) / 2

    before, after = distance(untrained), distance(model)
    assert after < before / 3, (before, after)


def test_guidance_pulls_towards_the_label(toy):
    """Asked for "high" on a two-class toy: nearest-centroid accuracy of the generated log-mels is
    near chance unguided (guidance 0: the unconditional model, 0.48 when written) and clearly
    higher with guidance 3 (0.73 after these 300 steps)."""
    model, _, data, labels, _ = toy
    centroids = torch.stack([data[labels == k].mean(dim=0) for k in (0, 1)])
    noise = torch.randn(64, *data.shape[1:], generator=torch.Generator().manual_seed(6))
    asked = torch.ones(64, dtype=torch.int64)
    accuracy = {}
    with torch.no_grad():
        for guidance in (0.0, 3.0):
            x = model.integrate(noise, asked, 16, "heun", guidance)
            accuracy[guidance] = float((nearest_class(x, centroids) == 1).float().mean())
    assert accuracy[3.0] >= 0.65, accuracy
    assert accuracy[3.0] > accuracy[0.0] + 0.2, accuracy


def test_euler_with_many_steps_agrees_with_heun_with_fewer(toy):
    model, _, data, labels, _ = toy
    noise = torch.randn(8, *data.shape[1:], generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        reference = model.integrate(noise, labels[:8], 400, "euler", 2.0)
        heun = model.integrate(noise, labels[:8], 12, "heun", 2.0)
        midpoint = model.integrate(noise, labels[:8], 12, "midpoint", 2.0)
        coarse = model.integrate(noise, labels[:8], 3, "euler", 2.0)

    def gap(x):
        return float((x - reference).norm() / reference.norm())

    assert gap(heun) < 0.03, gap(heun)
    assert gap(midpoint) < 0.03, gap(midpoint)
    assert gap(coarse) > 2 * gap(heun), (gap(coarse), gap(heun))


def test_sway_crowds_the_steps_near_the_noise_and_agrees_with_even_steps(toy):
    for sway in (-1.0, -0.5, 0.0, 0.5, 1.0):
        grid = time_grid(8, sway)
        assert grid[0] == 0.0 and abs(grid[-1] - 1.0) < 1e-12, grid
        assert all(b > a for a, b in zip(grid, grid[1:], strict=False)), (sway, grid)
    assert time_grid(4, 0.0) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert time_grid(8, -1.0)[1] < 0.25 * time_grid(8, 0.0)[1]  # the first step 4x smaller
    model, _, data, labels, _ = toy
    noise = torch.randn(8, *data.shape[1:], generator=torch.Generator().manual_seed(7))
    original = model.config
    with torch.no_grad():
        try:
            model.config = dataclasses.replace(original, sway=0.0)
            reference = model.integrate(noise, labels[:8], 400, "euler", 2.0)
            model.config = dataclasses.replace(original, sway=-1.0)
            heun = model.integrate(noise, labels[:8], 12, "heun", 2.0)
        finally:
            model.config = original
    assert float((heun - reference).norm() / reference.norm()) < 0.03


def test_uniform_share_puts_more_training_times_near_the_noise():
    data = DataConfig(sample_rate=RATE, clip_samples=SAMPLES)
    plain = FlowMatching(dataclasses.replace(SMALL, time_uniform_share=0.0), data)
    mixed = FlowMatching(dataclasses.replace(SMALL, time_uniform_share=0.3), data)

    def early(model):
        times = model.sample_times(20_000, torch.device("cpu"), torch.Generator().manual_seed(0))
        assert 0 < times.min() and times.max() < 1
        return float((times < 0.1).float().mean())

    # logit-normal alone: P(t < 0.1) = Phi(logit 0.1) = 0.014; mixed: 0.7 x 0.014 + 0.3 x 0.1
    assert abs(early(plain) - 0.014) < 0.004, early(plain)
    assert abs(early(mixed) - 0.040) < 0.006, early(mixed)


def test_generation_contract(toy):
    model = toy[0]
    a = model.generate(3, seed=11)
    assert a.shape == (3, SAMPLES) and a.dtype == torch.float32
    assert a.abs().max() <= 1 and a.abs().max() > 0
    assert torch.equal(a, model.generate(3, seed=11))
    assert not torch.equal(a, model.generate(3, seed=12))
    labelled = model.generate(2, seed=11, labels=torch.tensor([1, 0]), steps=4, guidance=1.5)
    assert labelled.shape == (2, SAMPLES)
    euler = model.generate(2, seed=11, sampler="euler", steps=2)
    assert not torch.equal(euler, model.generate(2, seed=11, sampler="heun", steps=2))
    first = model.interpolate(11, 12, 3)
    assert first.shape == (3, SAMPLES)
    assert torch.allclose(first[0], model.generate(1, seed=11)[0], atol=1e-5)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"steps": 0}, "--steps 0"),
        ({"steps": 2.5}, "--steps 2.5"),
        ({"guidance": -1.0}, "--guidance -1.0"),
        ({"guidance": float("nan")}, "--guidance nan"),
        ({"sampler": "rk4"}, "--sampler 'rk4'"),
        ({"truncation": 1.0}, "truncation: not an option of FlowMatching"),
    ],
)
def test_bad_options_are_refused(toy, options, message):
    with pytest.raises(SonogenError, match=message.replace("(", r"\(").replace("'", "'")):
        toy[0].generate(1, seed=0, **options)


def test_unlabelled_model_generates_and_refuses_labels():
    model = FlowMatching(SMALL, DataConfig(sample_rate=RATE, clip_samples=SAMPLES)).eval()
    assert model.generate(2, seed=0, steps=2).shape == (2, SAMPLES)
    with pytest.raises(SonogenError, match="trained without labels"):
        model.generate(1, seed=0, labels=torch.tensor([0]))


# --------------------------------------------------------------------------------------------
# the vocoder


def test_vocoder_learns_copy_synthesis():
    """On tones, 150 steps bring the copy-synthesis loss (log-mel L1 + multi-resolution STFT)
    below 60% of its start, and the vocoded clip's log-mel is closer to the input's than
    Griffin-Lim's with 4 iterations from the same mel."""
    torch.manual_seed(0)
    spec = MelSpec.for_sample_rate(RATE, 16)
    vocoder = Vocoder(spec, channels=32, blocks=2)
    clips = torch.from_numpy(tone_clips(32, SAMPLES, RATE, 500.0, seed=3))
    optimizer = torch.optim.AdamW(vocoder.parameters(), lr=2e-3, betas=(0.8, 0.99))
    generator = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(150):
        loss, _ = vocoder.loss(clips[torch.randint(0, 32, (8,), generator=generator)], 8, generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.mean(losses[-10:]) < 0.6 * np.mean(losses[:10]), (losses[:10], losses[-10:])
    with torch.no_grad():
        log_mel = spec.log_mel(clips[:4])
        vocoded = vocoder(log_mel)
        assert vocoded.shape == (4, (log_mel.shape[-1] - 1) * spec.hop_length)
        griffin = spec.griffin_lim(log_mel, vocoded.shape[-1], iterations=4)
        vocoder_l1 = (spec.log_mel(vocoded) - log_mel).abs().mean()
        griffin_l1 = (spec.log_mel(griffin) - log_mel).abs().mean()
    assert vocoder_l1 < griffin_l1, (float(vocoder_l1), float(griffin_l1))


def test_vocoder_inverse_stft_head_matches_torch_istft():
    """Given the true STFT of a signal (window, hop and centring of the mel), the head's inverse
    STFT gives the signal back (to 1e-5 away from nothing), and its output is torch.istft's."""
    spec = MelSpec.for_sample_rate(RATE, 16)
    vocoder = Vocoder(spec, channels=8, blocks=1)
    signal = torch.from_numpy(tone_clips(2, SAMPLES, RATE, 440.0, seed=4))
    window = torch.hann_window(spec.n_fft, periodic=True)
    truth = torch.stft(
        signal, spec.n_fft, spec.hop_length, window=window, center=True, return_complex=True
    )
    vocoder.spectrum = lambda features: truth  # the head predicts the true STFT
    features = spec.log_mel(signal)
    rebuilt = vocoder(features)
    assert rebuilt.shape == (2, (features.shape[-1] - 1) * spec.hop_length)
    assert torch.allclose(rebuilt, signal[:, : rebuilt.shape[-1]], atol=1e-5)
    direct = torch.istft(
        truth, spec.n_fft, spec.hop_length, window=window, center=True, length=rebuilt.shape[-1]
    )
    assert torch.allclose(rebuilt, direct, atol=1e-6)
    # the exported form (sonogen export): the same inverse STFT in real-valued operations
    vocoder.magnitude_and_phase = lambda features: (truth.abs(), truth.angle())
    vocoder.real_istft = True
    assert torch.allclose(vocoder(features), direct, atol=1e-5)


def test_mel_spec_for_sample_rate():
    assert MelSpec.for_sample_rate(8000, 64).n_fft == 256
    assert MelSpec.for_sample_rate(16000, 64).n_fft == 512
    spec = MelSpec.for_sample_rate(44100, 80)
    assert (spec.n_fft, spec.hop_length) == (1024, 256)
    assert spec.log_mel(torch.zeros(2, 1000)).shape == (2, 80, 1 + 1000 // 256)


def test_vocoder_every_trains_the_vocoder_on_every_nth_step_only():
    clips, labels = two_tones(8)
    config = dataclasses.replace(SMALL, vocoder="learned", vocoder_every=2)
    model = FlowMatching(config, DATA)
    optimizers = model.configure_optimizers()

    def step(number):
        before = [p.detach().clone() for p in model.vocoder.parameters()]
        logs = model.train_step(clips, labels, number, optimizers, lambda loss: loss.backward())
        after = model.vocoder.parameters()
        changed = any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))
        return changed, logs

    changed, first = step(0)
    assert changed and "vocoder_loss" in first
    changed, second = step(1)  # the flow only; the vocoder's last losses are shown again
    assert not changed and second["vocoder_loss"] is first["vocoder_loss"]
    assert step(2)[0]


def test_linear_lr_decay_follows_the_budget_and_leaves_the_vocoder():
    clips, labels = two_tones(8)
    config = dataclasses.replace(SMALL, vocoder="learned", lr_decay="linear", warmup_steps=0)
    model = FlowMatching(config, DATA)
    flow_optimizer, vocoder_optimizer = model.configure_optimizers()
    rates = []
    for progress in (None, 0.0, 0.5, 1.0):
        model.budget_progress = progress
        model.train_step(
            clips, labels, 100, (flow_optimizer, vocoder_optimizer), lambda loss: loss.backward()
        )
        rates.append(tuple(o.param_groups[0]["lr"] for o in (flow_optimizer, vocoder_optimizer)))
    base, vocoder = config.learning_rate, config.vocoder_learning_rate
    assert [flow for flow, _ in rates] == pytest.approx([base, base, base / 2, 0.02 * base])
    assert all(rate == vocoder for _, rate in rates)  # the vocoder's never decays
    constant = FlowMatching(dataclasses.replace(config, lr_decay="none"), DATA)
    constant.budget_progress = 0.9
    assert constant.flow_learning_rate_at(100) == base


def test_trainer_reports_budget_progress_to_the_family(labelled_tone_dataset, tmp_path):
    from sonogen import trainer

    seen = []
    original = FlowMatching.train_step

    def spy(self, *args, **kwargs):
        seen.append(self.budget_progress)
        return original(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FlowMatching, "train_step", spy)
        sonogen.train(
            labelled_tone_dataset, "flow", tmp_path / "run", max_steps=4,
            overrides=TINY["flow"] + QUIET + ["model.lr_decay=linear"],
        )  # fmt: skip
    assert seen == pytest.approx([0.0, 0.25, 0.5, 0.75])
    # by time: this session's share of max_minutes, the larger of the two when both are set
    keeper = SimpleNamespace(
        config=SimpleNamespace(train=SimpleNamespace(max_steps=None, max_minutes=2.0)),
        clock_start=time.monotonic() - 30.0,
    )
    assert trainer.RunKeeper.budget_progress(keeper, 1) == pytest.approx(0.25, abs=0.01)
    keeper.config.train.max_steps = 4
    assert trainer.RunKeeper.budget_progress(keeper, 2) == 0.5
    keeper.config.train.max_steps = keeper.config.train.max_minutes = None
    assert trainer.RunKeeper.budget_progress(keeper, 2) is None


def test_window_and_hop_settings():
    assert mel_spec(FlowConfig(), 16000) == MelSpec(16000, 512, 128, 64)  # the defaults: 0
    longer = FlowConfig(window=1024, hop=256)
    assert mel_spec(longer, 16000) == MelSpec(16000, 1024, 256, 64)
    assert mel_spec(FlowConfig(window=1024), 16000).hop_length == 256  # a quarter of the window
    model = FlowMatching(dataclasses.replace(SMALL, window=256, hop=128), DATA)
    # 1024 samples at hop 128: 9 frames, padded to a multiple of 4 for the U-Net
    assert model.frames == 12 and model.log_mel(torch.zeros(1, SAMPLES)).shape == (1, 16, 12)
    assert model.generate(1, seed=0, labels=torch.tensor([1])).shape == (1, SAMPLES)
    for window, hop, message in (
        (512, 300, r"model.hop 300: must be from 1 to half the window \(256\)"),
        (64, 0, r"model.window 64: too short for model.n_mels 64"),
    ):
        with pytest.raises(SonogenError, match=message):
            FlowMatching(FlowConfig(window=window, hop=hop), DATA)


@pytest.mark.parametrize("levels, frames, downsamples", [(1, 9, 0), (2, 10, 1), (4, 16, 3)])
def test_levels_setting(levels, frames, downsamples):
    """model.levels: the U-Net's depth; frames are padded to a multiple of 2 ** (levels - 1)
    (9 frames at hop 128), and one step lowers the loss on a fixed batch at every depth."""
    config = dataclasses.replace(SMALL, window=256, hop=128, levels=levels)
    torch.manual_seed(0)
    model = FlowMatching(config, DATA)
    assert model.frames == frames and len(model.network.downsample) == downsamples
    assert model.network.bottom_position.shape[-1] == frames // 2 ** (levels - 1)
    clips, labels = two_tones(16)
    model.fit_statistics(clips.numpy())
    x1 = model.normalise(model.log_mel(clips))
    with torch.no_grad():
        before = float(model.flow_loss(x1, labels, torch.Generator().manual_seed(1)))
    train(model, clips, labels, 20)
    with torch.no_grad():
        after = float(model.flow_loss(x1, labels, torch.Generator().manual_seed(1)))
    assert after < 0.8 * before, (before, after)
    assert model.generate(2, seed=0, labels=torch.tensor([0, 1])).shape == (2, SAMPLES)
    with pytest.raises(SonogenError, match="model.levels 7"):
        sonogen.config.build_dataclass(FlowConfig, {"levels": 7}, "model")


# --------------------------------------------------------------------------------------------
# through the trainer, the API and the CLI


def test_flow_run_trains_generates_and_takes_options(labelled_tone_dataset, tmp_path):
    from typer.testing import CliRunner

    from sonogen.cli import app

    run = tmp_path / "run"
    sonogen.train(labelled_tone_dataset, "flow", run, max_steps=6, overrides=TINY["flow"] + QUIET)
    model = sonogen.load(run)
    assert model.generation_options == {"steps", "guidance", "sampler"}
    audio = model.generate(2, seed=3, labels="high", steps=2, guidance=2.0)
    assert audio.shape == (2, 1024) and np.isfinite(audio).all()
    out = tmp_path / "generated"
    result = CliRunner().invoke(
        app,
        [
            "generate", str(run), "-n", "2", "--out", str(out), "--seed", "1", "--label", "low",
            "--steps", "2", "--guidance", "3", "--sampler", "euler",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(list(out.glob("*.wav"))) == 2
    result = CliRunner().invoke(
        app, ["generate", str(run), "-n", "1", "--out", str(out), "--truncation", "1"]
    )
    assert isinstance(result.exception, SonogenError)
    assert str(result.exception) == (
        "--truncation: not an option of flow (it takes --guidance, --sampler, --steps)"
    )
    for option, value, message in (
        ("--steps", "0", "--steps 0: must be a whole number from 1 to 1000"),
        ("--guidance", "-1", "--guidance -1.0: must be a number from 0 to 100"),
        ("--sampler", "rk4", "--sampler 'rk4': choose one of euler, midpoint, heun"),
    ):
        result = CliRunner().invoke(
            app, ["generate", str(run), "-n", "1", "--out", str(out), option, value]
        )
        assert isinstance(result.exception, SonogenError), result.output
        assert str(result.exception).startswith(message)
    assert dataclasses.asdict(model.config.model)["vocoder"] == "learned"
