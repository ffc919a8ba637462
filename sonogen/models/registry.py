"""Family name -> model class. Adding a family is one line here and one module beside it."""

from __future__ import annotations

import importlib

from sonogen.errors import SonogenError

FAMILIES: dict[str, str] = {
    "wavegan": "sonogen.models.gan:WaveGAN",
    "specgan": "sonogen.models.gan:SpecGAN",
    "samplernn": "sonogen.models.autoregressive:SampleRNN",
    "transformer": "sonogen.models.autoregressive:TransformerAR",
    "lstm-baseline": "sonogen.models.autoregressive:LSTMBaseline",
    "fvae": "sonogen.models.fvae:FlowVAE",
    "flow": "sonogen.models.flow:FlowMatching",
    "music-lstm": "sonogen.models.music:MusicLSTM",
    "music-transformer": "sonogen.models.music:MusicTransformer",
}


def get_family(name: str | None, where: str = "--model"):
    """Return the model class registered under ``name`` (imported on first use)."""
    if not isinstance(name, str) or name not in FAMILIES:
        from sonogen.config import shown

        raise SonogenError(
            f"{where}: unknown model {shown(name)}; choose one of: {', '.join(FAMILIES)}"
        )
    module_name, class_name = FAMILIES[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)
