"""The sonogen command line: one Typer app, each command a thin call into sonogen.api."""

from __future__ import annotations

import atexit
import gc
import logging
import sys
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from sonogen.errors import SonogenError
from sonogen.models.registry import FAMILIES

app = typer.Typer(
    help="Learn from a folder of sounds and make new ones.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Built-in datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
classifier_app = typer.Typer(help="The dataset classifier used by evaluate.", no_args_is_help=True)
app.add_typer(classifier_app, name="classifier")

# Paths, labels and messages are printed as they are: no Rich markup ("[bold]" kept), no emoji
# codes (":smile:" kept) and no highlighting, so that what is printed is the user's own text.
console = Console(markup=False, emoji=False, highlight=False)
MODEL_NAMES = ", ".join(FAMILIES)
err_console = Console(stderr=True, markup=False, emoji=False, highlight=False)


def _quiet_libraries() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _progress():
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}", style="progress.description", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    )


@contextmanager
def _shown(bar: Callable[[], Any]):
    """Stop the bar (``bar()`` returns the current one) when the work inside ends; after an
    error, hide it first, so that the error is the only line left on stderr."""
    try:
        yield
    except BaseException:
        for task in bar().task_ids:
            bar().update(task, visible=False)
        raise
    finally:
        if bar().live.is_started:  # a bar never started would print an empty line
            bar().stop()


# --------------------------------------------------------------------------------------------
# data


@app.command()
def prepare(
    source: Annotated[Path, typer.Argument(help="Folder of audio files (searched recursively).")],
    out: Annotated[Path, typer.Argument(help="Dataset dir to create.")],
    sample_rate: Annotated[
        int, typer.Option(help="Resample every file to this rate (Hz).")
    ] = 16000,
    clip_samples: Annotated[int, typer.Option(help="Samples per clip.")] = 16384,
    hop: Annotated[
        int | None,
        typer.Option(help="Cut long files into clips every HOP samples (default: one clip/file)."),
    ] = None,
    trim_silence: Annotated[bool, typer.Option(help="Trim leading/trailing silence.")] = False,
    normalize: Annotated[str, typer.Option(help="peak | loudness | none")] = "peak",
    labels: Annotated[str, typer.Option(help="folder | csv:PATH | none")] = "folder",
    split: Annotated[
        str, typer.Option(help="Validation share of files (0.1), 'fsdd', 'regex:PATTERN', 'none'.")
    ] = "0.1",
    group: Annotated[
        str,
        typer.Option(
            help="Recording group of each file (speaker, kit) for the classifier's "
            "group-disjoint accuracy: auto (fsdd with --split fsdd, else the labels CSV's group "
            "column) | fsdd | csv | regex:PATTERN (one capture group, on the path) | none."
        ),
    ] = "auto",
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
    license: Annotated[
        str | None,
        typer.Option(
            help="The data's licence, recorded in dataset.json and each model card (default: "
            "the first line of a LICENSE/LICENCE/COPYING file in SOURCE, if any)."
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite OUT if it exists.")] = False,
) -> None:
    """Turn a folder of audio into a dataset dir (clips, labels, groups, split, skipped files)."""
    from sonogen import api

    progress = _progress()
    tasks: list = []

    def report(done: int, total: int) -> None:
        if not tasks:  # start the bar with the work, so an early error is the only line
            progress.start()
            tasks.append(progress.add_task("preparing", total=total))
        progress.update(tasks[0], completed=done, total=total)

    with _shown(lambda: progress):
        summary = api.prepare(
            source,
            out,
            sample_rate=sample_rate,
            clip_samples=clip_samples,
            hop_samples=hop,
            trim_silence=trim_silence,
            normalize=normalize,
            labels=labels,
            split=split,
            group=group,
            workers=workers,
            force=force,
            progress=report,
            license=license,
        )
    skipped = sum(summary.skipped.values())
    reasons = ", ".join(f"{count} {reason}" for reason, count in sorted(summary.skipped.items()))
    console.print(
        f"{summary.clips} clips ({summary.train_clips} train, {summary.valid_clips} valid) from "
        f"{summary.files_used} of {summary.files_total} files in {summary.seconds:.1f} s; "
        f"labels: {len(summary.labels or [])}; groups: {len(summary.groups or [])}"
    )
    if skipped:
        console.print(f"skipped {skipped} files ({reasons}); see {summary.out / 'skipped.csv'}")
    console.print(f"dataset written to {summary.out}")


@app.command("prepare-midi")
def prepare_midi(
    source: Annotated[Path, typer.Argument(help="Folder of MIDI files (searched recursively).")],
    out: Annotated[Path, typer.Argument(help="Dataset dir to create.")],
    tokenizer: Annotated[
        str, typer.Option(help="miditok tokenizer: REMI, TSD, MIDILike, Structured.")
    ] = "REMI",
    split: Annotated[
        str, typer.Option(help="Validation share of pieces (0.1), or 'none'.")
    ] = "0.1",
    transpose: Annotated[
        str | None,
        typer.Option(help="Augment train pieces by transposing, e.g. -5..6 (semitones)."),
    ] = None,
    seq_len: Annotated[int, typer.Option(help="Training sequence length in tokens.")] = 512,
    force: Annotated[bool, typer.Option(help="Overwrite OUT if it exists.")] = False,
) -> None:
    """Tokenize a folder of MIDI files (miditok) into a dataset dir, split by piece."""
    from sonogen import api

    span = None
    if transpose:
        low, sep, high = transpose.partition("..")
        try:
            span = (int(low), int(high))
        except ValueError:
            raise SonogenError(
                f"--transpose {transpose!r}: expected LOW..HIGH in semitones, e.g. -5..6"
            ) from None
        if not sep:
            raise SonogenError(f"--transpose {transpose!r}: expected LOW..HIGH, e.g. -5..6")
    with console.status("tokenizing"):
        summary = api.prepare_midi(
            source,
            out,
            tokenizer=tokenizer,
            split=split,
            transpose=span,
            seq_len=seq_len,
            force=force,
        )
    console.print(
        f"{summary.pieces} pieces ({summary.train_pieces} train, {summary.valid_pieces} valid, "
        f"{summary.transposed_pieces} transposed copies), {summary.tokens:,} tokens from "
        f"{summary.files_used} of {summary.files_total} files in {summary.seconds:.1f} s"
    )
    skipped = sum(summary.skipped.values())
    if skipped:
        reasons = ", ".join(f"{c} {r}" for r, c in sorted(summary.skipped.items()))
        console.print(f"skipped {skipped} files ({reasons}); see {summary.out / 'skipped.csv'}")
    console.print(f"dataset written to {summary.out}")


@data_app.command("make")
def data_make(
    name: Annotated[str, typer.Argument(help="Built-in dataset: notes (audio), chorales (MIDI)")],
    out: Annotated[Path, typer.Argument(help="Dataset dir to create.")],
    sample_rate: Annotated[int, typer.Option(help="Sample rate (Hz).")] = 16000,
    clip_samples: Annotated[int, typer.Option(help="Samples per clip.")] = 16384,
    force: Annotated[bool, typer.Option(help="Overwrite OUT if it exists.")] = False,
) -> None:
    """Build a built-in dataset (rendered locally, no download)."""
    from sonogen import api

    with console.status(f"rendering {name}"):
        path = api.make_dataset(
            name, out, sample_rate=sample_rate, clip_samples=clip_samples, force=force
        )
    console.print(f"dataset written to {path}")


# --------------------------------------------------------------------------------------------
# training


@app.command()
def train(
    data: Annotated[
        Path | None, typer.Argument(help="Dataset dir (not needed with --resume).")
    ] = None,
    model: Annotated[str | None, typer.Option(help=f"Model family: {MODEL_NAMES}.")] = None,
    out: Annotated[Path | None, typer.Option(help="Run dir to write.")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many steps.")] = None,
    max_minutes: Annotated[float | None, typer.Option(help="Stop after this many minutes.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Clips per batch.")] = None,
    config: Annotated[
        Path | None, typer.Option(help="YAML with model: and train: sections.")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a setting: model.dim=32, train.ema_decay=0.99."),
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue the run in --out from its checkpoint.")
    ] = False,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    augment: Annotated[
        bool | None, typer.Option("--augment/--no-augment", help="Gain, shift, pitch, noise.")
    ] = None,
    accelerator: Annotated[str | None, typer.Option(help="cpu, gpu, auto ...")] = None,
    devices: Annotated[str | None, typer.Option(help="Number of devices, or 'auto'.")] = None,
    num_nodes: Annotated[int | None, typer.Option(help="Machines.")] = None,
    strategy: Annotated[str | None, typer.Option(help="auto, ddp, ...")] = None,
    precision: Annotated[str | None, typer.Option(help="32-true, 16-mixed, bf16-mixed ...")] = None,
    logger: Annotated[
        str | None,
        typer.Option(
            help="csv (metrics.csv, the default) | tensorboard (also RUN/tensorboard: losses and "
            "preview audio; pip install 'sonogen[tensorboard]')."
        ),
    ] = None,
) -> None:
    """Train a model on a dataset dir; writes config, weights, checkpoints, metrics, previews."""
    from sonogen import api

    run_dir = api.train(
        data,
        model,
        out,
        config=config,
        overrides=set_,
        resume=resume,
        max_steps=max_steps,
        max_minutes=max_minutes,
        batch_size=batch_size,
        seed=seed,
        augment=augment,
        accelerator=accelerator,
        devices=devices,
        num_nodes=num_nodes,
        strategy=strategy,
        precision=precision,
        logger=logger,
    )
    if not api.launched_worker():
        summary = api.info(run_dir)
        console.print(
            f"trained {summary['model']} for {summary['steps']} steps "
            f"({summary['train_seconds'] / 60:.1f} min); run written to {run_dir}"
        )


# --------------------------------------------------------------------------------------------
# using a run


@app.command()
def generate(
    run: Annotated[Path, typer.Argument(help="Run dir.")],
    n: Annotated[int, typer.Option("-n", help="Number of clips.")] = 16,
    out: Annotated[
        Path | None, typer.Option(help="Folder for the WAVs (default RUN/generated).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Same seed, same audio.")] = None,
    label: Annotated[str | None, typer.Option(help="Class to generate (labelled data).")] = None,
    temperature: Annotated[
        float, typer.Option(help="Sampling temperature / scale of the latent noise.")
    ] = 1.0,
    truncation: Annotated[
        float | None, typer.Option(help="Truncate latents at +-T (GANs).")
    ] = None,
    seconds: Annotated[
        float | None,
        typer.Option(help="Length of each clip (autoregressive models; default: a training clip)."),
    ] = None,
    prompt: Annotated[
        Path | None,
        typer.Option(help="Audio file to continue (any rate/channels); writes prompt + new audio."),
    ] = None,
    steps: Annotated[
        int | None, typer.Option(help="ODE steps (flow; default: the run's config).")
    ] = None,
    guidance: Annotated[
        float | None,
        typer.Option(help="Classifier-free guidance (flow): 1 none, more follows --label closer."),
    ] = None,
    sampler: Annotated[
        str | None, typer.Option(help="ODE sampler (flow): euler, midpoint or heun.")
    ] = None,
) -> None:
    """Generate new clips from a trained run as 16-bit WAVs."""
    from sonogen import api

    out = out or (run / "generated")
    progress = _progress()
    tasks: list = []

    def report(done: int, total: int) -> None:
        if not tasks:  # the bar starts with the first batch written, so an error is one line
            progress.start()
            tasks.append(progress.add_task("generating", total=total))
        progress.update(tasks[0], completed=done, total=total)

    with _shown(lambda: progress):
        paths, used_seed = api.generate(
            run,
            n,
            out,
            seed=seed,
            label=label,
            temperature=temperature,
            truncation=truncation,
            seconds=seconds,
            prompt=prompt,
            steps=steps,
            guidance=guidance,
            sampler=sampler,
            progress=report,
        )
    console.print(f"{len(paths)} clips (seed {used_seed}) written to {out}")


@app.command()
def compose(
    run: Annotated[Path, typer.Argument(help="Run dir of a music model.")],
    out: Annotated[Path, typer.Option(help="Folder for the .mid (and .wav) files.")],
    bars: Annotated[int, typer.Option(help="New bars per piece.")] = 16,
    prime: Annotated[
        Path | None, typer.Option(help="MIDI file to continue (kept at the start).")
    ] = None,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 1.0,
    top_p: Annotated[float, typer.Option(help="Nucleus sampling: keep this much mass.")] = 0.95,
    n: Annotated[int, typer.Option("-n", help="Pieces.")] = 4,
    seed: Annotated[int | None, typer.Option(help="Same seed, same pieces.")] = None,
    render: Annotated[bool, typer.Option(help="Also render WAVs through the SoundFont.")] = False,
    program: Annotated[int, typer.Option(help="General MIDI instrument (0-127).")] = 0,
    soundfont: Annotated[
        Path | None, typer.Option(help="Any .sf2 (default: pretty_midi's TimGM6mb).")
    ] = None,
    sample_rate: Annotated[int, typer.Option(help="Rate of the rendered WAVs.")] = 22050,
) -> None:
    """Compose MIDI music with a trained music model (melody, harmony, rhythm)."""
    from sonogen import api

    with console.status(f"composing {n} piece{'s' if n != 1 else ''}"):
        pieces = api.compose(
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
        )
    for piece in pieces:
        wav = f" + {piece['wav'].name}" if piece.get("wav") else ""
        console.print(f"{piece['midi'].name}{wav}: {piece['bars']} bars, {piece['notes']} notes")
    console.print(f"{len(pieces)} pieces written to {out}")


@app.command()
def info(run: Annotated[Path, typer.Argument(help="Run dir.")]) -> None:
    """Print a run's model, data, steps trained, training time and size."""
    from sonogen import api

    summary = api.info(run)
    labels = summary["labels"]
    console.print(f"run          {summary['run']}")
    console.print(f"model        {summary['model']}  {summary['model_config']}")
    console.print(f"parameters   {summary['parameters']:,}")
    console.print(
        f"data         {summary['data']} ({summary['sample_rate']} Hz, "
        f"{summary['clip_samples']} samples/clip, "
        f"{len(labels) if labels else 'no'} labels{': ' + ', '.join(labels) if labels else ''})"
    )
    console.print(
        f"trained      {summary['steps']} steps in {summary['train_seconds'] / 60:.1f} min"
    )
    validation = summary["validation"]
    if validation:
        scores = ", ".join(
            f"{key.removeprefix('valid_')} {value:.4g}"
            for key, value in validation.items()
            if key.startswith("valid_")
        )
        console.print(
            f"held-out     {scores} (on {validation['clips']} valid clips at step "
            f"{validation['step']})"
        )
    console.print(
        f"size         weights {summary['weights_bytes'] / 1e6:.1f} MB, "
        f"checkpoint {summary['checkpoint_bytes'] / 1e6:.1f} MB"
    )


@app.command()
def reconstruct(
    run: Annotated[Path, typer.Argument(help="Run dir of a model that encodes (fvae).")],
    source: Annotated[Path, typer.Argument(help="Audio file to encode and decode.")],
    out: Annotated[Path, typer.Argument(help="WAV file to write.")],
) -> None:
    """Encode a sound and decode it again (same rate and length as the input)."""
    from sonogen import api

    with console.status("reconstructing"):
        path, seconds = api.reconstruct(run, source, out)
    console.print(f"{seconds:.2f} s reconstructed; written to {path}")


@app.command()
def transfer(
    run: Annotated[Path, typer.Argument(help="Run dir of a model that encodes (fvae).")],
    source: Annotated[Path, typer.Argument(help="Any audio file (any rate, channels, length).")],
    out: Annotated[Path, typer.Argument(help="WAV file to write.")],
) -> None:
    """Timbre transfer: re-make a sound with the model (e.g. a voice as the trained instrument)."""
    from sonogen import api

    with console.status("transferring"):
        path, seconds = api.transfer(run, source, out)
    console.print(f"{seconds:.2f} s transferred; written to {path}")


@app.command()
def export(
    run: Annotated[Path, typer.Argument(help="Run dir (wavegan, specgan, flow, fvae).")],
    out: Annotated[Path, typer.Option(help="File to write (fvae: STEM.encoder/.decoder.EXT).")],
    format: Annotated[str, typer.Option(help="torchscript | onnx")] = "torchscript",
    batch: Annotated[int, typer.Option(help="Items per call, fixed in the file.")] = 1,
    block_samples: Annotated[
        int | None, typer.Option(help="fvae: samples per block (default 32 latent frames).")
    ] = None,
    steps: Annotated[int | None, typer.Option(help="flow: ODE steps baked in.")] = None,
    guidance: Annotated[float | None, typer.Option(help="flow: guidance baked in.")] = None,
    sampler: Annotated[str | None, typer.Option(help="flow: euler, midpoint or heun.")] = None,
    force: Annotated[bool, typer.Option(help="Replace files that exist.")] = False,
) -> None:
    """Export the generator (fvae: encoder and decoder) for hosts without sonogen."""
    from sonogen import api

    with console.status(f"exporting ({format})"):
        paths = api.export(
            run,
            format,
            out,
            batch=batch,
            block_samples=block_samples,
            force=force,
            steps=steps,
            guidance=guidance,
            sampler=sampler,
        )
    shown = ", ".join(str(path) for path in paths)
    console.print(f"exported {shown} (inputs and outputs described in {out}.json)")


@app.command()
def studio(
    runs: Annotated[list[Path], typer.Argument(help="Run dirs to play with.")],
    port: Annotated[int, typer.Option(help="Port (0: any free port).")] = 7860,
    host: Annotated[
        str, typer.Option(help="Address to listen on; 127.0.0.1 keeps it to this machine.")
    ] = "127.0.0.1",
) -> None:
    """A local web page over run dirs: generate, morph, transfer, compose, listen, download."""
    from sonogen import api

    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(f"warning: --host {host} lets other machines use this studio")

    def ready(url: str) -> None:
        console.print(f"studio on {url} (Ctrl-C stops it)")

    try:
        api.studio(runs, host=host, port=port, ready=ready)
    except KeyboardInterrupt:
        console.print("studio stopped")


def _seed_or_sound(text: str, name: str) -> int | Path:
    """Return an interpolation end: a seed (a whole number) or an audio file's path."""
    digits = text.strip()
    if not digits.lstrip("+-").isdigit() or not digits.isascii():
        return Path(text)
    if len(digits) > 30:
        raise SonogenError(f"{name} {digits[:20]}...: a seed is from 0 to 2**63-1")
    return int(digits)


@app.command()
def interpolate(
    run: Annotated[Path, typer.Argument(help="Run dir.")],
    a: Annotated[str, typer.Argument(help="First seed (GANs, fvae) or sound file (fvae).")],
    b: Annotated[str, typer.Argument(help="Second seed (GANs, fvae) or sound file (fvae).")],
    out: Annotated[Path, typer.Option(help="Folder for the morph WAVs.")],
    steps: Annotated[int, typer.Option(help="Sounds from A to B, both included.")] = 8,
    label: Annotated[str | None, typer.Option(help="Class of every step (labelled GANs).")] = None,
) -> None:
    """Morph through the latent space: between two seeds (GANs, fvae) or two sounds (fvae)."""
    from sonogen import api

    first, second = _seed_or_sound(a, "A"), _seed_or_sound(b, "B")
    with console.status("interpolating"):
        paths = api.interpolate(run, first, second, out, steps=steps, label=label)
    names = [str(x) if isinstance(x, int) else x.name for x in (first, second)]
    console.print(f"{len(paths)} sounds from {names[0]} to {names[1]} written to {out}")


# --------------------------------------------------------------------------------------------
# evaluation


class _StageProgress:
    """A Rich progress bar whose task follows the stages an evaluation reports."""

    def __init__(self) -> None:
        self.bar = _progress()
        self.tasks: dict[str, int] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.tasks:
            self.bar.start()
        if stage not in self.tasks:
            self.tasks[stage] = self.bar.add_task(stage, total=total)
        self.bar.update(self.tasks[stage], completed=done, total=total)

    def shown(self):
        """Show the bars while the work inside runs (see `_shown`)."""
        return _shown(lambda: self.bar)

    def restart(self) -> None:
        """Stop this bar and start afresh (a new run in compare)."""
        with self.shown():
            pass
        self.bar, self.tasks = _progress(), {}


def _print_table(rows: list[tuple[str, str, str]]) -> None:
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    table.add_column("metric")
    table.add_column("generated", justify="right")
    table.add_column("real held-out", justify="right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


EMBEDDING_HELP = (
    "auto (default: classifier for a labelled reference, else stats), classifier (the dataset "
    "classifier's embedding: measures content), stats (log-mel/MFCC statistics: also measures "
    "the recording), crepe-tiny, crepe."
)
WORDS_HELP = (
    "Label -> word mapping for the intelligibility score (CSV of label,word rows or a JSON "
    "object); digit labels need none."
)
SPEECH_HELP = (
    "Ask a speech recogniser whether each clip says its label's word (on where the labels are "
    "digits, words, or mapped by --words); --no-speech for sounds that are not speech."
)


@app.command()
def evaluate(
    target: Annotated[Path, typer.Argument(help="Run dir, or a folder of audio files.")],
    reference: Annotated[Path, typer.Option(help="Dataset dir of the real clips.")],
    n: Annotated[int, typer.Option("--n", "-n", help="Clips to generate (or files to use).")] = 512,
    embedding: Annotated[str, typer.Option(help=EMBEDDING_HELP)] = "auto",
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for metrics.json and report.html (default RUN/evaluation)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of generation and sampling.")] = 0,
    words: Annotated[Path | None, typer.Option(help=WORDS_HELP)] = None,
    speech: Annotated[bool, typer.Option("--speech/--no-speech", help=SPEECH_HELP)] = True,
) -> None:
    """Score a run or a folder of clips against real data: FAD, IS, NDB, memorization, report."""
    from sonogen import api
    from sonogen.evaluation.suite import headline

    progress = _StageProgress()
    with progress.shown():
        result = api.evaluate(
            target,
            reference,
            n=n,
            embedding=embedding,
            out=out,
            seed=seed,
            words=words if speech else False,
            progress=progress,
        )
    _print_table(headline(result.metrics))
    console.print(f"metrics written to {result.out / 'metrics.json'}")
    console.print(f"report written to {result.report}")


@app.command()
def compare(
    runs: Annotated[list[Path], typer.Argument(help="Run dirs to compare.")],
    reference: Annotated[Path, typer.Option(help="Dataset dir of the real clips.")],
    out: Annotated[Path, typer.Option(help="Folder for the leaderboard and each run's report.")],
    n: Annotated[int, typer.Option("--n", "-n", help="Clips generated per run.")] = 512,
    embedding: Annotated[str, typer.Option(help=EMBEDDING_HELP)] = "auto",
    seed: Annotated[int, typer.Option(help="Seed of generation and sampling.")] = 0,
    words: Annotated[Path | None, typer.Option(help=WORDS_HELP)] = None,
    speech: Annotated[bool, typer.Option("--speech/--no-speech", help=SPEECH_HELP)] = True,
) -> None:
    """Evaluate runs with the same seed, n and embedding; write a leaderboard sorted by FAD."""
    from sonogen import api

    progress = _StageProgress()

    def next_run(run: Path, result) -> None:
        progress.restart()
        console.print(f"evaluated {run}: FAD {result.metrics['quality']['fad']['value']:.3f}")

    with progress.shown():
        markdown, page, rows = api.compare(
            runs,
            reference,
            out,
            n=n,
            embedding=embedding,
            seed=seed,
            words=words if speech else False,
            progress=progress,
            on_run=next_run,
        )
    console.print(markdown.read_text(encoding="utf-8"), markup=False, highlight=False)
    console.print(f"leaderboard written to {markdown} and {page}")


@classifier_app.command("train")
def classifier_train(
    data: Annotated[Path, typer.Argument(help="Labelled dataset dir.")],
    max_minutes: Annotated[float, typer.Option(help="Training time budget.")] = 5.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    group_folds: Annotated[
        int,
        typer.Option(
            help="Recording groups (speakers, kits) to hold out in turn, each a training of up "
            "to --max-minutes, for the accuracy on groups never heard (0: none; more than "
            "there are: all)."
        ),
    ] = 1,
) -> None:
    """Train the dataset classifier (Inception Score, 'classifier' embedding) and store it."""
    from sonogen import api

    progress = _progress()
    tasks: list = []

    def report(epoch: int, epochs: int, values: dict) -> None:
        if not tasks:
            progress.start()
            tasks.append(progress.add_task("training classifier", total=epochs))
        accuracy = values.get("valid_accuracy")
        fold = values.get("fold")
        stage = f"group fold {fold:.0f}" if fold else "training classifier"
        description = stage + (
            f" (held-out accuracy {accuracy:.3f})" if accuracy is not None else ""
        )
        progress.update(tasks[0], completed=epoch, total=epochs, description=description)

    with _shown(lambda: progress):
        result = api.train_classifier(
            data, max_minutes=max_minutes, seed=seed, group_folds=group_folds, progress=report
        )
    groups = (
        f"; on groups never heard: {result.group_accuracy:.4f}"
        if result.group_accuracy is not None
        else ""
    )
    console.print(
        f"held-out accuracy {result.accuracy:.4f} on {result.valid_clips} clips after "
        f"{result.epochs} epochs ({result.seconds:.0f} s){groups} ({result.group_note}); "
        f"classifier written to {result.path}"
    )


@app.command()
def quickstart(
    out: Annotated[Path, typer.Option(help="Folder for the dataset, run and clips.")] = Path(
        "sonogen-quickstart"
    ),
    minutes: Annotated[float, typer.Option(help="Training time budget.")] = 4.0,
    max_steps: Annotated[
        int | None,
        typer.Option(help="Stop after this many steps, if they come before the time budget."),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Start over if OUT holds an earlier quickstart.")
    ] = False,
) -> None:
    """Build the notes dataset, train a small model for a few minutes and generate two clips of
    each instrument."""
    from sonogen import api

    messages = {
        "render": "rendering the notes dataset into {} (once; a minute or two)",
        "dataset": "dataset: {}",
        "train": f"training {{}} for {minutes:g} minutes",
    }

    def stage(name: str, what: Any) -> None:
        console.print(messages[name].format(what))

    result = api.quickstart(out, minutes=minutes, max_steps=max_steps, force=force, on_stage=stage)
    console.print(f"run: {result.run_dir}")
    console.print(f"{len(result.clips)} generated clips written to {result.clips_dir}")


def _collect_then_freeze() -> None:
    """Collect garbage once, then exempt every object left from the collections that
    interpreter shutdown runs: with torch loaded they walk its million objects for 0.5-0.7 s
    after the work is done (measured with an fvae loaded; the process's memory is freed either
    way). The one collection first still finalizes what was already garbage (a file left in a
    reference cycle is flushed)."""
    gc.collect()
    gc.freeze()


def main() -> None:
    _quiet_libraries()
    atexit.unregister(_collect_then_freeze)  # once per process, however often main runs (tests)
    atexit.register(_collect_then_freeze)
    for stream in (sys.stdout, sys.stderr):
        # a path whose bytes are not UTF-8 is printed with backslash escapes, not a crash
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    try:
        app()
    except SonogenError as error:
        err_console.print(f"error: {error}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
