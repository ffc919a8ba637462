"""`sonogen studio`: the page in a real headless Chromium (Playwright) against the running server,
and the server's refusals through plain HTTP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest
import soundfile as sf

import sonogen
from sonogen.errors import SonogenError
from tests.conftest import QUIET, TINY, TINY_FVAE, make_tone_dataset


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from tests.music.midi_fixtures import make_scale_dataset

    root = tmp_path_factory.mktemp("studio")
    data = make_tone_dataset(root / "tones", count=16, labels=True)
    made = {
        name: sonogen.train(
            data,
            name,
            root / name,
            overrides=settings + QUIET,
            max_steps=2,
            batch_size=4,
            progress=False,
        )  # fmt: skip
        for name, settings in (("wavegan", TINY["wavegan"]), ("fvae", TINY_FVAE))
    }
    made["samplernn"] = sonogen.train(
        data, "samplernn", root / "samplernn", progress=False, max_steps=1, batch_size=2,
        overrides=QUIET + ["model.hidden=16", "model.sample_hidden=16", "model.embedding_dim=8"],
    )  # fmt: skip
    music = make_scale_dataset(root / "scales")
    made["music"] = sonogen.train(
        music, "music-lstm", root / "music", max_steps=2, batch_size=4, progress=False,
        overrides=QUIET + ["model.embedding_dim=8", "model.hidden=16"],
    )  # fmt: skip
    return made


@pytest.fixture(scope="module")
def studio(runs):
    """The studio serving the three runs on a free port; yields its URL."""
    from sonogen.studio import serve

    stop, ready, failed = threading.Event(), [], []

    def run():
        try:
            serve(
                [runs["wavegan"], runs["fvae"], runs["music"], runs["samplernn"]],
                port=0,
                ready=ready.append,
                stop=stop,
            )
        except Exception as error:  # shown by the test that waits for the URL
            failed.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    for _ in range(600):
        if ready or failed:
            break
        thread.join(0.05)
    assert ready, f"the studio did not start: {failed}"
    yield ready[0]
    stop.set()
    thread.join(10)


def request(url: str, body: bytes | None = None, content_type: str = "application/json"):
    """Return (status, JSON answer) of a GET (body None) or POST."""
    headers = {} if body is None else {"Content-Type": content_type}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def post(studio: str, action: str, values: dict):
    return request(studio.rstrip("/") + action, json.dumps(values).encode())


@pytest.fixture(scope="module")
def browser_path() -> str:
    """The Chromium Playwright drives; CI=true makes a missing browser or Playwright a failure."""
    found = next(
        (
            shutil.which(n)
            for n in ("chromium", "chromium-browser", "google-chrome")
            if shutil.which(n)
        ),
        None,
    )
    reason = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "Playwright is not installed (pip install -e '.[test]')"
    if found is None:
        reason = "no Chromium installed (apt-get install chromium); .ci/run installs it"
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true, so this test must run")
        pytest.skip(reason)
    return found


# JavaScript run in the page: decode an <audio> element's WAV at its own rate; return its length
# and peak, so the test hears what the page plays.
DECODE = """async (audio) => {
  const bytes = await (await fetch(audio.src)).arrayBuffer();
  const rate = Number(audio.dataset.rate);
  const buffer = await new OfflineAudioContext(1, 1, rate).decodeAudioData(bytes);
  const samples = buffer.getChannelData(0);
  let peak = 0;
  for (const x of samples) peak = Math.max(peak, Math.abs(x));
  return {length: buffer.length, rate: buffer.sampleRate, peak: peak};
}"""


def test_the_page_generates_transfers_and_shows_errors(studio, runs, browser_path, tmp_path):
    from playwright.sync_api import sync_playwright

    sound = tmp_path / "voice.wav"
    t = np.arange(12000) / 16000
    sf.write(sound, 0.4 * np.sin(2 * np.pi * 300 * t), 16000)  # another rate: resampled
    (tmp_path / "notes.txt").write_text("not a sound")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=browser_path, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page()
        page.goto(studio)
        gan = page.locator("#run-0")
        generate = gan.locator(".tool").first  # then "morph between seeds"
        generate.locator("select[name=label]").select_option("high")
        generate.locator("input[name=n]").fill("2")
        generate.locator("input[name=seed]").fill("5")
        generate.get_by_role("button", name="generate").click()
        players = generate.locator("audio")
        players.nth(1).wait_for(timeout=60_000)
        assert players.count() == 2
        heard = players.first.evaluate(DECODE)
        assert heard["length"] == 1024 and heard["rate"] == 8000 and heard["peak"] > 1e-3
        assert "seed 5 #0, high" in generate.locator("figcaption").first.inner_text()
        # the same seed through the API gives the same clip the page played
        made = sonogen.load(runs["wavegan"]).generate(1, seed=5, labels="high")[0]
        assert abs(heard["peak"] - np.abs(made).max()) < 2e-4

        fvae = page.locator("#run-1")
        tool = fvae.locator(".tool", has_text="through the model")
        tool.locator("input[type=file]").set_input_files(str(sound))
        tool.get_by_role("button", name="through the model").click()
        tool.locator("audio").nth(1).wait_for(timeout=60_000)
        rebuilt = tool.locator("audio").nth(1).evaluate(DECODE)
        assert rebuilt["length"] == 6000 and rebuilt["rate"] == 8000  # 0.75 s at the run's rate

        tool.locator("input[type=file]").set_input_files(str(tmp_path / "notes.txt"))
        tool.get_by_role("button", name="through the model").click()
        error = tool.locator(".error")
        error.wait_for(state="visible", timeout=30_000)
        assert "notes.txt: not an audio file the studio takes" in error.inner_text()
        # the studio goes on after the failed request
        generate.get_by_role("button", name="generate").click()
        generate.locator(".busy", has_text="done in").wait_for(timeout=60_000)
        assert page.locator("#run-2 button", has_text="compose").count() == 1
        browser.close()


def test_the_server_refuses_what_it_must_and_keeps_serving(studio):
    status, answer = post(studio, "/api/generate", {"run": "/etc", "n": 1})
    assert status == 400 and "not one of this studio's runs" in answer["error"]
    status, answer = post(studio, "/api/generate", {"run": 0, "n": 1000})
    assert status == 400 and answer["error"].startswith("n")
    status, answer = post(studio, "/api/generate", {"run": 0, "temperature": -1})
    assert status == 400 and "temperature" in answer["error"]
    status, answer = request(studio + "files/..%2F..%2Fetc%2Fpasswd")
    assert status == 404
    status, answer = request(studio + "files/../../etc/passwd")
    assert status == 404
    big = b"\0" * (20 * 2**20 + 1)
    status, answer = request(studio + "api/upload?name=big.wav", big, "audio/wav")
    assert status == 413 and "at most 20 MB" in answer["error"]
    status, answer = request(studio + "api/upload?name=x.wav", b"RIFF....", "audio/wav")
    assert status == 400 and answer["error"].startswith("x.wav: ")
    status, answer = post(studio, "/api/transfer", {"run": 1, "upload": "0123456789abcdef"})
    assert status == 400 and "that upload is gone" in answer["error"]
    status, answer = post(studio, "/api/compose", {"run": 2, "bars": 2, "seed": 1})
    assert status == 200 and answer["clips"][0]["midi"].endswith(".mid")
    status, runs = request(studio + "api/runs")
    assert status == 200
    assert [run["model"] for run in runs] == ["wavegan", "fvae", "music-lstm", "samplernn"]
    assert runs[1]["can"]["transfer"] and not runs[0]["can"]["transfer"]
    assert runs[0]["numbers"][0][:2] == ["steps trained", "2"]


def test_a_bad_run_dir_is_a_one_line_error(tmp_path, runs):
    with pytest.raises(SonogenError, match="run dir not found"):
        sonogen.api.studio([tmp_path / "nothing"], port=0)
    result = subprocess.run(
        [sys.executable, "-m", "sonogen.cli", "studio", str(tmp_path / "nothing"), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr


def test_morphs_and_a_continued_prompt_through_the_api(studio, tmp_path):
    status, answer = post(studio, "/api/morph", {"run": 0, "seed_a": 1, "seed_b": 2, "steps": 3})
    assert status == 200 and len(answer["clips"]) == 3
    assert answer["clips"][0]["caption"] == "1/3: seed 1 to seed 2"
    path = tmp_path / "a.wav"
    sf.write(path, 0.3 * np.sin(np.arange(4000) / 5.0), 8000)
    status, uploaded = request(studio + "api/upload?name=a.wav", path.read_bytes(), "audio/wav")
    assert status == 200 and uploaded["seconds"] == 0.5
    upload = uploaded["upload"]
    status, answer = post(studio, "/api/morph", {"run": 1, "upload_a": upload, "upload_b": upload})
    assert status == 200 and len(answer["clips"]) == 8  # the page's default number of steps
    status, answer = post(studio, "/api/morph", {"run": 0, "upload_a": upload, "upload_b": upload})
    assert status == 400 and "morphs between seeds only" in answer["error"]
    values = {"run": 3, "upload": upload, "mode": "continue", "seconds": 0.25, "seed": 1}
    status, answer = post(studio, "/api/transfer", values)
    assert status == 200 and [clip["samples"] for clip in answer["clips"]] == [4000, 6000]
    status, answer = post(studio, "/api/transfer", values | {"mode": "transfer"})
    assert status == 400 and "does not encode sounds" in answer["error"]


def raw(studio: str, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    """(status, JSON answer) of a request with exactly these headers (Host and Origin too)."""
    from http.client import HTTPConnection
    from urllib.parse import urlsplit

    url = urlsplit(studio)
    connection = HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        connection.request(method, path, body, headers or {})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_other_sites_and_rebound_names_are_refused(studio):
    port = int(studio.rstrip("/").rsplit(":", 1)[1])
    # DNS rebinding: a name of the attacker's that now resolves to 127.0.0.1
    status, answer = raw(studio, "GET", "/api/runs", headers={"Host": f"evil.example:{port}"})
    assert status == 403 and "answers only at its own address" in answer["error"]
    status, _ = raw(studio, "GET", "/api/runs", headers={"Host": f"localhost:{port}"})
    assert status == 200
    # a form or fetch on another site posting to the studio (text/plain needs no preflight)
    body = json.dumps({"run": 0, "n": 1}).encode()
    for origin in ("http://evil.example", "null", f"http://127.0.0.1:{port + 1}"):
        headers = {"Origin": origin, "Content-Type": "text/plain", "Host": f"127.0.0.1:{port}"}
        status, answer = raw(studio, "POST", "/api/generate", body, headers)
        assert status == 403 and "answers only its own page" in answer["error"], origin
        status, answer = raw(studio, "POST", "/api/upload?name=a.wav", b"RIFF", headers)
        assert status == 403
    own = {"Origin": f"http://127.0.0.1:{port}", "Host": f"127.0.0.1:{port}"}
    status, answer = raw(studio, "POST", "/api/generate", body, own)
    assert status == 200 and len(answer["clips"]) == 1


def test_seeds_blank_fields_and_odd_values(studio):
    status, answer = post(studio, "/api/generate", {"run": 0, "n": 1, "seed": "5"})
    assert status == 200 and answer["seed"] == 5 and answer["clips"][0]["caption"] == "seed 5 #0"
    status, answer = post(studio, "/api/generate", {"run": 0, "n": 1, "seed": str(2**63 - 1)})
    assert status == 200 and answer["seed"] == 2**63 - 1  # digits as text: exact past 2**53
    status, answer = post(studio, "/api/generate", {"run": 0, "n": 1})
    assert status == 200 and 0 <= answer["seed"] < 2**53  # one the page can show and send back
    blank = {"run": 0, "n": None, "seed": "", "temperature": "", "label": ""}
    status, answer = post(studio, "/api/generate", blank)
    assert status == 200 and len(answer["clips"]) == 4  # the defaults
    for values, named in (
        ({"temperature": 10**400}, "temperature"),
        ({"truncation": 10**400}, "truncation"),
        ({"label": [None]}, "label"),
        ({"label": 10**30}, "label"),
        ({"label": True}, "label"),
        ({"seed": "12x"}, "seed"),
        ({"seed": "-1"}, "seed"),
    ):
        status, answer = post(studio, "/api/generate", {"run": 0, "n": 1} | values)
        assert status == 400 and named in answer["error"], (values, answer)
        assert len(answer["error"]) < 300


def test_uploads_that_decode_to_too_much_audio_are_refused(studio, tmp_path, monkeypatch):
    from sonogen.studio import server

    path = tmp_path / "long.flac"
    sf.write(path, np.zeros((4000, 3)), 8000)  # 3 channels
    monkeypatch.setattr(server, "MAX_UPLOAD_SAMPLES", 10_000)
    status, answer = request(studio + "api/upload?name=long.flac", path.read_bytes(), "audio/flac")
    assert status == 400 and "long.flac: 4,000 frames x 3 channels" in answer["error"]


def test_the_temp_folder_is_kept_under_its_limits(runs, monkeypatch):
    from sonogen.studio import server

    studio = server.Studio([runs["wavegan"]])
    try:
        for i in range(6):
            path = studio.folder / f"{i:016x}.wav"
            path.write_bytes(b"x" * 1000)
            os.utime(path, (1000 + i, 1000 + i))
        monkeypatch.setattr(server, "MAX_FOLDER_BYTES", 3500)
        studio._prune()
        assert sorted(p.name[-5] for p in studio.folder.iterdir()) == ["3", "4", "5"]
        monkeypatch.setattr(server, "MAX_FILES", 1)
        studio._prune()
        assert [p.name[-5] for p in studio.folder.iterdir()] == ["5"]
    finally:
        studio.close()
    assert not studio.folder.exists()


def test_sigterm_stops_the_studio_and_removes_its_folder(runs, tmp_path):
    import signal

    temp = tmp_path / "temp"
    temp.mkdir()
    env = os.environ | {"TMPDIR": str(temp), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "sonogen.cli", "studio", str(runs["wavegan"]), "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                               text=True)  # fmt: skip
    try:
        lines = [process.stdout.readline()]
        while lines[-1] and not lines[-1].startswith("studio on ") and len(lines) < 20:
            lines.append(process.stdout.readline())
        assert lines[-1].startswith("studio on http://127.0.0.1:"), lines + [process.stderr.read()]
        assert [p.name[:15] for p in temp.iterdir()] == ["sonogen-studio-"]
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0 and "studio stopped" in out, err
    assert not list(temp.iterdir())
