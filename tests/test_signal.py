"""The signal checks used by the GAN tests: known answers on tones and noise."""

import numpy as np

from sonogen.evaluation.signal import (
    log_spectrum_distance,
    spectral_flatness,
    spectral_shape_distance,
)


def test_signal_checks_on_known_cases():
    rng = np.random.default_rng(0)
    t = np.arange(8192) / 8000
    tones = np.stack([0.5 * np.sin(2 * np.pi * 440 * t + p) for p in rng.uniform(0, 6, 8)])
    noise = rng.normal(0, 0.1, (8, 8192))
    assert np.median(spectral_flatness(noise)) > 0.5
    assert np.median(spectral_flatness(tones)) < 0.01
    assert log_spectrum_distance(tones, tones) == 0
    assert spectral_shape_distance(tones, tones) == 0
    # energy at the wrong frequency: the shape distance approaches its maximum of 2
    other = np.stack([0.5 * np.sin(2 * np.pi * 2000 * t) for _ in range(8)])
    assert spectral_shape_distance(other, tones) > 1.9
    assert log_spectrum_distance(tones + 0.01 * noise, tones) < log_spectrum_distance(noise, tones)
