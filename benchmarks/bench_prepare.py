"""prepare() throughput against a plain librosa.load loop over the same files.

python benchmarks/bench_prepare.py [FOLDER ...]   # default: ../shared/data/fsdd and drums
"""

from __future__ import annotations

import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    import librosa

    import sonogen
    from sonogen.data.prepare import find_audio_files

    folders = [Path(p) for p in sys.argv[1:]] or [SHARED / "fsdd", SHARED / "drums"]
    print(
        "| folder | files | sonogen prepare (2 workers) files/s | prepare (1 worker) files/s | "
        "librosa.load loop files/s |"
    )
    print("|---|---|---|---|---|")
    for folder in folders:
        files = find_audio_files(folder)
        rates = []
        for workers in (2, 1):
            out = Path(tempfile.mkdtemp()) / "out"
            start = time.perf_counter()
            sonogen.prepare(folder, out, sample_rate=16000, workers=workers)
            rates.append(len(files) / (time.perf_counter() - start))
            shutil.rmtree(out.parent)
        start = time.perf_counter()
        for name in files:
            librosa.load(folder / name, sr=16000, mono=True)
        baseline = len(files) / (time.perf_counter() - start)
        print(
            f"| {folder.name} | {len(files)} | {rates[0]:.0f} | {rates[1]:.0f} | {baseline:.0f} |",
            flush=True,
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process (parent; workers excluded): {peak:.0f} MB")


if __name__ == "__main__":
    main()
