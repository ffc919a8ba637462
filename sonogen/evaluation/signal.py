"""Cheap signal statistics used as sanity checks of generated audio (numpy in, numpy out)."""

from __future__ import annotations

import numpy as np


def frame_power(audio: np.ndarray, n_fft: int = 1024) -> np.ndarray:
    """Return power spectra of Hann-windowed frames (hop n_fft//2): [n, samples] ->
    [n, frames, n_fft//2+1]."""
    audio = np.asarray(audio, dtype=np.float64)
    frames = np.lib.stride_tricks.sliding_window_view(audio, n_fft, axis=-1)[..., :: n_fft // 2, :]
    return np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=-1)) ** 2


def mean_log_spectrum(audio: np.ndarray, n_fft: int = 1024) -> np.ndarray:
    """Return the average log power spectrum (dB) of clips: audio [n, samples] -> [n_fft//2+1].

    The power is averaged over every frame of every clip before taking the log, so loud and quiet
    clips weigh by their energy.
    """
    return 10 * np.log10(frame_power(audio, n_fft).mean(axis=(0, 1)) + 1e-10)


def log_spectrum_distance(generated: np.ndarray, reference: np.ndarray, n_fft: int = 1024) -> float:
    """Return the RMS difference (dB) between the average log spectra of two sets of clips."""
    difference = mean_log_spectrum(generated, n_fft) - mean_log_spectrum(reference, n_fft)
    return float(np.sqrt(np.mean(difference**2)))


def spectral_shape_distance(
    generated: np.ndarray, reference: np.ndarray, n_fft: int = 1024
) -> float:
    """Return how much of the generated energy sits at the wrong frequencies, in [0, 2].

    The L1 distance between the two sets' average power spectra, each scaled to sum to 1 (twice
    the total-variation distance between the spectral energy distributions). Unlike a distance
    between log spectra, a quiet noise floor barely counts, so a model that puts its energy on the
    data's partials scores well even before its floor has come down.
    """
    generated_power = 10 ** (mean_log_spectrum(generated, n_fft) / 10)
    reference_power = 10 ** (mean_log_spectrum(reference, n_fft) / 10)
    difference = generated_power / generated_power.sum() - reference_power / reference_power.sum()
    return float(np.abs(difference).sum())


def spectral_flatness(audio: np.ndarray, n_fft: int = 1024) -> np.ndarray:
    """Return each clip's spectral flatness (geometric / arithmetic mean of the power spectrum,
    over its frames with energy): ~1 for white noise, near 0 for a pitched tone. [n] floats."""
    power = frame_power(audio, n_fft) + 1e-12
    flatness = np.exp(np.log(power).mean(axis=-1)) / power.mean(axis=-1)  # [n, frames]
    energy = power.sum(axis=-1)
    weights = energy / energy.sum(axis=-1, keepdims=True)
    return (flatness * weights).sum(axis=-1)
