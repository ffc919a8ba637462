"""`sonogen export`: each exportable family's file, loaded without sonogen (torch.jit.load,
onnxruntime), gives what the PyTorch model gives; the others are refused in one line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import sonogen
from sonogen.errors import SonogenError
from sonogen.export import FORMATS
from sonogen.models.vocoder import Vocoder
from tests.conftest import QUIET, TINY, TINY_FVAE, make_tone_dataset

EXPORTABLE = {
    "wavegan": TINY["wavegan"],
    "specgan": TINY["specgan"],
    "flow": TINY["flow"],
    "fvae": TINY_FVAE,
}
# What an exported file may differ from the PyTorch model by: float32 rounding in a graph that
# its exporter reorders, and the vocoder's inverse STFT as matrix products instead of an FFT.
ATOL, RTOL = 1e-4, 1e-3


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    data = make_tone_dataset(root / "tones", count=16, labels=True)
    made = {}
    for name, settings in EXPORTABLE.items():
        made[name] = sonogen.train(
            data, name, root / name, overrides=settings + QUIET, max_steps=3, batch_size=4,
            progress=False,
        )  # fmt: skip
    made["samplernn"] = sonogen.train(
        data, "samplernn", root / "samplernn", progress=False, max_steps=1, batch_size=2,
        overrides=QUIET + ["model.hidden=16", "model.sample_hidden=16", "model.embedding_dim=8"],
    )  # fmt: skip
    return made


def example_inputs(spec: dict, labels: int, seed: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    made = []
    for name, info in spec["inputs"].items():
        shape = info["shape"]
        if info["dtype"] == "int64":
            made.append(torch.randint(labels, shape, generator=generator))
        elif name == "audio":
            made.append(0.5 * torch.rand(shape, generator=generator) - 0.25)
        else:
            made.append(torch.randn(shape, generator=generator))
    return made


def pytorch_outputs(model, part: str, inputs: list[torch.Tensor]) -> np.ndarray:
    """What the loaded model computes for one exported part, with its own inverse STFT."""
    graph = model.family.export_graphs(2)[part].module
    for module in graph.modules():
        if isinstance(module, Vocoder):
            module.real_istft = False  # torch.istft, as generate uses
    with torch.no_grad():
        return graph(*inputs).numpy()


def run_file(path, format: str, names: list[str], inputs: list[torch.Tensor]) -> np.ndarray:
    if format == "torchscript":
        with torch.no_grad():
            return torch.jit.load(str(path))(*inputs).numpy()
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {n: x.numpy() for n, x in zip(names, inputs, strict=True)})[0]


@pytest.mark.parametrize("format", list(FORMATS))
@pytest.mark.parametrize("name", list(EXPORTABLE))
def test_exported_file_computes_what_the_model_does(runs, name, format, tmp_path, one_thread):
    out = tmp_path / f"{name}{FORMATS[format]}"
    paths = sonogen.api.export(runs[name], format, out, batch=2)
    sidecar = json.loads((tmp_path / f"{out.name}.json").read_text())
    model = sonogen.load(runs[name])
    parts = model.family.exports
    assert [path.name for path in paths] == [sidecar["parts"][part]["file"] for part in parts]
    assert sidecar["sample_rate"] == 8000 and sidecar["labels"] == ["low", "high"]
    for index, (part, path) in enumerate(zip(parts, paths, strict=True)):
        spec = sidecar["parts"][part]
        inputs = example_inputs(spec, 2, seed=index)
        expected = pytorch_outputs(model, part, inputs)
        actual = run_file(path, format, list(spec["inputs"]), inputs)
        assert list(actual.shape) == spec["output"]["shape"] == list(expected.shape)
        assert np.abs(expected).max() > 1e-4  # something to compare
        np.testing.assert_allclose(actual, expected, atol=ATOL, rtol=RTOL)


def test_fvae_parts_are_named_and_blocks_are_whole_hops(runs, tmp_path):
    paths = sonogen.api.export(runs["fvae"], "torchscript", tmp_path / "v.pt", block_samples=100)
    assert [path.name for path in paths] == ["v.encoder.pt", "v.decoder.pt"]
    sidecar = json.loads((tmp_path / "v.pt.json").read_text())
    hop = sonogen.load(runs["fvae"]).family.hop  # 16 with 4 bands and 2 downsampling layers
    assert sidecar["parts"]["encoder"]["inputs"]["audio"]["shape"] == [1, 7 * hop]
    assert sidecar["parts"]["decoder"]["output"]["shape"] == [1, 7 * hop]


def test_flow_options_are_baked_in(runs, tmp_path):
    sonogen.api.export(runs["flow"], "torchscript", tmp_path / "f.pt", steps=3, sampler="euler")
    computes = json.loads((tmp_path / "f.pt.json").read_text())["parts"]["generator"]["computes"]
    assert computes.endswith("(3 euler steps, guidance 1.5)")


def test_what_cannot_be_exported_is_refused_in_one_line(runs, tmp_path):
    with pytest.raises(
        SonogenError,
        match=r"a samplernn run cannot be exported \(it generates one sample or frame at a "
        r"time in a Python loop\); export a run of wavegan, specgan, fvae, flow$",
    ):
        sonogen.api.export(runs["samplernn"], "torchscript", tmp_path / "s.pt")
    with pytest.raises(SonogenError, match=r"^--format tflite: choose one of torchscript, onnx"):
        sonogen.api.export(runs["wavegan"], "tflite", tmp_path / "w.pt")
    with pytest.raises(SonogenError, match=r"^--batch 0: must be at least 1"):
        sonogen.api.export(runs["wavegan"], "torchscript", tmp_path / "w.pt", batch=0)
    with pytest.raises(SonogenError, match=r"is a folder; name the file"):
        sonogen.api.export(runs["wavegan"], "torchscript", tmp_path)
    with pytest.raises(SonogenError, match=r"^--steps: not an option of wavegan"):
        sonogen.api.export(runs["wavegan"], "torchscript", tmp_path / "w.pt", steps=4)
    assert not list(tmp_path.iterdir())  # nothing written by a refused export


def test_an_existing_file_is_kept_without_force(runs, tmp_path):
    out = tmp_path / "mine.pt"
    out.write_bytes(b"a file of the user's")
    command = [sys.executable, "-m", "sonogen.cli", "export", str(runs["wavegan"]), "--out", out]
    command = [str(part) for part in command]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "exists; choose another --out or pass --force" in result.stderr
    assert out.read_bytes() == b"a file of the user's"
    result = subprocess.run([*command, "--force"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    exported = torch.jit.load(str(out))
    assert exported(torch.zeros(1, 16), torch.zeros(1, dtype=torch.int64)).shape == (1, 1024)


def test_the_readme_loads_exported_files_as_it_says(runs, tmp_path, monkeypatch):
    """The README's two loading examples run as written, each with only its own runtime."""
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Export") :]
    section = section[: section.index("\n## ")]
    blocks = [block.split("```", 1)[0] for block in section.split("```python\n")[1:]]
    assert len(blocks) == 2 and "torch.jit.load" in blocks[0] and "onnxruntime" in blocks[1]
    for format in FORMATS:
        sonogen.api.export(runs["wavegan"], format, tmp_path / f"wavegan{FORMATS[format]}")
    monkeypatch.chdir(tmp_path)
    clip_samples = sonogen.load(runs["wavegan"]).config.data.clip_samples
    for block in blocks:
        names: dict = {}
        exec(compile(block, "README.md", "exec"), names)  # noqa: S102 (our own README)
        audio = names["audio"]
        audio = audio.detach().numpy() if isinstance(audio, torch.Tensor) else audio
        assert audio.shape == (1, clip_samples) and 0 < np.abs(audio).max() <= 1
