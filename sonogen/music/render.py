"""MIDI -> WAV through a SoundFont: symusic's synthesizer, TimGM6mb.sf2 (from pretty_midi) by
default.

symusic 0.5.9's synthesizer ignores note velocity and renders until the last note ends; the
audio is made at least as long as the score (its last event, an end marker included), so a
16-bar piece renders as 16 bars even where it ends in rests.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from sonogen.errors import SonogenError

log = logging.getLogger(__name__)

PEAK = 0.9  # rendered audio is scaled so its peak is this (-0.9 dBFS)
SILENT_PEAK = 1e-5


def _soundfont(soundfont: str | Path | None) -> Path:
    if soundfont is None:
        from sonogen.data.builtin import soundfont_path

        return soundfont_path()
    path = Path(soundfont).expanduser()
    if not path.is_file():
        raise SonogenError(f"--soundfont {soundfont}: file not found; pass a .sf2 file")
    if path.suffix.lower() not in {".sf2", ".sf3"}:
        raise SonogenError(f"--soundfont {soundfont}: not a SoundFont (.sf2); pass a .sf2 file")
    return path


def render_score(
    score: Any, *, soundfont: str | Path | None = None, sample_rate: int = 22050
) -> np.ndarray:
    """Return a symusic Score rendered as mono float32 [samples] at ``sample_rate``, scaled to a
    peak of 0.9 (silence stays silence)."""
    from symusic import Synthesizer

    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate < 1000:
        raise SonogenError(f"--sample-rate {sample_rate}: must be a whole number of Hz, >= 1000")
    path = _soundfont(soundfont)
    try:
        synth = Synthesizer(str(path), sample_rate=sample_rate, quality=0)
    except Exception as error:  # noqa: BLE001 - symusic raises plain RuntimeErrors
        raise SonogenError(f"{path}: cannot load the SoundFont ({error}); pass another") from None
    if score.note_num() > 0:
        stereo = np.asarray(synth.render(score, stereo=True), dtype=np.float32)
        audio = stereo.mean(axis=0) if stereo.ndim == 2 else stereo.reshape(-1)
    else:
        audio = np.zeros(0, np.float32)  # the synthesizer refuses a score without notes
    seconds = float(score.to("second").end()) if score.end() > 0 else 0.0
    minimum = int(np.ceil(seconds * sample_rate))
    if len(audio) < minimum:
        audio = np.pad(audio, (0, minimum - len(audio)))
    peak = float(np.abs(audio).max()) if len(audio) else 0.0
    if peak > SILENT_PEAK:
        audio = audio * (PEAK / peak)
    return audio.astype(np.float32)


def render_midi(
    midi: str | Path | Any,
    out_wav: str | Path,
    *,
    soundfont: str | Path | None = None,
    sample_rate: int = 22050,
) -> float:
    """Render a MIDI file (or a symusic Score) to a mono 16-bit WAV; return its seconds.

    ``soundfont``: any .sf2 (default: TimGM6mb.sf2 from the pretty_midi package).
    """
    from sonogen.audio.io import write_wav
    from sonogen.music.tokens import read_score

    score = read_score(midi) if isinstance(midi, (str, Path)) else midi
    audio = render_score(score, soundfont=soundfont, sample_rate=sample_rate)
    if np.abs(audio).max(initial=0.0) <= SILENT_PEAK:
        where = midi if isinstance(midi, (str, Path)) else Path(out_wav).name
        log.warning("%s: renders as silence (no notes, or none the SoundFont plays)", where)
    write_wav(Path(out_wav), audio, sample_rate)
    return len(audio) / sample_rate
