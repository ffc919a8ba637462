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

from sonogen.checks import MAX_SEED, read_small_file, shown
from sonogen.errors import SonogenError

# The largest config file read: a config is a few hundred bytes, and a bound keeps a crafted one
# (a YAML alias bomb, megabytes of nesting) from using the machine's memory.
MAX_CONFIG_BYTES = 1_000_000

# What a dataset dir may hold (dataset.json's sample_rate, clip_samples and kind); the reader
# (data/dataset.py) and a run's config.yaml (DataConfig) check the same ranges.
SAMPLE_RATE_RANGE = (1000, 768_000)
CLIP_SAMPLES_RANGE = (1, 2**26)
DATASET_KINDS = ("audio", "midi-tokens")
LEARNING_RATES = (0, 1)  # every family's: 0 freezes the weights (a test's trick)


def setting(
    default: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    above: bool = False,
    below: bool = False,
    choices: tuple | None = None,
    odd: bool = False,
    why: str = "",
    older_runs: Any = None,
) -> Any:
    """Return a dataclass field with a default and the values it accepts, checked by
    build_dataclass: numbers from ``low`` to ``high`` (``above``/``below``: excluding that end),
    an ``odd`` whole number, or one of ``choices``; ``why`` is said when a value is refused.

    Each family declares its settings with it, beside what they mean: ``dim: int = setting(16,
    1, 128)``. ``older_runs`` is what a run's config.yaml written before the setting existed
    meant by leaving it out, where that differs from the new default (so old runs still load and
    behave as they did).
    """
    rule = {"low": low, "high": high, "above": above, "below": below}
    rule |= {"choices": choices, "odd": odd, "why": why}
    metadata = {"setting": rule} | ({} if older_runs is None else {"older_runs": older_runs})
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class TrainConfig:
    """How to train: the same for every family."""

    batch_size: int = setting(32, 1, 4096)
    # stop after this many training steps (batches)
    max_steps: int | None = setting(None, 1, 10**9)
    # stop after this much wall time (this session)
    max_minutes: float | None = setting(None, 0, 10**7, above=True)
    seed: int = setting(0, 0, MAX_SEED)
    augment: bool = False  # random gain, time shift, small pitch shift, noise
    # EMA of the weights used for generation (families that use one)
    ema_decay: float = setting(0.999, 0, 1, below=True)
    checkpoint_every_steps: int = setting(200, 1, 10**9)
    checkpoint_every_minutes: float = setting(2.0, 0, 10**7)
    preview_every_steps: int = setting(1000, 1, 10**9)
    preview_count: int = setting(4, 0, 64)
    log_every_steps: int = setting(10, 1, 10**9)
    # held-out scores (valid_* in metrics.csv); 0 = never
    validate_every_steps: int = setting(500, 0, 10**9)
    validate_clips: int = setting(128, 0, 100_000)  # a fixed, seeded choice of valid-split clips
    num_workers: int = setting(0, 0, 256)  # DataLoader worker processes
    # metrics.csv is always written; "tensorboard" also logs losses and preview audio to
    # RUN/tensorboard (Lightning's TensorBoardLogger; needs `pip install sonogen[tensorboard]`)
    logger: str = setting("csv", choices=("csv", "tensorboard"))
    # Lightning pass-throughs; runtime choices, so `--resume` may change them.
    accelerator: str = setting("auto", choices=("auto", "cpu", "gpu", "cuda", "mps"))
    devices: str = "auto"
    num_nodes: int = setting(1, 1, 4096)
    strategy: str = "auto"
    precision: str = setting(
        "32-true",
        choices=("32-true", "32", "16-mixed", "16", "16-true", "bf16-mixed", "bf16", "bf16-true")
        + ("64-true", "64"),
    )


@dataclass(frozen=True)
class DataConfig:
    """The dataset a run was trained on (copied from its dataset.json)."""

    path: str = ""
    sample_rate: int = setting(16000, *SAMPLE_RATE_RANGE)
    clip_samples: int = setting(16384, *CLIP_SAMPLES_RANGE)
    labels: list[str] | None = None
    # "audio" (clips) or another kind a family reads (e.g. MIDI tokens)
    kind: str = setting("audio", choices=DATASET_KINDS)
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
    """Return ``cls(**values)``, each value checked against its field's type and declared range
    (see ``setting``), with a SonogenError naming ``where`` and the key for anything wrong."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise SonogenError(f"{where}: expected a mapping of keys to values, got {shown(values)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted((key for key in values if key not in fields), key=str)
    if unknown:
        raise SonogenError(
            f"{where}: unknown key {shown(unknown[0])}; known keys: {', '.join(sorted(fields))}"
        )
    checked = {}
    for key, value in values.items():
        name = f"{where}.{key}"
        checked[key] = _in_range(name, _checked(name, value, fields[key]), fields[key])
    return cls(**checked)


def check_setting(name: str, cls: Any, key: str, value: Any) -> Any:
    """Return ``value`` checked against field ``key`` of the config dataclass ``cls`` (its type
    and declared range), with a SonogenError naming ``name``: a command's option for the same
    setting (``--minutes`` for ``train.max_minutes``) is checked by the one rule."""
    spec = next(f for f in dataclasses.fields(cls) if f.name == key)
    return _in_range(name, _checked(name, value, spec), spec)


def check_settings(instance: Any, where: str = "model") -> None:
    """Raise a SonogenError naming ``where.key`` for the first value of a config dataclass that
    its declared type and range (see ``setting``) refuse; for configs made in Python directly,
    which do not pass through build_dataclass."""
    for spec in dataclasses.fields(instance):
        name = f"{where}.{spec.name}"
        _in_range(name, _checked(name, getattr(instance, spec.name), spec), spec)


def _describe(rule: dict, whole: bool) -> str:
    """Return what a setting accepts, e.g. 'a whole number from 1 to 128'."""
    if rule["choices"] is not None:
        return "one of: " + ", ".join(str(choice) for choice in rule["choices"])
    low, high = _number(rule["low"]), _number(rule["high"])
    kind = "an odd whole number" if rule["odd"] else "a whole number" if whole else "a number"
    if rule["above"] or rule["below"]:
        lower = f"above {low}" if rule["above"] else f"at least {low}"
        upper = f"below {high}" if rule["below"] else f"at most {high}"
        return f"{kind} {lower} and {upper}"
    return f"{kind} from {low} to {high}"


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def _in_range(name: str, value: Any, spec: dataclasses.Field) -> Any:
    """Return ``value`` if its field's declared rule (see ``setting``) accepts it."""
    rule = spec.metadata.get("setting")
    if value is None or isinstance(value, bool):
        return value
    if rule is None:
        if isinstance(value, (int, float)) and value < 0:
            raise SonogenError(f"{name} {value}: must be 0 or more")
        return value
    why = f" ({rule['why']})" if rule["why"] else ""
    if rule["choices"] is not None:
        if value not in rule["choices"]:
            raise SonogenError(f"{name} {shown(value)}: must be {_describe(rule, False)}{why}")
        return value
    low, high = rule["low"], rule["high"]
    fits = (
        (value > low if rule["above"] else value >= low)
        and (value < high if rule["below"] else value <= high)
        and (value % 2 == 1 or not rule["odd"])
    )
    if not fits:
        whole = isinstance(value, int)
        raise SonogenError(f"{name} {shown(value)}: must be {_describe(rule, whole)}{why}")
    return value


def _checked(name: str, value: Any, spec: dataclasses.Field) -> Any:
    """Return ``value`` if it fits the field's annotation (e.g. "int", "float | None"), else
    raise a SonogenError naming the setting; ints are accepted for floats and for str fields."""
    annotation = str(spec.type)
    kinds = {part.strip() for part in annotation.split("|")}
    if value is None:
        if "None" in kinds:
            return None
        raise SonogenError(f"{name}: needs a value")
    if "bool" in kinds:
        if isinstance(value, bool):
            return value
        raise SonogenError(f"{name} {shown(value)}: expected true or false")
    if "int" in kinds and isinstance(value, int) and not isinstance(value, bool):
        return value
    if "float" in kinds and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise SonogenError(f"{name} {value}: must be a finite number")
        return float(value)
    if "str" in kinds and isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value)
    if annotation.startswith("list[str]") and isinstance(value, list):
        if all(isinstance(item, str) for item in value):
            return value
        raise SonogenError(f"{name} {shown(value)}: expected a list of strings")
    if annotation.startswith("list") and isinstance(value, list):
        return value
    if annotation.startswith("dict") and isinstance(value, dict):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise SonogenError(f"{name} {value}: must be a finite number")
    rule = spec.metadata.get("setting")
    if rule is not None and rule["choices"] is None and kinds & {"int", "float"}:
        expected = _describe(rule, "int" in kinds)
    else:
        expected = " or ".join(sorted(kinds - {"None"}))
    raise SonogenError(f"{name} {shown(value)}: expected {expected}")


def safe_yaml(text: str, where: str) -> Any:
    """Return the value of a YAML document, read with the safe loader and no aliases (``*name``):
    tags that build Python objects are refused, and so are aliases, which configs never need and
    which let a few hundred bytes stand for gigabytes. A problem is a SonogenError naming
    ``where``."""
    import yaml

    class Loader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    "an alias (*name); sonogen configs do not take aliases, write the value out",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)

    try:
        return yaml.load(text, Loader=Loader)  # noqa: S506 - Loader is a SafeLoader
    except yaml.YAMLError as error:
        message = " ".join(str(error).split())
        if len(message) > 300:
            message = message[:297] + "..."
        raise SonogenError(f"{where}: not valid YAML ({message}); fix it") from None
    except RecursionError:
        raise SonogenError(f"{where}: nested too deeply to be a config; fix it") from None


def parse_overrides(pairs: list[str] | None) -> dict[str, dict[str, Any]]:
    """Parse ``section.key=value`` strings into {section: {key: value}} (values read as YAML)."""
    result: dict[str, dict[str, Any]] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise SonogenError(
                f"--set {shown(pair)}: expected section.key=value, e.g. model.dim=32"
            )
        key, raw = pair.split("=", 1)
        section, _, name = key.strip().partition(".")
        if section not in {"model", "train"} or not name:
            raise SonogenError(
                f"--set {shown(pair)}: the key must start with 'model.' or 'train.', e.g. "
                "train.batch_size=16"
            )
        if len(raw) > MAX_CONFIG_BYTES:
            raise SonogenError(f"--set {shown(key)}: the value is too long to be a setting")
        value = safe_yaml(raw, f"--set {shown(pair)}") if raw.strip() else None
        result.setdefault(section, {})[name] = value
    return result


def read_yaml(path: Path) -> dict:
    """Return the mapping in a YAML config file (safe loader, no aliases, at most
    MAX_CONFIG_BYTES)."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise SonogenError(f"{path}: not a regular file (a folder or a device); pass a YAML file")
    if not path.is_file():
        raise SonogenError(f"{path}: config file not found")
    data = read_small_file(path, MAX_CONFIG_BYTES, "a config is a short YAML file of settings")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SonogenError(
            f"{path}: not a text file (not UTF-8 at byte {error.start}); pass a YAML config"
        ) from None
    values = safe_yaml(text, str(path))
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise SonogenError(
            f"{path}: expected a mapping of sections (model:, train:) at the top level, "
            f"got a {type(values).__name__}"
        )
    return values


def write_yaml(path: Path, values: dict) -> None:
    import yaml

    Path(path).write_text(yaml.safe_dump(values, sort_keys=False), encoding="utf-8")


def load_run_config(path: Path) -> RunConfig:
    """Rebuild a RunConfig from a run's config.yaml, every value checked; a damaged or edited
    file is a SonogenError naming it."""
    from sonogen.models.registry import get_family

    values = read_yaml(path)
    for key in ("model_name", "data", "model"):
        if key not in values:
            raise SonogenError(
                f"{path}: no {key}: a run's config.yaml holds model_name, data, model and train; "
                "restore the file or train the run again"
            )
    family = get_family(values["model_name"], where=f"{path}: model_name")
    data = values["data"]
    for key in ("sample_rate", "clip_samples"):
        if isinstance(data, dict) and key not in data:
            raise SonogenError(
                f"{path}: data.{key} is missing; restore the file or train the run again"
            )
    model = values["model"]
    if isinstance(model, dict):  # settings added since the run was written: what it meant then
        model = {
            spec.name: spec.metadata["older_runs"]
            for spec in dataclasses.fields(family.Config)
            if "older_runs" in spec.metadata
        } | model
    return RunConfig(
        model_name=values["model_name"],
        data=build_dataclass(DataConfig, data, f"{path}: data"),
        model=build_dataclass(family.Config, model, f"{path}: model"),
        train=build_dataclass(TrainConfig, values.get("train"), f"{path}: train"),
    )


@dataclasses.dataclass(frozen=True)
class ConfigLayers:
    """The settings a user gave for a run, by layer: the ``--config`` file's sections and the
    ``--set`` overrides; ``train`` is the train settings merged, later layers winning (config
    file, then --set, then explicit options such as --max-steps)."""

    file: dict[str, Any]
    overrides: dict[str, dict[str, Any]]
    train: dict[str, Any]

    @property
    def model(self) -> dict[str, Any]:
        """The model settings given: the config file's, then --set's."""
        return dict(self.file.get("model") or {}) | self.overrides.get("model", {})

    @property
    def changes_model(self) -> bool:
        return bool(self.overrides.get("model") or self.file.get("model"))


def config_layers(
    config: str | Path | dict | None, overrides: list[str] | None, options: dict[str, Any]
) -> ConfigLayers:
    """Return the layers of a run's settings from a YAML file (or dict) with ``model:`` and
    ``train:`` sections, ``section.key=value`` overrides and explicit train options (None:
    not given)."""
    sections = parse_overrides(list(overrides or []))
    file_values = read_yaml(Path(config)) if isinstance(config, (str, Path)) else dict(config or {})
    extra = sorted(set(file_values) - {"model", "train", "model_name", "data"})
    if extra:
        raise SonogenError(f"--config: unknown section {extra[0]!r}; use model: and train:")
    for section in ("model", "train"):
        if not isinstance(file_values.get(section) or {}, dict):
            raise SonogenError(f"--config: the {section}: section must map keys to values")
    given = {key: value for key, value in options.items() if value is not None}
    train = (file_values.get("train") or {}) | sections.get("train", {}) | given
    return ConfigLayers(file_values, sections, train)


def new_run_config(
    model_name: str, family_class: Any, info: Any, layers: ConfigLayers
) -> RunConfig:
    """Return the config of a new run of ``family_class`` on dataset ``info`` (a DatasetInfo)."""
    return RunConfig(
        model_name=model_name,
        data=DataConfig(
            path=str(info.path.resolve()),
            sample_rate=info.sample_rate,
            clip_samples=info.clip_samples,
            labels=info.labels,
            kind=info.kind,
            extra=info.extra or None,
        ),
        model=build_dataclass(family_class.Config, layers.model, "model"),
        train=build_dataclass(TrainConfig, layers.train, "train"),
    )


def check_precision(run_config: RunConfig, family_class: Any) -> None:
    """Raise unless the family trains at the run's ``train.precision``."""
    if run_config.train.precision in {"16", "16-mixed", "16-true"} and not family_class.float16:
        raise SonogenError(
            f"--precision {run_config.train.precision}: {run_config.model_name} does not train "
            "in float16; use bf16-mixed or 32-true"
        )
