"""Start-up and whole-command speed: `sonogen --help`, loading an fvae run, and `sonogen
transfer` of a 60-second 44.1 kHz file, each timed as separate processes (wall clock, start-up,
imports and exit included), the way a user meets them.

    python benchmarks/bench_startup.py [RUN] [--repeats N]
    # RUN: a run dir of an fvae at 44.1 kHz; default: one made in a temporary folder (a
    # default-config fvae trained for 1 step on a few seconds of tones: speed does not depend
    # on training)

--help is the median of 5 runs; importing torch alone and model load (importing sonogen.api and
calling load(), torch included), each timed inside a fresh process, and transfer are medians of
N (default 3), with the fastest in brackets. The input, a logarithmic sine sweep from 50 Hz to
16 kHz plus noise, is made by the script. Run it on a quiet machine: with a busy core, torch's
worker threads spin and the transfer time can grow tenfold; the load average is printed at the
start and at the end.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLE_RATE = 44100
INPUT_SECONDS = 60.0
CLI = [sys.executable, "-m", "sonogen.cli"]


def load_average() -> str:
    """Return the 1, 5 and 15-minute load averages ("n/a" where /proc has none)."""
    path = Path("/proc/loadavg")
    return " ".join(path.read_text().split()[:3]) if path.exists() else "n/a"


def run_seconds(command: list[str]) -> float:
    """Run a command to its end (it must succeed); return its wall-clock seconds."""
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def write_sweep(path: Path, seconds: float, sample_rate: int) -> None:
    """Write a 16-bit mono WAV: a logarithmic sweep 50 Hz -> 16 kHz at 0.5 plus noise at 0.05."""
    import numpy as np
    import soundfile as sf

    t = np.arange(int(seconds * sample_rate)) / sample_rate
    low, high = 50.0, 16000.0
    rate = np.log(high / low) / seconds
    phase = 2 * np.pi * low * (np.exp(rate * t) - 1) / rate
    noise = np.random.default_rng(0).standard_normal(len(t))
    sf.write(path, (0.5 * np.sin(phase) + 0.05 * noise).astype(np.float32), sample_rate, "PCM_16")


def make_run(folder: Path) -> Path:
    """Train a default-config fvae at 44.1 kHz for one step on four 1.5 s tones; return its dir."""
    import numpy as np
    import soundfile as sf

    sounds = folder / "sounds"
    sounds.mkdir()
    t = np.arange(int(1.5 * SAMPLE_RATE)) / SAMPLE_RATE
    noise = np.random.default_rng(1)
    for i in range(4):
        tone = 0.4 * np.sin(2 * np.pi * 220 * (i + 1) * t) + 0.05 * noise.standard_normal(len(t))
        sf.write(sounds / f"tone{i}.wav", tone.astype(np.float32), SAMPLE_RATE, "PCM_16")
    data, run = folder / "data", folder / "run"
    for command in (
        ["prepare", sounds, data, "--sample-rate", SAMPLE_RATE, "--split", "none"],
        ["train", data, "--model", "fvae", "--out", run, "--max-steps", 1, "--batch-size", 2,
         "--accelerator", "cpu", "--devices", 1],
    ):  # fmt: skip
        subprocess.run(CLI + [str(part) for part in command], check=True, capture_output=True)
    return run


def inner_seconds(statements: str) -> float:
    """Return the seconds ``statements`` take in a fresh Python process, timed inside it."""
    timed = f"start = time.perf_counter()\n{statements}\nprint(time.perf_counter() - start)"
    code = f"import time\n{timed}"
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return float(done.stdout.split()[-1])


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s [{min(values):.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "n/a"
    print(
        f"machine: {platform.platform()}, {platform.processor() or platform.machine()}; "
        f"{os.cpu_count()} CPUs ({affinity} usable); torch {importlib.metadata.version('torch')}; "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}\n"
        f"load average at start: {load_average()}\n"
    )
    with tempfile.TemporaryDirectory(prefix="bench_startup_") as scratch:
        folder = Path(scratch)
        run = options.run or make_run(folder)
        source, out = folder / "sweep.wav", folder / "out.wav"
        write_sweep(source, INPUT_SECONDS, SAMPLE_RATE)
        run_seconds(CLI + ["--help"])  # warm-up: the page cache, as for every later run
        help_times = [run_seconds(CLI + ["--help"]) for _ in range(5)]
        torch_times = [inner_seconds("import torch") for _ in range(options.repeats)]
        load = f"from sonogen import api\napi.load({str(run)!r})"
        load_times = [inner_seconds(load) for _ in range(options.repeats)]
        transfer = CLI + ["transfer", str(run), str(source), str(out)]
        transfer_times = [run_seconds(transfer) for _ in range(options.repeats)]
    median = statistics.median(transfer_times)
    print("| what | wall clock, median [fastest] |")
    print("|---|---|")
    print(f"| sonogen --help (5 runs) | {spread(help_times)} |")
    print(f"| import torch alone (inside a process) | {spread(torch_times)} |")
    print(f"| import sonogen.api + load() of the run (inside) | {spread(load_times)} |")
    print(f"| sonogen transfer, {INPUT_SECONDS:.0f} s at 44.1 kHz | {spread(transfer_times)} |")
    print(
        f"\ntransfer: {INPUT_SECONDS / median:.1f} x real time (median), "
        f"{INPUT_SECONDS / min(transfer_times):.1f} x (fastest); target 20 x"
    )
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
