"""Synthetic 'speech' for evaluation tests: words (formant trajectories) said by voices.

A word is a path of two formants (F1, F2) over the clip; a voice is a fundamental, a spectral
tilt of its harmonics and a noise floor. The content (which word) and the recording (which voice)
are thus separate, as in FSDD, and a held-out voice is a new speaker saying the same words.
"""

from __future__ import annotations

import numpy as np

RATE = 8000
SAMPLES = 4000  # 0.5 s

# (F1 start, F1 end, F2 start, F2 end) in Hz
WORDS = {
    "ai": (800, 300, 1200, 2300),
    "ia": (300, 800, 2300, 1200),
    "u": (320, 320, 800, 800),
    "a": (800, 800, 1300, 1300),
    "iu": (300, 300, 2300, 800),
    "oe": (500, 500, 900, 2000),
}
# (fundamental Hz, harmonic tilt dB per octave, noise floor re the voice's RMS in dB)
VOICES = [(110, -9, -40), (150, -6, -30), (200, -12, -35), (250, -4, -45), (130, -15, -25)]


def say(word: str, voice: int, takes: int, seed: int) -> np.ndarray:
    """Return float32 `[takes, SAMPLES]`: `word` said `takes` times by `voice` (random pitch,
    timing, level per take)."""
    f1a, f1b, f2a, f2b = WORDS[word]
    f0, tilt, floor = VOICES[voice]
    rng = np.random.default_rng(seed)
    t = np.arange(SAMPLES) / RATE
    clips = []
    for _ in range(takes):
        start, stop = rng.uniform(0.02, 0.1), rng.uniform(0.38, 0.48)
        where = np.clip((t - start) / (stop - start), 0, 1)
        fundamental = f0 * rng.uniform(0.95, 1.05) * (1 + 0.08 * np.sin(np.pi * where))
        phase = 2 * np.pi * np.cumsum(fundamental) / RATE
        first = f1a + (f1b - f1a) * where
        second = f2a + (f2b - f2a) * where
        wave = np.zeros(SAMPLES)
        for k in range(1, int(3800 / f0)):
            frequency = k * fundamental
            envelope = np.exp(-0.5 * ((frequency - first) / 90) ** 2) + 0.7 * np.exp(
                -0.5 * ((frequency - second) / 120) ** 2
            )
            wave += envelope * 10 ** (tilt * np.log2(k) / 20) * np.sin(k * phase)
        gate = np.clip(np.minimum((t - start) / 0.02, (stop - t) / 0.03), 0, 1)
        wave *= gate
        wave /= np.sqrt(np.mean(wave**2)) + 1e-9
        wave += rng.standard_normal(SAMPLES) * 10 ** (floor / 20)
        clips.append(wave * rng.uniform(0.05, 0.15))
    return np.asarray(clips, dtype=np.float32)


def corpus(voices, takes: int, seed: int) -> tuple[np.ndarray, list[str], list[int]]:
    """Return (clips, word per clip, voice per clip): every word said `takes` times by each
    voice in `voices`."""
    clips, words, speakers = [], [], []
    for v in voices:
        for w, word in enumerate(WORDS):
            clips.append(say(word, v, takes, seed=seed * 1000 + v * 10 + w))
            words += [word] * takes
            speakers += [v] * takes
    return np.concatenate(clips), words, speakers
