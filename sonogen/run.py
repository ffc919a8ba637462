"""The run-dir format in one place: file names, the lock, the checks that let a run resume, and
loading a finished run (``Model``, ``load``, ``info``).

A run dir (``sonogen train DATA --out RUN``) holds::

    config.yaml              the resolved config (model_name, data, model, train)
    model.safetensors        generation weights
    checkpoints/last.ckpt    full training state for --resume (temp file + rename)
    metrics.csv, samples/    logged scalars and preview clips
    .lock                    while a process trains into it: its PID and host

The lock is an ``fcntl.flock`` on ``.lock`` held for the whole run: the kernel drops it when the
process dies, so a run killed with SIGKILL leaves a stale file that the next run simply takes
over. The checkpoint also records a fingerprint of the dataset and a hash of the model config at
the start of training, so ``--resume`` refuses a dataset re-prepared under the run or an edited
config.yaml with one line saying which changed, instead of failing deep inside training.

Everything below the API (evaluation, composition) is handed a ``Model`` from here; this module
sits below ``api.py`` and never imports it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sonogen.checks import check_seed, check_steps, finite_number, interpolation_kind, shown
from sonogen.errors import SonogenError

log = logging.getLogger(__name__)

CONFIG_NAME = "config.yaml"
WEIGHTS_NAME = "model.safetensors"
CHECKPOINT = "checkpoints/last.ckpt"
METRICS = "metrics.csv"
SAMPLES = "samples"
LOCK_NAME = ".lock"

MAX_SECONDS = 600.0  # generate --seconds: ten minutes per clip

# What sonogen writes into a run dir before its first checkpoint: a run dir holding only these
# (and no checkpoint, no weights) was killed or failed before it saved anything, so a new start
# may clear it. Temporaries are those of the atomic writes (".NAME.tmp-PID").
_CONFIG_SECTIONS = {"model_name", "data", "model", "train"}
_EARLY_FOLDERS = {SAMPLES: re.compile(r"step\d+_\d+\.\w+"), "checkpoints": None}
_TEMPORARY = re.compile(r"\.[^/]+\.tmp-\d+")
CARD_NAME = "MODEL_CARD.md"  # sonogen.card writes it; its first line is _CARD_HEAD
_CARD_HEAD = re.compile(rb"# .+: a sonogen `[a-z0-9_-]+` model")


def _short(value: Any, limit: int = 80) -> str:
    """A value as text, cut to ``limit`` characters (paths are shown whole, values never)."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------------------------
# the lock


class RunLock:
    """An exclusive lock on a run dir, held from before the first check until the run ends.

    ``acquire()`` makes the folder (and its parents) if needed and refuses with a SonogenError
    naming the other process when one holds the lock. ``release()`` removes the lock file and
    the folders ``acquire()`` made, where they are empty again (a failed start leaves nothing).
    """

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self.made: list[Path] = []  # folders acquire() made, deepest first
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()

    def acquire(self) -> None:
        self._make_folder()
        try:
            while self._fd is None:
                self._fd = self._try_lock()
        except BaseException:
            self._remove_folder_if_made()
            raise
        _HELD.add(self._fd)
        holder = f"{os.getpid()} {socket.gethostname()}\n".encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, holder, 0)

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            # unlink while still holding it, so a waiting process never locks a removed file
            # (_try_lock checks that the file it locked is still the one at the path)
            self.path.unlink(missing_ok=True)
        finally:
            _HELD.discard(self._fd)
            os.close(self._fd)
            self._fd = None
        self._remove_folder_if_made()

    def _make_folder(self) -> None:
        where = f"--out {self.run_dir}"
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise SonogenError(f"{where}: is a file, not a folder; choose another --out")
        missing = [p for p in (self.run_dir, *self.run_dir.parents) if not p.exists()]
        try:
            for folder in reversed(missing):
                try:
                    folder.mkdir()
                except FileExistsError:
                    continue  # made by someone else meanwhile: theirs, not ours to remove
                self.made.insert(0, folder)
        except OSError as error:
            self._remove_folder_if_made()
            raise SonogenError(
                f"{where}: cannot make the run dir ({error.strerror or error}); "
                "choose a writable --out"
            ) from None

    def _try_lock(self) -> int | None:
        """Return a locked fd on the lock file, None to try again, or raise if it is held."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise SonogenError(
                f"--out {self.run_dir}: cannot write the lock file {LOCK_NAME} "
                f"({error.strerror or error}); choose a writable --out"
            ) from None
        try:
            locked = _lock_fd(fd)
        except BaseException:
            os.close(fd)
            raise
        if not locked:
            holder = _read_holder(self.path)
            os.close(fd)
            raise SonogenError(
                f"--out {self.run_dir}: another sonogen process ({holder}) is training "
                "into this run dir; wait for it to end or choose another --out"
            )
        try:
            same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # the holder released (and removed) it between our open and lock
            os.close(fd)
            return None
        return fd

    def _remove_folder_if_made(self) -> None:
        for folder in self.made:
            try:
                folder.rmdir()  # only when empty
            except OSError:
                break
        self.made = []


# A forked child (a DataLoader worker) shares the lock's open file; it closes its copy, so the
# lock ends with the process that took it, not with the last of its workers.
_HELD: set[int] = set()


def _close_held_locks_in_child() -> None:
    for fd in _HELD:
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_held_locks_in_child)


def _lock_fd(fd: int) -> bool:
    """Take an exclusive, non-blocking lock on fd; False when another process holds it."""
    try:
        import fcntl
    except ImportError:  # no flock on this platform (Windows): runs there are not locked
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read_holder(path: Path) -> str:
    try:
        pid, _, host = path.read_text(encoding="utf-8", errors="replace").strip().partition(" ")
    except OSError:
        return "PID unknown"
    if not pid.isdigit():
        return "PID unknown"
    return f"PID {pid}" + (f" on {_short(host, 40)}" if host else "")


# --------------------------------------------------------------------------------------------
# starting over in a run dir that never saved anything


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` looks like a run dir (it holds a config.yaml), finished or not."""
    return (Path(path) / CONFIG_NAME).is_file()


def has_saved_state(run_dir: Path) -> bool:
    """True when a run dir holds a checkpoint or weights (a run that saved something)."""
    return (run_dir / CHECKPOINT).exists() or (run_dir / WEIGHTS_NAME).exists()


def early_leftovers(run_dir: Path) -> tuple[list[Path], list[str]]:
    """Return (files sonogen wrote before a first checkpoint, names of anything else) in a run
    dir; the lock file is neither."""
    ours: list[Path] = []
    others: list[str] = []
    for entry in sorted(run_dir.iterdir()):
        name = entry.name
        if name == LOCK_NAME:
            continue
        if entry.is_symlink():
            others.append(name)
        elif entry.is_file() and (_written_early(entry) or _TEMPORARY.fullmatch(name)):
            ours.append(entry)
        elif entry.is_dir() and name in _EARLY_FOLDERS:
            pattern = _EARLY_FOLDERS[name]
            inside = list(entry.iterdir())
            foreign = [
                p.name
                for p in inside
                if p.is_symlink()
                or not p.is_file()
                or not ((pattern and pattern.fullmatch(p.name)) or _TEMPORARY.fullmatch(p.name))
            ]
            if foreign:
                others.append(f"{name}/{foreign[0]}")
            else:
                ours.append(entry)
        else:
            others.append(name)
    return ours, others


def _written_early(path: Path) -> bool:
    """True for a file sonogen writes before a first checkpoint; a user's own config.yaml or
    metrics.csv (other content under the same name) is not one."""
    if path.name == LOCK_NAME:
        return True
    if path.name == METRICS:
        with path.open("rb") as handle:
            head = handle.read(64)
        return head == b"" or head.startswith(b"step,seconds")
    if path.name == CARD_NAME:  # a card sonogen wrote at the end of an earlier start
        with path.open("rb") as handle:
            head = handle.readline(400)
        return _CARD_HEAD.fullmatch(head.rstrip(b"\n")) is not None
    if path.name == CONFIG_NAME:
        from sonogen.config import read_yaml

        try:
            values = read_yaml(path)
        except SonogenError:
            return False
        data = values.get("data")
        return set(values) == _CONFIG_SECTIONS and isinstance(data, dict) and "path" in data
    return False


def prepare_fresh_start(run_dir: Path) -> None:
    """Make ``run_dir`` (locked by the caller) ready for a new run, or raise why it is not.

    A run dir that saved nothing (killed or failed before its first checkpoint) is cleared of the
    files sonogen wrote; a folder holding anything else is never touched.
    """
    where = f"--out {run_dir}"
    if has_saved_state(run_dir):
        raise SonogenError(
            f"{where}: already holds a run; pass --resume to continue it or choose another --out"
        )
    ours, others = early_leftovers(run_dir)
    if others:
        raise SonogenError(
            f"{where}: folder is not empty (it holds {_short(others[0], 60)}); choose another --out"
        )
    if ours:
        log.info("%s: starting over (the run there stopped before its first checkpoint)", run_dir)
    remove_paths(ours)


def clear_unsaved(run_dir: Path) -> None:
    """After a failed start: remove what sonogen wrote in ``run_dir`` if it saved nothing and
    holds nothing else (a failed first try must not leave a half-made run dir)."""
    if not run_dir.is_dir() or has_saved_state(run_dir):
        return
    ours, others = early_leftovers(run_dir)
    if not others:
        remove_paths(ours)


def remove_paths(paths: list[Path]) -> None:
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def check_resumable(run_dir: Path) -> None:
    """Raise unless ``run_dir`` holds a config and a checkpoint to resume from."""
    where = run_dir
    if run_dir.exists() and not run_dir.is_dir():
        raise SonogenError(f"--out {where}: is a file, not a run dir; nothing to resume")
    if not run_dir.is_dir():
        raise SonogenError(f"{where}: run dir not found; nothing to resume; check --out")
    if (run_dir / CONFIG_NAME).is_file() and not (run_dir / CHECKPOINT).exists():
        if (run_dir / WEIGHTS_NAME).exists():
            raise SonogenError(
                f"{where}: nothing to resume (it has weights but no {CHECKPOINT}); train a new "
                "run with another --out"
            )
        raise SonogenError(
            f"{where}: nothing to resume yet (killed before the first checkpoint); start it "
            "again without --resume"
        )
    if not (run_dir / CONFIG_NAME).is_file() or not (run_dir / CHECKPOINT).is_file():
        raise SonogenError(
            f"{where}: nothing to resume (no {CONFIG_NAME} or {CHECKPOINT}); "
            "start it without --resume"
        )


# --------------------------------------------------------------------------------------------
# what a checkpoint records, and the resume checks


_FINGERPRINT_FILES = ("dataset.json", "items.csv", "pieces.csv")


def dataset_fingerprint(info) -> dict[str, Any]:
    """Return what identifies a dataset dir's content: its counts and a sha256 of its small
    files (dataset.json, items.csv; clips are covered by count and clip length, not hashed)."""
    digest = hashlib.sha256()
    for name in _FINGERPRINT_FILES:
        path = Path(info.path) / name
        if path.is_file():
            digest.update(name.encode() + b"\0")
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return {
        "count": int(info.count),
        "clip_samples": int(info.clip_samples),
        "sample_rate": int(info.sample_rate),
        "labels": list(info.labels) if info.labels else None,
        "kind": str(info.kind),
        "sha256": digest.hexdigest(),
    }


def config_hash(config) -> str:
    """Return a sha256 of what fixes the model's shape and meaning: model name, model settings
    and the dataset's format (not its path, which may move, nor train settings, which may
    change on resume)."""
    data = dataclasses.asdict(config.data)
    data.pop("path", None)
    values = {
        "model_name": config.model_name,
        "model": dataclasses.asdict(config.model),
        "data": data,
    }
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def read_checkpoint(path: Path) -> dict[str, Any]:
    """Load a training checkpoint without running code and check its layout; return it."""
    import torch

    where = path
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable checkpoint is a user problem
        raise SonogenError(
            f"{where}: cannot read the checkpoint ({type(error).__name__}); it is damaged or "
            "not a sonogen checkpoint; restore the file or start a new run"
        ) from None
    if not isinstance(checkpoint, dict):
        raise SonogenError(f"{where}: not a sonogen checkpoint; restore it or start a new run")
    for key in ("state_dict", "optimizer_states"):
        if key not in checkpoint:
            raise SonogenError(
                f"{where}: not a sonogen checkpoint (no {key}); restore it or start a new run"
            )
    if not isinstance(checkpoint["state_dict"], dict):
        raise SonogenError(f"{where}: its state_dict is not a mapping; restore it or start anew")
    state = checkpoint.get("sonogen")
    step = state.get("step") if isinstance(state, dict) else None
    if type(step) is not int or step < 0:
        raise SonogenError(
            f"{where}: its step {_short(repr(step), 40)} is not a whole number of at least 0; "
            "restore the file or start a new run"
        )
    seconds = state.get("train_seconds", 0.0)
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
        raise SonogenError(
            f"{where}: its train_seconds {_short(repr(seconds), 40)} is not a number of at "
            "least 0; restore the file or start a new run"
        )
    if not isinstance(state.get("validation", {}), dict):
        raise SonogenError(f"{where}: its validation is not a mapping; restore it or start anew")
    return checkpoint


def check_resume(checkpoint: dict[str, Any], config, info, run_dir: Path) -> None:
    """Raise unless checkpoint, config.yaml and the dataset still belong together.

    A checkpoint from before fingerprints were stored is checked against what config.yaml says
    of the dataset only (the weights' shapes are checked when the model is built).
    """
    state = checkpoint.get("sonogen") or {}
    config_path = Path(run_dir) / CONFIG_NAME
    stored_hash = state.get("config_sha256")
    if stored_hash is not None and stored_hash != config_hash(config):
        raise SonogenError(
            f"{config_path}: the model or data settings changed since the run started; restore "
            "config.yaml (only train settings may change on --resume) or start a new run"
        )
    stored = state.get("dataset")
    now = dataset_fingerprint(info)
    data = info.path
    if isinstance(stored, dict):
        changed = [
            f"{key} {_short(stored.get(key), 30)} -> {_short(now[key], 30)}"
            for key in ("count", "clip_samples", "sample_rate", "labels", "kind")
            if stored.get(key) != now[key]
        ]
        if not changed and stored.get("sha256") != now["sha256"]:
            changed = ["its dataset.json or items.csv"]
        if changed:
            raise SonogenError(
                f"{data}: the dataset changed since this run started ({', '.join(changed)}); "
                "restore it, or train a new run on it with another --out"
            )
        return
    expected = {
        "clip_samples": config.data.clip_samples,
        "sample_rate": config.data.sample_rate,
        "labels": list(config.data.labels) if config.data.labels else None,
        "kind": config.data.kind,
    }
    changed = [
        f"{key} {_short(value, 30)} -> {_short(now[key], 30)}"
        for key, value in expected.items()
        if value != now[key]
    ]
    if changed:
        raise SonogenError(
            f"{data}: the dataset does not match {config_path} ({', '.join(changed)}); "
            "restore it, or train a new run on it with another --out"
        )


def resumed_config(run_dir: Path, model_name: str | None, layers) -> tuple[Any, dict[str, Any]]:
    """Return (the run's config with the new train settings, its checkpoint) for ``--resume``.

    The resume policy: only train settings may change (``layers``, a config.ConfigLayers, may
    not touch the model, nor ``model_name`` name another family), and the checkpoint must still
    belong to config.yaml and the dataset it names (see ``check_resume``).
    """
    from sonogen.config import TrainConfig, build_dataclass, load_run_config
    from sonogen.data.dataset import open_dataset

    check_resumable(run_dir)
    run_config = load_run_config(run_dir / CONFIG_NAME)
    if model_name is not None and model_name != run_config.model_name:
        raise SonogenError(
            f"--model {model_name}: {run_dir} is a {run_config.model_name} run; drop --model"
        )
    if layers.changes_model:
        raise SonogenError("--set model.*: a resumed run keeps its model settings")
    train_values = dataclasses.asdict(run_config.train) | layers.train
    run_config = dataclasses.replace(
        run_config, train=build_dataclass(TrainConfig, train_values, "train")
    )
    checkpoint = read_checkpoint(run_dir / CHECKPOINT)
    check_resume(checkpoint, run_config, open_dataset(run_config.data.path), run_dir)
    return run_config, checkpoint


def check_family_fits(checkpoint: dict[str, Any], family, path) -> None:
    """Raise unless the checkpoint's family weights have the names and shapes of ``family``'s
    (the model config.yaml describes)."""
    prefix = "family."
    state = {
        key[len(prefix) :]: value
        for key, value in checkpoint["state_dict"].items()
        if key.startswith(prefix)
    }
    check_weights_fit(state, family.state_dict(), path)


def write_config(run_dir: Path, values: dict) -> None:
    """Write a run's config.yaml atomically (a kill mid-write must not leave half a config)."""
    from sonogen.config import write_yaml

    path = Path(run_dir) / CONFIG_NAME
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write_yaml(temp, values)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def check_weights_fit(checkpoint_state: dict[str, Any], model_state: dict[str, Any], path) -> None:
    """Raise unless the checkpoint's tensors have the names and shapes of the model's."""
    missing = [key for key in model_state if key not in checkpoint_state]
    extra = [key for key in checkpoint_state if key not in model_state]
    wrong = [
        key
        for key, value in model_state.items()
        if key in checkpoint_state
        and tuple(getattr(checkpoint_state[key], "shape", ())) != tuple(value.shape)
    ]
    if not (missing or extra or wrong):
        return
    if wrong:
        key = wrong[0]
        what = (
            f"{_short(key, 60)} is {tuple(getattr(checkpoint_state[key], 'shape', ()))} there "
            f"but {tuple(model_state[key].shape)} in the model"
        )
    elif missing:
        what = f"it lacks {_short(missing[0], 60)}"
    else:
        what = f"it has {_short(extra[0], 60)}, which the model does not"
    raise SonogenError(
        f"{path}: the checkpoint does not fit the model in {CONFIG_NAME} ({what}); "
        "restore config.yaml or start a new run"
    )


# --------------------------------------------------------------------------------------------
# a finished run: load it, ask what it can do, summarise it


@dataclass
class Model:
    """A trained model loaded from a run dir: ``m.generate(n, seed=, labels=)`` and friends.

    What a model can do is what its family declares (``Family.any_length``, ``continues``,
    ``encodes``, ``interpolates``, ``tokens``); every method below checks it first and refuses
    what the family cannot do with a one-line SonogenError that says what works instead.
    """

    family: Any
    config: Any
    run_dir: Path
    metadata: dict[str, str]

    @property
    def sample_rate(self) -> int:
        return self.family.sample_rate

    @property
    def labels(self) -> list[str] | None:
        return self.config.data.labels

    @property
    def model_name(self) -> str:
        return self.config.model_name

    # --- capabilities, as the family declares them ---------------------------------------
    @property
    def any_length(self) -> bool:
        """Whether the family generates audio of any length (``seconds=``), not fixed clips."""
        return self.family.any_length

    @property
    def can_continue(self) -> bool:
        """Whether the family continues a prompt (``continue_audio``)."""
        return self.family.continues

    @property
    def can_reconstruct(self) -> bool:
        """Whether the family encodes and decodes (reconstruction metrics, transfer)."""
        return self.family.encodes

    @property
    def makes_tokens(self) -> bool:
        """Whether the family makes token sequences (music) rather than audio."""
        return self.family.tokens

    @property
    def interpolates_between(self) -> frozenset[str]:
        """What ``interpolate`` takes: {"seeds"} (latent draws), {"sounds"} (encoded audio),
        both, or neither."""
        return frozenset(self.family.interpolates)

    @property
    def generation_options(self) -> frozenset[str]:
        """The options ``generate`` takes beyond seed, labels and temperature (e.g.
        {"truncation"} for the GANs, {"steps", "guidance", "sampler"} for flow matching)."""
        return frozenset(self.family.generation_options)

    def check_options(self, options: dict[str, Any]) -> None:
        """Refuse, naming the option, any generation option this model's family does not take."""
        for name in options:
            if name not in self.family.generation_options:
                takes = ", ".join(f"--{o}" for o in sorted(self.family.generation_options))
                raise SonogenError(
                    f"--{name}: not an option of {self.model_name}"
                    + (f" (it takes {takes})" if takes else "")
                )

    # --- generation -----------------------------------------------------------------------
    def label_indices(self, labels: Any, n: int) -> Any:
        """Return label indices [n] from names or indices (one value is repeated n times)."""
        if labels is None:
            return None
        known = self.labels or []
        values = [labels] if isinstance(labels, (str, int, np.integer)) else list(labels)
        indices = []
        for value in values:
            if isinstance(value, str):
                if value not in known:
                    choices = ", ".join(known) if known else "none (trained without labels)"
                    raise SonogenError(
                        f"--label {shown(value)}: unknown label; known labels: {shown(choices)}"
                    )
                indices.append(known.index(value))
            else:
                whole = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
                if not known:
                    raise SonogenError(
                        f"--label {shown(value)}: this run was trained without labels; leave "
                        "the label out"
                    )
                if not whole or not 0 <= value < len(known):
                    raise SonogenError(
                        f"--label {shown(value)}: not a label of this run; give a name or an "
                        f"index from 0 to {len(known) - 1}"
                    )
                indices.append(int(value))
        return indices * n if len(indices) == 1 else indices

    def _refuse_tokens(self, verb: str) -> None:
        if self.makes_tokens:
            raise SonogenError(
                f"{self.run_dir}: a {self.model_name} run makes MIDI, not audio, so it cannot "
                f"{verb}; use `sonogen compose {self.run_dir} --out DIR`"
            )

    def _samples(self, seconds: float | None) -> dict[str, int]:
        if seconds is None:
            return {}
        if not self.any_length:
            clip = self.config.data.clip_samples / self.sample_rate
            raise SonogenError(
                f"--seconds {seconds}: {self.model_name} makes clips of a fixed {clip:.3g} s; "
                "leave --seconds out"
            )
        seconds = finite_number("--seconds", seconds, low=0, high=MAX_SECONDS, low_open=True)
        return {"samples": max(1, round(seconds * self.sample_rate))}

    def generate(
        self,
        n: int,
        *,
        seed: int | None = None,
        labels: Any = None,
        temperature: float = 1.0,
        seconds: float | None = None,
        **options: Any,
    ) -> np.ndarray:
        """Return n new clips, float32 [n, samples] in [-1, 1]; a seed repeats its audio.

        ``seconds`` sets the length for families that generate any length (``any_length``);
        ``options`` are the family's own (e.g. ``truncation`` for the GANs).
        """
        import torch

        self._refuse_tokens("generate audio")
        if n < 1:
            raise SonogenError(f"-n {n}: ask for at least one clip")
        indices = self.label_indices(labels, n)
        tensor = None if indices is None else torch.tensor(indices)
        audio = self.family.generate(
            n,
            seed=seed,
            labels=tensor,
            temperature=temperature,
            **(self._samples(seconds) | options),
        )
        return audio.detach().cpu().numpy().astype(np.float32)

    def continue_audio(
        self,
        prompt: np.ndarray,
        seconds: float,
        *,
        n: int = 1,
        seed: int | None = None,
        labels: Any = None,
        temperature: float = 1.0,
    ) -> np.ndarray:
        """Return float32 [n, prompt + new samples]: the prompt followed by its continuation.

        ``prompt``: float [samples] (or [1 or n, samples]) in [-1, 1] at ``m.sample_rate``. The
        model reads the whole prompt first, so the continuation follows on from its last sample.
        """
        import torch

        if not self.can_continue:
            raise SonogenError(f"--prompt: {self.model_name} cannot continue audio")
        prompt = np.asarray(prompt, dtype=np.float32)
        if prompt.ndim == 1:
            prompt = prompt[None]
        if prompt.ndim != 2 or prompt.shape[0] not in (1, n) or prompt.shape[1] == 0:
            raise SonogenError(f"prompt: expected audio [samples], got shape {prompt.shape}")
        prompt = np.repeat(prompt, n // prompt.shape[0], axis=0)  # a new, writable array
        indices = self.label_indices(labels, n)
        continuation = self.family.continue_audio(
            torch.from_numpy(prompt).to(self.family.device),
            self._samples(seconds)["samples"],
            seed=seed,
            temperature=temperature,
            labels=None if indices is None else torch.tensor(indices),
        )
        joined = np.concatenate([prompt, continuation.detach().cpu().numpy()], axis=1)
        return joined.astype(np.float32)

    # --- latent space -------------------------------------------------------------------
    def check_interpolation(self, a: Any, b: Any, label: Any = None) -> str:
        """Return "seeds" or "sounds", what (a, b) are, or raise SonogenError unless this
        family interpolates between that kind; the message shows the command that works."""
        between = self.interpolates_between
        if not between:
            raise SonogenError(
                f"{self.model_name} cannot interpolate; the GANs interpolate between two seeds "
                "and fvae between two seeds or two sounds"
            )
        kind = interpolation_kind(a, b)
        if kind == "one of each":
            raise SonogenError(
                "interpolate: give two seeds (sonogen interpolate RUN 1 2 --out DIR) or two "
                "sounds (sonogen interpolate RUN a.wav b.wav --out DIR), not one of each"
            )
        if kind not in between:
            if kind == "sounds":
                raise SonogenError(
                    f"{self.model_name} interpolates between two seeds: sonogen interpolate RUN "
                    "1 2 --out DIR (it does not encode sounds)"
                )
            raise SonogenError(
                f"{self.model_name} interpolates between two sounds: sonogen interpolate RUN "
                "a.wav b.wav --out DIR"
            )
        if kind == "seeds":
            check_seed(a, "A")
            check_seed(b, "B")
        elif label is not None:
            raise SonogenError(
                f"--label: {self.model_name} interpolates between the sounds as they are; "
                "leave --label out"
            )
        return kind

    def interpolate(self, a: Any, b: Any, steps: int, label: Any = None) -> np.ndarray:
        """Return float32 [steps, samples]: a path through latent space from a to b.

        a, b: two seeds (ints: between the latents the family draws for them; ``label`` picks
        the class of a labelled model) or two sounds, float [samples] at ``m.sample_rate``
        (between their encodings). ``interpolates_between`` says which this family takes.
        """
        kind = self.check_interpolation(a, b, label)
        steps = check_steps(steps)
        if kind == "sounds":
            a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
            audio = self.family.interpolate(a, b, steps)
        else:
            index = None if label is None else self.label_indices(label, 1)[0]
            audio = self.family.interpolate(int(a), int(b), steps, label=index)
        return audio.cpu().numpy().astype(np.float32)

    def encode(self, audio: np.ndarray) -> np.ndarray:
        """Return the latent sequences [n, latent_dim, frames] of audio [n, samples]."""
        if not self.can_reconstruct:
            raise SonogenError(f"{self.model_name}: this model cannot encode audio")
        return self.family.encode(np.asarray(audio, np.float32)).cpu().numpy()

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Return float32 audio [n, frames * hop] for latent sequences [n, latent_dim, frames]."""
        if not self.can_reconstruct:
            raise SonogenError(f"{self.model_name}: this model cannot decode latents")
        return self.family.decode(np.asarray(z, np.float32)).cpu().numpy().astype(np.float32)

    def reconstruct(self, audio: np.ndarray) -> np.ndarray:
        """Return float32 [n, samples]: clips `audio` [n, samples] encoded and decoded again,
        all at once (for clips; a long signal goes through ``transfer``, in blocks)."""
        import torch

        if not self.can_reconstruct:
            raise SonogenError(f"{self.model_name}: this model cannot encode and decode audio")
        with torch.inference_mode():
            tensor = torch.as_tensor(np.asarray(audio, np.float32), device=self.family.device)
            rebuilt = self.family.decode(self.family.encode(tensor))[..., : tensor.shape[-1]]
        return rebuilt.cpu().numpy().astype(np.float32)

    def transfer(self, audio: np.ndarray) -> np.ndarray:
        """Return float32 [samples]: a mono signal at ``m.sample_rate`` of any length encoded
        and decoded by this model (timbre transfer) in overlapping blocks, so it fits in memory."""
        if not self.can_reconstruct:
            raise SonogenError(
                f"{self.model_name}: this model cannot transfer timbre (it does not encode "
                "audio); use an fvae run"
            )
        return np.asarray(self.family.transfer(np.asarray(audio, np.float32)), np.float32)

    def to(self, device: str) -> Model:
        self.family.to(device)
        return self


def load(run: str | Path, device: str = "cpu") -> Model:
    """Load a run dir for generation: YAML config + safetensors weights, never pickle."""
    run_dir = Path(run)
    config_path = run_dir / CONFIG_NAME
    weights_path = run_dir / WEIGHTS_NAME
    if not run_dir.is_dir():
        raise SonogenError(f"{run_dir}: run dir not found; train one with `sonogen train`")
    if (run_dir / "dataset.json").is_file():
        raise SonogenError(
            f"{run_dir}: is a dataset dir, not a run dir; train a model on it first: "
            f"sonogen train {run_dir} --model wavegan --out runs/NAME"
        )
    if not config_path.is_file() or not weights_path.is_file():
        raise SonogenError(
            f"{run_dir}: not a finished run ({CONFIG_NAME} or {WEIGHTS_NAME} missing); "
            f"train it or resume it with `sonogen train --resume --out {run_dir}`"
        )
    # torch is imported only now: a wrong path is refused without the seconds it takes to load
    from sonogen.config import load_run_config
    from sonogen.models.base import flush_denormals, read_weights
    from sonogen.models.registry import get_family

    flush_denormals()  # before any parallel torch work, so that every worker thread has it
    config = load_run_config(config_path)
    family_class = get_family(config.model_name, where=f"{config_path}: model_name")
    try:  # a family refuses settings that do not fit the data (e.g. too long a clip)
        family = family_class(config.model, config.data)
    except SonogenError as error:
        raise SonogenError(f"{config_path}: {error}") from None
    state, metadata = read_weights(
        weights_path,
        "re-export it from the checkpoint by resuming the run (`sonogen train --resume --out "
        f"{run_dir}`), or train again",
    )
    try:
        family.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise SonogenError(
            f"{weights_path}: weights do not fit the model in {CONFIG_NAME} ({first})"
        ) from None
    family.eval().requires_grad_(False)
    return Model(family=family.to(device), config=config, run_dir=run_dir, metadata=metadata)


def info(run: str | Path | Model) -> dict[str, Any]:
    """Return a summary of a run (a run dir, or a Model already loaded from one): model, data,
    steps, training time, parameters and sizes."""
    model = run if isinstance(run, Model) else load(run)
    run_dir = model.run_dir
    parameters = sum(p.numel() for p in model.family.parameters())
    checkpoint = run_dir / CHECKPOINT
    return {
        "run": str(run_dir),
        "model": model.model_name,
        "data": model.config.data.path,
        "sample_rate": model.sample_rate,
        "clip_samples": model.config.data.clip_samples,
        "labels": model.labels,
        "steps": int(model.metadata.get("step", 0)),
        "validation": json.loads(model.metadata.get("validation") or "{}"),
        "train_seconds": float(model.metadata.get("train_seconds", 0.0)),
        "parameters": parameters,
        "weights_bytes": (run_dir / WEIGHTS_NAME).stat().st_size,
        "checkpoint_bytes": checkpoint.stat().st_size if checkpoint.is_file() else 0,
        "model_config": dataclasses.asdict(model.config.model),
        "family_description": _first_sentence(type(model.family).__doc__) or model.model_name,
        "any_length": model.any_length,
        "hardware": model.metadata.get("hardware"),
        "sonogen_version": model.metadata.get("sonogen_version"),
        "batch_size": model.config.train.batch_size,
        "seed": model.config.train.seed,
    }


def _first_sentence(doc: str | None) -> str:
    """The first paragraph of a docstring, on one line."""
    text = " ".join((doc or "").strip().split("\n\n")[0].split())
    return text.replace(" (see the module docstring)", "")
