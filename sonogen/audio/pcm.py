"""Convert between 16-bit PCM samples and float audio in [-1, 1], both ways at the scale 32767.

Dataset dirs hold clips as int16 (audio.npy) and WAVs are written as 16-bit PCM; everything in
between works on float32. A module of its own (numpy only) so the dataset reader and its worker
processes need not import soundfile and soxr with `sonogen.audio.io`.
"""

from __future__ import annotations

import numpy as np

PCM16_SCALE = 32767.0  # full scale both ways: 1.0 <-> 32767, so -32768 reads as just below -1.0


def pcm16_to_float(pcm: np.ndarray) -> np.ndarray:
    """Return int16 samples of any shape (`[samples]`, `[count, samples]`) as float32 / 32767.

    32767 -> 1.0, -32767 -> -1.0, -32768 -> -1.0000305. The division is done in float32, so the
    result is the same as `np.asarray(pcm, dtype=np.float32) / 32767.0`.
    """
    return np.asarray(pcm, dtype=np.float32) / np.float32(PCM16_SCALE)


def float_to_pcm16(audio: np.ndarray) -> np.ndarray:
    """Return float audio of any shape (`[samples]`, `[count, samples]`) as int16 round(x * 32767).

    The audio is taken as float32; values outside [-1, 1] are clipped first (so 1.5 -> 32767 and
    -1.5 -> -32767; -32768 is never produced), NaN becomes 0 and +-inf become +-32767.
    `float_to_pcm16(pcm16_to_float(pcm))` gives back every int16 value except -32768.
    """
    audio = np.clip(np.nan_to_num(np.asarray(audio, dtype=np.float32), nan=0.0), -1.0, 1.0)
    return np.round(audio * np.float32(PCM16_SCALE)).astype(np.int16)
