"""The music models on the Bach chorales: training and generation speed, then, after the same CPU
budget for each, held-out perplexity and the music-statistics overlap with the chorales.

    python benchmarks/bench_music.py                  # 3 minutes of training per model
    python benchmarks/bench_music.py --minutes 20     # a longer budget
    python benchmarks/bench_music.py --work DIR       # keep the dataset and runs in DIR
    python benchmarks/bench_music.py --small          # ~1 M-parameter models instead
    python benchmarks/bench_music.py --threads 1      # one torch thread (a shared machine)

The chorales dataset (``make_chorales``: the 350 distinct chorales of music21's corpus, REMI,
windows of 256 tokens, a tenth of the pieces held out) is built in WORK/chorales the first time.
Each model trains through ``sonogen.train`` for the budget; then ``evaluate_music`` composes 16
pieces of 8 bars (seed 0, temperature 1, top-p 0.95) and compares them with the chorales. Tables
go to stdout as markdown. On a machine whose cores other jobs share, ``--threads 1`` is several
times faster for these small models than torch's default of one thread per core: a second
thread waits on a busy core at every operation.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

SEQ_LEN = 256
BATCH = 16
MODELS = {
    # each family's defaults (about 3 M parameters each)
    "music-lstm": [],
    "music-transformer": [],
}
SMALL = {
    # --small: about 1 M parameters each, for CPU budgets of minutes
    "music-lstm": ["model.embedding_dim=128", "model.hidden=256"],
    "music-transformer": ["model.width=128"],
}


def dataset(work: Path) -> tuple[Path, float | None]:
    """Return the chorales dataset dir (built if missing) and the seconds it took to build."""
    from sonogen.music.chorales import make_chorales

    out = work / "chorales"
    if (out / "dataset.json").is_file():
        return out, None
    started = time.perf_counter()
    make_chorales(out, seq_len=SEQ_LEN)
    return out, time.perf_counter() - started


def generation_speed(family, n: int, tokens: int) -> float:
    """Return new tokens per second for n sequences of `tokens` tokens (after a warm-up)."""
    family.generate_tokens(n, seed=0, max_tokens=16)
    started = time.perf_counter()
    made = family.generate_tokens(n, seed=0, max_tokens=tokens, suppress_tokens=[0, 1, 2, 3])
    return sum(len(t) for t in made) / (time.perf_counter() - started)


def train_speed(family, data: Path, steps: int = 20) -> float:
    """Return training tokens per second of train_step on random windows (after a warm-up)."""
    import torch

    from sonogen.data.dataset import open_dataset

    windows = family.training_data(open_dataset(data), "train")
    optimizers = family.configure_optimizers()
    family.train()
    generator = torch.Generator().manual_seed(0)

    def step(i: int) -> None:
        index = torch.randint(0, len(windows), (BATCH,), generator=generator)
        batch = torch.stack([windows[int(j)][0] for j in index])
        family.train_step(batch, None, i, optimizers, lambda loss: loss.backward())

    step(0)
    started = time.perf_counter()
    for i in range(steps):
        step(i + 1)
    return steps * BATCH * SEQ_LEN / (time.perf_counter() - started)


def bench(name: str, overrides: list[str], data: Path, work: Path, minutes: float) -> dict:
    import torch

    import sonogen
    from sonogen.config import DataConfig, build_dataclass, parse_overrides
    from sonogen.data.dataset import open_dataset
    from sonogen.models.registry import get_family

    info = open_dataset(data)
    family_class = get_family(name)
    config = DataConfig(
        path=str(data), sample_rate=info.sample_rate, clip_samples=info.clip_samples,
        kind=info.kind, extra=info.extra,
    )  # fmt: skip
    torch.manual_seed(0)
    settings = parse_overrides(overrides).get("model", {})
    fresh = family_class(build_dataclass(family_class.Config, settings, "model"), config)
    row = {
        "model": name,
        "parameters": sum(p.numel() for p in fresh.parameters()),
        "threads": torch.get_num_threads(),
        "train_tokens_per_s": train_speed(fresh, data),
        "generate_tokens_per_s_n1": generation_speed(fresh, 1, 256),
        "generate_tokens_per_s_n16": generation_speed(fresh, 16, 256),
    }
    run = work / f"run-{name}"
    started = time.perf_counter()
    sonogen.train(
        data,
        name,
        run,
        overrides=overrides
        + ["train.preview_count=0", "train.validate_every_steps=250", "train.log_every_steps=50"],
        max_minutes=minutes,
        batch_size=BATCH,
        progress=False,
    )
    row["train_wall_s"] = time.perf_counter() - started
    summary = sonogen.api.info(run)
    row["steps"] = summary["steps"]
    row["trained_tokens_per_s"] = summary["steps"] * BATCH * SEQ_LEN / summary["train_seconds"]
    from sonogen.music.metrics import evaluate_music

    started = time.perf_counter()
    metrics = evaluate_music(run, data, n=16, bars=8, seed=0, out=work / f"eval-{name}")
    row["evaluate_s"] = time.perf_counter() - started
    row["metrics"] = metrics
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="training budget per model")
    parser.add_argument("--work", type=Path, default=None, help="where data and runs go")
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--small", action="store_true", help="~1 M-parameter models")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    work = args.work or Path(tempfile.mkdtemp(prefix="sonogen-bench-music-"))
    work.mkdir(parents=True, exist_ok=True)
    data, build_seconds = dataset(work)
    meta = json.loads((data / "dataset.json").read_text())
    print(f"chorales: {meta['count']} pieces, {meta['extra']['tokens']} tokens", end="")
    print(f", built in {build_seconds:.0f} s" if build_seconds else " (already built)")
    rows = []
    for name in args.models:
        for old in (work / f"run-{name}", work / f"eval-{name}"):
            if old.exists():
                import shutil

                shutil.rmtree(old)
        overrides = (SMALL if args.small else MODELS)[name]
        rows.append(bench(name, overrides, data, work, args.minutes))
    print(f"\nSpeed ({rows[0]['threads']} torch threads for training; generation uses one)\n")
    print("| model | parameters | train tokens/s | in sonogen.train | generate tokens/s, n=1 "
          "| n=16 |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['model']} | {r['parameters'] / 1e6:.2f} M | {r['train_tokens_per_s']:.0f} | "
            f"{r['trained_tokens_per_s']:.0f} | {r['generate_tokens_per_s_n1']:.0f} | "
            f"{r['generate_tokens_per_s_n16']:.0f} |"
        )
    print(f"\nAfter {args.minutes:g} minutes of training (batch {BATCH}, windows of {SEQ_LEN})\n")
    print("| model | steps | valid nats/token | valid perplexity | mean overlap | longest shared "
          "run (mean / max; held-out baseline) |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for r in rows:
        m = r["metrics"]
        memo = m["memorization"]
        shared, base = memo["longest_shared_tokens"], memo["held_out_baseline"] or {}
        print(
            f"| {r['model']} | {r['steps']} | {m['valid']['nll']:.3f} | "
            f"{m['valid']['perplexity']:.2f} | {m['mean_overlap']:.3f} | "
            f"{shared['mean']:.0f} / {shared['max']} ; {base.get('mean', 0):.0f} / "
            f"{base.get('max', 0)} |"
        )
    names = list(rows[0]["metrics"]["statistics"])
    print("\nMusic statistics, 16 generated pieces of 8 bars vs the chorales' first 8 bars "
          "(mean ± std; overlap)\n")  # fmt: skip
    print("| statistic | chorales | " + " | ".join(r["model"] for r in rows) + " |")
    print("|---|---|" + "---|" * len(rows))
    for stat in names:
        ref = rows[0]["metrics"]["statistics"][stat]["reference"]
        cells = []
        for r in rows:
            entry = r["metrics"]["statistics"][stat]
            gen = entry["generated"]
            if gen["mean"] is None:
                cells.append("–")
            else:
                cells.append(f"{gen['mean']:.2f} ± {gen['std']:.2f}; {entry['overlap']:.2f}")
        print(f"| {stat} | {ref['mean']:.2f} ± {ref['std']:.2f} | " + " | ".join(cells) + " |")
    print(f"\nwork dir: {work}")


if __name__ == "__main__":
    main()
