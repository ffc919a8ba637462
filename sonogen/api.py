"""The Python face of sonogen: prepare(), make_dataset(), train(), load(), generate(), info().

Every CLI command is a thin call into one of these. Loading a run (``Model``, ``load``, ``info``)
lives in :mod:`sonogen.run`, below this module, and is re-exported here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sonogen.checks import (  # noqa: F401  (safe_file_stem and output_folder are public here too)
    batch_seed,
    check_seed,
    check_steps,
    check_temperature,
    check_truncation,
    finite_number,
    is_seed,
    output_folder,
    output_wav,
    random_seed,
    safe_file_stem,
    shown,
    whole_number,
)
from sonogen.errors import SonogenError
from sonogen.run import MAX_SECONDS, Model, info, load  # noqa: F401  (the Python face)

log = logging.getLogger(__name__)

# Sizes a user may ask for. Beyond them a command would run for days or exhaust memory; each
# is refused with a one-line error that states its limit.
MAX_CLIPS = 100_000  # generate -n (written as they are made, so memory does not grow with n)
MAX_INTERPOLATION_SECONDS = 3600.0  # interpolate: steps x length of the longer sound
GENERATE_BATCH = 16  # clips generate makes at once; each batch is on disk before the next starts
BATCH_SAMPLES = 2**24  # and at most this many samples per batch (long clips go fewer at a time)


# --------------------------------------------------------------------------------------------
# data


def prepare(
    source: str | Path,
    out: str | Path,
    *,
    sample_rate: int = 16000,
    clip_samples: int = 16384,
    hop_samples: int | None = None,
    trim_silence: bool = False,
    top_db: float = 40.0,
    normalize: str = "peak",
    labels: str = "folder",
    split: str = "0.1",
    group: str = "auto",
    min_seconds: float = 0.05,
    workers: int | None = None,
    force: bool = False,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    license: str | None = None,
):
    """Turn a folder of audio into a dataset dir; return a PrepareSummary. The options are
    those of :func:`sonogen.data.prepare.prepare`, which documents them."""
    from sonogen.data.prepare import prepare as prepare_folder

    return prepare_folder(
        Path(source),
        Path(out),
        sample_rate=sample_rate,
        clip_samples=clip_samples,
        hop_samples=hop_samples,
        trim_silence=trim_silence,
        top_db=top_db,
        normalize=normalize,
        labels=labels,
        split=split,
        group=group,
        min_seconds=min_seconds,
        workers=workers,
        force=force,
        seed=seed,
        progress=progress,
        license=license,
    )


def make_dataset(
    name: str,
    out: str | Path,
    *,
    sample_rate: int | None = None,
    clip_samples: int | None = None,
    force: bool = False,
) -> Path:
    """Build a built-in dataset (``notes``: audio; ``chorales``: MIDI tokens) into ``out``;
    ``sample_rate`` and ``clip_samples`` (audio only; default 16000 and 16384) are ignored for
    MIDI."""
    if name == "chorales":
        from sonogen.music.chorales import make_chorales

        return make_chorales(Path(out), force=force)
    from sonogen.data.builtin import make_builtin

    audio = {"sample_rate": sample_rate, "clip_samples": clip_samples}
    return make_builtin(
        name, Path(out), force=force, **{k: v for k, v in audio.items() if v is not None}
    )


def prepare_midi(
    source: str | Path,
    out: str | Path,
    *,
    tokenizer: str = "REMI",
    split: str = "0.1",
    transpose: tuple[int, int] | None = None,
    seq_len: int = 512,
    sample_rate: int = 22050,
    seed: int = 0,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
):
    """Tokenize a folder of MIDI files into a dataset dir; return its summary (see
    :func:`sonogen.music.tokens.prepare_midi`: tokenizer REMI, TSD, MIDILike or Structured)."""
    from sonogen.music.tokens import prepare_midi as run_prepare

    return run_prepare(
        source,
        out,
        tokenizer=tokenizer,
        split=split,
        transpose=transpose,
        seq_len=seq_len,
        sample_rate=sample_rate,
        seed=seed,
        force=force,
        progress=progress,
    )


def compose(
    run: str | Path,
    out: str | Path,
    *,
    bars: int = 16,
    prime: str | Path | None = None,
    temperature: float = 1.0,
    top_p: float = 0.95,
    n: int = 4,
    seed: int | None = None,
    render: bool = False,
    program: int = 0,
    soundfont: str | Path | None = None,
    sample_rate: int = 22050,
    max_tokens: int | None = None,
) -> list[dict[str, Any]]:
    """Compose MIDI pieces (and WAVs with render=True) with a music run; one dict per piece
    (see :func:`sonogen.music.compose.compose`)."""
    from sonogen.music.compose import compose as run_compose

    return run_compose(
        run,
        out,
        bars=bars,
        prime=prime,
        temperature=temperature,
        top_p=top_p,
        n=n,
        seed=seed,
        render=render,
        program=program,
        soundfont=soundfont,
        sample_rate=sample_rate,
        max_tokens=max_tokens,
    )


# --------------------------------------------------------------------------------------------
# training


TRAIN_OPTION_NAMES = (
    "max_steps",
    "max_minutes",
    "batch_size",
    "seed",
    "augment",
    "accelerator",
    "devices",
    "num_nodes",
    "strategy",
    "precision",
    "logger",
)


def train(
    data: str | Path | None,
    model: str | None = None,
    out: str | Path | None = None,
    *,
    config: str | Path | dict | None = None,
    overrides: Sequence[str] | None = None,
    resume: bool = False,
    progress: bool = True,
    **train_options: Any,
) -> Path:
    """Train a model on a dataset dir and return the run dir.

    ``config`` is a YAML file (or dict) with ``model:`` and ``train:`` sections; ``overrides`` are
    ``section.key=value`` strings (the CLI's ``--set``); ``train_options`` (max_steps, max_minutes,
    batch_size, seed, augment, accelerator, devices, num_nodes, strategy, precision, logger) win
    over both. With ``resume=True`` the run continues from ``out/checkpoints/last.ckpt``; only train
    settings may change then.

    The run dir is locked (``sonogen.run.RunLock``) from before its first check until training
    ends, so two processes never train into one run dir; a run dir that stopped before its first
    checkpoint is started over, and a failed start leaves nothing behind.
    """
    from sonogen import run
    from sonogen.config import check_precision, config_layers, new_run_config
    from sonogen.data.dataset import open_dataset
    from sonogen.models.base import flush_denormals
    from sonogen.models.registry import get_family

    flush_denormals()  # before any parallel torch work, so that every worker thread has it
    unknown = sorted(set(train_options) - set(TRAIN_OPTION_NAMES))
    if unknown:
        raise TypeError(f"train() got unexpected options: {', '.join(unknown)}")
    if out is None:
        raise SonogenError("--out: say where the run dir goes, e.g. --out runs/wavegan")
    run_dir = Path(out)
    layers = config_layers(config, overrides, train_options)
    worker = launched_worker()  # rank 0 holds the lock and has made the run dir
    if resume and not run_dir.is_dir():
        run.check_resumable(run_dir)  # never make a folder only to find nothing to resume
    with contextlib.nullcontext() if worker else run.RunLock(run_dir):
        try:
            checkpoint = None
            if resume:
                run_config, checkpoint = run.resumed_config(run_dir, model, layers)
            else:
                if not worker:
                    run.prepare_fresh_start(run_dir)
                if data is None:
                    raise SonogenError("DATA: give a dataset dir made by `sonogen prepare`")
                model_name = model or layers.file.get("model_name") or "wavegan"
                family_class = get_family(model_name)
                run_config = new_run_config(model_name, family_class, open_dataset(data), layers)
            family_class = get_family(run_config.model_name)
            check_precision(run_config, family_class)
            import torch

            torch.manual_seed(run_config.train.seed)  # the initial weights follow the seed too
            family = family_class(run_config.model, run_config.data)
            if checkpoint is not None:  # before config.yaml is rewritten with the new settings
                run.check_family_fits(checkpoint, family, run_dir / run.CHECKPOINT)
            if not worker:
                run.write_config(run_dir, run_config.to_dict())

            from sonogen.trainer import fit

            fit(
                family,
                run_config,
                run_dir,
                resume=resume,
                progress=progress,
                checkpoint_state=checkpoint,
            )
            if not worker:
                _write_card(run_dir)
        except Exception:
            if not (resume or worker):
                run.clear_unsaved(run_dir)  # a failed start leaves nothing that blocks a retry
            raise
    return run_dir


def _write_card(run_dir: Path) -> None:
    """Write the run's MODEL_CARD.md; the trained run is saved already, so a card that cannot
    be written is a warning, never a failed training."""
    from sonogen.card import write_model_card

    try:
        write_model_card(run_dir)
    except Exception as error:
        logging.getLogger(__name__).warning("%s: no model card written (%s)", run_dir, error)


def launched_worker() -> bool:
    """True in a process that a distributed launcher started for a rank other than global 0.

    Lightning's DDP launcher re-runs the user's command once per extra device (with LOCAL_RANK
    set), and each further node runs it with NODE_RANK set; only global rank 0 writes the run dir.
    """
    import os

    return any(
        int(os.environ.get(name, "0") or 0) > 0 for name in ("RANK", "LOCAL_RANK", "NODE_RANK")
    )


def generate(
    run: str | Path,
    n: int,
    out: str | Path,
    *,
    seed: int | None = None,
    label: str | None = None,
    temperature: float = 1.0,
    truncation: float | None = None,
    seconds: float | None = None,
    prompt: str | Path | None = None,
    steps: int | None = None,
    guidance: float | None = None,
    sampler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Path], int]:
    """Generate n clips from a run into ``out`` as 16-bit WAVs; return (paths, seed used).

    With ``prompt`` (an audio file of any rate and channel count) each file holds the prompt
    followed by ``seconds`` of continuation (default: one training clip's length).

    Clips are made in batches of up to 16 (fewer for long clips) and each batch is written before
    the next is made, so memory does not grow with n and a stopped command keeps what it wrote;
    ``steps``, ``guidance`` and ``sampler`` are the ODE options of flow matching (default: the
    run's config). ``progress(done, n)`` is called after each batch. The first batch uses
    ``seed``, batch k a seed derived from (seed, k): the same seed gives the same files, and the
    first 16 clips of ``-n 16`` and ``-n 1000`` are the same.
    """
    from sonogen.audio.io import read_audio, write_wav

    n = whole_number("-n", n, 1, MAX_CLIPS)
    seed = random_seed() if seed is None else check_seed(seed)
    check_temperature(temperature)
    options = {}
    if truncation is not None:
        options["truncation"] = check_truncation(truncation)
    given = {"steps": steps, "guidance": guidance, "sampler": sampler}
    options |= {name: value for name, value in given.items() if value is not None}
    if seconds is not None:
        seconds = finite_number("--seconds", seconds, low=0, high=MAX_SECONDS, low_open=True)
    output_folder(out, create=False)
    model = load(run)
    model.check_options(options)  # an option the family does not take is refused before any work
    if label is not None:
        model.label_indices(label, 1)  # an unknown label is refused before any work
    prompt_audio = None
    if prompt is not None:
        if not model.can_continue:
            raise SonogenError(f"--prompt: {model.model_name} cannot continue audio")
        if truncation is not None:
            raise SonogenError("--truncation: not used with --prompt")
        prompt_audio, _ = read_audio(prompt, sample_rate=model.sample_rate)
        if seconds is None:
            seconds = model.config.data.clip_samples / model.sample_rate
    clip_seconds = seconds or model.config.data.clip_samples / model.sample_rate
    samples = round(clip_seconds * model.sample_rate)
    samples += 0 if prompt_audio is None else len(prompt_audio)
    batch = max(1, min(GENERATE_BATCH, BATCH_SAMPLES // max(1, samples)))
    prefix = (f"{safe_file_stem(label)}_" if label is not None else "") + (
        f"{safe_file_stem(Path(prompt).stem)}_" if prompt is not None else ""
    )
    folder: Path | None = None
    paths: list[Path] = []
    for index, first in enumerate(range(0, n, batch)):
        count = min(batch, n - first)
        if prompt_audio is not None:
            audio = model.continue_audio(
                prompt_audio,
                seconds,
                n=count,
                seed=batch_seed(seed, index),
                labels=label,
                temperature=temperature,
            )
        else:
            audio = model.generate(
                count,
                seed=batch_seed(seed, index),
                labels=label,
                temperature=temperature,
                seconds=seconds,
                **options,
            )
        folder = folder or output_folder(out)
        for number, clip in enumerate(audio, first):
            path = folder / f"{prefix}seed{seed}_{number:04d}.wav"
            write_wav(path, clip, model.sample_rate)
            paths.append(path)
        if progress:
            progress(len(paths), n)
    return paths, seed


def _remake_file(
    run: str | Path, source: str | Path, out: str | Path, verb: str
) -> tuple[Path, float]:
    """Encode and decode an audio file with a run's model (``verb``: "transfer" or
    "reconstruct"); the output has the input's rate and length.

    The output is checked before any work (see ``output_wav``: never the input, not even as a
    hard link) and written under a temporary name and renamed, so the input is never truncated.
    """
    import soxr

    from sonogen.audio.io import read_audio, write_wav

    source = Path(source)
    out = output_wav(source, out)
    model = load(run)
    if not model.can_reconstruct:  # before reading what may be a long file
        raise SonogenError(
            f"{model.model_name}: this model cannot {verb} audio (it does not encode sounds); "
            "use an fvae run"
        )
    audio, rate = read_audio(source)  # mono, the file's own rate
    frames = len(audio)
    if rate != model.sample_rate:
        audio = soxr.resample(audio, rate, model.sample_rate, quality="HQ")
    if verb == "reconstruct" and len(audio) <= model.config.data.clip_samples:
        made = model.reconstruct(audio[None])[0]  # a clip at once, as evaluation rebuilds them
    else:
        made = model.transfer(audio)  # in overlapping blocks: any length fits in memory
    if rate != model.sample_rate:
        made = soxr.resample(made, model.sample_rate, rate, quality="HQ")
    made = np.pad(made[:frames], (0, max(0, frames - len(made))))  # exactly the input's length
    write_wav(out, made, rate)
    return out, frames / rate


def transfer(run: str | Path, source: str | Path, out: str | Path) -> tuple[Path, float]:
    """Timbre transfer: encode any sound (any rate, channels, length) and decode it with this
    model, in overlapping blocks; writes ``out`` at the input's rate and length and returns
    (path, seconds)."""
    return _remake_file(run, source, out, "transfer")


def reconstruct(run: str | Path, source: str | Path, out: str | Path) -> tuple[Path, float]:
    """Encode and decode a sound with a run's model (how well it rebuilds what it learnt): a
    sound up to one training clip long is rebuilt at once, as ``sonogen evaluate`` rebuilds
    held-out clips (``Model.reconstruct``); a longer one in blocks, as ``transfer``."""
    return _remake_file(run, source, out, "reconstruct")


def interpolate(
    run: str | Path,
    a: int | str | Path,
    b: int | str | Path,
    out: str | Path,
    steps: int = 8,
    label: str | None = None,
) -> list[Path]:
    """Morph between a and b through the model's latent space: writes ``steps`` WAVs
    ``morph_00.wav`` ... into ``out`` and returns their paths.

    a, b: two seeds (ints; between the latents the family draws for them, ``label`` picks the
    class of a labelled model) or two audio files (between their encodings). Which a family
    takes is ``Model.interpolates_between`` (GANs: seeds; fvae: both); the other kind is refused
    with the command that works.
    """
    from sonogen.audio.io import read_audio, write_wav

    steps = check_steps(steps)
    output_folder(out, create=False)
    model = load(run)
    a, b = (x if is_seed(x) else Path(x) for x in (a, b))
    kind = model.check_interpolation(a, b, label)
    if kind == "sounds":
        first, _ = read_audio(a, sample_rate=model.sample_rate)
        second, _ = read_audio(b, sample_rate=model.sample_rate)
        seconds = steps * max(len(first), len(second)) / model.sample_rate
        if seconds > MAX_INTERPOLATION_SECONDS:
            raise SonogenError(
                f"--steps {steps}: {steps} sounds as long as the longer input make {seconds:.0f} "
                f"s of audio, more than the limit of {MAX_INTERPOLATION_SECONDS:.0f} s; use fewer "
                "--steps or shorter sounds"
            )
        audio = model.interpolate(first, second, steps)
    else:
        audio = model.interpolate(int(a), int(b), steps, label=label)
    folder = output_folder(out)
    width = max(2, len(str(steps - 1)))
    paths = []
    for i, clip in enumerate(audio):
        path = folder / f"morph_{i:0{width}d}.wav"
        write_wav(path, clip, model.sample_rate)
        paths.append(path)
    return paths


def export(
    run: str | Path,
    format: str,
    out: str | Path,
    *,
    batch: int = 1,
    block_samples: int | None = None,
    force: bool = False,
    steps: int | None = None,
    guidance: float | None = None,
    sampler: str | None = None,
) -> list[Path]:
    """Export a run's generator (an fvae's encoder and decoder) as TorchScript or ONNX; return
    the files written (``FILE.json`` beside them describes their inputs and outputs). ``steps``,
    ``guidance`` and ``sampler`` (flow) are baked into the exported sampler."""
    from sonogen.export import export as export_run

    given = {"steps": steps, "guidance": guidance, "sampler": sampler}
    options = {name: value for name, value in given.items() if value is not None}
    return export_run(
        run, format, out, batch=batch, block_samples=block_samples, force=force, **options
    )


def studio(
    runs: Sequence[str | Path],
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the local studio page over ``runs`` until interrupted; ``ready(url)`` is called
    once it listens (see :mod:`sonogen.studio`)."""
    from sonogen.studio import serve

    serve(runs, host=host, port=port, ready=ready)


# --------------------------------------------------------------------------------------------
# evaluation


def evaluate(
    target: str | Path,
    reference: str | Path,
    *,
    n: int = 512,
    embedding: str = "auto",
    out: str | Path | None = None,
    seed: int = 0,
    max_reference: int = 5000,
    words: Any = None,
    report: bool = True,
    progress: Any = None,
):
    """Evaluate a run dir or a folder of clips against a reference dataset dir.

    Returns an ``Evaluation`` (out dir, metrics dict, report path); see
    :func:`sonogen.evaluation.suite.evaluate` for what each option does.
    """
    from sonogen.evaluation.suite import evaluate as run_evaluation

    return run_evaluation(
        target,
        reference,
        n=n,
        embedding=embedding,
        out=out,
        seed=seed,
        max_reference=max_reference,
        words=words,
        report=report,
        progress=progress,
    )


def compare(
    runs: Sequence[str | Path],
    reference: str | Path,
    out: str | Path,
    *,
    n: int = 512,
    embedding: str = "auto",
    seed: int = 0,
    words: Any = None,
    report: bool = True,
    progress: Any = None,
    on_run: Callable[[Path, Any], None] | None = None,
):
    """Evaluate several runs alike and write a leaderboard; returns (markdown, html, rows)."""
    from sonogen.evaluation.suite import compare as run_comparison

    return run_comparison(
        runs,
        reference,
        out,
        n=n,
        embedding=embedding,
        seed=seed,
        words=words,
        report=report,
        progress=progress,
        on_run=on_run,
    )


def train_classifier(
    data: str | Path,
    *,
    max_minutes: float = 5.0,
    max_epochs: int = 30,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
    seed: int = 0,
    group_folds: int = 1,
    progress: Any = None,
):
    """Train the dataset classifier used by the Inception Score and the default FAD embedding;
    returns its report (accuracy, and on unheard groups with ``group_folds``)."""
    from sonogen.evaluation.classifier import train_classifier as run_training

    return run_training(
        data,
        max_minutes=max_minutes,
        max_epochs=max_epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=seed,
        group_folds=group_folds,
        progress=progress,
    )


# --------------------------------------------------------------------------------------------
# the quick start


@dataclasses.dataclass(frozen=True)
class QuickstartResult:
    data_dir: Path
    run_dir: Path
    clips_dir: Path
    clips: list[Path]


# how `generate` names the quickstart's clips (LABEL_seedSEED_NNNN.wav)
_QUICKSTART_CLIP = re.compile(r".+_seed\d+_\d{4}\.wav")


def _not_quickstart_output(folder: Path, *, run: bool) -> str | None:
    """Return why ``folder`` (OUT/run or OUT/generated) is not what a quickstart wrote there,
    or None when it is."""
    from sonogen import run as runs

    if folder.is_symlink() or not folder.is_dir():
        return "is not a folder"
    if run and not runs.is_run_dir(folder):
        return f"holds no {runs.CONFIG_NAME}, so it is not a sonogen run"
    # everything the trainer writes in a run dir (tensorboard: `--logger tensorboard`)
    written = {runs.CONFIG_NAME, runs.WEIGHTS_NAME, runs.METRICS, runs.SAMPLES, runs.CARD_NAME}
    written |= {runs.LOCK_NAME, Path(runs.CHECKPOINT).parent.name, "tensorboard"}
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink():
            return f"holds a link, {entry.name}"
        if run and entry.name not in written:
            return f"holds {entry.name}, which sonogen does not write in a run"
        if not run and not (entry.is_file() and _QUICKSTART_CLIP.fullmatch(entry.name)):
            return f"holds {entry.name}, which is not a generated clip"
    return None


def quickstart(
    out: str | Path = "sonogen-quickstart",
    *,
    minutes: float = 4.0,
    max_steps: int | None = None,
    force: bool = False,
    on_stage: Callable[[str, Any], None] | None = None,
) -> QuickstartResult:
    """Build the notes dataset into OUT/notes (once), train the quick-start model
    (``sonogen.quickstart``) for ``minutes`` (or ``max_steps`` steps, if they come first) into
    OUT/run and generate two clips of each instrument (seed 0, files named by it: 20 clips) into
    OUT/generated. An earlier quickstart's run and clips are replaced only with ``force``, and
    only where those folders hold nothing a quickstart did not write.
    ``on_stage(name, what)`` is told of each stage: "render" (the dataset dir), "dataset" (the
    dataset dir), "train" (the model name)."""
    import shutil

    from sonogen.config import TrainConfig, check_setting
    from sonogen.data.dataset import open_dataset
    from sonogen.quickstart import QUICKSTART_CLIPS_PER_LABEL, QUICKSTART_MODEL, QUICKSTART_SETTINGS

    def tell(name: str, what: Any) -> None:
        if on_stage is not None:
            on_stage(name, what)

    # the budgets are checked before a minute of rendering, by the names the command gives them
    check_setting("--minutes", TrainConfig, "max_minutes", minutes)
    check_setting("--max-steps", TrainConfig, "max_steps", max_steps)
    out = Path(out)
    data_dir, run_dir, clips_dir = out / "notes", out / "run", out / "generated"
    if (out.exists() or out.is_symlink()) and not out.is_dir():
        raise SonogenError(
            f"--out {out}: is a file, not a folder; give a folder for the quickstart"
        )
    if run_dir.exists() or run_dir.is_symlink():
        if not force:
            raise SonogenError(f"{out}: holds an earlier quickstart; pass --force to start over")
        # --force deletes only what an earlier quickstart wrote: every problem is found before
        # anything is removed, and a folder of the user's under the same name is left alone
        leftovers = [run_dir] + (
            [clips_dir] if clips_dir.exists() or clips_dir.is_symlink() else []
        )
        for folder in leftovers:
            problem = _not_quickstart_output(folder, run=folder == run_dir)
            if problem:
                raise SonogenError(
                    f"{folder}: {problem}, so --force will not delete it; move it away or give "
                    "another --out"
                )
        for folder in leftovers:
            shutil.rmtree(folder)
    if not (data_dir / "dataset.json").is_file():
        tell("render", data_dir)
        make_dataset("notes", data_dir, force=True)
    tell("dataset", data_dir)
    tell("train", QUICKSTART_MODEL)
    train(
        data_dir,
        QUICKSTART_MODEL,
        run_dir,
        overrides=QUICKSTART_SETTINGS,
        max_minutes=minutes,
        max_steps=max_steps,
        accelerator="cpu",
        devices="1",
    )
    labels = open_dataset(data_dir).labels or [None]
    clips = []
    for label in labels:  # each instrument by name, so that the files say what was asked
        clips += generate(run_dir, QUICKSTART_CLIPS_PER_LABEL, clips_dir, seed=0, label=label)[0]
    return QuickstartResult(data_dir, run_dir, clips_dir, clips)
