"""The studio's server: run dirs loaded once, a JSON API for the page, results in a temp folder.

Routes (every answer is JSON except the page and the files):
- ``GET /``: the page; ``GET /api/runs``: each run, what it can do, and its numbers;
- ``POST /api/upload?name=FILE``: the request body is an audio file (at most MAX_UPLOAD_BYTES, an
  audio file name, decodable, at most MAX_UPLOAD_SECONDS); answers an upload id;
- ``POST /api/generate``, ``/api/morph``, ``/api/transfer``, ``/api/compose``: a JSON object of
  options naming the run by its number; answers ``{"clips": [...]}`` with the URLs of the WAVs,
  spectrogram pictures (and MIDI files) made;
- ``GET /files/NAME``: a file the studio made (NAME is checked against the names it makes).

A SonogenError is a 400 answer whose ``error`` the page shows; any other exception is logged and
answered 500, and the server goes on serving. Served on a loopback address, it answers only
requests addressed to that address (a ``Host`` of 127.0.0.1, localhost or [::1] and its port: no
DNS-rebound name), and any POST from a page of another origin is refused (no cross-site
request can make it work or store files).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

from sonogen.checks import check_seed, check_temperature, finite_number, shown, whole_number
from sonogen.errors import SonogenError

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 20 * 2**20
MAX_UPLOAD_SECONDS = 60.0
MAX_UPLOAD_SAMPLES = int(MAX_UPLOAD_SECONDS * 96_000 * 2)  # decoded: a minute of 96 kHz stereo
MAX_UPLOADS_AT_ONCE = 4  # upload bodies being received at the same time (each up to 20 MB)
MAX_REQUEST_BYTES = 64 * 2**10  # a JSON request: a few options
MAX_CLIPS = 16
MAX_SECONDS = 30.0  # any-length generation and continuations
MAX_MORPH_STEPS = 32
MAX_BARS = 64
MAX_PIECES = 4
COMPOSE_RATE = 22050  # composed pieces are rendered at this rate
MAX_FILES = 600  # files kept in the temp folder; the oldest go first
MAX_FOLDER_BYTES = 2**30  # and at most this many bytes in it
MAX_SHOWN_SEED = 2**53  # seeds the studio draws stay exact in the page's JavaScript numbers
LOOPBACK = ("127.0.0.1", "localhost", "::1")
UPLOAD_TYPES = (".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif", ".mp3")
CONTENT_TYPES = {".wav": "audio/wav", ".png": "image/png", ".mid": "audio/midi"}
FILE_NAME = re.compile(r"^[0-9a-f]{16}(_[0-9]{1,3})?\.(wav|png|mid)$")
UPLOAD_ID = re.compile(r"^[0-9a-f]{16}$")


@dataclass
class Entry:
    """One run the studio serves: its number on the page, its dir and the loaded model."""

    index: int
    path: Path
    model: Any
    tokenizer: Any = None  # music runs: the miditok tokenizer


class Studio:
    """The runs and the temp folder behind the page; each public method answers one route."""

    def __init__(self, runs: Sequence[str | Path]):
        from sonogen.run import load

        if not runs:
            raise SonogenError("RUN: give at least one run dir to play with")
        self.entries: list[Entry] = []
        for index, run in enumerate(runs):
            model = load(run)  # a bad run dir is a one-line error before the server starts
            tokenizer = None
            if model.makes_tokens:
                from sonogen.music.compose import load_music_run

                model, tokenizer = load_music_run(run)
            self.entries.append(Entry(index, Path(run), model, tokenizer))
        self.folder = Path(tempfile.mkdtemp(prefix="sonogen-studio-"))
        # one request's work at a time (the handler holds it): a model call uses every core
        # already, and the files, the upload table and pyplot are then never shared
        self.lock = threading.RLock()
        self.uploads: dict[str, tuple[Path, str]] = {}

    def close(self) -> None:
        with self.lock:  # not while a request is writing into it
            shutil.rmtree(self.folder, ignore_errors=True)

    # --- what the page shows ----------------------------------------------------------------
    def describe(self) -> list[dict[str, Any]]:
        """Each run: name, family, labels, what it can do, and its numbers."""
        from sonogen.card import last_evaluation
        from sonogen.run import info

        described = []
        for entry in self.entries:
            model = entry.model
            summary = info(model)
            evaluation = last_evaluation(entry.path) or {}
            described.append(
                {
                    "index": entry.index,
                    "name": entry.path.resolve().name,
                    "model": model.model_name,
                    "description": summary["family_description"],
                    "labels": model.labels or [],
                    "sample_rate": model.sample_rate,
                    "clip_seconds": None
                    if model.any_length or model.makes_tokens
                    else model.config.data.clip_samples / model.sample_rate,
                    "can": {
                        "generate": not model.makes_tokens,
                        "any_length": model.any_length,
                        "options": sorted(model.generation_options),
                        "morph": sorted(model.interpolates_between),
                        "transfer": model.can_reconstruct,
                        "continue": model.can_continue,
                        "compose": model.makes_tokens,
                    },
                    "numbers": _numbers(summary, evaluation),
                }
            )
        return described

    # --- the routes -------------------------------------------------------------------------
    def generate(self, body: dict[str, Any]) -> dict[str, Any]:
        entry = self._entry(body, "generate")
        model = entry.model
        n = whole_number("n", _get(body, "n", 4), 1, MAX_CLIPS)
        seed = _seed(body, "seed")
        label = _get(body, "label", None)
        options = {name: body[name] for name in model.generation_options if _given(body, name)}
        seconds = None
        if model.any_length:
            seconds = _seconds(_get(body, "seconds", 1.0), "seconds")
        audio = model.generate(
            n,
            seed=seed,
            labels=label,
            temperature=_temperature(body),
            seconds=seconds,
            **options,
        )
        labels = model.label_indices(label, n) if model.labels else None
        if labels is None and model.labels:  # the labels the seed drew are not returned
            labels = [None] * n
        clips = []
        for i, clip in enumerate(audio):
            caption = f"seed {seed} #{i}"
            if model.labels and labels[i] is not None:
                caption += f", {model.labels[int(labels[i])]}"
            clips.append(self._clip(clip, model.sample_rate, caption))
        return {"clips": clips, "seed": seed}

    def morph(self, body: dict[str, Any]) -> dict[str, Any]:
        entry = self._entry(body, "morph")
        model = entry.model
        steps = whole_number("steps", _get(body, "steps", 8), 2, MAX_MORPH_STEPS)
        kinds = model.interpolates_between
        if _given(body, "upload_a") or _given(body, "upload_b"):
            if "sounds" not in kinds:
                raise SonogenError(f"morph: a {model.model_name} run morphs between seeds only")
            a = self._upload_audio(body.get("upload_a"), model.sample_rate, "sound A")
            b = self._upload_audio(body.get("upload_b"), model.sample_rate, "sound B")
            ends = "the two sounds"
        else:
            if "seeds" not in kinds:
                raise SonogenError(
                    f"morph: a {model.model_name} run cannot morph between seeds"
                    + ("; upload two sounds" if "sounds" in kinds else "")
                )
            a = _seed(body, "seed_a", 1, "seed A")
            b = _seed(body, "seed_b", 2, "seed B")
            ends = f"seed {a} to seed {b}"
        label = _get(body, "label", None)
        audio = model.interpolate(a, b, steps, label=label)
        clips = [
            self._clip(clip, model.sample_rate, f"{i + 1}/{steps}: {ends}")
            for i, clip in enumerate(audio)
        ]
        return {"clips": clips}

    def transfer(self, body: dict[str, Any]) -> dict[str, Any]:
        entry = self._entry(body, "transfer")
        model = entry.model
        mode = _get(body, "mode", "transfer")
        if mode not in ("transfer", "reconstruct", "continue"):
            raise SonogenError(f"mode {shown(mode)}: use transfer, reconstruct or continue")
        if mode == "continue" and not model.can_continue:
            raise SonogenError(f"continue: a {model.model_name} run does not continue sounds")
        if mode != "continue" and not model.can_reconstruct:
            raise SonogenError(f"{mode}: a {model.model_name} run does not encode sounds")
        audio = self._upload_audio(body.get("upload"), model.sample_rate, "the sound")
        if mode == "continue":
            seconds = _seconds(_get(body, "seconds", 1.0), "seconds")
            made = model.continue_audio(audio, seconds, seed=_seed(body, "seed"))[0]
        elif mode == "reconstruct" and len(audio) <= model.config.data.clip_samples:
            made = model.reconstruct(audio[None])[0][: len(audio)]  # at once, as evaluate
        else:
            made = model.transfer(audio)  # in overlapping blocks, as `sonogen transfer`
        original = self._clip(audio, model.sample_rate, "what you gave")
        return {"clips": [original, self._clip(made, model.sample_rate, f"{mode}: the model")]}

    def compose(self, body: dict[str, Any]) -> dict[str, Any]:
        from sonogen.music.compose import compose_pieces
        from sonogen.music.render import render_score

        entry = self._entry(body, "compose")
        bars = whole_number("bars", _get(body, "bars", 4), 1, MAX_BARS)
        n = whole_number("n", _get(body, "n", 1), 1, MAX_PIECES)
        seed = _seed(body, "seed")
        top_p = finite_number("top_p", _get(body, "top_p", 0.95), low=0, high=1, low_open=True)
        pieces = compose_pieces(
            entry.model,
            entry.tokenizer,
            bars=bars,
            n=n,
            seed=seed,
            temperature=_temperature(body),
            top_p=top_p,
        )
        clips = []
        for i, piece in enumerate(pieces):
            token = self._token()
            midi = self.folder / f"{token}.mid"
            piece.score.dump_midi(str(midi))
            audio = render_score(piece.score, sample_rate=COMPOSE_RATE)
            if audio.size == 0:  # no notes: a short silence to play, as the MIDI file holds
                audio = np.zeros(COMPOSE_RATE // 2, np.float32)
            caption = f"seed {seed} #{i}: {piece.bars} bars, {int(piece.score.note_num())} notes"
            clip = self._clip(audio, COMPOSE_RATE, caption, token=token)
            clips.append(clip | {"midi": f"/files/{midi.name}"})
        return {"clips": clips, "seed": seed}

    def upload(self, name: str, data: bytes) -> dict[str, Any]:
        """Keep an uploaded audio file (checked by type and by decoding it); return its id."""
        from sonogen.audio.io import read_audio

        suffix = Path(name).suffix.lower()
        if suffix not in UPLOAD_TYPES:
            raise SonogenError(
                f"{_shown_name(name)}: not an audio file the studio takes; upload one of "
                f"{', '.join(UPLOAD_TYPES)}"
            )
        upload_id = self._token()
        path = self.folder / f"upload_{upload_id}{suffix}"
        path.write_bytes(data)
        try:
            _check_decoded_size(path, name)
        except SonogenError:
            path.unlink(missing_ok=True)
            raise
        try:
            audio, rate = read_audio(path, max_seconds=MAX_UPLOAD_SECONDS)
        except SonogenError as error:
            path.unlink(missing_ok=True)
            reason = str(error).removeprefix(str(path)).lstrip(": ")
            raise SonogenError(f"{_shown_name(name)}: {reason}") from None
        if audio.size == 0 or not np.isfinite(audio).all():
            path.unlink(missing_ok=True)
            raise SonogenError(f"{_shown_name(name)}: holds no usable audio")
        self.uploads[upload_id] = (path, name)
        self._prune()
        return {"upload": upload_id, "seconds": len(audio) / rate, "name": _shown_name(name)}

    def file(self, name: str) -> tuple[Path, str] | None:
        """The path and content type of a file the studio made, or None."""
        if not FILE_NAME.match(name):
            return None
        path = self.folder / name
        if not path.is_file():
            return None
        return path, CONTENT_TYPES[path.suffix]

    # --- helpers ----------------------------------------------------------------------------
    def _entry(self, body: dict[str, Any], verb: str) -> Entry:
        run = body.get("run")
        if isinstance(run, bool) or not isinstance(run, int) or not 0 <= run < len(self.entries):
            raise SonogenError(
                f"run {str(run)[:40]!r}: not one of this studio's runs (0 to "
                f"{len(self.entries) - 1}); the studio plays only the run dirs it was started with"
            )
        entry = self.entries[run]
        if verb == "generate" and entry.model.makes_tokens:
            raise SonogenError(f"generate: a {entry.model.model_name} run composes MIDI instead")
        if verb == "compose" and not entry.model.makes_tokens:
            raise SonogenError(f"compose: a {entry.model.model_name} run makes audio, not MIDI")
        return entry

    def _upload_audio(self, upload_id: Any, sample_rate: int, what: str) -> np.ndarray:
        from sonogen.audio.io import read_audio

        if not isinstance(upload_id, str) or not UPLOAD_ID.match(upload_id):
            raise SonogenError(f"{what}: upload or record a sound first")
        if upload_id not in self.uploads:
            raise SonogenError(
                f"{what}: that upload is gone (the studio keeps its newest files); click again "
                "to send it anew"
            )
        path, _ = self.uploads[upload_id]
        audio, _ = read_audio(path, sample_rate)
        return audio

    def _clip(
        self, audio: np.ndarray, sample_rate: int, caption: str, token: str | None = None
    ) -> dict[str, Any]:
        from sonogen.audio.io import write_wav
        from sonogen.evaluation.report import spectrogram_png

        token = token or self._token()
        wav, png = self.folder / f"{token}.wav", self.folder / f"{token}.png"
        audio = np.clip(np.nan_to_num(np.asarray(audio, np.float32)), -1, 1)
        if not wav.exists():
            write_wav(wav, audio, sample_rate)
        spectrogram_png(png, audio, sample_rate)
        self._prune()
        return {
            "audio": f"/files/{wav.name}",
            "image": f"/files/{png.name}",
            "caption": caption,
            "seconds": round(len(audio) / sample_rate, 3),
            "samples": len(audio),
            "sample_rate": sample_rate,
        }

    @staticmethod
    def _token() -> str:
        return secrets.token_hex(8)

    def _prune(self) -> None:
        """Keep at most MAX_FILES files and MAX_FOLDER_BYTES bytes: the oldest go first
        (uploads too)."""
        dated = []
        for path in self.folder.iterdir():
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            dated.append((stat.st_mtime, stat.st_size, path))
        dated.sort()
        count, size = len(dated), sum(item[1] for item in dated)
        for _, bytes_, path in dated:
            if count <= MAX_FILES and size <= MAX_FOLDER_BYTES:
                break
            path.unlink(missing_ok=True)
            count, size = count - 1, size - bytes_
        self.uploads = {k: v for k, v in self.uploads.items() if v[0].exists()}


def _given(body: dict[str, Any], name: str) -> bool:
    return body.get(name) not in (None, "")


def _get(body: dict[str, Any], name: str, default: Any) -> Any:
    """The request's value for ``name``, or ``default`` when it is missing or left empty."""
    return body[name] if _given(body, name) else default


def _temperature(body: dict[str, Any]) -> float:
    return check_temperature(_get(body, "temperature", 1.0))


def _seed(body: dict[str, Any], name: str, default: int | None = None, option: str = "") -> int:
    """The seed ``name`` of a request (a number, or its digits as text: the page sends the
    field's text, since JavaScript numbers are exact only below 2**53), ``default`` when left
    empty, or a new one below MAX_SHOWN_SEED (so the page can show it and send it back)."""
    value = _get(body, name, default)
    if value is None:
        return secrets.randbelow(MAX_SHOWN_SEED)
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]{1,19}\s*", value):
        value = int(value)
    return check_seed(value, option or name)


def _check_decoded_size(path: Path, name: str) -> None:
    """Refuse an upload that would decode to more than MAX_UPLOAD_SAMPLES samples (a small
    compressed file can hold a long, high-rate, many-channel signal), before decoding it."""
    import soundfile

    try:
        info = soundfile.info(str(path))
    except Exception:  # not readable as audio: read_audio says why
        return
    samples = info.frames * info.channels
    if samples > MAX_UPLOAD_SAMPLES:
        raise SonogenError(
            f"{_shown_name(name)}: {info.frames:,} frames x {info.channels} channels at "
            f"{info.samplerate} Hz is too much audio for the studio (at most "
            f"{MAX_UPLOAD_SAMPLES:,} samples, a minute of 96 kHz stereo); shorten or downmix it"
        )


def _seconds(value: Any, name: str) -> float:
    return finite_number(name, value, low=0, high=MAX_SECONDS, low_open=True)


def _shown_name(name: str) -> str:
    name = Path(str(name)).name
    return name if len(name) <= 60 else name[:57] + "..."


def _numbers(summary: dict[str, Any], evaluation: dict[str, Any]) -> list[list[str]]:
    """Rows (name, value, real held-out value) of what the page shows beside a run: its
    training, then the last evaluation's numbers as its model card shows them."""
    from sonogen.card import evaluation_rows

    rows = [
        ["steps trained", f"{summary['steps']:,}", ""],
        ["training minutes", f"{summary['train_seconds'] / 60:.1f}", ""],
        ["parameters", f"{summary['parameters']:,}", ""],
    ]
    return rows + [list(row) for row in evaluation_rows(evaluation)]


# --------------------------------------------------------------------------------------------
# HTTP


def make_handler(studio: Studio) -> type[BaseHTTPRequestHandler]:
    """Return the request handler class bound to ``studio``."""
    from sonogen.studio.page import PAGE

    routes: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
        "/api/generate": studio.generate,
        "/api/morph": studio.morph,
        "/api/transfer": studio.transfer,
        "/api/compose": studio.compose,
    }
    receiving = threading.BoundedSemaphore(MAX_UPLOADS_AT_ONCE)

    class Handler(BaseHTTPRequestHandler):
        server_version = "sonogen-studio"
        protocol_version = "HTTP/1.1"
        timeout = 60  # seconds a client may take to send what it announced

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", self.address_string(), format % args)

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path = urlsplit(self.path).path
            refused = self._foreign()
            if refused:
                self._json(HTTPStatus.FORBIDDEN, {"error": refused})
            elif path == "/":
                self._send(HTTPStatus.OK, PAGE.encode(), "text/html; charset=utf-8")
            elif path == "/api/runs":
                self._answer(studio.describe)
            elif path.startswith("/files/"):
                data, content_type = None, ""
                with studio.lock:  # never while a request prunes the folder
                    found = studio.file(path.removeprefix("/files/"))
                    if found is not None:
                        data, content_type = found[0].read_bytes(), found[1]
                if data is None:
                    self._json(HTTPStatus.NOT_FOUND, {"error": "no such studio file"})
                else:
                    self._send(HTTPStatus.OK, data, content_type)
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no page {path[:80]!r}"})

        def do_POST(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            length = self._length()
            if length is None:
                return
            refused = self._foreign()
            if refused:
                self._refuse(HTTPStatus.FORBIDDEN, length, refused)
                return
            if url.path == "/api/upload":
                if length > MAX_UPLOAD_BYTES:
                    self._refuse(
                        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                        length,
                        f"upload of {length / 2**20:.1f} MB: the studio takes files of at most "
                        f"{MAX_UPLOAD_BYTES // 2**20} MB",
                    )
                    return
                if not receiving.acquire(blocking=False):
                    self._refuse(
                        HTTPStatus.SERVICE_UNAVAILABLE,
                        length,
                        f"{MAX_UPLOADS_AT_ONCE} uploads are arriving already; try again",
                    )
                    return
                try:
                    data = self.rfile.read(length)
                finally:
                    receiving.release()
                name = parse_qs(url.query).get("name", ["upload"])[0]
                self._answer(lambda: studio.upload(name, data))
                return
            if url.path not in routes:
                self._refuse(HTTPStatus.NOT_FOUND, length, f"no action {url.path[:80]!r}")
                return
            if length > MAX_REQUEST_BYTES:
                self._refuse(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    length,
                    f"a request of {length} bytes; the options fit in "
                    f"{MAX_REQUEST_BYTES // 1024} kB",
                )
                return
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw or b"{}")
            except (ValueError, RecursionError):
                body = None
            if not isinstance(body, dict):
                self._json(HTTPStatus.BAD_REQUEST, {"error": "the request is not a JSON object"})
                return
            self._answer(lambda: routes[url.path](body))

        def _foreign(self) -> str | None:
            """Why a request is refused as not the studio's own page's, or None: a ``Host``
            other than the loopback address it listens on (a DNS-rebound name), or a POST whose
            ``Origin`` is another site (browsers send it; scripts such as curl send none)."""
            host = self.headers.get("Host", "").lower()
            allowed = self.server.allowed_hosts
            if allowed is not None and host not in allowed:
                return (
                    f"Host {host[:80]!r}: the studio answers only at its own address; open "
                    f"{min(allowed, key=len)} or pass --host to serve other names"
                )
            origin = self.headers.get("Origin")
            if self.command == "POST" and origin is not None:
                if origin.lower() != f"http://{host}":
                    return f"a request from {origin[:80]!r}: the studio answers only its own page"
            return None

        def _refuse(self, status: HTTPStatus, length: int, message: str) -> None:
            """Answer ``message`` as an error without using the request's body."""
            self._discard(length)
            self._json(status, {"error": message})

        def _discard(self, length: int) -> None:
            """Read and drop a refused body (so the client reads the answer), up to 4 times the
            upload limit; beyond that the connection is closed unread."""
            if length > 4 * MAX_UPLOAD_BYTES:
                self.close_connection = True
                return
            while length > 0:
                chunk = self.rfile.read(min(length, 2**20))
                if not chunk:
                    break
                length -= len(chunk)

        def _length(self) -> int | None:
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                length = -1
            if length < 0:
                self.close_connection = True
                self._json(HTTPStatus.LENGTH_REQUIRED, {"error": "send a Content-Length"})
                return None
            return length

        def _answer(self, action: Callable[[], Any]) -> None:
            started = time.perf_counter()
            try:
                with studio.lock:
                    result = action()
            except SonogenError as error:
                self._json(HTTPStatus.BAD_REQUEST, {"error": str(error)})
                return
            except Exception as error:  # a bug: logged, answered, and the server goes on
                log.exception("studio: %s failed", self.path)
                self._json(
                    HTTPStatus.INTERNAL_SERVER_ERROR,
                    {"error": f"internal error ({type(error).__name__}: {error}); see the log"},
                )
                return
            if isinstance(result, dict):
                result = result | {"elapsed": round(time.perf_counter() - started, 3)}
            self._json(HTTPStatus.OK, result)

        def _json(self, status: HTTPStatus, value: Any) -> None:
            self._send(status, json.dumps(value).encode(), "application/json")

        def _send(self, status: HTTPStatus, data: bytes, content_type: str) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("X-Content-Type-Options", "nosniff")
                if self.close_connection:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the browser went away: fine
                self.close_connection = True

    return Handler


def serve(
    runs: Sequence[str | Path],
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    ready: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Serve the studio for ``runs`` on ``host:port`` until interrupted (or ``stop`` is set);
    ``ready(url)`` is called once it listens. Port 0 picks a free port."""
    port = whole_number("--port", port, 0, 65535)
    studio = Studio(runs)
    try:
        try:
            server = _Server((host, port), make_handler(studio))
        except OSError as error:
            raise SonogenError(
                f"--host {host} --port {port}: cannot listen there ({error.strerror or error}); "
                "pass another --port"
            ) from None
        server.daemon_threads = True
        bound = server.server_address[1]
        with server:
            url = f"http://{f'[{host}]' if ':' in host else host}:{bound}/"
            if stop is None:
                # SIGTERM is caught before the page is announced: a process manager that stops
                # the studio as soon as it says it listens must still get its temp folder removed
                with _stopped_by_sigterm():
                    if ready:
                        ready(url)
                    server.serve_forever(poll_interval=0.2)
            else:
                if ready:
                    ready(url)
                thread = threading.Thread(target=server.serve_forever, args=(0.2,), daemon=True)
                thread.start()
                stop.wait()
                server.shutdown()
    finally:
        studio.close()


class _Server(ThreadingHTTPServer):
    """The studio's HTTP server: IPv6 for an IPv6 host, the Host names it answers on a loopback
    address, and a client that goes away while it is answered is logged (debug), not printed
    as a traceback."""

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)
        # on a loopback address, the Host values a request may carry (None: any)
        self.allowed_hosts: set[str] | None = None
        if address[0].lower() in LOOPBACK:
            port, names = self.server_address[1], ("127.0.0.1", "localhost", "[::1]")
            self.allowed_hosts = {f"{name}:{port}" for name in names}
            if port == 80:
                self.allowed_hosts |= set(names)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            log.debug("studio: connection from %s ended early", client_address, exc_info=True)
        else:
            log.error("studio: a request from %s failed", client_address, exc_info=True)


@contextlib.contextmanager
def _stopped_by_sigterm() -> Iterator[None]:
    """Within it, SIGTERM stops the server as Ctrl-C does (so its temp folder is removed);
    outside the main thread, where signals cannot be set, it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
