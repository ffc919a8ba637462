"""Tiny MIDI made in place for the music tests: a repeated C-major scale, and run dirs built
without the trainer (config.yaml + safetensors weights) so tests need not wait for Lightning."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

SCALE = (60, 62, 64, 65, 67, 69, 71, 72)  # C major, C4 to C5: two bars of quarter notes
TPQ = 480


def scale_score(bars: int, *, velocity: int = 100, first: int = 0):
    """Return a symusic Score: quarter notes stepping through SCALE (repeating) for ``bars`` bars
    of 4/4 at 120 bpm, starting at SCALE[first]."""
    from symusic import Note, Score, Tempo, TimeSignature, Track

    score = Score(TPQ)
    score.time_signatures.append(TimeSignature(0, 4, 4))
    score.tempos.append(Tempo(0, 120))
    track = Track(program=0)
    for i in range(bars * 4):
        track.notes.append(Note(i * TPQ, TPQ, SCALE[(first + i) % len(SCALE)], velocity))
    score.tracks.append(track)
    return score


def write_scale_files(folder: Path, count: int = 6, bars: int = 8) -> list[Path]:
    """Write ``count`` scale pieces (bars, bars + 2, ... long) as folder/scale_i.mid."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"scale_{i}.mid"
        scale_score(bars + 2 * i).dump_midi(str(path))
        paths.append(path)
    return paths


def make_scale_dataset(root: Path, *, count: int = 6, seq_len: int = 64, **options) -> Path:
    """Write scale MIDI files under root/midi and prepare them as root/data; return that dir."""
    from sonogen.music.tokens import prepare_midi

    write_scale_files(root / "midi", count)
    options.setdefault("split", "0.2")
    prepare_midi(root / "midi", root / "data", seq_len=seq_len, **options)
    return root / "data"


def data_config(dataset: Path):
    """Return the DataConfig that `sonogen train` would make for a dataset dir."""
    from sonogen.config import DataConfig
    from sonogen.data.dataset import open_dataset

    info = open_dataset(dataset)
    return DataConfig(
        path=str(info.path),
        sample_rate=info.sample_rate,
        clip_samples=info.clip_samples,
        labels=None,
        kind=info.kind,
        extra=info.extra,
    )


def train_steps(model, dataset: Path, steps: int, batch_size: int = 16, seed: int = 0) -> list:
    """Run ``steps`` train_steps on random windows of the train split; return the logged nll."""
    from sonogen.data.dataset import open_dataset

    windows = model.training_data(open_dataset(dataset), "train")
    optimizers = model.configure_optimizers()
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for step in range(steps):
        index = torch.randint(0, len(windows), (batch_size,), generator=generator)
        batch = torch.stack([windows[int(i)][0] for i in index])
        logs = model.train_step(batch, None, step, optimizers, lambda loss: loss.backward())
        losses.append(float(logs["nll"]))
    return losses


def save_run(model, model_name: str, out: Path) -> Path:
    """Write a run dir for ``model`` (config.yaml + model.safetensors), as training would."""
    from sonogen.config import RunConfig, write_yaml
    from sonogen.models.base import save_weights
    from sonogen.trainer import WEIGHTS_NAME

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config = RunConfig(model_name=model_name, data=model.data, model=model.config)
    write_yaml(out / "config.yaml", config.to_dict())
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    save_weights(out / WEIGHTS_NAME, state, {"model_name": model_name, "step": 0})
    return out


def replace(config, **changes):
    return dataclasses.replace(config, **changes)
