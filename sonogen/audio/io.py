"""Read any audio file as mono float32 at a chosen rate; write 16-bit WAV.

soundfile (libsndfile) decodes WAV, FLAC, OGG/Vorbis, AIFF and MP3 at any bit depth; soxr resamples.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from sonogen.audio.pcm import float_to_pcm16
from sonogen.errors import SonogenError

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".aifc", ".mp3"}
)

# First bytes of the containers libsndfile reads. A file that fails to open and starts with none of
# these is "not audio" (a text or HTML file saved with an audio name) rather than a damaged one.
_AUDIO_MAGIC = (b"RIFF", b"RIFX", b"RF64", b"BW64", b"riff", b"FORM", b"fLaC", b"OggS", b"ID3")
_AUDIO_MAGIC_MORE = (b"caff", b".snd")

# libsndfile's extra_info says "data : 176400 (should be 956)" for a WAV or AIFF whose header
# promises more audio than the file holds; it then reads the rest silently, which we refuse.
_TRUNCATED = re.compile(r"^\s*(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
# Streaming writers put these placeholders in the size field and never come back to fix it.
_STREAMING_SIZES = {0, 0xFFFFFFFF, 0x7FFFFFFF}


class AudioFileError(SonogenError):
    """An audio file that cannot be used: `reason` is a short stable word, `detail` says more.

    reason is one of "unreadable", "empty", "not audio", "too long"; the message is
    `PATH: REASON: DETAIL; re-export it or remove it`.
    """

    def __init__(self, path: str | Path, reason: str, detail: str) -> None:
        self.path = str(path)
        self.reason = reason
        self.detail = detail
        super().__init__(f"{path}: {reason}: {detail}; re-export it or remove it")

    def __reduce__(self):  # keep it picklable across process pools
        return (type(self), (self.path, self.reason, self.detail))


def _looks_like_audio(head: bytes) -> bool:
    if head.startswith(_AUDIO_MAGIC) or head.startswith(_AUDIO_MAGIC_MORE):
        return True
    # An MP3 without an ID3 tag starts with an MPEG frame sync: 11 set bits.
    return len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0


def _describe_head(head: bytes) -> str:
    sample = head[:8]
    if all(32 <= byte < 127 or byte in (9, 10, 13) for byte in sample):
        return f"starts with the text {sample.decode('ascii')!r}, not an audio header"
    return f"starts with the bytes {sample.hex(' ')}, not an audio header"


def _soundfile_reason(error: Exception) -> str:
    """Return libsndfile's complaint without the 'Error opening PATH:' prefix soundfile adds."""
    text = getattr(error, "error_string", "") or str(error)
    text = re.sub(r"^Error opening .*?: ", "", text).strip().rstrip(".")
    text = re.sub(r"^Error\s*:\s*", "", text)
    if text.startswith("File does not exist or is not a regular file"):
        # libsndfile's mpg123 reader answers this for any MP3 it cannot decode; the file is there.
        return (
            "corrupt or truncated: the decoder found no readable audio "
            f"(libsndfile error {getattr(error, 'code', '?')})"
        )
    return text or f"libsndfile error {getattr(error, 'code', '?')}"


def read_audio(
    path: str | Path, sample_rate: int | None = None, *, max_seconds: float | None = None
) -> tuple[np.ndarray, int]:
    """Return (audio, rate): audio float32 `[samples]`, channels averaged to mono.

    When `sample_rate` is given and differs from the file's rate, the audio is resampled to it with
    soxr (quality "HQ") and that rate is returned; otherwise the file's own rate is returned.
    Raises AudioFileError (a SonogenError) whose message starts with the path, with reason
    "empty" (0-byte file, 0 frames, or none left after resampling), "not audio" (no audio
    header), "unreadable" (damaged or truncated; libsndfile's error text in the detail) or
    "too long" (more than `max_seconds`, checked before decoding).
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError as error:
        raise AudioFileError(path, "unreadable", error.strerror or str(error)) from error
    if size == 0:
        raise AudioFileError(path, "empty", "0-byte file")

    try:
        # bytes, so a name that is not valid UTF-8 (kept as surrogate escapes) still opens
        with sf.SoundFile(os.fsencode(path)) as sound:
            truncated = _TRUNCATED.search(sound.extra_info)
            if truncated:
                promised, present = int(truncated.group(1)), int(truncated.group(2))
                if present < promised and promised not in _STREAMING_SIZES:
                    raise AudioFileError(
                        path,
                        "unreadable",
                        f"truncated: header promises {promised} bytes of audio, "
                        f"file holds {present}",
                    )
            if sound.frames == 0:
                raise AudioFileError(path, "empty", "no audio frames")
            if max_seconds is not None and sound.frames > max_seconds * sound.samplerate:
                raise AudioFileError(
                    path,
                    "too long",
                    f"{sound.frames / sound.samplerate:.0f} s, the limit is {max_seconds:g} s; "
                    "split it into shorter files",
                )
            file_rate = sound.samplerate
            data = sound.read(dtype="float32", always_2d=True)
    except sf.SoundFileError as error:
        if not _looks_like_audio(head):
            raise AudioFileError(path, "not audio", _describe_head(head)) from error
        raise AudioFileError(path, "unreadable", _soundfile_reason(error)) from error
    if data.shape[0] == 0:
        raise AudioFileError(path, "empty", "no audio frames")

    audio = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if not np.isfinite(audio).all():
        # Float files can hold NaN/inf; one of them would turn every later sum into NaN.
        log.warning("%s: replaced non-finite samples with 0", path)
        audio = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
    if sample_rate is not None and sample_rate != file_rate:
        audio = soxr.resample(audio, file_rate, sample_rate, quality="HQ")
        if len(audio) == 0:
            raise AudioFileError(
                path,
                "empty",
                f"{data.shape[0]} samples at {file_rate} Hz give none at {sample_rate} Hz",
            )
        file_rate = sample_rate
    return np.ascontiguousarray(audio, dtype=np.float32), int(file_rate)


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write `audio: [samples]` float in [-1, 1] as a mono 16-bit PCM WAV, creating parent dirs.

    Values outside [-1, 1] are clipped and NaN becomes 0. The file is written under a temporary
    name in the same folder (`.NAME.tmp-PID`) and renamed onto `path`, so a reader (or a crash)
    never sees half a file. Raises SonogenError naming `path` when it cannot be written.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"write_wav wants audio of shape [samples], got {audio.shape}")
    pcm = float_to_pcm16(audio)
    path = Path(path)
    if path.is_dir():
        raise SonogenError(f"{path}: is a folder, cannot write a WAV there; choose a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SonogenError(
            f"{path}: cannot create its folder ({error.strerror or error}); "
            "choose a writable location"
        ) from error
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        sf.write(os.fsencode(temporary), pcm, int(sample_rate), subtype="PCM_16", format="WAV")
        os.replace(temporary, path)
    except (OSError, sf.SoundFileError) as error:
        _remove_quietly(temporary)
        reason = getattr(error, "strerror", None) or _soundfile_reason(error)
        message = f"{path}: cannot write ({reason}); choose a writable location"
        raise SonogenError(message) from error
    except BaseException:
        _remove_quietly(temporary)
        raise


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
