"""``sonogen export``: a run's generator (or encoder and decoder) as one self-contained file that
a host loads without sonogen: TorchScript (``torch.jit.load``; LibTorch in C++, nn~ in Max/PD)
or ONNX (onnxruntime in any language).

Each family declares what it exports (``Family.exports``) and builds the graphs
(``Family.export_graphs``): fixed shapes, inputs named in the file, generation options baked in.
Beside the file goes ``FILE.json``: the inputs, outputs, sample rate and labels a host needs.
A family whose sampler is a Python loop over samples or tokens (the autoregressive and music
families) is refused with a one-line error naming what can be exported.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

from sonogen.errors import SonogenError

log = logging.getLogger(__name__)

FORMATS = {"torchscript": ".pt", "onnx": ".onnx"}
MAX_EXPORT_BATCH = 1024
ONNX_OPSET = 18


def export(
    run: str | Path,
    format: str,
    out: str | Path,
    *,
    batch: int = 1,
    block_samples: int | None = None,
    force: bool = False,
    **options: Any,
) -> list[Path]:
    """Export the networks a run's family declares into ``out`` (one file; ``STEM.PART.EXT`` for
    each part where there are several, e.g. an fvae's encoder and decoder) and return their
    paths. ``batch``: items per call (fixed in the file); ``block_samples``: an encoder's block;
    ``options``: generation options baked in (a flow's steps, sampler, guidance)."""
    import torch

    from sonogen.checks import output_folder, whole_number
    from sonogen.models.registry import FAMILIES, get_family
    from sonogen.run import load

    if format not in FORMATS:
        raise SonogenError(f"--format {format}: choose one of {', '.join(FORMATS)}")
    batch = whole_number("--batch", batch, 1, MAX_EXPORT_BATCH)
    if block_samples is not None:
        block_samples = whole_number("--block-samples", block_samples, 1, 10**7)
    out = Path(out)
    if out.is_dir():
        raise SonogenError(f"--out {out}: is a folder; name the file, e.g. {out / 'model'}")
    output_folder(out.parent, "--out", create=False)  # checked now, made when writing
    model = load(run)
    family = model.family
    if not family.exports:
        exportable = [name for name in FAMILIES if get_family(name).exports]
        raise SonogenError(
            f"{run}: a {model.model_name} run cannot be exported (it generates one "
            f"{'token' if family.tokens else 'sample or frame'} at a time in a Python loop); "
            f"export a run of {', '.join(exportable)}"
        )
    model.check_options(options)
    graphs = family.export_graphs(batch, block_samples, **options)
    paths = {part: _part_path(out, part, len(graphs)) for part in graphs}
    existing = [str(path) for path in [*paths.values(), _sidecar(out)] if path.exists()]
    if existing and not force:
        raise SonogenError(
            f"--out {out}: {', '.join(existing)} exists; choose another --out or pass --force"
        )
    output_folder(out.parent, "--out")
    described = {}
    for part, graph in graphs.items():
        with torch.no_grad():
            expected = graph.module(*graph.inputs)
        _write_atomically(paths[part], lambda temp, g=graph: _save(g, format, temp))
        described[part] = {
            "file": paths[part].name,
            "inputs": {
                name: {"shape": list(x.shape), "dtype": str(x.dtype).removeprefix("torch.")}
                for name, x in zip(graph.input_names, graph.inputs, strict=True)
            },
            "output": {"name": graph.output_name, "shape": list(expected.shape)},
            "computes": graph.description,
        }
    sidecar = {
        "format": format,
        "run": str(model.run_dir),
        "model": model.model_name,
        "sample_rate": model.sample_rate,
        "labels": model.labels,
        "parts": described,
        "made_by": f"sonogen {_version()}",
    }
    _write_atomically(
        _sidecar(out),
        lambda temp: temp.write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8"),
    )
    return list(paths.values())


def _part_path(out: Path, part: str, parts: int) -> Path:
    if parts == 1:
        return out
    return out.with_name(f"{out.stem}.{part}{out.suffix}")


def _sidecar(out: Path) -> Path:
    return out.with_name(out.name + ".json")


def _save(graph, format: str, path: Path) -> None:
    import torch

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer and exporter chatter about constant shapes
        if format == "torchscript":
            traced = torch.jit.trace(graph.module, graph.inputs, check_trace=False)
            traced.save(str(path))
            return
        _quiet_onnx_loggers()
        try:
            import onnxscript  # noqa: F401  (torch's ONNX exporter needs it)
        except ModuleNotFoundError:
            raise SonogenError(
                "--format onnx: the onnx exporter's packages are not installed; "
                "pip install 'sonogen[export]', or export --format torchscript"
            ) from None
        torch.onnx.export(
            graph.module,
            graph.inputs,
            str(path),
            input_names=list(graph.input_names),
            output_names=[graph.output_name],
            opset_version=ONNX_OPSET,
            dynamo=True,
            external_data=False,
            verbose=False,
        )


def _quiet_onnx_loggers() -> None:
    for name in ("torch.onnx", "onnxscript", "torch._dynamo", "torch.export"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _write_atomically(path: Path, write) -> None:
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(temp)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _version() -> str:
    from sonogen import __version__

    return __version__
