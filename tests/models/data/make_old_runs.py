"""Write the run dirs of tests/models/test_old_runs.py: one tiny run per family, trained for two
steps by a given sonogen checkout, with what it generates for a fixed seed.

They guard the run-dir format: a run written by an older sonogen must load and generate the
same audio (or tokens) with the current one. They were written by main at 8d83992 (before the
run.py / shared-layers refactor); to write them again with another checkout:

    git worktree add /tmp/old <commit>
    PYTHONPATH=/tmp/old:/tmp/old/tests \
        python tests/models/data/make_old_runs.py tests/models/data/runs_v1
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

AUDIO = {
    "wavegan": ["model.dim=4", "model.latent_dim=16", "model.label_dim=4"],
    "specgan": [
        "model.dim=4",
        "model.latent_dim=16",
        "model.label_dim=4",
        "model.hop_length=32",
        "model.griffin_lim_iters=8",
    ],
    "fvae": [
        "model.bands=4",
        "model.channels=8",
        "model.max_channels=16",
        "model.downsampling_layers=2",
        "model.decoder_blocks=1",
        "model.latent_dim=4",
        "model.flow_layers=2",
        "model.flow_hidden=8",
        "model.flow_blocks=1",
    ],
    "samplernn": [
        "model.frame_size=4",
        "model.hidden=16",
        "model.sample_hidden=16",
        "model.embedding_dim=4",
    ],
    "transformer": [
        "model.frame_size=4",
        "model.layers=1",
        "model.heads=2",
        "model.width=16",
        "model.context_frames=4",
        "model.sample_hidden=16",
        "model.embedding_dim=4",
    ],
    "lstm-baseline": ["model.hidden=8", "model.window_samples=32"],
}
MUSIC = {
    "music-lstm": ["model.embedding_dim=8", "model.hidden=16"],
    "music-transformer": ["model.layers=1", "model.heads=2", "model.width=16",
                          "model.context_tokens=32"],
}  # fmt: skip
QUIET = ["train.preview_count=0", "train.log_every_steps=1"]
SEED = 7


def main(out: Path) -> None:
    import torch
    from conftest import make_tone_dataset
    from music.midi_fixtures import make_scale_dataset

    import sonogen

    scratch = Path(tempfile.mkdtemp())
    tones = make_tone_dataset(scratch / "tones", count=16, samples=256, labels=True)
    scales = make_scale_dataset(scratch / "scales", count=4, seq_len=32)
    for name, settings in (AUDIO | MUSIC).items():
        data = scales if name in MUSIC else tones
        run = sonogen.train(
            data, name, scratch / name, overrides=settings + QUIET, max_steps=2, batch_size=4,
            progress=False, accelerator="cpu", devices="1",
        )  # fmt: skip
        model = sonogen.load(run)
        if name in MUSIC:
            tokens = model.family.generate_tokens(2, seed=SEED, max_tokens=24)
            expected = {"tokens": np.array([t + [-1] * (24 - len(t)) for t in tokens])}
            window = torch.tensor([[t % 8 + 4 for t in range(20)]])
            expected["logits"] = model.family.logits(window).detach().numpy()
        else:
            expected = {"audio": model.generate(2, seed=SEED, labels="high")}
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        for file in ("config.yaml", "model.safetensors"):
            shutil.copy(run / file, folder / file)
        np.savez_compressed(folder / "expected.npz", **expected)
        print(
            name,
            {k: v.shape for k, v in expected.items()},
            (folder / "model.safetensors").stat().st_size,
        )
    shutil.rmtree(scratch)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
