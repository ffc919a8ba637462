"""Studio latency (click to playable sound) and exported-model speed (ONNX Runtime and
TorchScript against PyTorch), on this machine.

For each family it makes a run with the family's default settings on DATA (one training step:
the speed of a network does not depend on its weights), then
1. serves them all in `sonogen studio`, drives the page in headless Chromium (Playwright) and
   times, for one clip, the click on "generate" to the moment the <audio> element can play
   through (median of --repeats; the server's own time is printed beside it);
2. exports each exportable run (TorchScript and ONNX, batch 1) and times one call of the
   PyTorch graph, the TorchScript file and the ONNX file (median of --repeats), as multiples of
   real time.

Usage: python benchmarks/bench_studio.py DATA WORK [--repeats 7] [--families wavegan fvae flow]
       [--no-studio]  (the exported models only, where no browser is installed)
Run it alone on the machine; the load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import threading
import time
from pathlib import Path

import torch

import sonogen
from sonogen.studio import serve


def make_runs(data: Path, work: Path, families: list[str]) -> dict[str, Path]:
    runs = {}
    for name in families:
        run = work / name
        if not (run / "model.safetensors").is_file():
            sonogen.train(
                data, name, run, max_steps=1, batch_size=4, progress=False,
                overrides=["train.preview_count=0", "train.validate_every_steps=0"],
            )  # fmt: skip
        runs[name] = run
    return runs


def studio_latency(runs: dict[str, Path], repeats: int) -> list[dict]:
    from playwright.sync_api import sync_playwright

    stop, ready = threading.Event(), []
    thread = threading.Thread(
        target=serve, args=(list(runs.values()),),
        kwargs={"port": 0, "ready": ready.append, "stop": stop}, daemon=True,
    )  # fmt: skip
    thread.start()
    while not ready:
        time.sleep(0.05)
    rows = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=shutil.which("chromium"))
        page = browser.new_page()
        page.goto(ready[0])
        for index, name in enumerate(runs):
            section = page.locator(f"#run-{index}")
            section.locator("input[name=n]").first.fill("1")
            section.locator("input[name=seed]").first.fill("1")
            times, server = [], []
            for repeat in range(repeats + 1):  # the first is a warm-up
                with page.expect_response("**/api/generate") as answer:
                    started = time.perf_counter()
                    section.get_by_role("button", name="generate").click()
                elapsed = answer.value.json()["elapsed"]
                section.locator(".tool").first.locator("audio").first.wait_for()
                page.wait_for_function(
                    f"document.querySelector('#run-{index} .tool audio') && "
                    f"document.querySelector('#run-{index} .tool audio').readyState >= 4"
                )
                if repeat:
                    times.append(time.perf_counter() - started)
                    server.append(elapsed)
            model = sonogen.load(runs[name])
            seconds = model.config.data.clip_samples / model.sample_rate
            rows.append(
                {
                    "family": name,
                    "clip_seconds": seconds,
                    "click_to_sound": statistics.median(times),
                    "server": statistics.median(server),
                }
            )
        browser.close()
    stop.set()
    thread.join(10)
    return rows


def export_speed(runs: dict[str, Path], work: Path, repeats: int) -> list[dict]:
    import onnxruntime

    rows = []
    for name, run in runs.items():
        model = sonogen.load(run)
        if not model.family.exports:
            continue
        graphs = model.family.export_graphs(1)
        part = "decoder" if "decoder" in graphs else "generator"
        graph = graphs[part]
        for module in graph.module.modules():  # PyTorch as generate runs it: torch.istft
            if hasattr(module, "real_istft"):
                module.real_istft = False
        paths = {}
        for format, suffix in (("torchscript", ".pt"), ("onnx", ".onnx")):
            out = work / f"{name}{suffix}"
            written = sonogen.api.export(run, format, out, force=True)
            paths[format] = written[-1] if part == "decoder" else written[0]
        inputs = graph.inputs
        with torch.no_grad():
            output = graph.module(*inputs)
        seconds = output.shape[-1] / model.sample_rate
        scripted = torch.jit.load(str(paths["torchscript"]))
        session = onnxruntime.InferenceSession(
            str(paths["onnx"]), providers=["CPUExecutionProvider"]
        )
        feeds = {n: x.numpy() for n, x in zip(graph.input_names, inputs, strict=True)}
        calls = {
            "pytorch": lambda g=graph: g.module(*g.inputs),
            "torchscript": lambda s=scripted, g=graph: s(*g.inputs),
            "onnxruntime": lambda s=session, f=feeds: s.run(None, f),
        }
        row = {"family": name, "part": part, "seconds": seconds}
        for label, call in calls.items():
            times = []
            with torch.no_grad():
                for repeat in range(repeats + 1):
                    started = time.perf_counter()
                    call()
                    if repeat:
                        times.append(time.perf_counter() - started)
            row[label] = seconds / statistics.median(times)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--families", nargs="+", default=["wavegan", "fvae", "flow"])
    parser.add_argument("--no-studio", action="store_true", help="skip the browser timing")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}; torch threads "
          f"{torch.get_num_threads()}")  # fmt: skip
    args.work.mkdir(parents=True, exist_ok=True)
    runs = make_runs(args.data, args.work, args.families)
    print("\n| family | clip | click to playable sound | server time |\n|---|---:|---:|---:|")
    for row in [] if args.no_studio else studio_latency(runs, args.repeats):
        print(
            f"| {row['family']} | {row['clip_seconds']:.2f} s | {row['click_to_sound']:.3f} s | "
            f"{row['server']:.3f} s |"
        )
    print("\n| family | part | PyTorch | TorchScript | ONNX Runtime |\n|---|---|---:|---:|---:|")
    for row in export_speed(runs, args.work, args.repeats):
        print(
            f"| {row['family']} | {row['part']} ({row['seconds']:.2f} s) | "
            f"{row['pytorch']:.1f}x | {row['torchscript']:.1f}x | {row['onnxruntime']:.1f}x |"
        )
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
