"""The flow-VAE family (``fvae``): a RAVE-style waveform VAE with a normalizing-flow prior.

- Filter bank: a PQMF (pseudo-quadrature mirror filter bank, as in RAVE) splits the waveform into
  ``bands`` critically sampled sub-bands, so encoder and decoder run at ``sample_rate / bands``.
  Its prototype is a Kaiser-window low-pass whose cutoff is chosen so that the product of a
  band filter with its time reverse vanishes at multiples of 2 x bands (Lin & Vaidyanathan's
  Kaiser-window design), which makes synthesis(analysis(x)) equal x to about 56 dB. Filters are
  applied centred (zero phase), so reconstruction needs no delay compensation.
- Encoder: 1-D convolutions on the sub-bands, ``downsampling_layers`` residual blocks each
  followed by a stride-2 convolution, ending in a Gaussian posterior q(z | x): a mean and a
  deviation for each of ``latent_dim`` channels per latent frame. One frame covers ``hop = bands
  x 2**downsampling_layers`` samples (256 at the defaults: 62.5 frames per second at 16 kHz).
- Decoder: the mirror image (transposed stride-2 convolutions, dilated residual blocks) to the
  sub-bands, each a tanh waveform times a sigmoid gain that can reach silence (RAVE's), then PQMF
  synthesis.
- Loss: multi-resolution STFT distance (spectral convergence + log magnitude) between the decoded
  posterior sample and the input, plus ``waveform_weight`` x the mean absolute sample error, plus
  beta x KL(q(z | x) || N(0, I)) summed over latent channels and averaged over frames, beta
  rising linearly from 0 over ``beta_warmup_steps``. Two departures from RAVE, both measured on
  a tiny model learning tones: the log magnitudes get ``log_epsilon`` = 1e-2 rather than 1e-7,
  because with 1e-7 the digital silence of zero-padded clips (any tiny output there is a huge
  log error) dominates the loss and its gradients (held-out distance 1.3-1.4 against 1.6, both
  measured with 1e-7); and a waveform L1 term (weight 1; 0 gives RAVE's loss), because a
  spectral loss leaves the phase free: it lifts reconstruction SI-SDR from about -20 dB to
  +5..+20 dB and lowers the spectral distance too. On spoken digits (1,500 steps) the L1 term
  changed neither much.
- Adversarial phase (optional, RAVE's second stage): from step ``adversarial_after`` the encoder
  is frozen (latents no longer move, so the prior stays valid) and the decoder also learns against
  a multi-scale spectral discriminator (a 2-D convolutional network on the log-magnitude STFT at
  each of several FFT sizes) with hinge losses and feature matching (L1 between the
  discriminator's hidden features of real and decoded audio).
- Prior: a normalizing flow over one clip's whole latent sequence [latent_dim, frames]: layers of
  ActNorm (a learned per-channel affine, starting at the identity) and an affine coupling
  (RealNVP / Glow): a fixed channel permutation, then half the channels are scaled and shifted
  by a dilated convolutional network of the other half (all frames, so frames depend on each
  other), its log-scale soft-clamped to +-``flow_scale_clamp`` through tanh, and a label
  embedding added inside that network when the dataset has labels. It is trained in the same
  step, with its own optimizer, by maximum likelihood on the detached posterior samples of the
  batch (samples, not means: the decoder is trained on samples, and the means of an unused
  latent channel collapse to a point, which has no density).
- Generation: base noise N(0, I) x temperature, through the inverse flow, decoded. Temperature 0
  gives the flow's image of the zero vector, the "decoded flow mean" (the base density's mode
  mapped to latent space), which does not depend on the seed.

Float16 loss scaling is refused (``float16 = False``): it has not been checked with this family
(three optimizers stepped by hand, flow log-determinants); 32-true is the tested precision. No
EMA: encoding, decoding and the prior stay one consistent set of weights.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sonogen.audio.features import multi_resolution_stft_distance, stft_magnitude
from sonogen.config import LEARNING_RATES, DataConfig, setting
from sonogen.errors import SonogenError
from sonogen.models.base import (
    ExportGraph,
    Family,
    GraphModule,
    check_steps,
    check_temperature,
    seeded_generator,
)

PQMF_ATTENUATION_DB = 100.0  # stop-band attenuation of the prototype (RAVE's value)
DISCRIMINATOR_FFT_SIZES = (2048, 1024, 512, 256, 128)  # one spectral discriminator each
LEAK = 0.2  # leaky ReLU slope everywhere

# --------------------------------------------------------------------------------------------
# config


MAX_HOP = 4096  # samples per latent frame (bands x 2**downsampling_layers); RAVE's is 2048


@dataclass(frozen=True)
class FlowVAEConfig:
    # autoencoder
    # PQMF sub-bands; the networks run at sample_rate / bands (1 = no filter bank)
    bands: int = setting(16, 1, 64)
    channels: int = setting(32, 1, 1024)  # width at the sub-band rate; doubles at each layer
    max_channels: int = setting(128, 1, 2048)  # width cap
    # stride-2 layers: hop = bands * 2**layers samples per frame (at most MAX_HOP)
    downsampling_layers: int = setting(4, 0, 12)
    # dilated residual blocks per decoder layer (dilations 1, 3, 9, ...)
    decoder_blocks: int = setting(3, 0, 8)
    latent_dim: int = setting(  # latent channels per frame
        16, 2, 1024, why="the flow's couplings split the latent channels in two"
    )
    # weight of the KL term (nats per frame, summed over latent channels)
    beta: float = setting(0.01, 0, 10**6)
    beta_warmup_steps: int = setting(2000, 0, 10**9)  # beta rises linearly from 0 over these
    # weight of the mean absolute waveform error (0: RAVE's loss)
    waveform_weight: float = setting(1.0, 0, 10**6)
    # added to STFT magnitudes before the log in the training loss
    log_epsilon: float = setting(1e-2, 0, 1, above=True)
    learning_rate: float = setting(5e-4, *LEARNING_RATES)
    # prior
    flow_layers: int = setting(8, 1, 64)  # ActNorm + affine coupling pairs
    flow_hidden: int = setting(64, 1, 2048)  # width of the coupling networks
    # dilated residual blocks per coupling network (dilations 1, 2, 4, ...)
    flow_blocks: int = setting(4, 0, 16)
    # |log scale| of one coupling stays below this (tanh)
    flow_scale_clamp: float = setting(2.0, 0, 20, above=True)
    flow_learning_rate: float = setting(1e-3, *LEARNING_RATES)
    # size of the label embedding fed to the coupling networks
    label_dim: int = setting(16, 1, 4096)
    # adversarial phase (None: never)
    adversarial_after: int | None = setting(None, 0, 10**9)
    discriminator_channels: int = setting(16, 1, 1024)
    feature_matching_weight: float = setting(10.0, 0, 10**6)
    discriminator_learning_rate: float = setting(1e-4, *LEARNING_RATES)


# --------------------------------------------------------------------------------------------
# PQMF filter bank


@functools.lru_cache(maxsize=8)
def pqmf_filters(bands: int, attenuation_db: float = PQMF_ATTENUATION_DB) -> np.ndarray:
    """Return the cosine-modulated PQMF analysis filters, float64 [bands, taps] (taps odd).

    The prototype is a Kaiser-window low-pass (Kaiser's formulas, as ``scipy.signal.kaiserord``,
    for the attenuation and a transition width of 1 / bands of the Nyquist frequency); its
    cutoff, searched near 1 / (2 bands), minimises the largest value of (h * reversed h) at
    non-zero multiples of 2 bands, the condition for near-perfect reconstruction. Band k is
    ``2 h[n] cos((2k + 1) pi / (2 bands) (n - (taps - 1) / 2) + (-1)**k pi / 4)``.

    NumPy only, in about 10 ms: SciPy's ``kaiserord``, ``firwin`` and bounded
    ``minimize_scalar`` cost about 1 s to import at every model load, and the search below
    takes their steps, so the filters equal theirs (bit for bit with SciPy 1.17 for bands 2 to
    64, tests/models/test_pqmf.py): models trained with them rebuild the same bank.
    Cached per (bands, attenuation): treat the array as read-only.
    """
    taps, beta = _kaiser_order(attenuation_db, 1.0 / bands)
    taps = 2 * (taps // 2) + 1  # odd, so the filters can be applied centred

    def aliasing(cutoff: float) -> float:
        h = _kaiser_lowpass(taps, cutoff, beta)
        product = np.convolve(h, h[::-1])
        return float(np.abs(product[len(product) // 2 :: 2 * bands][1:]).max())

    ideal = 1.0 / (2 * bands)
    h = _kaiser_lowpass(taps, _bounded_minimum(aliasing, 0.5 * ideal, 1.5 * ideal, 1e-9), beta)
    n = np.arange(taps) - (taps - 1) / 2
    k = np.arange(bands)[:, None]
    return 2 * h * np.cos((2 * k + 1) * np.pi / (2 * bands) * n + (-1) ** k * np.pi / 4)


def _kaiser_order(attenuation_db: float, width: float) -> tuple[int, float]:
    """Return (taps, Kaiser beta) of a low-pass with this stop-band attenuation and transition
    width (a fraction of the Nyquist frequency): Kaiser's formulas, as ``scipy.signal.kaiserord``.
    """
    a = abs(attenuation_db)
    if a < 8:
        raise ValueError(f"attenuation {a} dB: Kaiser's formula needs at least 8 dB")
    if a > 50:
        beta = 0.1102 * (a - 8.7)
    elif a > 21:
        beta = 0.5842 * (a - 21) ** 0.4 + 0.07886 * (a - 21)
    else:
        beta = 0.0
    return math.ceil((a - 7.95) / 2.285 / (np.pi * width) + 1), beta


def _kaiser_lowpass(taps: int, cutoff: float, beta: float) -> np.ndarray:
    """Return a windowed-sinc low-pass [taps] with ``cutoff`` a fraction of the Nyquist frequency,
    unscaled: ``scipy.signal.firwin(taps, cutoff, window=("kaiser", beta), scale=False)``."""
    m = np.arange(taps, dtype=np.float64) - 0.5 * (taps - 1)
    return cutoff * np.sinc(cutoff * m) * np.kaiser(taps, beta)


def _bounded_minimum(
    function: Callable[[float], float], low: float, high: float, xatol: float
) -> float:
    """Return the x in [low, high] where ``function`` is least, by Brent's method (golden
    sections and parabolic steps), step for step as SciPy's bounded ``minimize_scalar``
    (``fminbound``, at most 500 evaluations), so that it ends on the same point as before."""
    sqrt_eps = math.sqrt(2.2e-16)
    golden_mean = 0.5 * (3.0 - math.sqrt(5.0))
    a, b = low, high
    x_best = x_second = x_third = a + golden_mean * (b - a)  # best, second, third points
    f_best = f_second = f_third = function(x_best)
    step = previous_step = 0.0
    middle = 0.5 * (a + b)
    tol1 = sqrt_eps * abs(x_best) + xatol / 3.0
    for _ in range(499):
        if abs(x_best - middle) <= 2.0 * tol1 - 0.5 * (b - a):
            break
        golden = True
        if abs(previous_step) > tol1:  # try a parabola through the three points
            golden = False
            r = (x_best - x_second) * (f_best - f_third)
            q = (x_best - x_third) * (f_best - f_second)
            p = (x_best - x_third) * q - (x_best - x_second) * r
            q = 2.0 * (q - r)
            if q > 0.0:
                p = -p
            q = abs(q)
            r, previous_step = previous_step, step
            if abs(p) < abs(0.5 * q * r) and q * (a - x_best) < p < q * (b - x_best):
                step = (p + 0.0) / q
                x = x_best + step
                if (x - a) < 2.0 * tol1 or (b - x) < 2.0 * tol1:
                    step = tol1 * (np.sign(middle - x_best) + (middle == x_best))
            else:
                golden = True
        if golden:
            previous_step = (a - x_best) if x_best >= middle else (b - x_best)
            step = golden_mean * previous_step
        x = x_best + (np.sign(step) + (step == 0)) * max(abs(step), tol1)
        f_x = function(x)
        if f_x <= f_best:
            if x >= x_best:
                a = x_best
            else:
                b = x_best
            x_third, f_third = x_second, f_second
            x_second, f_second = x_best, f_best
            x_best, f_best = x, f_x
        else:
            if x < x_best:
                a = x
            else:
                b = x
            if f_x <= f_second or x_second == x_best:
                x_third, f_third = x_second, f_second
                x_second, f_second = x, f_x
            elif f_x <= f_third or x_third == x_best or x_third == x_second:
                x_third, f_third = x, f_x
        middle = 0.5 * (a + b)
        tol1 = sqrt_eps * abs(x_best) + xatol / 3.0
    return float(x_best)


class PQMF(nn.Module):
    """Pseudo-QMF bank: ``analysis`` [batch, samples] -> [batch, bands, samples / bands] and
    ``synthesis`` back; samples must be a multiple of bands. bands = 1 is the identity.

    Analysis is a strided correlation with the filters and synthesis a transposed convolution
    with the same filters (which is a convolution with their time reverses, the synthesis bank),
    both centred.
    """

    def __init__(self, bands: int):
        super().__init__()
        self.bands = bands
        filters = torch.zeros(1, 1, 1) if bands == 1 else torch.from_numpy(pqmf_filters(bands))
        # rebuilt from `bands` when the model is built, so not part of the weights
        self.register_buffer("filters", filters.float().reshape(bands, 1, -1), persistent=False)

    def analysis(self, audio: Tensor) -> Tensor:
        if self.bands == 1:
            return audio[:, None]
        taps = self.filters.shape[-1]
        return F.conv1d(audio[:, None], self.filters, stride=self.bands, padding=taps // 2)

    def synthesis(self, sub_bands: Tensor) -> Tensor:
        if self.bands == 1:
            return sub_bands[:, 0]
        taps = self.filters.shape[-1]
        audio = F.conv_transpose1d(
            sub_bands,
            self.filters * self.bands,
            stride=self.bands,
            padding=taps // 2,
            output_padding=self.bands - 1,
        )
        return audio[:, 0]


# --------------------------------------------------------------------------------------------
# encoder and decoder


class ResidualBlock(nn.Module):
    """x + conv1x1(act(conv3(act(x), dilation))): [batch, channels, time] -> same shape."""

    def __init__(self, channels: int, dilation: int = 1):
        super().__init__()
        self.dilated = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.mix = nn.Conv1d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.mix(F.leaky_relu(self.dilated(F.leaky_relu(x, LEAK)), LEAK))


def layer_widths(config: FlowVAEConfig) -> list[int]:
    """Return the channel count at each rate, sub-band rate first: [layers + 1]."""
    return [
        min(config.channels * 2**i, config.max_channels)
        for i in range(config.downsampling_layers + 1)
    ]


class Encoder(nn.Module):
    """sub-bands [batch, bands, time] -> (mean, deviation) [batch, latent_dim, time / 2**layers]."""

    def __init__(self, config: FlowVAEConfig):
        super().__init__()
        widths = layer_widths(config)
        self.input = nn.Conv1d(config.bands, widths[0], 7, padding=3)
        layers = []
        for c_in, c_out in zip(widths[:-1], widths[1:], strict=True):
            layers += [ResidualBlock(c_in), nn.LeakyReLU(LEAK)]
            layers.append(nn.Conv1d(c_in, c_out, 4, stride=2, padding=1))
        self.layers = nn.Sequential(*layers)
        self.output = nn.Conv1d(widths[-1], 2 * config.latent_dim, 3, padding=1)

    def forward(self, sub_bands: Tensor) -> tuple[Tensor, Tensor]:
        x = self.layers(self.input(sub_bands))
        mean, scale = self.output(F.leaky_relu(x, LEAK)).chunk(2, dim=1)
        return mean, F.softplus(scale) + 1e-4


class Decoder(nn.Module):
    """latents [batch, latent_dim, frames] -> sub-bands [batch, bands, frames * 2**layers].

    As in RAVE, each sub-band sample is tanh(waveform) x a gain 2 sigmoid(a)**2.3 + 1e-7 from a
    second output channel: the gain can shut a band down to ~1e-7, so digital silence (clips
    padded with zeros) is reachable without every layer having to cancel its biases.
    """

    def __init__(self, config: FlowVAEConfig):
        super().__init__()
        widths = layer_widths(config)[::-1]
        self.input = nn.Conv1d(config.latent_dim, widths[0], 3, padding=1)
        layers: list[nn.Module] = []
        for c_in, c_out in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.LeakyReLU(LEAK), nn.ConvTranspose1d(c_in, c_out, 4, stride=2, padding=1)]
            layers += [ResidualBlock(c_out, 3**i) for i in range(config.decoder_blocks)]
        self.layers = nn.Sequential(*layers)
        self.output = nn.Conv1d(widths[-1], 2 * config.bands, 7, padding=3)

    def forward(self, z: Tensor) -> Tensor:
        x = self.output(F.leaky_relu(self.layers(self.input(z)), LEAK))
        waveform, gain = x.chunk(2, dim=1)
        return torch.tanh(waveform) * (2 * torch.sigmoid(gain) ** 2.3 + 1e-7)


# --------------------------------------------------------------------------------------------
# the prior: a conditional normalizing flow over one clip's latent sequence


class ActNorm(nn.Module):
    """Per-channel affine y = (x + bias) * exp(log_scale), starting at the identity.

    (Glow initialises it from the first batch; that would start each DDP rank from different
    values, and the latents move during training anyway, so it is learnt from the identity.)
    """

    def __init__(self, channels: int):
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(channels, 1))
        self.bias = nn.Parameter(torch.zeros(channels, 1))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x [batch, channels, frames] -> (y, log|det| [batch])."""
        log_det = self.log_scale.sum() * x.shape[-1]
        return (x + self.bias) * self.log_scale.exp(), log_det.expand(x.shape[0])

    def inverse(self, y: Tensor) -> Tensor:
        return y * (-self.log_scale).exp() - self.bias


class AffineCoupling(nn.Module):
    """Permute channels, then scale and shift the second half by a network of the first half.

    The network: conv3 -> (+ label embedding projection) -> dilated residual blocks -> conv3,
    the last layer zero-initialised so that the coupling starts as a pure permutation.
    """

    def __init__(self, config: FlowVAEConfig, label_dim: int, seed: int):
        super().__init__()
        channels = config.latent_dim
        self.split, self.clamp = channels // 2, config.flow_scale_clamp
        permutation = torch.randperm(channels, generator=torch.Generator().manual_seed(seed))
        self.register_buffer("permutation", permutation, persistent=False)
        self.register_buffer("inverse_permutation", permutation.argsort(), persistent=False)
        hidden = config.flow_hidden
        self.input = nn.Conv1d(self.split, hidden, 3, padding=1)
        self.label = nn.Linear(label_dim, hidden) if label_dim else None
        self.blocks = nn.Sequential(
            *(ResidualBlock(hidden, 2**i) for i in range(config.flow_blocks))
        )
        self.output = nn.Conv1d(hidden, 2 * (channels - self.split), 3, padding=1)
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def scale_and_shift(self, kept: Tensor, label: Tensor | None) -> tuple[Tensor, Tensor]:
        h = self.input(kept)
        if self.label is not None and label is not None:
            h = h + self.label(label)[:, :, None]
        raw_scale, shift = self.output(F.leaky_relu(self.blocks(h), LEAK)).chunk(2, dim=1)
        return self.clamp * torch.tanh(raw_scale / self.clamp), shift

    def forward(self, x: Tensor, label: Tensor | None) -> tuple[Tensor, Tensor]:
        """x [batch, channels, frames] -> (y, log|det| [batch])."""
        x = x[:, self.permutation]
        kept, changed = x[:, : self.split], x[:, self.split :]
        log_scale, shift = self.scale_and_shift(kept, label)
        changed = changed * log_scale.exp() + shift
        return torch.cat([kept, changed], dim=1), log_scale.sum(dim=(1, 2))

    def inverse(self, y: Tensor, label: Tensor | None) -> Tensor:
        kept, changed = y[:, : self.split], y[:, self.split :]
        log_scale, shift = self.scale_and_shift(kept, label)
        changed = (changed - shift) * (-log_scale).exp()
        return torch.cat([kept, changed], dim=1)[:, self.inverse_permutation]


class Flow(nn.Module):
    """Invertible map between latent sequences x [batch, latent_dim, frames] and base noise of
    the same shape, conditional on labels [batch] when ``num_labels`` > 0."""

    def __init__(self, config: FlowVAEConfig, num_labels: int):
        super().__init__()
        label_dim = config.label_dim if num_labels else 0
        self.label_embedding = nn.Embedding(num_labels, label_dim) if num_labels else None
        self.norms = nn.ModuleList(ActNorm(config.latent_dim) for _ in range(config.flow_layers))
        self.couplings = nn.ModuleList(
            AffineCoupling(config, label_dim, seed=i) for i in range(config.flow_layers)
        )

    def embed(self, labels: Tensor | None) -> Tensor | None:
        if self.label_embedding is None or labels is None:
            return None
        return self.label_embedding(labels)

    def forward(self, x: Tensor, labels: Tensor | None) -> tuple[Tensor, Tensor]:
        """Return (base noise [batch, latent_dim, frames], log|det dz/dx| [batch])."""
        label = self.embed(labels)
        log_det = x.new_zeros(x.shape[0])
        for norm, coupling in zip(self.norms, self.couplings, strict=True):
            x, norm_log_det = norm(x)
            x, coupling_log_det = coupling(x, label)
            log_det = log_det + norm_log_det + coupling_log_det
        return x, log_det

    def inverse(self, z: Tensor, labels: Tensor | None) -> Tensor:
        """Return the latent sequence [batch, latent_dim, frames] that base noise z maps from."""
        label = self.embed(labels)
        for norm, coupling in zip(reversed(self.norms), reversed(self.couplings), strict=True):
            z = norm.inverse(coupling.inverse(z, label))
        return z

    def log_likelihood(self, x: Tensor, labels: Tensor | None) -> Tensor:
        """Return log p(x) [batch] in nats under N(0, I) pushed through the inverse flow."""
        z, log_det = self(x, labels)
        base = -0.5 * (z.square() + math.log(2 * math.pi)).sum(dim=(1, 2))
        return base + log_det


# --------------------------------------------------------------------------------------------
# the adversarial phase: a multi-scale spectral discriminator


class SpectralDiscriminator(nn.Module):
    """log|STFT| [batch, 1, bins, frames] -> list of feature maps, the last one the score map.

    Convolutions stride along frequency only (every frame keeps its own score)."""

    def __init__(self, channels: int):
        super().__init__()
        self.layers = nn.ModuleList(
            [
                nn.Conv2d(1, channels, (3, 9), padding=(1, 4)),
                nn.Conv2d(channels, channels, (3, 9), stride=(2, 1), padding=(1, 4)),
                nn.Conv2d(channels, channels, (3, 9), stride=(2, 1), padding=(1, 4)),
                nn.Conv2d(channels, channels, (3, 3), stride=(2, 1), padding=(1, 1)),
                nn.Conv2d(channels, 1, (3, 3), padding=(1, 1)),
            ]
        )

    def forward(self, spectrogram: Tensor) -> list[Tensor]:
        features, x = [], spectrogram
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.leaky_relu(x, LEAK)
            features.append(x)
        return features


class MultiScaleDiscriminator(nn.Module):
    """audio [batch, samples] -> one feature list per FFT size in DISCRIMINATOR_FFT_SIZES."""

    def __init__(self, channels: int):
        super().__init__()
        self.fft_sizes = DISCRIMINATOR_FFT_SIZES
        self.scales = nn.ModuleList(SpectralDiscriminator(channels) for _ in self.fft_sizes)

    def forward(self, audio: Tensor) -> list[list[Tensor]]:
        outputs = []
        for n_fft, scale in zip(self.fft_sizes, self.scales, strict=True):
            magnitude = stft_magnitude(audio, n_fft, n_fft // 4)
            outputs.append(scale(torch.log(magnitude + 1e-5)[:, None]))
        return outputs


# --------------------------------------------------------------------------------------------
# the family


def _check_settings(config: FlowVAEConfig) -> None:
    """Raise a SonogenError for settings that fit their ranges but not each other."""
    hop = config.bands * 2**config.downsampling_layers
    if hop > MAX_HOP:
        raise SonogenError(
            f"model.downsampling_layers {config.downsampling_layers}, model.bands {config.bands}: "
            f"one latent frame would cover {hop} samples (bands x 2**downsampling_layers), at "
            f"most {MAX_HOP}; lower one of them"
        )


class FlowVAE(Family):
    """RAVE-style waveform VAE on PQMF sub-bands with a normalizing-flow prior (see the module
    docstring)."""

    Config = FlowVAEConfig
    float16 = False
    any_length = True  # the flow and decoder are convolutional
    encodes = True
    interpolates = frozenset({"seeds", "sounds"})
    exports = ("encoder", "decoder")

    def __init__(self, config: FlowVAEConfig, data: DataConfig):
        super().__init__(config, data)
        _check_settings(config)
        self.hop = config.bands * 2**config.downsampling_layers
        self.frames = math.ceil(data.clip_samples / self.hop)
        self.pqmf = PQMF(config.bands)
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.flow = Flow(config, self.num_labels)
        if config.adversarial_after is not None:
            self.discriminator = MultiScaleDiscriminator(config.discriminator_channels)

    # --- the autoencoder ------------------------------------------------------------------
    def pad(self, audio: Tensor) -> Tensor:
        """Zero-pad audio [batch, samples] at the end to a whole number of frames."""
        return F.pad(audio, (0, -audio.shape[-1] % self.hop))

    def posterior(self, audio: Tensor) -> tuple[Tensor, Tensor]:
        """audio [batch, samples] -> (mean, deviation) [batch, latent_dim, ceil(samples / hop)]."""
        return self.encoder(self.pqmf.analysis(self.pad(audio)))

    def decode_latent(self, z: Tensor) -> Tensor:
        """z [batch, latent_dim, frames] -> audio [batch, frames * hop] (not clipped)."""
        return self.pqmf.synthesis(self.decoder(z))

    @torch.no_grad()
    def encode(self, audio: Tensor) -> Tensor:
        """Return the posterior mean z [n, latent_dim, ceil(samples / hop)] of audio [n, samples].

        The input is zero-padded at the end to a whole number of hops; nothing is remembered,
        so the caller crops the decoded audio back to its own length.
        """
        audio = torch.as_tensor(audio, dtype=torch.float32, device=self.device)
        if audio.dim() != 2 or audio.shape[-1] < 1:
            raise SonogenError(
                f"audio: expected clips [n, samples], got shape {tuple(audio.shape)}"
            )
        return self.posterior(audio)[0]

    @torch.no_grad()
    def decode(self, z: Tensor) -> Tensor:
        """Return audio [n, frames * hop] in [-1, 1] for latents z [n, latent_dim, frames]."""
        z = torch.as_tensor(z, dtype=torch.float32, device=self.device)
        if z.dim() != 3 or z.shape[1] != self.config.latent_dim:
            raise SonogenError(
                f"z: expected latents [n, {self.config.latent_dim}, frames], got shape "
                f"{tuple(z.shape)}"
            )
        return self.decode_latent(z).clamp(-1, 1)

    # --- export -----------------------------------------------------------------------------
    EXPORT_BLOCK_HOPS = 32  # the default block a real-time host feeds: 32 latent frames

    def export_graphs(self, batch, block_samples=None, **options):
        """The encoder (audio [batch, block] -> posterior mean [batch, latent_dim, block / hop])
        and the decoder (back to audio), for fixed blocks of ``block_samples`` (rounded up to
        whole hops). Both are stateless convolutions: a host encodes and decodes block by block
        and cross-fades overlapping blocks as ``transfer`` does."""
        if options:
            raise SonogenError(f"{', '.join(options)}: export bakes no options into an fvae")
        hops = self.EXPORT_BLOCK_HOPS if block_samples is None else -(-block_samples // self.hop)
        block, latent = hops * self.hop, self.config.latent_dim
        family = self.exportable_copy(drop=("discriminator",))
        audio = torch.zeros(batch, block)
        z = torch.zeros(batch, latent, hops)
        return {
            "encoder": ExportGraph(
                GraphModule(family, "graph_encode"),
                (audio,),
                ("audio",),
                "z",
                f"audio [batch, {block}] float32 in [-1, 1] -> z [batch, {latent}, {hops}] "
                "(posterior mean)",
            ),
            "decoder": ExportGraph(
                GraphModule(family, "graph_decode"),
                (z,),
                ("z",),
                "audio",
                f"z [batch, {latent}, {hops}] -> audio [batch, {block}] float32 in [-1, 1]",
            ),
        }

    def graph_encode(self, audio: Tensor) -> Tensor:
        """The posterior mean of audio [n, samples], samples a whole number of hops."""
        return self.encoder(self.pqmf.analysis(audio))[0]

    def graph_decode(self, z: Tensor) -> Tensor:
        """Audio [n, frames * hop] in [-1, 1] for latents z [n, latent_dim, frames]."""
        return self.decode_latent(z).clamp(-1, 1)

    # --- training -------------------------------------------------------------------------
    def configure_optimizers(self):
        c = self.config
        autoencoder = list(self.encoder.parameters()) + list(self.decoder.parameters())
        # HiFi-GAN's betas: RAVE's (0.5, 0.9) left a tone autoencoder at ~4x the waveform error
        # of Adam's defaults after 400 steps, and the optional GAN phase wants a short memory
        optimizers = [
            torch.optim.Adam(autoencoder, lr=c.learning_rate, betas=(0.8, 0.99)),
            torch.optim.Adam(self.flow.parameters(), lr=c.flow_learning_rate),
        ]
        if c.adversarial_after is not None:
            optimizers.append(
                torch.optim.Adam(
                    self.discriminator.parameters(),
                    lr=c.discriminator_learning_rate,
                    betas=(0.8, 0.99),
                )
            )
        return optimizers

    def beta_at(self, step: int) -> float:
        """Return the KL weight at ``step``: linear warm-up from 0 to ``beta``."""
        c = self.config
        if c.beta_warmup_steps <= 0:
            return c.beta
        return c.beta * min(1.0, (step + 1) / c.beta_warmup_steps)

    @staticmethod
    def kl_divergence(mean: Tensor, deviation: Tensor) -> Tensor:
        """KL(N(mean, deviation^2) || N(0, 1)) summed over latent channels, averaged over the
        batch and frames: nats per frame."""
        kl = 0.5 * (mean.square() + deviation.square() - 1) - deviation.log()
        return kl.sum(dim=1).mean()

    def flow_nll(self, z: Tensor, labels: Tensor | None) -> Tensor:
        """Return the flow's negative log-likelihood of z [batch, latent_dim, frames] in nats per
        dimension, averaged over the batch."""
        return -self.flow.log_likelihood(z, labels).mean() / (z.shape[1] * z.shape[2])

    def train_step(self, audio, labels, step, optimizers, backward):
        c = self.config
        autoencoder_optimizer, flow_optimizer = optimizers[:2]
        labels = labels if self.num_labels else None
        adversarial = c.adversarial_after is not None and step >= c.adversarial_after
        samples = audio.shape[-1]
        # the second phase freezes the encoder, as RAVE does: the latents (and so the prior)
        # stay put while the decoder sharpens
        with torch.set_grad_enabled(not adversarial):
            mean, deviation = self.posterior(audio)
            kl = self.kl_divergence(mean, deviation)
        z = mean + deviation * torch.randn_like(deviation)
        output = self.decode_latent(z)[:, :samples]
        distance = multi_resolution_stft_distance(output, audio, eps=c.log_epsilon)
        loss = distance
        logs = {"stft_distance": distance.detach(), "kl": kl.detach()}
        if c.waveform_weight > 0:
            waveform = (output - audio).abs().mean()
            loss = loss + c.waveform_weight * waveform
            logs["waveform_l1"] = waveform.detach()
        if adversarial:
            loss = loss + self.adversarial_losses(audio, output, optimizers[2], backward, logs)
        else:
            loss = loss + self.beta_at(step) * kl
        autoencoder_optimizer.zero_grad()
        backward(loss)
        autoencoder_optimizer.step()
        nll = self.flow_nll(z.detach(), labels)
        flow_optimizer.zero_grad()
        backward(nll)
        flow_optimizer.step()
        logs |= {"loss": loss.detach(), "flow_nll": nll.detach()}
        return logs

    def adversarial_losses(self, real, fake, optimizer, backward, logs) -> Tensor:
        """Take one hinge-loss discriminator step on (real, fake.detach()) and return the
        decoder's adversarial + feature-matching loss against the updated discriminator."""
        real_scales = self.discriminator(real)
        fake_scales = self.discriminator(fake.detach())
        critic_loss = sum(
            F.relu(1 - r[-1]).mean() + F.relu(1 + f[-1]).mean()
            for r, f in zip(real_scales, fake_scales, strict=True)
        )
        optimizer.zero_grad()
        backward(critic_loss)
        optimizer.step()
        with torch.no_grad():
            real_scales = self.discriminator(real)
        fake_scales = self.discriminator(fake)
        adversarial = sum(-f[-1].mean() for f in fake_scales)
        # RAVE's feature matching: L1 per layer, averaged over layers, summed over scales
        matching = sum(
            sum((r - f).abs().mean() for r, f in zip(rs, fs, strict=True)) / len(rs)
            for rs, fs in zip(real_scales, fake_scales, strict=True)
        )
        logs |= {
            "discriminator_loss": critic_loss.detach(),
            "adversarial_loss": adversarial.detach(),
            "feature_matching": matching.detach(),
        }
        return adversarial + self.config.feature_matching_weight * matching

    @torch.no_grad()
    def validate(self, audio, labels):
        """Held-out reconstruction of the posterior mean (STFT distance, SI-SDR in dB averaged
        over the batch), KL in nats per frame, and the flow's NLL in nats per dimension of
        posterior samples (drawn with a fixed seed, so the number repeats)."""
        from sonogen.evaluation.metrics import si_sdr

        labels = labels if self.num_labels else None
        samples = audio.shape[-1]
        mean, deviation = self.posterior(audio)
        output = self.decode_latent(mean)[:, :samples].clamp(-1, 1)
        noise = torch.randn(
            mean.shape, generator=seeded_generator(0, mean.device), device=mean.device
        )
        ratios = si_sdr(output.double().cpu().numpy(), audio.double().cpu().numpy())
        return {
            "stft_distance": float(multi_resolution_stft_distance(output, audio)),
            "kl": float(self.kl_divergence(mean, deviation)),
            "si_sdr": float(np.mean(ratios)),
            "flow_nll": float(self.flow_nll(mean + deviation * noise, labels)),
        }

    # --- generation -----------------------------------------------------------------------
    def _frames_for(self, samples: Any) -> tuple[int, int]:
        given = samples
        try:
            samples = operator.index(self.data.clip_samples if samples is None else samples)
        except TypeError:
            samples = 0
        if samples < 1:
            raise SonogenError(f"samples {given!r}: must be a whole number of at least 1")
        return samples, math.ceil(samples / self.hop)

    @torch.no_grad()
    def generate(
        self,
        n: int,
        *,
        seed: int | None = None,
        labels: Tensor | None = None,
        temperature: float = 1.0,
        samples: int | None = None,
        **options: Any,
    ) -> Tensor:
        """Return n new clips, float32 [n, samples] in [-1, 1] on the model's device.

        Base noise N(0, I) [n, latent_dim, frames] x ``temperature`` goes through the inverse
        flow and the decoder. Temperature 0 decodes the flow's image of the zero vector (the
        "decoded flow mean"), the same for every seed. ``samples``: clip length (default: the
        dataset's clip_samples); the flow and decoder are convolutional, so any length works.
        Unlabelled requests to a labelled model draw labels from the seed.
        """
        if options:
            raise SonogenError(f"{', '.join(options)}: not an option of {type(self).__name__}")
        if n < 1:
            raise SonogenError(f"-n {n}: ask for at least one clip")
        value = check_temperature(temperature)
        samples, frames = self._frames_for(samples)
        generator = seeded_generator(seed, self.device)
        labels = self.check_labels(labels, n)
        if labels is None and self.num_labels:
            labels = torch.randint(
                self.num_labels, (n,), generator=generator, device=generator.device
            )
        shape = (n, self.config.latent_dim, frames)
        noise = torch.randn(shape, generator=generator, device=generator.device) * value
        was_training = self.training
        self.eval()
        try:
            z = self.flow.inverse(noise, labels)
            return self.decode(z)[:, :samples]
        finally:
            self.train(was_training)

    @torch.no_grad()
    def interpolate_seeds(
        self, seed_a: int, seed_b: int, steps: int, *, label: int | None = None
    ) -> Tensor:
        """Return audio [steps, clip_samples] decoded along the great circle between the base
        noises that ``generate`` draws for two seeds (temperature 1), through the inverse flow.

        The label is ``label``, or for a labelled model the one seed A draws, so the first clip
        is ``generate(1, seed=seed_a, labels=label)`` and the last the same for seed B (where
        seed B draws the same label as seed A, or a label is given).
        """
        _, frames = self._frames_for(None)
        noises, labels = self.seed_path(
            seed_a, seed_b, steps, (self.config.latent_dim, frames), label
        )
        was_training = self.training
        self.eval()
        try:
            z = self.flow.inverse(noises, labels)
            return self.decode(z)[:, : self.data.clip_samples]
        finally:
            self.train(was_training)

    @torch.no_grad()
    def interpolate_sounds(self, a_audio: Any, b_audio: Any, steps: int) -> Tensor:
        """Return audio [steps, samples] decoded from the straight line between the latent
        sequences (posterior means) of two mono signals [samples_a] and [samples_b], a first.

        The shorter signal is zero-padded to the longer one's length, which is ``samples``.
        """
        steps = check_steps(steps)
        a, b = (self._mono(audio, name) for audio, name in ((a_audio, "a"), (b_audio, "b")))
        samples = max(a.shape[0], b.shape[0])
        pair = torch.stack(
            [F.pad(a, (0, samples - a.shape[0])), F.pad(b, (0, samples - b.shape[0]))]
        )
        z_a, z_b = self.encode(pair)
        t = torch.linspace(0, 1, steps, device=self.device)[:, None, None]
        z = (1 - t) * z_a + t * z_b
        return self.decode(z)[:, :samples]

    @torch.no_grad()
    def transfer(
        self,
        audio: Any,
        block_samples: int | None = None,
        overlap_samples: int | None = None,
    ) -> Any:
        """Return ``audio`` [samples] re-synthesised by this model (timbre transfer), the same
        length and kind (numpy float32 in, numpy float32 out; a tensor gives a tensor).

        The signal is encoded and decoded in blocks of ``block_samples`` (default 256 hops; rounded
        up to whole hops) that overlap by ``overlap_samples`` (default 8 hops, at most half a
        block); in each overlap the earlier block fades out as cos^2 and the later fades in as
        sin^2, which sum to 1. Only one block is in the networks at a time, so memory does not
        grow with the signal's length (the output itself aside).
        """
        as_numpy = not isinstance(audio, Tensor)
        signal = self._mono(audio, "audio")
        length = signal.shape[0]
        block = 256 * self.hop if block_samples is None else operator.index(block_samples)
        if block < 1:
            raise SonogenError(f"block_samples {block_samples}: must be at least 1")
        block = math.ceil(block / self.hop) * self.hop
        overlap = 8 * self.hop if overlap_samples is None else operator.index(overlap_samples)
        overlap = min(overlap, block // 2) if overlap_samples is None else overlap
        if not 0 <= overlap <= block // 2:
            raise SonogenError(
                f"overlap_samples {overlap_samples}: must be between 0 and half a block "
                f"({block // 2} samples for block_samples {block})"
            )
        step = block - overlap
        count = max(1, math.ceil((length - overlap) / step))
        ramp = torch.sin(
            0.5 * math.pi * (torch.arange(overlap, device=self.device) + 0.5) / overlap
        )
        fade_in = ramp.square()
        output = torch.zeros(length, device=self.device)
        for i in range(count):
            start = i * step
            stop = min(start + block, length)
            piece = signal[start:stop][None]
            rebuilt = self.decode(self.encode(piece))[0, : stop - start]
            if i > 0 and overlap:
                rebuilt[:overlap] *= fade_in
            if i < count - 1 and overlap:
                rebuilt[-overlap:] *= 1 - fade_in
            output[start:stop] += rebuilt
        return output.cpu().numpy().astype(np.float32) if as_numpy else output

    def _mono(self, audio: Any, name: str) -> Tensor:
        if not isinstance(audio, Tensor):
            try:
                array = np.asarray(audio)
            except ValueError:  # ragged nested lists
                array = np.asarray(None)
            if not np.issubdtype(array.dtype, np.number):
                raise SonogenError(f"{name}: expected float audio in [-1, 1], got {array.dtype}")
            audio = torch.as_tensor(array)
        tensor = audio
        if tensor.dim() != 1 or tensor.shape[0] < 1:
            raise SonogenError(
                f"{name}: expected one mono signal [samples], got shape {tuple(tensor.shape)}; "
                "mix channels down first"
            )
        if not tensor.is_floating_point():
            raise SonogenError(f"{name}: expected float audio in [-1, 1], got {tensor.dtype}")
        tensor = tensor.to(self.device, torch.float32)
        if not torch.isfinite(tensor).all():
            raise SonogenError(f"{name}: holds NaN or infinite values; pass finite audio")
        return tensor
