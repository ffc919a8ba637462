"""pcm16_to_float / float_to_pcm16: known answers, the exact round trip, and the same numbers as
the formulas they replaced (`/ 32767.0` and prepare's clip-then-round)."""

from __future__ import annotations

import numpy as np
import pytest

from sonogen.audio.pcm import float_to_pcm16, pcm16_to_float

ALL_INT16 = np.arange(-32768, 32768).astype(np.int16)


def test_full_scale_reads_as_plus_and_minus_one():
    out = pcm16_to_float(np.array([32767, -32767, 0, -32768], dtype=np.int16))
    assert out.dtype == np.float32
    assert out[:3].tolist() == [1.0, -1.0, 0.0]
    assert out[3] == pytest.approx(-32768 / 32767)


def test_shapes_are_kept_both_ways():
    clips = np.zeros((3, 5), dtype=np.int16)
    assert pcm16_to_float(clips).shape == (3, 5)
    assert float_to_pcm16(np.zeros((3, 5))).shape == (3, 5)
    assert float_to_pcm16(np.zeros((3, 5))).dtype == np.int16


def test_round_trip_is_exact_for_every_int16_but_the_lowest():
    pcm = ALL_INT16[1:]  # -32768 reads as just below -1.0, which is clipped back to -32767
    assert np.array_equal(float_to_pcm16(pcm16_to_float(pcm)), pcm)
    assert float_to_pcm16(pcm16_to_float(ALL_INT16[:1])).tolist() == [-32767]


def test_out_of_range_clips_and_nan_is_zero():
    audio = np.array([1.5, -1.5, np.nan, np.inf, -np.inf, 0.5, -0.5], dtype=np.float32)
    assert float_to_pcm16(audio).tolist() == [32767, -32767, 0, 32767, -32767, 16384, -16384]


def test_same_numbers_as_the_formulas_they_replace():
    # float64 input too: both take it as float32 before scaling
    old_read = np.asarray(ALL_INT16, dtype=np.float32) / 32767.0
    assert np.array_equal(pcm16_to_float(ALL_INT16).view(np.int32), old_read.view(np.int32))

    rng = np.random.default_rng(0)
    audio = np.concatenate(
        [rng.uniform(-1.2, 1.2, 200_000), pcm16_to_float(ALL_INT16), [np.nan, np.inf]]
    )
    clipped = np.clip(np.nan_to_num(np.asarray(audio, dtype=np.float32), nan=0.0), -1.0, 1.0)
    old_write = np.round(clipped * 32767.0).astype(np.int16)
    assert np.array_equal(float_to_pcm16(audio), old_write)
