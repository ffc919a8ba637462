"""Run configuration: frozen dataclasses, YAML load/save and ``--set key=value`` overrides.

A run's ``config.yaml`` has four sections::

    model_name: wavegan          # the registry name of the family
    data:  {path, sample_rate, clip_samples, labels}
    model: {...}                 # the family's own Config dataclass
    train: {...}                 # TrainConfig below

It holds everything needed to rebuild the model, so a run dir is self-contained.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sonogen.errors import SonogenError


@dataclass(frozen=True)
class TrainConfig:
    """How to train: the same for every family."""

    batch_size: int = 32
    max_steps: int | None = None  # stop after this many training steps (batches)
    max_minutes: float | None = None  # stop after this much wall time (this session)
    seed: int = 0
    augment: bool = False  # random gain, time shift, small pitch shift, noise
    ema_decay: float = 0.999  # EMA of the weights used for generation (families that use one)
    checkpoint_every_steps: int = 200
    checkpoint_every_minutes: float = 2.0
    preview_every_steps: int = 1000
    preview_count: int = 4
    log_every_steps: int = 10
    validate_every_steps: int = 500  # held-out scores (valid_* in metrics.csv); 0 = never
    validate_clips: int = 128  # a fixed, seeded choice of valid-split clips
    num_workers: int = 0  # DataLoader worker processes
    # Lightning pass-throughs; runtime choices, so `--resume` may change them.
    accelerator: str = "auto"
    devices: str = "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"


@dataclass(frozen=True)
class DataConfig:
    """The dataset a run was trained on (copied from its dataset.json)."""

    path: str = ""
    sample_rate: int = 16000
    clip_samples: int = 16384
    labels: list[str] | None = None
    kind: str = "audio"  # "audio" (clips) or another kind a family reads (e.g. MIDI tokens)
    extra: dict | None = None  # what that kind needs to rebuild a model (e.g. the tokenizer)


@dataclass(frozen=True)
class RunConfig:
    model_name: str
    data: DataConfig
    model: Any  # the family's Config dataclass instance
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return {
            "model_name": self.model_name,
            "data": dataclasses.asdict(self.data),
            "model": dataclasses.asdict(self.model),
            "train": dataclasses.asdict(self.train),
        }


def _field_names(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def build_dataclass(cls, values: dict, where: str):
    """Return ``cls(**values)``, with a SonogenError naming ``where`` for unknown keys."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise SonogenError(f"{where}: expected a mapping of keys to values, got {values!r}")
    known = set(_field_names(cls))
    unknown = sorted(set(values) - known)
    if unknown:
        raise SonogenError(
            f"{where}: unknown key {unknown[0]!r}; known keys: {', '.join(sorted(known))}"
        )
    types = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    return cls(
        **{key: _checked(f"{where}.{key}", value, types[key]) for key, value in values.items()}
    )


# Settings that only make sense as whole numbers of at least 1 (others may be 0, none negative).
AT_LEAST_ONE = {
    "batch_size", "max_steps", "critic_steps", "dim", "latent_dim", "kernel_size", "n_fft",
    "hop_length", "griffin_lim_iters", "checkpoint_every_steps", "preview_every_steps",
    "log_every_steps", "num_nodes",
}  # fmt: skip


def _checked(name: str, value: Any, annotation: str) -> Any:
    """Return ``value`` if it fits the field's annotation (e.g. "int", "float | None"), else
    raise a SonogenError naming the setting; ints are accepted for floats and for str fields."""
    kinds = {part.strip() for part in annotation.split("|")}
    if value is None:
        if "None" in kinds:
            return None
        raise SonogenError(f"{name}: needs a value")
    if "bool" in kinds:
        if isinstance(value, bool):
            return value
        raise SonogenError(f"{name} {value!r}: expected true or false")
    if "int" in kinds and isinstance(value, int) and not isinstance(value, bool):
        minimum = 1 if name.rsplit(".", 1)[-1] in AT_LEAST_ONE else 0
        if value < minimum:
            raise SonogenError(f"{name} {value}: must be at least {minimum}")
        return value
    if "float" in kinds and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            raise SonogenError(f"{name} {value}: must be a finite number, 0 or more")
        return float(value)
    if "str" in kinds and isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value)
    if annotation.startswith("list") and isinstance(value, list):
        return value
    if annotation.startswith("dict") and isinstance(value, dict):
        return value
    expected = " or ".join(sorted(kinds - {"None"}))
    raise SonogenError(f"{name} {value!r}: expected {expected}")


def parse_overrides(pairs: list[str] | None) -> dict[str, dict[str, Any]]:
    """Parse ``section.key=value`` strings into {section: {key: value}} (values read as YAML)."""
    import yaml

    result: dict[str, dict[str, Any]] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise SonogenError(f"--set {pair!r}: expected section.key=value, e.g. model.dim=32")
        key, raw = pair.split("=", 1)
        section, _, name = key.strip().partition(".")
        if section not in {"model", "train"} or not name:
            raise SonogenError(
                f"--set {pair!r}: the key must start with 'model.' or 'train.', e.g. "
                "train.batch_size=16"
            )
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as error:
            raise SonogenError(f"--set {pair!r}: cannot read the value ({error})") from None
        result.setdefault(section, {})[name] = value
    return result


def read_yaml(path: Path) -> dict:
    """Return the mapping in a YAML file (safe loader only)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise SonogenError(f"{path}: config file not found")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        message = str(error).replace("\n", " ")
        raise SonogenError(f"{path}: not valid YAML ({message}); fix the file") from None
    if not isinstance(values, dict):
        raise SonogenError(f"{path}: expected a mapping at the top level")
    return values


def write_yaml(path: Path, values: dict) -> None:
    import yaml

    Path(path).write_text(yaml.safe_dump(values, sort_keys=False), encoding="utf-8")


def load_run_config(path: Path) -> RunConfig:
    """Rebuild a RunConfig from a run's config.yaml."""
    from sonogen.models.registry import get_family

    values = read_yaml(path)
    name = values.get("model_name")
    family = get_family(name, where=f"{path}: model_name")
    return RunConfig(
        model_name=name,
        data=build_dataclass(DataConfig, values.get("data"), f"{path}: data"),
        model=build_dataclass(family.Config, values.get("model"), f"{path}: model"),
        train=build_dataclass(TrainConfig, values.get("train"), f"{path}: train"),
    )
