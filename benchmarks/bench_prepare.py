"""prepare() throughput against a plain librosa.load loop over the same files.

    python benchmarks/bench_prepare.py [--repeats N] [FOLDER ...]
    # default: 5 repeats over ../shared/data/fsdd and drums

Each method first runs once untimed (a warm-up that also puts the files in the page cache), then
the three methods are timed in a new random order (seeded) in each of N rounds, so that neither
cache state nor order favours one of them. The table gives each method's median files/s over the
rounds, with the lowest and highest in brackets.
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
METHODS = ("prepare, 2 workers", "prepare, 1 worker", "librosa.load loop")


def run_method(method: str, folder: Path, files: list[str]) -> float:
    """Run one method over the folder once; return the seconds it took."""
    import librosa

    import sonogen

    scratch = Path(tempfile.mkdtemp())
    try:
        start = time.perf_counter()
        if method.startswith("prepare"):
            workers = 2 if "2" in method else 1
            sonogen.prepare(folder, scratch / "out", sample_rate=16000, workers=workers)
        else:
            for name in files:
                librosa.load(folder / name, sr=16000, mono=True)
        return time.perf_counter() - start
    finally:
        shutil.rmtree(scratch)


def measure(folder: Path, repeats: int, seed: int = 0) -> dict[str, list[float]]:
    """Return each method's files/s over ``repeats`` rounds, after one untimed warm-up each."""
    from sonogen.data.prepare import find_audio_files

    files = find_audio_files(folder)
    for method in METHODS:
        run_method(method, folder, files)
    rng = random.Random(seed)
    rates: dict[str, list[float]] = {method: [] for method in METHODS}
    for _ in range(repeats):
        order = list(METHODS)
        rng.shuffle(order)
        for method in order:
            rates[method].append(len(files) / run_method(method, folder, files))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    folders = options.folders or [SHARED / "fsdd", SHARED / "drums"]
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"load average at start: {load}; files/s, median of {options.repeats} [min-max]\n")
    print(
        "| folder | files | sonogen prepare (2 workers) files/s | prepare (1 worker) files/s | "
        "librosa.load loop files/s |"
    )
    print("|---|---|---|---|---|")
    for folder in folders:
        from sonogen.data.prepare import find_audio_files

        rates = measure(folder, options.repeats)
        cells = [
            f"{statistics.median(values):.0f} [{min(values):.0f}-{max(values):.0f}]"
            for values in (rates[method] for method in METHODS)
        ]
        count = len(find_audio_files(folder))
        print(f"| {folder.name} | {count} | " + " | ".join(cells) + " |", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process (parent; workers excluded): {peak:.0f} MB")


if __name__ == "__main__":
    main()
