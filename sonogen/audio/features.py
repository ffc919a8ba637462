"""Differentiable audio features in torch, written to match librosa 0.11.

The features take tensors of any float dtype on any device and work on batches: audio is
`[..., samples]` and spectrograms are `[..., bins, frames]`, with any number of leading dims.
Results match librosa run with `pad_mode="constant"` (its default in 0.11), a periodic Hann window
and `center=True`, so a feature computed here can be checked against librosa in a test.

Only code that already needs torch imports this module, so torch and librosa load at the top.
"""

from __future__ import annotations

import functools
import math

import librosa
import numpy as np
import torch
from torch import Tensor

__all__ = [
    "stft_magnitude",
    "mel_filterbank",
    "mel_spectrogram",
    "power_to_db",
    "log_mel_spectrogram",
    "mfcc",
    "mu_law_encode",
    "mu_law_decode",
    "griffin_lim",
    "multi_resolution_stft_distance",
]


def _hann_window(win_length: int, like: Tensor) -> Tensor:
    """Return the periodic Hann window librosa uses (`scipy.signal.get_window("hann", n)`)."""
    real_dtype = like.real.dtype if like.is_complex() else like.dtype
    return torch.hann_window(win_length, periodic=True, dtype=real_dtype, device=like.device)


def _stft(
    audio: Tensor, n_fft: int, hop_length: int, win_length: int | None, center: bool
) -> Tensor:
    """Return the complex STFT: `[..., samples] -> [..., n_fft // 2 + 1, frames]`."""
    win_length = n_fft if win_length is None else win_length
    leading = audio.shape[:-1]
    spectrum = torch.stft(
        audio.reshape(-1, audio.shape[-1]),
        n_fft=n_fft,
        hop_length=hop_length,
        win_length=win_length,
        window=_hann_window(win_length, audio),
        center=center,
        pad_mode="constant",
        normalized=False,
        onesided=True,
        return_complex=True,
    )
    return spectrum.reshape(*leading, *spectrum.shape[-2:])


def _istft(
    spectrum: Tensor, n_fft: int, hop_length: int, length: int | None, center: bool = True
) -> Tensor:
    """Return audio from a complex STFT: `[..., n_fft // 2 + 1, frames] -> [..., samples]`."""
    leading = spectrum.shape[:-2]
    audio = torch.istft(
        spectrum.reshape(-1, *spectrum.shape[-2:]),
        n_fft=n_fft,
        hop_length=hop_length,
        win_length=n_fft,
        window=_hann_window(n_fft, spectrum),
        center=center,
        normalized=False,
        onesided=True,
        length=length,
    )
    return audio.reshape(*leading, audio.shape[-1])


def istft_bases(n_fft: int, dtype: torch.dtype = torch.float32) -> tuple[Tensor, ...]:
    """Return the constants of `istft_real` for ``n_fft``: the windowed inverse-DFT bases
    (cosine and sine, `[n_fft // 2 + 1, n_fft]`), the overlap-add kernel (an identity, `[n_fft,
    1, n_fft]`) and the squared periodic Hann window (`[n_fft]`)."""
    bins = n_fft // 2 + 1
    k = torch.arange(bins, dtype=torch.float64)[:, None]
    n = torch.arange(n_fft, dtype=torch.float64)[None, :]
    angle = 2 * math.pi * k * n / n_fft
    # a one-sided spectrum: every bin but DC (and Nyquist, for even n_fft) stands for two
    weight = torch.full((bins, 1), 2.0, dtype=torch.float64)
    weight[0] = 1.0
    if n_fft % 2 == 0:
        weight[-1] = 1.0
    window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
    cosine = weight * torch.cos(angle) * window / n_fft
    sine = -weight * torch.sin(angle) * window / n_fft
    identity = torch.eye(n_fft, dtype=torch.float64)[:, None, :]
    return tuple(x.to(dtype) for x in (cosine, sine, identity, window**2))


def istft_real(
    magnitude: Tensor,
    phase: Tensor,
    n_fft: int,
    hop_length: int,
    length: int,
    bases: tuple[Tensor, ...] | None = None,
) -> Tensor:
    """Return `_istft(torch.polar(magnitude, phase), n_fft, hop_length, length)` (centred frames,
    periodic Hann window) computed with real-valued operations only: an inverse DFT as two
    matrix products, and overlap-add as a transposed convolution. Exporters that know no complex
    numbers or inverse FFT (ONNX) can then carry a vocoder's inverse STFT.

    magnitude, phase: `[batch, n_fft // 2 + 1, frames]`; ``bases``: `istft_bases(n_fft)` on
    their device (made here when None). Returns `[batch, length]`.
    """
    frames = magnitude.shape[-1]
    if bases is None:
        bases = tuple(x.to(magnitude.device) for x in istft_bases(n_fft, magnitude.dtype))
    cosine, sine, identity, window_squared = bases
    real, imaginary = magnitude * torch.cos(phase), magnitude * torch.sin(phase)
    # [batch, bins, frames] x [bins, n_fft] -> windowed frames [batch, n_fft, frames]
    windowed = torch.einsum("bkt,kn->bnt", real, cosine) + torch.einsum(
        "bkt,kn->bnt", imaginary, sine
    )
    summed = torch.nn.functional.conv_transpose1d(windowed, identity, stride=hop_length)[:, 0]
    squares = window_squared[None, :, None].expand(1, n_fft, frames)
    envelope = torch.nn.functional.conv_transpose1d(squares, identity, stride=hop_length)[0, 0]
    start = n_fft // 2
    audio = summed[:, start : start + length] / envelope[start : start + length].clamp_min(1e-11)
    return torch.nn.functional.pad(audio, (0, length - audio.shape[-1]))


def stft_magnitude(
    audio: Tensor,
    n_fft: int,
    hop_length: int,
    win_length: int | None = None,
    center: bool = True,
    power: float = 1.0,
) -> Tensor:
    """Return `|STFT(audio)| ** power`: `np.abs(librosa.stft(audio, pad_mode="constant")) ** power`.

    audio: `[..., samples]`. Returns `[..., n_fft // 2 + 1, frames]`, frames `1 + samples //
    hop_length` when `center` (the signal is zero-padded by `n_fft // 2` on each side). The window
    is a periodic Hann of `win_length` samples (default `n_fft`), zero-padded to `n_fft` each side.
    """
    spectrum = _stft(audio, n_fft, hop_length, win_length, center)
    if power == 2.0:
        # re^2 + im^2 has a clean gradient at 0, where |z| ** 2 goes through sqrt.
        return spectrum.real.square() + spectrum.imag.square()
    magnitude = spectrum.abs()
    return magnitude if power == 1.0 else magnitude.pow(power)


@functools.lru_cache(maxsize=32)
def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None
) -> Tensor:
    """Return the Slaney mel filterbank `librosa.filters.mel` builds: `[n_mels, n_fft // 2 + 1]`.

    float64 on the CPU; cached per argument tuple, so the same tensor is shared by every caller:
    move it with `.to(device, dtype)` and never modify it in place.
    """
    basis = librosa.filters.mel(
        sr=sample_rate,
        n_fft=n_fft,
        n_mels=n_mels,
        fmin=fmin,
        fmax=fmax,
        htk=False,
        norm="slaney",
        dtype=np.float64,
    )
    return torch.from_numpy(basis)


def mel_spectrogram(
    audio: Tensor,
    sample_rate: int,
    n_fft: int = 1024,
    hop_length: int = 256,
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = None,
    power: float = 2.0,
) -> Tensor:
    """Return the mel spectrogram `librosa.feature.melspectrogram(pad_mode="constant")` gives.

    audio: `[..., samples]` at `sample_rate` Hz. Returns `[..., n_mels, frames]`: the STFT
    magnitude to `power` (2: power, 1: amplitude) through the Slaney mel filterbank.
    """
    spectrogram = stft_magnitude(audio, n_fft, hop_length, power=power)
    basis = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax)
    return basis.to(device=spectrogram.device, dtype=spectrogram.dtype) @ spectrogram


def power_to_db(power: Tensor, amin: float = 1e-10, top_db: float | None = 80.0) -> Tensor:
    """Return `10 * log10(max(power, amin))`, as `librosa.power_to_db(power, ref=1.0)`.

    power: `[..., bins, frames]`. With `top_db`, values more than `top_db` below the peak are raised
    to `peak - top_db`, the peak taken per item (over the last two dims): a batch gives each item
    what librosa gives it alone. (librosa on a stacked array takes one peak over the whole array.)
    """
    decibels = 10.0 * torch.log10(power.clamp_min(amin))
    if top_db is None:
        return decibels
    if top_db < 0:
        raise ValueError(f"top_db={top_db} must be non-negative")
    peak = decibels.amax(dim=(-2, -1), keepdim=True)
    return torch.maximum(decibels, peak - top_db)


def log_mel_spectrogram(
    audio: Tensor,
    sample_rate: int,
    n_fft: int = 1024,
    hop_length: int = 256,
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Return `ln(mel power + eps)`, the log-mel input of our models and metrics.

    audio: `[..., samples]` at `sample_rate` Hz. Returns `[..., n_mels, frames]`, natural log of the
    power (`power=2`) mel spectrogram; `eps` floors silence at `ln(eps)` (about -11.5).
    """
    mel = mel_spectrogram(audio, sample_rate, n_fft, hop_length, n_mels, fmin, fmax, power=2.0)
    return torch.log(mel + eps)


def _dct_ortho_matrix(n_out: int, n_in: int, like: Tensor) -> Tensor:
    """Return the first `n_out` rows of the orthonormal DCT-II matrix: `[n_out, n_in]`."""
    k = torch.arange(n_out, dtype=torch.float64).unsqueeze(1)
    n = torch.arange(n_in, dtype=torch.float64).unsqueeze(0)
    matrix = torch.cos(math.pi * k * (2 * n + 1) / (2 * n_in)) * math.sqrt(2.0 / n_in)
    matrix[0] /= math.sqrt(2.0)
    return matrix.to(device=like.device, dtype=like.dtype)


def mfcc(
    audio: Tensor,
    sample_rate: int,
    n_mfcc: int = 20,
    n_fft: int = 2048,
    hop_length: int = 512,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
) -> Tensor:
    """Return MFCCs as `librosa.feature.mfcc` computes them with its defaults.

    audio: `[..., samples]` at `sample_rate` Hz. Returns `[..., n_mfcc, frames]`: the orthonormal
    DCT-II over mel bands of `power_to_db(mel power, top_db=80)`, top_db applied per item.
    """
    mel = mel_spectrogram(audio, sample_rate, n_fft, hop_length, n_mels, fmin, fmax, power=2.0)
    decibels = power_to_db(mel)
    return _dct_ortho_matrix(n_mfcc, n_mels, decibels) @ decibels


@functools.lru_cache(maxsize=8)
def _mu_law_bin_edges(quantization_channels: int) -> Tensor:
    # numpy's linspace, not torch's: torch computes the upper half from the end, which moves some
    # edges by an ulp and would flip a code now and then against librosa.
    return torch.from_numpy(np.linspace(-1.0, 1.0, num=quantization_channels, endpoint=True))


def mu_law_encode(audio: Tensor, quantization_channels: int = 256) -> Tensor:
    """Return mu-law codes in `[0, quantization_channels - 1]` (int64), shaped like `audio`.

    Equals `librosa.mu_compress(audio, mu=quantization_channels - 1, quantize=True)
    + quantization_channels // 2`: the compressed value `sign(x) ln(1 + mu|x|) / ln(1 + mu)` goes
    to the index of the first of `quantization_channels` evenly spaced edges over [-1, 1] that is
    not below it. The logarithm is taken in `audio`'s dtype, as librosa does. Audio outside [-1, 1]
    is clipped (librosa raises), so a slightly hot model output still encodes; a float32 1.0 gets
    the top code, where librosa gives one past it.
    Not differentiable (the codes are integers).
    """
    mu = quantization_channels - 1
    audio = audio.clamp(-1.0, 1.0)
    # librosa takes log1p in the input dtype and divides by a float64 scalar (numpy 2 promotes
    # float32 / np.float64 to float64): the same steps here give the same codes.
    compressed = (torch.sign(audio) * torch.log1p(mu * audio.abs())).to(torch.float64)
    compressed = compressed / math.log1p(mu)
    edges = _mu_law_bin_edges(quantization_channels).to(compressed.device)
    # np.digitize(right=True) is searchsorted(side="left"). In float32, log1p(mu) rounds up, so
    # x = 1 compresses to just over 1 and librosa returns the out-of-range code mu + 1: clamp it.
    codes = torch.searchsorted(edges, compressed.contiguous(), side="left")
    return codes.clamp_(max=quantization_channels - 1)


def mu_law_decode(codes: Tensor, quantization_channels: int = 256) -> Tensor:
    """Return audio in [-1, 1] (default float dtype) from mu-law codes, shaped like `codes`.

    Equals `librosa.mu_expand(codes - quantization_channels // 2, mu=quantization_channels - 1,
    quantize=True)`, computed in float64 and then cast. Code 0 decodes to -1; the top code to a
    little under 1 (0.957 for 256 channels), as in librosa.
    """
    mu = quantization_channels - 1
    centred = (codes.to(torch.float64) - quantization_channels // 2) * 2.0 / (1 + mu)
    audio = torch.sign(centred) / mu * (torch.pow(1.0 + mu, centred.abs()) - 1.0)
    return audio.to(torch.get_default_dtype())


def griffin_lim(
    magnitude: Tensor,
    n_fft: int,
    hop_length: int,
    n_iter: int = 32,
    momentum: float = 0.99,
    length: int | None = None,
    seed: int = 0,
) -> Tensor:
    """Return audio whose STFT magnitude approximates `magnitude`, by fast Griffin-Lim.

    magnitude: `[..., n_fft // 2 + 1, frames]`, an amplitude (power 1) spectrogram. Returns
    `[..., samples]`, `length` samples if given (trimmed or zero-padded), else
    `hop_length * (frames - 1)`.

    The algorithm of Perraudin et al. (2013), step for step `librosa.griffinlim`'s, with the same
    periodic Hann window, centring and zero padding as `stft_magnitude`. The initial phase is
    random, uniform on [0, 2 pi), drawn on the CPU from a `torch.Generator` seeded with `seed`, so
    a seed gives the same audio on every device (it is not librosa's random stream). Every item of
    a batch starts from the same draw, so an item's result does not depend on its batch.
    """
    if momentum < 0:
        raise ValueError(f"momentum={momentum} must be non-negative")
    generator = torch.Generator().manual_seed(seed)
    real_dtype = magnitude.dtype
    phase = 2 * math.pi * torch.rand(magnitude.shape[-2:], generator=generator, dtype=torch.float64)
    phase = phase.to(device=magnitude.device, dtype=real_dtype).expand(magnitude.shape)
    angles = magnitude * torch.polar(torch.ones_like(phase), phase)
    tiny = torch.finfo(real_dtype).tiny
    # Iterate at a length whose STFT has as many frames as `magnitude`: `length` itself when it
    # fits (as librosa does), else the natural length; `length` is applied at the end either way.
    frames = magnitude.shape[-1]
    fits = length is not None and length // hop_length + 1 == frames
    iteration_length = length if fits else None
    previous = None
    for _ in range(n_iter):
        inverse = _istft(angles, n_fft, hop_length, iteration_length)
        rebuilt = _stft(inverse, n_fft, hop_length, None, center=True)
        # The "fast" part: extrapolate along the last update before projecting onto |S|.
        update = rebuilt if previous is None else rebuilt - (momentum / (1 + momentum)) * previous
        angles = magnitude * update / (update.abs() + tiny)
        previous = rebuilt
    audio = _istft(angles, n_fft, hop_length, iteration_length)
    if length is None or fits:
        return audio
    # torch.istft would zero-pad too, but warns; trimming or padding here says it is meant.
    return torch.nn.functional.pad(audio[..., :length], (0, max(0, length - audio.shape[-1])))


def multi_resolution_stft_distance(
    x: Tensor,
    y: Tensor,
    fft_sizes: tuple[int, ...] = (2048, 1024, 512, 256, 128, 64),
    eps: float = 1e-7,
) -> Tensor:
    """Return a scalar spectral distance from `x` to the reference `y`, for losses and metrics.

    x, y: `[..., samples]`, the same shape. For each `n_fft` in `fft_sizes` (hop `n_fft // 4`,
    Hann window of `n_fft`) with magnitudes X, Y: spectral convergence `||Y - X||_F / ||Y||_F`
    (the norms taken over the whole batch, as in Parallel WaveGAN, so a silent item cannot blow it
    up) plus the mean of `|ln(Y + eps) - ln(X + eps)|`; returns the mean of these over resolutions.
    Zero when `x == y`; differentiable in both arguments.
    """
    if x.shape != y.shape:
        raise ValueError(f"x {tuple(x.shape)} and y {tuple(y.shape)} must have the same shape")
    distances = []
    for n_fft in fft_sizes:
        x_magnitude = stft_magnitude(x, n_fft, n_fft // 4)
        y_magnitude = stft_magnitude(y, n_fft, n_fft // 4)
        convergence = torch.linalg.vector_norm(y_magnitude - x_magnitude) / (
            torch.linalg.vector_norm(y_magnitude) + eps
        )
        log_distance = (torch.log(y_magnitude + eps) - torch.log(x_magnitude + eps)).abs().mean()
        distances.append(convergence + log_distance)
    return torch.stack(distances).mean()
