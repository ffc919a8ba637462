"""read_audio / write_wav on real files of every supported kind, and on broken ones."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import soundfile as sf

from sonogen.audio.io import AUDIO_EXTENSIONS, AudioFileError, read_audio, write_wav
from sonogen.errors import SonogenError


def sine(frequency: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * frequency * np.arange(int(seconds * rate)) / rate)


def peak_frequency(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.argmax(spectrum) * rate / len(audio))


def test_audio_extensions_are_lower_case_suffixes():
    assert {".wav", ".flac", ".ogg", ".mp3", ".aiff"} <= AUDIO_EXTENSIONS
    assert all(ext.startswith(".") and ext == ext.lower() for ext in AUDIO_EXTENSIONS)


def test_stereo_wav_is_mixed_to_mono_and_resampled(tmp_path):
    left, right = sine(440, 1.0, 44100, 0.6), sine(440, 1.0, 44100, 0.2)
    sf.write(tmp_path / "s.wav", np.stack([left, right], axis=1), 44100)

    audio, rate = read_audio(tmp_path / "s.wav")
    assert rate == 44100 and audio.dtype == np.float32 and audio.shape == (44100,)
    np.testing.assert_allclose(audio, (left + right) / 2, atol=1e-4)

    audio, rate = read_audio(tmp_path / "s.wav", 16000)
    assert rate == 16000 and audio.dtype == np.float32 and audio.shape == (16000,)
    assert abs(peak_frequency(audio, 16000) - 440) < 0.02 * 440


@pytest.mark.parametrize(
    ("name", "rate", "subtype"),
    [("x.flac", 22050, "PCM_24"), ("x.ogg", 32000, None), ("x.mp3", 44100, None)],
)
def test_compressed_formats_decode(tmp_path, name, rate, subtype):
    sf.write(tmp_path / name, sine(300, 0.5, rate), rate, subtype=subtype)
    audio, got_rate = read_audio(tmp_path / name, 16000)
    assert got_rate == 16000 and audio.dtype == np.float32 and audio.ndim == 1
    # MP3 adds encoder delay and padding; the others keep the length exactly.
    assert 8000 <= len(audio) <= 8000 + (2000 if name.endswith(".mp3") else 0)
    assert abs(peak_frequency(audio, 16000) - 300) < 0.02 * 300


def test_24_bit_flac_keeps_its_precision(tmp_path):
    wave = sine(1000, 0.1, 48000, 0.9)
    sf.write(tmp_path / "deep.flac", wave, 48000, subtype="PCM_24")
    audio, _ = read_audio(tmp_path / "deep.flac")
    assert np.max(np.abs(audio - wave)) < 2**-22


def test_non_ascii_name(tmp_path):
    path = tmp_path / "dossier é" / "née_ü.wav"
    write_wav(path, sine(200, 0.1, 8000), 8000)
    audio, rate = read_audio(path)
    assert rate == 8000 and len(audio) == 800


def write_truncated_wav(path):
    sf.write(path, sine(440, 1.0, 16000), 16000, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("make", "reason", "detail"),
    [
        (lambda p: p.write_bytes(b""), "empty", "0-byte"),
        (lambda p: sf.write(p, np.zeros(0), 16000), "empty", "no audio frames"),
        (lambda p: p.write_text("<html>not a sound</html>\n"), "not audio", "'<html>no'"),
        (lambda p: p.write_bytes(bytes(range(200, 256)) * 4), "not audio", "c8 c9"),
        (write_truncated_wav, "unreadable", "truncated"),
        (lambda p: p.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunk"), "unreadable", ""),
    ],
    ids=["zero-byte", "zero-frames", "text", "binary", "truncated", "bad-header"],
)
def test_bad_files_raise_with_path_and_reason(tmp_path, make, reason, detail):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(SonogenError) as caught:
        read_audio(path)
    error = caught.value
    assert isinstance(error, AudioFileError) and error.reason == reason
    assert str(error).startswith(f"{path}: {reason}: ")
    assert detail in error.detail
    assert "\n" not in str(error)


def test_truncated_flac_and_missing_file_are_unreadable(tmp_path):
    sf.write(tmp_path / "t.flac", np.random.default_rng(0).uniform(-1, 1, 20000), 16000)
    data = (tmp_path / "t.flac").read_bytes()
    (tmp_path / "t.flac").write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioFileError, match=r"t\.flac: unreadable: ") as caught:
        read_audio(tmp_path / "t.flac")
    assert "sync" in caught.value.detail  # libsndfile's own words survive
    with pytest.raises(AudioFileError, match=r"gone\.wav: unreadable: No such file"):
        read_audio(tmp_path / "gone.wav")


def test_audio_file_error_pickles():
    error = pickle.loads(pickle.dumps(AudioFileError("a.wav", "empty", "0-byte file")))
    assert (error.reason, error.detail, str(error)) == (
        "empty",
        "0-byte file",
        "a.wav: empty: 0-byte file; re-export it or remove it",
    )


def test_write_wav_clips_and_zeroes_nan(tmp_path):
    path = tmp_path / "new" / "dir" / "out.wav"
    write_wav(path, np.array([0.0, 0.5, -0.5, 2.0, -3.0, np.nan, 1.0], dtype=np.float32), 22050)
    info = sf.info(path)
    assert (info.samplerate, info.channels, info.subtype, info.format) == (
        22050,
        1,
        "PCM_16",
        "WAV",
    )
    pcm, _ = sf.read(path, dtype="int16")
    assert pcm.tolist() == [0, 16384, -16384, 32767, -32767, 0, 32767]
    with pytest.raises(ValueError, match="samples"):
        write_wav(path, np.zeros((2, 10)), 8000)


def test_write_wav_is_atomic_and_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "out.wav"
    write_wav(target, np.full(100, 0.25), 8000)
    before = target.read_bytes()

    def broken_write(file, *args, **kwargs):
        with open(file, "wb") as handle:  # a partial temporary, then the disk fills
            handle.write(b"RIFF half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sf, "write", broken_write)
    with pytest.raises(SonogenError, match=r"out\.wav: cannot write \(No space left on device\)"):
        write_wav(target, np.zeros(100), 8000)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]


def test_write_wav_to_a_folder_or_under_a_file_names_the_path(tmp_path):
    (tmp_path / "folder.wav").mkdir()
    with pytest.raises(SonogenError, match=r"folder\.wav: is a folder"):
        write_wav(tmp_path / "folder.wav", np.zeros(10), 8000)
    (tmp_path / "plain").write_text("x")
    with pytest.raises(SonogenError, match=r"plain/a\.wav: cannot create its folder"):
        write_wav(tmp_path / "plain" / "a.wav", np.zeros(10), 8000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.wav", "plain"]
