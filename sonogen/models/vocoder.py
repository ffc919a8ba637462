"""The learned vocoder: log-mel spectrogram -> waveform, trained on the run's own dataset.

A Vocos-style network (Siuzdenko et al., "Vocos", 2023): a stack of 1-D ConvNeXt blocks at the
mel frame rate predicts, for every frame, the magnitude and phase of the STFT with the same window
and hop as the mel, and an inverse STFT makes the waveform. Everything runs at the frame rate
(no upsampling stack as in HiFi-GAN), which is what makes it cheap on a CPU.

It is a component, not a family: a spectrogram family (`flow`) owns one as its sub-module
``vocoder`` and trains it beside its own network, on random segments of the same batches, with
the loss of `Vocoder.loss` (log-mel L1 plus the multi-resolution STFT distance). Griffin-Lim
stays available (`MelSpec.griffin_lim`) for comparison and for models trained without one.

`MelSpec` is the one definition of the log-mel both sides use: the family's network makes it and
the vocoder reads it, so the two can never disagree about the window, hop or floor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sonogen.audio.features import (
    _istft,
    griffin_lim,
    istft_bases,
    istft_real,
    mel_filterbank,
    mel_spectrogram,
    multi_resolution_stft_distance,
)

# the log-mel floor: ln(mel power + FLOOR); 1e-5 is about 86 dB below a full-scale sine's band
FLOOR = 1e-5
LOG_EPSILON = 1e-2  # the floor of the magnitudes in the vocoder's multi-resolution STFT loss


@dataclass(frozen=True)
class MelSpec:
    """A log-mel spectrogram definition: ln(mel power + FLOOR), Slaney mel filters, periodic Hann
    window of ``n_fft`` samples, hop ``hop_length``, centred frames (1 + samples // hop)."""

    sample_rate: int
    n_fft: int
    hop_length: int
    n_mels: int

    @classmethod
    def for_sample_rate(cls, sample_rate: int, n_mels: int) -> MelSpec:
        """Return windows of about 32 ms (a power of two: 256 samples at 8 kHz, 512 at 16 kHz,
        1024 at 44.1 kHz) with hops of a quarter window."""
        n_fft = 2 ** max(6, round(math.log2(0.032 * sample_rate)))
        return cls(sample_rate, n_fft, n_fft // 4, n_mels)

    @property
    def channels(self) -> int:
        return self.n_mels

    def frames(self, samples: int) -> int:
        """Return the number of centred frames of a signal of ``samples`` samples."""
        return 1 + samples // self.hop_length

    def features(self, audio: Tensor) -> Tensor:
        """What a vocoder reads: the log-mel."""
        return self.log_mel(audio)

    def log_mel(self, audio: Tensor) -> Tensor:
        """audio [..., samples] -> log-mel [..., n_mels, 1 + samples // hop_length]."""
        power = mel_spectrogram(
            audio, self.sample_rate, self.n_fft, self.hop_length, self.n_mels, power=2.0
        )
        return torch.log(power + FLOOR)

    def griffin_lim(self, log_mel: Tensor, samples: int, iterations: int = 32) -> Tensor:
        """Return audio [..., samples] for log-mel [..., n_mels, frames] by Griffin-Lim: the mel
        power is mapped back to linear frequency by the filterbank's pseudo-inverse (clamped at
        zero, as librosa's mel_to_stft), then phase is estimated."""
        basis = mel_filterbank(self.sample_rate, self.n_fft, self.n_mels)
        inverse = torch.linalg.pinv(basis).to(log_mel.device, log_mel.dtype)
        power = (torch.exp(log_mel) - FLOOR).clamp_min(0)
        magnitude = (inverse @ power).clamp_min(0).sqrt()
        return griffin_lim(
            magnitude, self.n_fft, self.hop_length, n_iter=iterations, length=samples
        )


@dataclass(frozen=True)
class LinearSpec:
    """SpecGAN's spectrogram as a vocoder input: ln(|STFT| + 1e-6) of the first ``bins`` bins
    (periodic Hann window of ``n_fft``, hop ``hop_length``, centred frames)."""

    n_fft: int
    hop_length: int
    bins: int

    @property
    def channels(self) -> int:
        return self.bins

    def features(self, audio: Tensor) -> Tensor:
        """audio [..., samples] -> [..., bins, 1 + samples // hop_length]."""
        from sonogen.audio.features import stft_magnitude

        magnitude = stft_magnitude(audio, n_fft=self.n_fft, hop_length=self.hop_length)
        return torch.log(magnitude[..., : self.bins, :] + 1e-6)


class ConvNeXtBlock(nn.Module):
    """x + layer_scale * Linear(GELU(Linear(LayerNorm(depthwise conv(x))))) on [batch, C, T]."""

    def __init__(self, channels: int, kernel_size: int = 7, expansion: int = 3):
        super().__init__()
        self.depthwise = nn.Conv1d(
            channels, channels, kernel_size, padding=kernel_size // 2, groups=channels
        )
        self.norm = nn.LayerNorm(channels)
        self.expand = nn.Linear(channels, expansion * channels)
        self.project = nn.Linear(expansion * channels, channels)
        self.scale = nn.Parameter(torch.full((channels,), 1.0 / 8))

    def forward(self, x: Tensor) -> Tensor:
        h = self.norm(self.depthwise(x).transpose(1, 2))
        h = self.project(F.gelu(self.expand(h))) * self.scale
        return x + h.transpose(1, 2)


class Vocoder(nn.Module):
    """features [batch, channels, frames] -> audio [batch, (frames - 1) * hop_length], where the
    features are ``spec.features(audio)``: a `MelSpec`'s log-mel or a `LinearSpec`'s log-magnitude.

    ConvNeXt blocks at the frame rate, then per frame the log-magnitude and phase of every STFT
    bin (magnitudes capped at e^``MAX_LOG_MAGNITUDE``), then the inverse STFT (the mel's window
    and hop, centred).
    """

    MAX_LOG_MAGNITUDE = 4.6  # about 100, Vocos' cap: a full-scale sine peaks near n_fft / 4

    def __init__(self, spec: MelSpec | LinearSpec, channels: int = 128, blocks: int = 6):
        super().__init__()
        self.spec = spec
        # True in an exported copy (sonogen.export): the inverse STFT in real-valued operations
        self.real_istft = False
        bins = spec.n_fft // 2 + 1
        self.embed = nn.Conv1d(spec.channels, channels, 7, padding=3)
        self.norm = nn.LayerNorm(channels)
        self.blocks = nn.ModuleList(ConvNeXtBlock(channels) for _ in range(blocks))
        self.final_norm = nn.LayerNorm(channels)
        self.head = nn.Linear(channels, 2 * bins)

    ISTFT_BUFFERS = ("istft_cosine", "istft_sine", "istft_identity", "istft_window_squared")

    def use_real_istft(self) -> None:
        """Make the inverse STFT real-valued (`istft_real`), as an exported copy needs; its
        constants become buffers (not saved), so they follow the module to another device."""
        for name, value in zip(self.ISTFT_BUFFERS, istft_bases(self.spec.n_fft), strict=True):
            self.register_buffer(name, value.to(self.head.weight.device), persistent=False)
        self.real_istft = True

    def spectrum(self, features: Tensor) -> Tensor:
        """Return the complex STFT [batch, n_fft // 2 + 1, frames] predicted from features."""
        return torch.polar(*self.magnitude_and_phase(features))

    def magnitude_and_phase(self, features: Tensor) -> tuple[Tensor, Tensor]:
        """Return the STFT's magnitude and phase [batch, n_fft // 2 + 1, frames] for features."""
        x = self.embed(features)
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        x = self.head(self.final_norm(x.transpose(1, 2))).transpose(1, 2).float()
        log_magnitude, phase = x.chunk(2, dim=1)
        return torch.exp(log_magnitude.clamp(max=self.MAX_LOG_MAGNITUDE)), phase

    def forward(self, features: Tensor) -> Tensor:
        frames = features.shape[-1]
        spec = self.spec
        length = (frames - 1) * spec.hop_length
        if self.real_istft:
            magnitude, phase = self.magnitude_and_phase(features)
            bases = tuple(getattr(self, name, None) for name in self.ISTFT_BUFFERS)
            bases = None if bases[0] is None else bases
            return istft_real(magnitude, phase, spec.n_fft, spec.hop_length, length, bases)
        return _istft(self.spectrum(features), spec.n_fft, spec.hop_length, length)

    def loss(self, audio: Tensor, segment_frames: int, generator: torch.Generator | None = None):
        """Return (loss, logs) of copy synthesis on a random segment of each clip.

        audio [batch, samples]: a segment of ``segment_frames`` hops at a random hop-aligned
        offset per clip is cut out, its features vocoded, and the output compared with the
        segment: L1 between the features plus the multi-resolution STFT distance (magnitudes
        floored at LOG_EPSILON) at four window sizes around the spec's (2x, 1x, 1/2x, 1/4x n_fft).
        """
        segment = self.segments(audio, segment_frames, generator)
        features = self.spec.features(segment)
        output = self(features)[:, : segment.shape[-1]]
        output = F.pad(output, (0, segment.shape[-1] - output.shape[-1]))
        feature_l1 = (self.spec.features(output) - features).abs().mean()
        sizes = tuple(self.spec.n_fft * 2 // 2**i for i in range(4))
        # log magnitudes floored at 1e-2, as the flow-VAE's loss (models/fvae.py): with 1e-7 the
        # digital silence of zero-padded clips dominates (FSDD: 6.5 of a loss of 8.2 at step 150)
        stft = multi_resolution_stft_distance(output, segment, fft_sizes=sizes, eps=LOG_EPSILON)
        logs = {"vocoder_feature_l1": feature_l1.detach(), "vocoder_stft": stft.detach()}
        return feature_l1 + stft, logs

    def segments(
        self, audio: Tensor, segment_frames: int, generator: torch.Generator | None = None
    ) -> Tensor:
        """Return [batch, segment_frames * hop] cut from audio [batch, samples] at random
        hop-aligned offsets (the whole clip, end-padded, when it is shorter)."""
        hop = self.spec.hop_length
        length = segment_frames * hop
        if audio.shape[-1] <= length:
            return F.pad(audio, (0, length - audio.shape[-1]))
        starts = torch.randint(
            0, (audio.shape[-1] - length) // hop + 1, (audio.shape[0],), generator=generator
        ).to(audio.device)
        index = starts[:, None] * hop + torch.arange(length, device=audio.device)
        return audio.gather(1, index)
