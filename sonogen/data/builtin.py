"""Built-in datasets, made on the user's machine with no download.

``notes``: single notes of ten General-MIDI instruments, every semitone over two octaves of each
one's range, at three velocities (747 clips: 3 notes have no sample), rendered from the TimGM6mb
SoundFont that ships inside the pretty_midi wheel. The renderer is symusic (pip wheels, no system
packages; pinned to 0.5.9 because 0.6.0's renderer returns no audio with numpy 2.x); tinysoundfont
was the other candidate, but its wheel requires pyaudio, which needs PortAudio headers to build.
The SoundFont is said to be GPL-2, so the audio is rendered at run time and never shipped. The
same command gives the same bytes: rendering and resampling are deterministic and nothing depends
on time or order.

symusic 0.5.9's synthesizer ignores note velocity, so velocity is applied here as a gain of
(velocity / 127) ** 2, FluidSynth's default velocity-to-attenuation curve (40 log10 dB). A note the
SoundFont has no sample for (the sax at MIDI 64 renders silence) is listed in skipped.csv.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from sonogen.errors import SonogenError

log = logging.getLogger(__name__)

BUILTIN = ("notes",)

# (label, General-MIDI program (0-based), lowest MIDI pitch); each spans 25 semitones from there.
INSTRUMENTS: tuple[tuple[str, int, int], ...] = (
    ("piano", 0, 48),
    ("vibraphone", 11, 53),
    ("organ", 19, 48),
    ("guitar", 24, 40),
    ("bass", 32, 31),
    ("violin", 40, 55),
    ("trumpet", 56, 55),
    ("sax", 65, 49),
    ("clarinet", 71, 50),
    ("flute", 73, 60),
)
VELOCITIES = (70, 100, 127)
PITCHES_PER_INSTRUMENT = 25
NOTE_SECONDS = 0.75
RENDER_RATE = 44100
FADE_SECONDS = 0.02  # the renderer cuts notes off at note-off; fade to avoid a click
VALID_SHARE = 0.1


def soundfont_path() -> Path:
    """Return the path of TimGM6mb.sf2 inside the installed pretty_midi package."""
    import importlib.util

    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or spec.origin is None:
        raise SonogenError(
            "pretty_midi is not installed; `pip install pretty_midi` (it ships the SoundFont)"
        )
    path = Path(spec.origin).parent / "TimGM6mb.sf2"
    if not path.is_file():
        raise SonogenError(f"{path}: SoundFont missing from the pretty_midi package; reinstall it")
    return path


def render_note(synth, program: int, pitch: int, velocity: int, seconds: float) -> np.ndarray:
    """Return one note rendered at RENDER_RATE, mono float32 [samples]."""
    from symusic import Note, Score, Track

    ticks_per_quarter = 480  # at the default 120 bpm a quarter note is 0.5 s
    score = Score(ticks_per_quarter)
    track = Track(program=program, is_drum=False)
    track.notes.append(Note(0, round(seconds * 2 * ticks_per_quarter), pitch, velocity))
    score.tracks.append(track)
    stereo = np.asarray(synth.render(score, stereo=True), dtype=np.float32)
    return stereo.mean(axis=0) * (velocity / 127) ** 2


def make_notes(
    out: Path, *, sample_rate: int = 16000, clip_samples: int = 16384, force: bool = False
) -> Path:
    """Render the ``notes`` dataset into ``out`` (a dataset dir); return ``out``."""
    import soxr
    from symusic import Synthesizer

    from sonogen.data.prepare import check_clip_samples, check_sample_rate, write_dataset
    from sonogen.data.writing import check_out

    sample_rate = check_sample_rate("--sample-rate", sample_rate)
    clip_samples = check_clip_samples(clip_samples, sample_rate)
    out = Path(out)
    check_out(out, force)  # before minutes of rendering; --force replaces only a dataset dir
    sf_path = soundfont_path()
    synth = Synthesizer(str(sf_path), sample_rate=RENDER_RATE, quality=0)
    fade = np.linspace(1.0, 0.0, max(1, round(FADE_SECONDS * sample_rate)), dtype=np.float32)
    clips, items, skipped = [], [], []
    rng = np.random.default_rng(0)
    for label, program, lowest in INSTRUMENTS:
        for pitch in range(lowest, lowest + PITCHES_PER_INSTRUMENT):
            for velocity in VELOCITIES:
                audio = render_note(synth, program, pitch, velocity, NOTE_SECONDS)
                name = f"{label}/{pitch:03d}_{velocity:03d}"
                split = "valid" if rng.random() < VALID_SHARE else "train"
                if np.abs(audio).max() < 1e-4:
                    skipped.append(
                        (
                            name,
                            f"silent: {sf_path.name} has no sample for program {program} "
                            f"at pitch {pitch}",
                        )
                    )
                    continue
                audio = soxr.resample(audio, RENDER_RATE, sample_rate, quality="HQ")
                audio = audio[:clip_samples].astype(np.float32)
                audio[len(audio) - len(fade) :] *= fade[: len(audio)]
                clip = np.zeros(clip_samples, np.float32)
                clip[: len(audio)] = audio
                clips.append(clip)
                items.append(
                    {
                        "index": len(items),
                        "file": name,
                        "offset_seconds": 0.0,
                        "label": label,
                        "split": split,
                        "program": program,
                        "pitch": pitch,
                        "velocity": velocity,
                    }
                )
    audio = np.stack(clips)
    peak = float(np.abs(audio).max())
    if peak < 1e-4:
        raise SonogenError(f"{sf_path}: the renderer returned silence; check the symusic version")
    audio *= 0.95 / peak  # one gain for all clips, so velocities keep their loudness
    write_dataset(
        out,
        audio,
        items,
        sample_rate=sample_rate,
        clip_samples=clip_samples,
        labels=[label for label, _, _ in INSTRUMENTS],
        source=f"builtin:notes ({sf_path.name}, rendered by symusic)",
        skipped=skipped,
        options={"name": "notes", "note_seconds": NOTE_SECONDS, "velocities": list(VELOCITIES)},
        force=force,
        license=f"rendered by sonogen from {sf_path.name}, the SoundFont pretty_midi ships "
        "(Tim Brechbill's TimGM6mb, GPL-2.0)",
    )
    log.info("notes: %d clips written to %s", len(items), out)
    return out


def make_builtin(name: str, out: Path, **options) -> Path:
    """Build the built-in dataset ``name`` into ``out``."""
    if name == "notes":
        return make_notes(out, **options)
    raise SonogenError(
        f"{str(name)[:80]!r}: unknown built-in dataset; available: {', '.join(BUILTIN)}, chorales"
    )
