"""prepare, prepare-midi and data make under abuse: --force onto a user's folder, odd and broken
entries in the source, sizes past every limit, bad labels CSVs, kill -9 mid-run. A refusal is one
clean error line (exit 2); a bad file inside the folder is a skipped.csv row; the source folder
and any user file stay byte-identical and no temporary is left behind."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sonogen.data import prepare as prepare_module
from tests.reliability.conftest import (
    assert_clean_error,
    run_cli,
    stray_temporaries,
    tree_digest,
)

RATE = 8000
FAST = ["--sample-rate", str(RATE), "--clip-samples", "1024", "--workers", "1", "--split", "0"]


def tone(seconds: float = 0.2, rate: int = RATE, frequency: float = 440.0) -> np.ndarray:
    return 0.5 * np.sin(2 * np.pi * frequency * np.arange(int(seconds * rate)) / rate)


def write_tones(folder: Path, names: list[str]) -> Path:
    for index, name in enumerate(names):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(os.fsencode(folder / name), tone(frequency=200 + 50 * index), RATE)
    return folder


def skipped_rows(out: Path) -> dict[str, str]:
    raw = (out / "skipped.csv").read_bytes()
    raw.decode("utf-8")  # stays valid UTF-8 whatever the names were
    with (out / "skipped.csv").open(newline="", encoding="utf-8") as handle:
        return {row["file"]: row["reason"] for row in csv.DictReader(handle)}


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return write_tones(tmp_path / "src", ["a/one.wav", "a/two.wav", "b/three.wav"])


def assert_untouched(before: dict[str, str], root: Path, *watch: Path) -> None:
    assert tree_digest(root) == before
    for folder in watch:
        assert stray_temporaries(folder) == [], stray_temporaries(folder)


# --------------------------------------------------------------------------------------------
# case 2: --force deletes only what sonogen wrote


def test_force_refuses_a_folder_holding_a_skipped_csv_and_a_user_file(source, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "skipped.csv").write_text("file,reason\n")
    (out / "precious.txt").write_text("years of work")
    before = tree_digest(tmp_path)
    line = assert_clean_error(run_cli("prepare", source, out, "--force", *FAST), str(out))
    assert "precious.txt" in line and "--force will not delete it" in line
    assert_untouched(before, tmp_path, tmp_path)


@pytest.mark.parametrize(
    ("files", "needle"),
    [
        ({"dataset.json": '{"format_version": 1}'}, "dataset.json sonogen did not write"),
        ({"dataset.json": "not json"}, "dataset.json sonogen cannot read"),
        ({"items.csv": "index,file\n"}, "no dataset.json"),
        ({"skipped.csv": "my,own,table\n"}, "skipped.csv sonogen did not write"),
        ({"audio.npy/": None}, "it holds audio.npy"),
    ],
)
def test_force_refuses_folders_that_only_look_like_a_dataset(source, tmp_path, files, needle):
    out = tmp_path / "look_alike"
    out.mkdir()
    for name, text in files.items():
        if name.endswith("/"):
            (out / name).mkdir()
            (out / name / "inside.txt").write_text("mine")
        else:
            (out / name).write_text(text)
    before = tree_digest(tmp_path)
    assert_clean_error(run_cli("prepare", source, out, "--force", *FAST), str(out), needle)
    assert_untouched(before, tmp_path, tmp_path)


def test_force_replaces_its_own_dataset_and_its_own_failed_run(source, tmp_path):
    out = tmp_path / "data"
    assert run_cli("prepare", source, out, *FAST).code == 0
    first = tree_digest(out)
    assert run_cli("prepare", source, out, "--force", *FAST).code == 0
    assert tree_digest(out) == first  # same bytes, nothing left aside
    empty = tmp_path / "silent"
    empty.mkdir()
    sf.write(empty / "zero.wav", np.zeros(800), RATE)
    failed = tmp_path / "failed"
    assert_clean_error(run_cli("prepare", empty, failed, *FAST), "no clips made")
    assert sorted(p.name for p in failed.iterdir()) == ["skipped.csv"]
    assert run_cli("prepare", source, failed, "--force", *FAST).code == 0
    assert (failed / "dataset.json").is_file()
    assert stray_temporaries(tmp_path) == []


def test_force_never_targets_the_source_or_a_folder_around_or_inside_it(source, tmp_path):
    before = tree_digest(tmp_path)
    for out, needle in [
        (source, "inside the source folder"),
        (source / "a", "inside the source folder"),
        (tmp_path, "holds the source folder"),
    ]:
        assert_clean_error(run_cli("prepare", source, out, "--force", *FAST), str(out), needle)
    assert_untouched(before, tmp_path, tmp_path)


def test_prepare_midi_and_data_make_force_refuse_a_user_folder(tmp_path):
    midi = tmp_path / "midi"
    midi.mkdir()
    write_midi(midi / "song.mid")
    out = tmp_path / "mine"
    out.mkdir()
    (out / "skipped.csv").write_text("file,reason\n")
    (out / "precious.txt").write_text("years of work")
    before = tree_digest(tmp_path)
    result = run_cli("prepare-midi", midi, out, "--force")
    assert_clean_error(result, str(out), "precious.txt")
    for name in ("notes", "chorales"):
        assert_clean_error(run_cli("data", "make", name, out, "--force"), str(out), "precious")
    assert_untouched(before, tmp_path, tmp_path)


# --------------------------------------------------------------------------------------------
# case 4 and the weak behaviour: odd entries in the source are rows of skipped.csv


def test_non_utf8_name_is_a_skipped_row_and_the_csvs_stay_utf8(source, tmp_path):
    bad = os.path.join(os.fsencode(source / "a"), b"bad\xff.wav")
    sf.write(bad, tone(), RATE)
    before = tree_digest(source)
    out = tmp_path / "out"
    result = run_cli("prepare", source, out, *FAST)
    assert result.code == 0, result.stderr
    rows = skipped_rows(out)
    assert rows == {"a/bad\\xff.wav": "bad name: not valid UTF-8; rename the file"}
    assert "a/one.wav" in (out / "items.csv").read_text(encoding="utf-8")
    (out / "dataset.json").read_text(encoding="utf-8")
    assert_untouched(before, source, tmp_path)


def test_non_utf8_source_folder_name_is_escaped_in_dataset_json(tmp_path):
    src = Path(os.fsdecode(os.path.join(os.fsencode(tmp_path), b"s\xfeurce")))
    write_tones(src, ["x.wav"])
    out = tmp_path / "out"
    assert run_cli("prepare", src, out, *FAST).code == 0
    assert "s\\\\xfeurce" in (out / "dataset.json").read_text(encoding="utf-8")


def test_broken_entries_each_get_a_row(source, tmp_path, monkeypatch):
    (source / "loop.wav").symlink_to("loop.wav")
    (source / "dangling.flac").symlink_to("nowhere.flac")
    (source / "gone").symlink_to("no_such_folder")
    os.mkfifo(source / "pipe.wav")
    locked = source / "locked"
    write_tones(locked, ["hidden_from_us.wav"])
    # chmod 000 does not stop root, so the refusal is made as the system would make it.
    real_scandir = os.scandir

    def scandir(path="."):
        if os.fspath(path) == os.fspath(locked):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    before = tree_digest(source)
    out = tmp_path / "out"
    result = run_cli("prepare", source, out, *FAST)
    assert result.code == 0, result.stderr
    rows = skipped_rows(out)
    assert rows == {
        "dangling.flac": "broken link: points to nowhere.flac, which does not exist",
        "gone": "broken link: points to no_such_folder, which does not exist",
        "locked/": "unreadable folder: Permission denied; its files were not read",
        "loop.wav": "broken link: the link loops back on itself",
        "pipe.wav": "not a file: a pipe, socket or device; copy the audio into a regular file",
    }
    assert "3 clips" in result.stdout and "from 3 of 8 files" in result.stdout
    assert_untouched(before, source, tmp_path)


def test_corrupt_mp3_is_reported_as_corrupt_not_missing(source, tmp_path):
    sf.write(source / "real.mp3", tone(0.5, 16000), 16000, format="MP3")
    data = (source / "real.mp3").read_bytes()
    (source / "truncated.mp3").write_bytes(data[:200])
    (source / "noise.mp3").write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 8)
    before = tree_digest(source)
    out = tmp_path / "out"
    assert run_cli("prepare", source, out, *FAST).code == 0
    rows = skipped_rows(out)
    assert set(rows) == {"truncated.mp3", "noise.mp3"}
    for reason in rows.values():
        assert reason.startswith("unreadable: corrupt or truncated"), reason
        assert "does not exist" not in reason
    assert_untouched(before, source, tmp_path)


def test_prepare_midi_skips_corrupt_and_oddly_named_files(tmp_path):
    midi = tmp_path / "midi"
    midi.mkdir()
    write_midi(midi / "good.mid")
    data = (midi / "good.mid").read_bytes()
    (midi / "half.mid").write_bytes(data[: len(data) // 2])
    (midi / "noise.mid").write_bytes(bytes(range(256)) * 4)
    (midi / "empty.midi").write_bytes(b"")
    Path(os.fsdecode(os.path.join(os.fsencode(midi), b"bad\xff.mid"))).write_bytes(data)
    (midi / "loop.mid").symlink_to("loop.mid")
    before = tree_digest(midi)
    out = tmp_path / "out"
    result = run_cli("prepare-midi", midi, out, "--split", "0")
    assert result.code == 0, result.stderr
    rows = skipped_rows(out)
    assert set(rows) == {"half.mid", "noise.mid", "empty.midi", "bad\\xff.mid", "loop.mid"}
    assert rows["bad\\xff.mid"].startswith("bad name: not valid UTF-8")
    assert rows["noise.mid"].startswith("unreadable: not a readable MIDI file")
    assert rows["loop.mid"] == "broken link: the link loops back on itself"
    assert_untouched(before, midi, tmp_path)


def write_midi(path: Path) -> None:
    import pretty_midi

    score = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(0)
    for step in range(16):
        piano.notes.append(pretty_midi.Note(90, 60 + step % 12, step / 4, step / 4 + 0.2))
    score.instruments.append(piano)
    score.write(str(path))


# --------------------------------------------------------------------------------------------
# case 5: nothing left after resampling; sample rates out of range


def test_one_sample_file_at_another_rate_is_a_skipped_row(source, tmp_path):
    sf.write(source / "one_sample.wav", np.array([0.5]), 44100)
    before = tree_digest(source)
    out = tmp_path / "out"
    result = run_cli("prepare", source, out, *FAST)
    assert result.code == 0, result.stderr
    assert skipped_rows(out) == {
        "one_sample.wav": "empty: 1 samples at 44100 Hz give none at 8000 Hz"
    }
    assert_untouched(before, source, tmp_path)


@pytest.mark.parametrize("rate", ["1", "999", "400000", "100000000000"])
def test_sample_rate_out_of_range_is_refused(source, tmp_path, rate):
    before = tree_digest(tmp_path)
    args = ["--sample-rate", rate, "--workers", "1"]
    assert_clean_error(run_cli("prepare", source, tmp_path / "out", *args), "--sample-rate")
    assert_untouched(before, tmp_path, tmp_path)


# --------------------------------------------------------------------------------------------
# case 6: sizes past a stated limit are refused before any work


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--hop", "1"], ["--hop: 1", "the limit is 64", "--hop 16 or more"]),
        (
            ["--clip-samples", "2000000000"],
            ["--clip-samples", "limit of 4800000 samples (600 s)", "use at most 4800000"],
        ),
        (["--workers", "100000"], ["--workers 100000: at most 256"]),
    ],
)
def test_prepare_sizes_past_the_limits_are_refused(source, tmp_path, args, needles):
    before = tree_digest(tmp_path)
    settings = ["--sample-rate", str(RATE), "--clip-samples", "1024", "--workers", "1"]
    result = run_cli("prepare", source, tmp_path / "out", *settings, *args)
    assert_clean_error(result, *needles)
    assert_untouched(before, tmp_path, tmp_path)


def test_prepare_refuses_clips_past_the_memory_budget(source, tmp_path, monkeypatch):
    monkeypatch.setattr(prepare_module, "memory_budget", lambda: 3000)
    before = tree_digest(tmp_path)
    result = run_cli("prepare", source, tmp_path / "out", *FAST)
    assert_clean_error(result, str(source), "half of this machine's memory", "--hop")
    assert_untouched(before, tmp_path, tmp_path)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--seq-len", "1000000000"], "--seq-len: 1000000000 is above the limit of 65536"),
        (["--transpose", "-100..100"], "--transpose -100 100: need LOW < HIGH within -24..25"),
    ],
)
def test_prepare_midi_sizes_past_the_limits_are_refused(tmp_path, args, needle):
    midi = tmp_path / "midi"
    midi.mkdir()
    write_midi(midi / "song.mid")
    before = tree_digest(tmp_path)
    assert_clean_error(run_cli("prepare-midi", midi, tmp_path / "out", *args), needle)
    assert_untouched(before, tmp_path, tmp_path)


# --------------------------------------------------------------------------------------------
# labels CSVs


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        (b"file,label\na/one.wav,ki\x07ck\n", ["row 2", "control character '\\x07'"]),
        (b"file,label\na/one.wav,  \n", ["row 2", "a/one.wav has an empty label"]),
        (b"file,label\na/one.wav,kick\na/one.wav,kick\n", ["row 3", "first on row 2"]),
        (b"file,label\na/one.wav,kick\n,snare\n", ["row 3", "has no file"]),
        (b"name,tag\na/one.wav,kick\n", ["needs the columns file,label"]),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", ["not UTF-8 text"]),
        (b"file,label\na/one.wav,ki\x00ck\n", ["holds NUL bytes"]),
    ],
)
def test_bad_labels_csv_is_one_line_naming_it(source, tmp_path, content, needles):
    table = tmp_path / "labels.csv"
    table.write_bytes(content)
    before = tree_digest(tmp_path)
    result = run_cli("prepare", source, tmp_path / "out", *FAST, "--labels", f"csv:{table}")
    assert_clean_error(result, str(table), *needles)
    assert_untouched(before, tmp_path, tmp_path)


def test_labels_csv_that_is_a_folder_is_refused(source, tmp_path):
    folder = tmp_path / "labels.csv"
    folder.mkdir()
    result = run_cli("prepare", source, tmp_path / "out", *FAST, "--labels", f"csv:{folder}")
    assert_clean_error(result, str(folder), "is a folder, not a labels CSV")
    assert not (tmp_path / "out").exists()


def test_path_like_label_is_kept_as_text(source, tmp_path):
    table = tmp_path / "labels.csv"
    table.write_text("file,label\na/one.wav,../x\na/two.wav,a/b\nb/three.wav,kick\n")
    out = tmp_path / "out"
    result = run_cli("prepare", source, out, *FAST, "--labels", f"csv:{table}")
    assert result.code == 0, result.stderr
    with (out / "items.csv").open(newline="", encoding="utf-8") as handle:
        labels = {row["file"]: row["label"] for row in csv.DictReader(handle)}
    assert labels == {"a/one.wav": "../x", "a/two.wav": "a/b", "b/three.wav": "kick"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.csv", "out", "src"]


# --------------------------------------------------------------------------------------------
# kill -9 mid-run: workers end, a later prepare cleans up and succeeds


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_kill_9_mid_prepare_ends_workers_and_a_rerun_cleans_up(tmp_path):
    src = tmp_path / "many"
    for index in range(300):
        path = src / f"{index % 10}" / f"{index}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, tone(0.5, 44100), 44100)
    before = tree_digest(src)
    out = tmp_path / "out"
    # a temporary a killed run left earlier, under a process id no longer alive
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    stale = tmp_path / f".out.tmp-{int(finished.stdout)}"
    stale.mkdir()
    (stale / "audio.npy").write_bytes(b"\x00" * 4096)
    command = [sys.executable, "-m", "sonogen.cli", "prepare", str(src), str(out)]
    settings = ["--sample-rate", "16000", "--clip-samples", "4096", "--workers", "2"]
    process = subprocess.Popen(
        [*command, *settings], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    workers: set[int] = set()
    deadline = time.monotonic() + 60
    while len(workers) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
        workers = children(process.pid)
    assert len(workers) == 2 and process.poll() is None, "prepare ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in workers), "a worker outlived its killed parent"

    result = run_cli(
        "prepare", src, out, "--sample-rate", "16000", "--clip-samples", "4096", "--workers", "1"
    )
    assert result.code == 0, result.stderr
    assert (out / "dataset.json").is_file()
    assert_untouched(before, src, tmp_path)
