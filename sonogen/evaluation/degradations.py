"""Known degradations of real clips, for checking that a metric orders them below the real thing.

Each takes float32 audio `[n, samples]` in [-1, 1] and returns float32 audio of the same shape;
those that draw random numbers take a `seed`. Used by the FAD-ordering test and
`benchmarks/bench_fad_ordering.py`: a content-measuring embedding must put real clips of an
unheard voice closer to the reference than any of these.
"""

from __future__ import annotations

import numpy as np

__all__ = ["white_noise", "add_noise", "add_reverb", "smear_phase", "shuffle_frames", "rms"]


def rms(audio: np.ndarray) -> np.ndarray:
    """Return the RMS level of each clip, float64 `[n]`."""
    return np.sqrt(np.mean(np.square(np.asarray(audio, np.float64)), axis=1))


def _fit(audio: np.ndarray) -> np.ndarray:
    """Return float32 audio scaled down (per clip) only where a peak would exceed 0.99."""
    peak = np.abs(audio).max(axis=1, keepdims=True)
    return (audio * np.minimum(1.0, 0.99 / np.maximum(peak, 1e-12))).astype(np.float32)


def white_noise(audio: np.ndarray, seed: int = 0) -> np.ndarray:
    """Return Gaussian white noise `[n, samples]` with each clip's RMS level."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(audio.shape)
    return _fit(noise * rms(audio)[:, None])


def add_noise(audio: np.ndarray, snr_db: float = 10.0, seed: int = 0) -> np.ndarray:
    """Return the clips with white noise added at `snr_db` below each clip's RMS level."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(audio.shape) * (rms(audio) * 10 ** (-snr_db / 20))[:, None]
    return _fit(audio + noise)


def add_reverb(
    audio: np.ndarray, sample_rate: int, rt60_seconds: float = 1.2, wet: float = 0.7, seed: int = 0
) -> np.ndarray:
    """Return the clips through a synthetic room: exponentially decaying noise of `rt60_seconds`
    (60 dB decay), mixed `wet` to 1 - `wet` with the dry clip, at the dry clip's RMS level."""
    import scipy.signal

    rng = np.random.default_rng(seed)
    length = int(rt60_seconds * sample_rate)
    t = np.arange(length) / sample_rate
    response = rng.standard_normal(length) * 10 ** (-3 * t / rt60_seconds)
    response /= np.sqrt(np.sum(response**2))
    tail = scipy.signal.fftconvolve(audio, response[None, :], axes=1)[:, : audio.shape[1]]
    mixed = (1 - wet) * audio + wet * tail
    gain = rms(audio) / np.maximum(rms(mixed), 1e-12)
    return _fit(mixed * gain[:, None])


def smear_phase(
    audio: np.ndarray, sample_rate: int, amount: float = 1.0, window_seconds: float = 0.032, seed=0
) -> np.ndarray:
    """Return the clips with their STFT phase replaced in part by random phase (`amount` 1: all):
    the magnitudes kept, the phase coherence lost, as a vocoder-less model's output sounds."""
    import scipy.signal

    rng = np.random.default_rng(seed)
    n_fft = 1 << int(round(np.log2(window_seconds * sample_rate)))
    _, _, spectrum = scipy.signal.stft(audio, nperseg=n_fft, noverlap=3 * n_fft // 4, axis=-1)
    noise = np.exp(1j * amount * rng.uniform(-np.pi, np.pi, spectrum.shape))
    _, smeared = scipy.signal.istft(spectrum * noise, nperseg=n_fft, noverlap=3 * n_fft // 4)
    smeared = smeared[:, : audio.shape[1]]
    if smeared.shape[1] < audio.shape[1]:
        smeared = np.pad(smeared, ((0, 0), (0, audio.shape[1] - smeared.shape[1])))
    gain = rms(audio) / np.maximum(rms(smeared), 1e-12)
    return _fit(smeared * gain[:, None])


def shuffle_frames(
    audio: np.ndarray, sample_rate: int, frame_seconds: float = 0.064, seed: int = 0
) -> np.ndarray:
    """Return the clips with their frames (`frame_seconds`, half-overlapping, sqrt-Hann windows)
    put back in a random order: every short-time spectrum kept, their sequence (the word) lost,
    as a model that babbles the right sounds in the wrong order. Statistics over frames are
    unchanged, so an embedding of frame statistics cannot tell it from the clip."""
    rng = np.random.default_rng(seed)
    size = 2 * max(1, int(frame_seconds * sample_rate) // 2)
    hop = size // 2
    window = np.sqrt(np.hanning(size + 1)[:size])
    samples = audio.shape[1]
    count = int(np.ceil(samples / hop)) + 1
    padded = np.pad(audio, ((0, 0), (hop, count * hop + hop - samples)))
    out = np.zeros_like(padded, dtype=np.float64)
    for i, clip in enumerate(padded):
        frames = [clip[j * hop : j * hop + size] * window for j in range(count)]
        for j, k in enumerate(rng.permutation(count)):
            out[i, j * hop : j * hop + size] += frames[k] * window
    out = out[:, hop : hop + samples]
    gain = rms(audio) / np.maximum(rms(out), 1e-12)
    return _fit(out * gain[:, None])
