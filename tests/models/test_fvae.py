"""The flow-VAE family: the PQMF bank, the flow's inverse and log-determinant, the autoencoder
learning tones through train_step, the adversarial phase, lengths and bounded memory of encode,
decode and transfer, the generation contract, and one run through the trainer."""

from __future__ import annotations

import csv
import dataclasses

import numpy as np
import pytest
import torch

import sonogen
from sonogen.audio.features import multi_resolution_stft_distance
from sonogen.config import DataConfig
from sonogen.errors import SonogenError
from sonogen.evaluation.metrics import si_sdr
from sonogen.models.fvae import PQMF, Flow, FlowVAE, FlowVAEConfig, pqmf_filters
from sonogen.models.registry import get_family
from tests.conftest import QUIET, tone_clips

RATE = 8000
LABELLED = DataConfig(sample_rate=RATE, clip_samples=64, labels=["low", "high"])
UNLABELLED = DataConfig(sample_rate=RATE, clip_samples=64)

# contract tests: as small as the model goes (hop 4)
SMALL = FlowVAEConfig(
    bands=2, channels=4, max_channels=8, downsampling_layers=1, decoder_blocks=1, latent_dim=2,
    flow_layers=2, flow_hidden=8, flow_blocks=1, label_dim=4,
)  # fmt: skip
# learning tests: hop 16, ~30k parameters
TINY = FlowVAEConfig(
    bands=4, channels=16, max_channels=32, downsampling_layers=2, decoder_blocks=1, latent_dim=4,
    flow_layers=2, flow_hidden=16, flow_blocks=2, beta_warmup_steps=100, learning_rate=3e-3,
)  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_thread")


def randomize(module: torch.nn.Module, scale: float = 0.3, seed: int = 0) -> None:
    """Overwrite every parameter with N(0, scale^2) noise (the flow starts as the identity)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * scale)


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


def snr_db(estimate: torch.Tensor, reference: torch.Tensor) -> float:
    return float(10 * torch.log10(reference.square().sum() / (estimate - reference).square().sum()))


# --------------------------------------------------------------------------------------------
# the filter bank


@pytest.mark.parametrize("bands", [2, 4, 16])
def test_pqmf_reconstructs_near_perfectly(bands):
    """synthesis(analysis(x)) equals x to > 50 dB away from the ends (no delay to undo), and
    each band holds its own stretch of the spectrum."""
    pqmf = PQMF(bands)
    taps = pqmf_filters(bands).shape[-1]
    assert taps % 2 == 1
    generator = torch.Generator().manual_seed(0)
    audio = torch.randn(3, 64 * bands * 8, generator=generator) * 0.3
    sub_bands = pqmf.analysis(audio)
    assert sub_bands.shape == (3, bands, audio.shape[-1] // bands)
    rebuilt = pqmf.synthesis(sub_bands)
    assert rebuilt.shape == audio.shape
    inner = slice(taps, -taps)
    assert snr_db(rebuilt[:, inner], audio[:, inner]) > 50
    # a tone in the middle of band k (of sample_rate / 2 / bands Hz each) lands in band k
    for band in (0, bands - 1):
        t = torch.arange(4096 * 2) / RATE
        frequency = (band + 0.5) * RATE / 2 / bands
        energy = pqmf.analysis(torch.sin(2 * torch.pi * frequency * t)[None]).square().sum(-1)[0]
        assert energy[band] > 0.99 * energy.sum(), (band, energy)
    assert torch.equal(PQMF(1).synthesis(PQMF(1).analysis(audio)), audio)


# --------------------------------------------------------------------------------------------
# the flow


@pytest.mark.parametrize("num_labels", [0, 3])
def test_flow_inverts_and_log_det_matches_the_jacobian(num_labels):
    """x -> z -> x within 1e-4, and log|det dz/dx| equals slogdet of the autograd Jacobian of
    the flattened map (latent_dim 4 x 3 frames = 12 dimensions), with and without labels."""
    config = FlowVAEConfig(latent_dim=4, flow_layers=3, flow_hidden=8, flow_blocks=2, label_dim=5)
    flow = Flow(config, num_labels)
    randomize(flow)
    labels = torch.tensor([0, 2]) if num_labels else None
    x = torch.randn(2, 4, 16, generator=torch.Generator().manual_seed(1))
    z, _ = flow(x, labels)
    assert (z - x).abs().max() > 0.1  # not the identity
    assert (flow.inverse(z, labels) - x).abs().max() < 1e-4

    flow = flow.double()
    x = x[:, :, :3].double()
    with torch.no_grad():
        z, log_det = flow(x, labels)
    for i in range(2):
        label = None if labels is None else labels[i : i + 1]

        def mapping(flat, label=label):
            return flow(flat.view(1, 4, 3), label)[0].flatten()

        jacobian = torch.autograd.functional.jacobian(mapping, x[i].flatten())
        sign, log_abs = torch.linalg.slogdet(jacobian)
        assert float(sign) != 0
        assert float(log_abs) == pytest.approx(float(log_det[i]), abs=1e-8)
    if num_labels:
        other, _ = flow(x, torch.tensor([1, 1]))
        assert (other - z).abs().max() > 1e-3  # the labels condition the map


def test_untrained_flow_is_a_standard_normal():
    """The couplings start at zero and ActNorm at the identity: log p is the N(0, I) density."""
    flow = Flow(FlowVAEConfig(latent_dim=3, flow_layers=2), 0)
    x = torch.randn(4, 3, 5)
    expected = torch.distributions.Normal(0.0, 1.0).log_prob(x).sum(dim=(1, 2))
    assert torch.allclose(flow.log_likelihood(x, None), expected, atol=1e-5)


# --------------------------------------------------------------------------------------------
# learning


def test_autoencoder_learns_tones_through_train_step():
    """On 440 Hz tones (random phase and level) 250 steps bring the training loss's
    reconstruction distance under 0.3x the untrained model's on held-out clips, reconstructions
    of training clips reach a positive SI-SDR (the waveform L1 term locks the phase; a spectral
    loss alone leaves it free, about -20 dB), and the flow's NLL falls."""
    torch.manual_seed(0)
    clips = torch.from_numpy(tone_clips(72, 1024, RATE, 440.0, seed=3))
    clips, held_out = clips[:64], clips[64:]
    model = FlowVAE(TINY, DataConfig(sample_rate=RATE, clip_samples=1024))

    def distance(audio):
        rebuilt = model.decode(model.encode(audio))[:, : audio.shape[-1]]
        return float(multi_resolution_stft_distance(rebuilt, audio, eps=TINY.log_epsilon))

    before, before_valid = distance(held_out), model.validate(held_out, None)
    logs = train(model, clips, 250)
    after, after_valid = distance(held_out), model.validate(held_out, None)
    assert after < 0.3 * before, (before, after)
    rebuilt = model.decode(model.encode(clips[:16]))[:, :1024]
    ratios = si_sdr(rebuilt.numpy(), clips[:16].numpy())
    assert ratios.mean() > 3 and ratios.min() > 0, ratios
    assert set(after_valid) == {"stft_distance", "kl", "si_sdr", "flow_nll"}
    assert after_valid["si_sdr"] > 3 > before_valid["si_sdr"]
    assert after_valid["stft_distance"] < before_valid["stft_distance"]
    assert after_valid["flow_nll"] < before_valid["flow_nll"] - 0.5
    assert float(logs[-1]["kl"]) > 0 and {"loss", "waveform_l1"} <= set(logs[-1])
    # validate is repeatable: its flow noise comes from a fixed seed
    assert model.validate(held_out, None) == after_valid


def test_adversarial_phase_trains_the_discriminator_and_freezes_the_encoder():
    data = DataConfig(sample_rate=RATE, clip_samples=512)
    assert not hasattr(FlowVAE(SMALL, data), "discriminator")
    assert len(FlowVAE(SMALL, data).configure_optimizers()) == 2
    torch.manual_seed(0)
    config = dataclasses.replace(SMALL, adversarial_after=2, discriminator_channels=4)
    model = FlowVAE(config, data)
    assert len(model.configure_optimizers()) == 3
    clips = torch.from_numpy(tone_clips(8, 512, RATE, 440.0))
    snapshot = {k: v.clone() for k, v in model.state_dict().items()}

    def changed(prefix):
        state = model.state_dict()
        return any(not torch.equal(state[k], snapshot[k]) for k in state if k.startswith(prefix))

    logs = train(model, clips, 2, batch_size=4)
    assert not changed("discriminator.") and changed("encoder.") and changed("decoder.")
    assert "discriminator_loss" not in logs[-1]
    snapshot = {k: v.clone() for k, v in model.state_dict().items()}
    optimizers = model.configure_optimizers()
    for step in (2, 3):
        logs = model.train_step(clips[:4], None, step, optimizers, lambda loss: loss.backward())
    assert changed("discriminator.") and changed("decoder.") and changed("flow.")
    assert not changed("encoder.")  # RAVE's second stage: the latents stay put
    for key in ("discriminator_loss", "adversarial_loss", "feature_matching"):
        assert np.isfinite(float(logs[key])), key
    assert float(logs["discriminator_loss"]) > 0


# --------------------------------------------------------------------------------------------
# encode, decode, interpolate and transfer


@pytest.mark.parametrize("samples", [37, 64, 1001])
def test_encode_decode_lengths(samples):
    model = FlowVAE(SMALL, UNLABELLED)
    assert model.hop == 4
    audio = torch.rand(2, samples) - 0.5
    z = model.encode(audio)
    frames = -(-samples // model.hop)
    assert z.shape == (2, SMALL.latent_dim, frames)
    assert torch.equal(z, model.posterior(audio)[0])  # the posterior mean
    rebuilt = model.decode(z)
    assert rebuilt.shape == (2, frames * model.hop) and rebuilt.abs().max() <= 1
    # the input is zero-padded at the end to whole hops
    padded = torch.cat([audio, torch.zeros(2, frames * model.hop - samples)], dim=1)
    assert torch.equal(model.encode(padded), z)
    with pytest.raises(SonogenError, match=r"audio: expected clips \[n, samples\], got shape"):
        model.encode(audio[0])
    with pytest.raises(SonogenError, match=r"z: expected latents \[n, 2, frames\]"):
        model.decode(z[:, :1])


def identity_model(monkeypatch, lengths):
    """A model whose encode/decode is the identity (so transfer must return its input exactly)
    and records the length of every block passed to encode."""
    model = FlowVAE(SMALL, UNLABELLED)

    def encode(audio):
        lengths.append(audio.shape[-1])
        return model.pad(audio)[:, None]

    monkeypatch.setattr(model, "encode", encode)
    monkeypatch.setattr(model, "decode", lambda z: z[:, 0])
    return model


@pytest.mark.parametrize(
    ("length", "block", "overlap"),
    [(1001, 64, 16), (1001, 64, 32), (64, 64, 16), (10, 64, 16), (777, 40, 0), (130, 64, None)],
)
def test_transfer_crossfades_sum_to_one(monkeypatch, length, block, overlap):
    lengths = []
    model = identity_model(monkeypatch, lengths)
    audio = np.random.default_rng(0).uniform(-0.9, 0.9, length).astype(np.float32)
    out = model.transfer(audio, block_samples=block, overlap_samples=overlap)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == (length,)
    np.testing.assert_allclose(out, audio, atol=1e-6)
    assert max(lengths) <= block
    tensor = model.transfer(torch.from_numpy(audio), block_samples=block, overlap_samples=overlap)
    assert isinstance(tensor, torch.Tensor) and torch.allclose(tensor, torch.from_numpy(audio))


def test_transfer_memory_is_bounded_by_the_block(monkeypatch):
    """60 s at 8 kHz goes through encode in blocks: the largest input is block_samples long."""
    lengths = []
    model = identity_model(monkeypatch, lengths)
    audio = np.sin(np.arange(60 * RATE) * 0.05).astype(np.float32)
    out = model.transfer(audio, block_samples=4096, overlap_samples=256)
    assert out.shape == audio.shape and max(lengths) == 4096
    assert len(lengths) == -(-(len(audio) - 256) // (4096 - 256))
    np.testing.assert_allclose(out, audio, atol=1e-6)


def test_transfer_with_the_real_networks():
    """Block by block equals the whole signal at once away from block edges, keeps odd lengths,
    and the networks never see more than a block."""
    torch.manual_seed(0)
    model = FlowVAE(SMALL, UNLABELLED)
    randomize(model.decoder, 0.2)
    seen = []
    original = model.encode
    model.encode = lambda audio: seen.append(audio.shape[-1]) or original(audio)
    audio = np.random.default_rng(1).uniform(-0.5, 0.5, 3001).astype(np.float32)
    out = model.transfer(audio, block_samples=1024, overlap_samples=128)
    assert out.shape == (3001,) and max(seen) <= 1024
    whole = model.decode(original(torch.from_numpy(audio)[None]))[0, :3001].numpy()
    # inside the first block, far from its end (blocks start on the hop grid)
    np.testing.assert_allclose(out[:700], whole[:700], atol=1e-5)
    assert np.abs(out - whole).max() > 1e-4  # the block edges do differ
    with pytest.raises(SonogenError, match="overlap_samples 600: must be between 0 and half"):
        model.transfer(audio, block_samples=1024, overlap_samples=600)
    with pytest.raises(SonogenError, match=r"audio: expected one mono signal \[samples\]"):
        model.transfer(np.zeros((2, 100), np.float32))
    with pytest.raises(SonogenError, match="audio: holds NaN"):
        model.transfer(np.full(100, np.nan, np.float32))


def test_interpolate_runs_between_the_two_reconstructions():
    torch.manual_seed(0)
    model = FlowVAE(SMALL, UNLABELLED)
    a = torch.rand(50) - 0.5
    b = torch.rand(37) - 0.5
    path = model.interpolate(a, b.numpy(), 5)
    assert path.shape == (5, 50)
    assert torch.allclose(path[0], model.decode(model.encode(a[None]))[0, :50], atol=1e-6)
    b_padded = torch.cat([b, torch.zeros(13)])
    assert torch.allclose(path[-1], model.decode(model.encode(b_padded[None]))[0, :50], atol=1e-6)
    assert not torch.allclose(path[2], path[0])
    with pytest.raises(SonogenError, match="steps 1: an interpolation needs at least 2"):
        model.interpolate(a, b, 1)


# --------------------------------------------------------------------------------------------
# generation


def test_generate_shape_seed_temperature_and_labels():
    torch.manual_seed(0)
    model = FlowVAE(SMALL, LABELLED)
    randomize(model.flow, 0.3)
    randomize(model.decoder, 0.3, seed=1)
    a = model.generate(3, seed=1)
    assert a.shape == (3, 64) and a.dtype == torch.float32 and a.abs().max() <= 1 and a.std() > 0
    assert model.training  # restored
    assert torch.equal(a, model.generate(3, seed=1))
    assert not torch.equal(a, model.generate(3, seed=2))
    assert model.generate(2, seed=0, samples=49).shape == (2, 49)
    # temperature 0: the decoded flow mean, the same for every seed
    low = torch.tensor(0)
    mean = model.generate(2, seed=1, temperature=0, labels=low)
    assert torch.equal(mean, model.generate(2, seed=7, temperature=0, labels=low))
    zeros = torch.zeros(2, SMALL.latent_dim, model.frames)
    expected = model.decode(model.flow.inverse(zeros, torch.tensor([0, 0])))
    assert torch.allclose(mean, expected, atol=1e-6)
    high = model.generate(2, seed=1, temperature=0, labels=torch.tensor(1))
    assert not torch.allclose(mean, high)  # the prior is conditioned on the label
    with pytest.raises(SonogenError, match="0..1"):
        model.generate(2, seed=0, labels=torch.tensor([2, 0]))
    with pytest.raises(SonogenError, match="--temperature -1: must be a finite number"):
        model.generate(1, seed=0, temperature=-1)
    with pytest.raises(SonogenError, match="truncation: not an option of FlowVAE"):
        model.generate(1, seed=0, truncation=1.0)
    with pytest.raises(SonogenError, match="samples 0: must be a whole number"):
        model.generate(1, seed=0, samples=0)
    with pytest.raises(SonogenError, match="trained without labels"):
        FlowVAE(SMALL, UNLABELLED).generate(1, seed=0, labels=torch.tensor(0))


def test_bad_settings_are_clear_errors():
    with pytest.raises(
        SonogenError, match="model.latent_dim 1: .* 2 to 1024 .the flow's couplings"
    ):
        FlowVAE(FlowVAEConfig(latent_dim=1), UNLABELLED)
    with pytest.raises(SonogenError, match="model.bands 0: must be a whole number from 1 to 64"):
        FlowVAE(FlowVAEConfig(bands=0), UNLABELLED)
    with pytest.raises(SonogenError, match="one latent frame would cover 8192 samples"):
        FlowVAE(FlowVAEConfig(bands=32, downsampling_layers=8), UNLABELLED)
    assert get_family("fvae") is FlowVAE


# --------------------------------------------------------------------------------------------
# through the trainer


def test_fvae_trains_through_the_trainer(tmp_path, labelled_tone_dataset):
    settings = [
        "model.bands=4", "model.channels=4", "model.max_channels=8",
        "model.downsampling_layers=1", "model.decoder_blocks=1", "model.latent_dim=2",
        "model.flow_layers=2", "model.flow_hidden=8", "model.flow_blocks=1",
    ]  # fmt: skip
    run = sonogen.train(
        labelled_tone_dataset,
        "fvae",
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
    assert all(float(row["stft_distance"]) > 0 and row["flow_nll"] for row in rows)
    assert len(list((run / "samples").glob("*.wav"))) == 2
    model = sonogen.load(run)
    assert model.model_name == "fvae" and model.can_reconstruct
    audio = model.generate(2, seed=0, labels="high")
    assert audio.shape == (2, 1024) and audio.dtype == np.float32
    assert np.array_equal(audio, model.generate(2, seed=0, labels="high"))
    clips = tone_clips(2, 1000, RATE, 250.0)
    assert model.reconstruct(clips).shape == (2, 1000)
    with pytest.raises(SonogenError, match="precision 16-mixed: fvae does not train"):
        sonogen.train(
            labelled_tone_dataset, "fvae", tmp_path / "r2", max_steps=1, precision="16-mixed"
        )
