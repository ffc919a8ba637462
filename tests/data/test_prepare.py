"""prepare(): a folder of good, bad and junk files in, a dataset dir out, the source untouched."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sonogen.data.prepare import PrepareSummary, prepare, write_dataset
from sonogen.errors import SonogenError
from tests.conftest import SHARED_DATA

RATE = 16000
CLIP = 8192
FSDD = SHARED_DATA / "fsdd"


def sine(frequency: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * frequency * np.arange(int(seconds * rate)) / rate)


def peak_frequency(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.argmax(spectrum) * rate / len(audio))


def snapshot(folder: Path) -> dict[str, str]:
    """Every file's and folder's relative name, with a hash of each file's bytes."""
    state = {}
    for path in sorted(folder.rglob("*")):
        key = path.relative_to(folder).as_posix()
        state[key] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return state


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


GOOD = {
    "tones/sine_440.wav": 440,  # 44.1 kHz stereo
    "tones/sine_330.flac": 330,  # 24-bit, 22.05 kHz
    "tones/née_ü.wav": 550,
    "voices/vorbis.ogg": 600,
    "voices/lame.mp3": 700,
    "top_level.wav": 800,  # directly in the source: no label
}
BAD = {
    "truncated.wav": "unreadable",
    "zero_bytes.wav": "empty",
    "text.wav": "not audio",
    "silence.wav": "silent",
    "ten_ms.wav": "too short",
}


def make_source(folder: Path) -> Path:
    (folder / "tones").mkdir(parents=True)
    (folder / "voices").mkdir()
    stereo = np.stack([sine(440, 1.0, 44100), sine(440, 1.0, 44100, 0.3)], axis=1)
    sf.write(folder / "tones/sine_440.wav", stereo, 44100)
    sf.write(folder / "tones/sine_330.flac", sine(330, 1.0, 22050), 22050, subtype="PCM_24")
    sf.write(folder / "tones/née_ü.wav", sine(550, 0.8, 16000), 16000)
    sf.write(folder / "voices/vorbis.ogg", sine(600, 0.7, 32000), 32000)
    sf.write(folder / "voices/lame.mp3", sine(700, 0.7, 44100), 44100)
    sf.write(folder / "top_level.wav", sine(800, 0.3, 8000), 8000)

    sf.write(folder / "truncated.wav", sine(440, 1.0, 16000), 16000, subtype="PCM_16")
    data = (folder / "truncated.wav").read_bytes()
    (folder / "truncated.wav").write_bytes(data[: len(data) // 3])
    (folder / "zero_bytes.wav").write_bytes(b"")
    (folder / "text.wav").write_text("this is a text file with an audio name\n")
    sf.write(folder / "silence.wav", np.zeros(16000), 16000)
    sf.write(folder / "ten_ms.wav", sine(440, 0.01, 16000), 16000)

    # Junk that must be ignored without a trace.
    (folder / "notes.txt").write_text("not audio, not an audio suffix\n")
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (folder / "tones" / "._sine_440.wav").write_bytes(b"\x00\x05\x16\x07AppleDouble")
    (folder / ".hidden").mkdir()
    sf.write(folder / ".hidden" / "secret.wav", sine(100, 0.5, 16000), 16000)
    return folder


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return make_source(tmp_path_factory.mktemp("src") / "sounds")


@pytest.fixture(scope="module")
def source_before(source) -> dict[str, str]:
    return snapshot(source)


@pytest.fixture(scope="module")
def prepared(source, source_before, tmp_path_factory) -> tuple[Path, PrepareSummary]:
    out = tmp_path_factory.mktemp("out") / "data"
    summary = prepare(source, out, sample_rate=RATE, clip_samples=CLIP, workers=1)
    return out, summary


def test_good_files_become_clips(prepared):
    out, summary = prepared
    info = json.loads((out / "dataset.json").read_text())
    assert info["sample_rate"] == RATE and info["clip_samples"] == CLIP
    assert info["count"] == len(GOOD) and info["format_version"] == 1
    assert info["labels"] == ["tones", "voices"]
    assert info["created_by"].startswith("sonogen ")
    assert info["options"]["normalize"] == "peak" and info["options"]["split"] == "0.1"
    audio = np.load(out / "audio.npy", mmap_mode="r")
    assert audio.shape == (len(GOOD), CLIP) and audio.dtype == np.int16
    items = read_csv(out / "items.csv")
    assert list(items[0]) == ["index", "file", "offset_seconds", "label", "split", "group"]
    assert [row["file"] for row in items] == sorted(GOOD)
    assert [row["index"] for row in items] == [str(i) for i in range(len(GOOD))]
    labels = {row["file"]: row["label"] for row in items}
    assert labels["top_level.wav"] == "" and labels["tones/née_ü.wav"] == "tones"
    assert labels["voices/lame.mp3"] == "voices"
    # peak normalisation to 0.95
    assert np.all(np.abs(np.max(np.abs(audio.astype(np.int32)), axis=1) - 0.95 * 32767) < 40)
    assert summary == PrepareSummary(
        out=out,
        files_total=len(GOOD) + len(BAD),
        files_used=len(GOOD),
        clips=len(GOOD),
        skipped={reason: 1 for reason in sorted(BAD.values())},
        labels=["tones", "voices"],
        train_clips=summary.train_clips,
        valid_clips=summary.valid_clips,
        seconds=summary.seconds,
    )
    # share 0.1 of 6 files rounds to 1, and "at least one" holds anyway
    assert (summary.train_clips, summary.valid_clips) == (5, 1)
    assert not list(out.parent.glob(".*tmp-*"))


def test_sine_frequencies_survive_resampling(prepared):
    out, _ = prepared
    audio = np.load(out / "audio.npy").astype(np.float32) / 32767
    for row in read_csv(out / "items.csv"):
        clip = audio[int(row["index"])]
        length = int(np.max(np.nonzero(clip)[0])) + 1  # ignore the zero padding
        expected = GOOD[row["file"]]
        assert abs(peak_frequency(clip[:length], RATE) - expected) < 0.02 * expected, row


def test_bad_files_are_skipped_with_reasons(prepared):
    out, _ = prepared
    rows = read_csv(out / "skipped.csv")
    assert list(rows[0]) == ["file", "reason"]
    reasons = {row["file"]: row["reason"] for row in rows}
    assert sorted(reasons) == sorted(BAD)  # junk and hidden files are not listed at all
    for name, short in BAD.items():
        assert reasons[name].startswith(f"{short}: "), reasons[name]
    assert "truncated" in reasons["truncated.wav"]


def test_out_is_refused_without_force_and_replaced_with_force(source, prepared):
    out, _ = prepared
    before = snapshot(out)
    with pytest.raises(SonogenError, match=rf"^{re.escape(str(out))}: .*--force"):
        prepare(source, out, sample_rate=RATE, clip_samples=CLIP, workers=1)
    assert snapshot(out) == before

    prepare(source, out, sample_rate=8000, clip_samples=1024, workers=1, force=True)
    assert json.loads((out / "dataset.json").read_text())["clip_samples"] == 1024
    assert np.load(out / "audio.npy").shape == (len(GOOD), 1024)
    assert sorted(p.name for p in out.parent.iterdir()) == ["data"]  # no temp or old dirs left

    prepare(source, out, sample_rate=RATE, clip_samples=CLIP, workers=1, force=True)
    assert snapshot(out) == before  # byte-deterministic


def test_force_does_not_delete_a_folder_that_is_not_a_dataset(source, tmp_path):
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(SonogenError, match="not a sonogen dataset"):
        prepare(source, precious, force=True, workers=1)
    assert (precious / "thesis.tex").read_text() == "years of work"


def test_any_worker_count_gives_identical_files(source, prepared, tmp_path):
    out, _ = prepared
    calls = []
    prepare(
        source,
        tmp_path / "two",
        sample_rate=RATE,
        clip_samples=CLIP,
        workers=2,
        progress=lambda done, total: calls.append((done, total)),
    )
    for name in ("audio.npy", "items.csv", "skipped.csv", "dataset.json"):
        assert (tmp_path / "two" / name).read_bytes() == (out / name).read_bytes(), name
    total = len(GOOD) + len(BAD)
    assert len(calls) > 1 and calls[-1] == (total, total)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_source_folder_is_unchanged(source, source_before, prepared):
    assert snapshot(source) == source_before


def write_tones(folder: Path, names: list[str], seconds: float = 0.5, rate: int = RATE) -> Path:
    for index, name in enumerate(names):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(folder / name, sine(200 + 50 * index, seconds, rate), rate)
    return folder


def test_hop_cutting_counts_and_offsets(tmp_path):
    clip, hop = 1000, 500
    src = tmp_path / "src"
    src.mkdir()
    # 3600 samples: starts 0..3500 by 500; tails need >= 500 samples of audio, so the last start
    # is 3000 (600 left) and 3500 (100 left) is dropped.
    sf.write(src / "long.wav", sine(300, 3600 / RATE, RATE), RATE)
    sf.write(src / "short.wav", sine(300, 900 / RATE, RATE), RATE)  # shorter than a clip: kept
    summary = prepare(
        src,
        tmp_path / "out",
        sample_rate=RATE,
        clip_samples=clip,
        hop_samples=hop,
        min_seconds=0.01,
        split="0",
        labels="none",
        workers=1,
    )
    items = read_csv(tmp_path / "out" / "items.csv")
    long_offsets = [float(row["offset_seconds"]) for row in items if row["file"] == "long.wav"]
    assert long_offsets == [start / RATE for start in range(0, 3001, hop)]
    assert [row["file"] for row in items].count("short.wav") == 1
    assert summary.clips == 8 and summary.valid_clips == 0 and summary.labels is None
    audio = np.load(tmp_path / "out" / "audio.npy")
    assert np.all(audio[6, 600:] == 0) and np.any(audio[6, :600] != 0)  # long's tail, padded
    assert np.all(audio[7, 900:] == 0) and np.any(audio[7, 890:900] != 0)  # short.wav, padded
    assert json.loads((tmp_path / "out" / "dataset.json").read_text())["labels"] is None


def test_share_split_never_divides_a_file(tmp_path):
    names = [f"{kind}/{kind}_{i}.wav" for kind in ("a", "b") for i in range(5)]
    src = write_tones(tmp_path / "src", names, seconds=0.3)
    results = {}
    for seed in (0, 1):
        out = tmp_path / f"out{seed}"
        prepare(src, out, clip_samples=1024, hop_samples=1024, split="0.3", seed=seed, workers=1)
        items = read_csv(out / "items.csv")
        sides: dict[str, set[str]] = {}
        for row in items:
            sides.setdefault(row["file"], set()).add(row["split"])
        assert all(len(side) == 1 for side in sides.values())
        assert len(items) == 10 * 5  # 4800 samples at 16 kHz: 4 full clips and a 704-sample tail
        results[seed] = sorted(name for name, side in sides.items() if side == {"valid"})
        assert len(results[seed]) == 3
    assert results[0] != results[1]  # the seed picks the files


def test_fsdd_and_regex_splits(tmp_path):
    names = ["0/0_alice_0.wav", "0/0_alice_4.wav", "0/0_alice_5.wav", "1/1_bob_12.wav"]
    src = write_tones(tmp_path / "src", names)
    summary = prepare(src, tmp_path / "fsdd", split="fsdd", workers=1)
    split = {row["file"]: row["split"] for row in read_csv(tmp_path / "fsdd" / "items.csv")}
    assert split == {
        "0/0_alice_0.wav": "valid",
        "0/0_alice_4.wav": "valid",
        "0/0_alice_5.wav": "train",
        "1/1_bob_12.wav": "train",
    }
    assert (summary.train_clips, summary.valid_clips, summary.labels) == (2, 2, ["0", "1"])

    prepare(src, tmp_path / "regex", split=r"regex:_(4|12)\.wav$", workers=1)
    split = {row["file"]: row["split"] for row in read_csv(tmp_path / "regex" / "items.csv")}
    assert sorted(name for name, side in split.items() if side == "valid") == [
        "0/0_alice_4.wav",
        "1/1_bob_12.wav",
    ]

    write_tones(src, ["1/one.wav"])
    with pytest.raises(SonogenError, match=r"1/one\.wav: name does not follow the fsdd split rule"):
        prepare(src, tmp_path / "bad", split="fsdd", workers=1)
    assert not (tmp_path / "bad").exists()


def test_csv_labels(tmp_path):
    src = write_tones(tmp_path / "src", ["x/a.wav", "x/b.wav", "c.wav"])
    table = tmp_path / "labels.csv"
    table.write_text("file,label\nx/a.wav,kick\n./c.wav,snare\nmissing.wav,tom\n")
    summary = prepare(src, tmp_path / "out", labels=f"csv:{table}", split="0", workers=1)
    items = read_csv(tmp_path / "out" / "items.csv")
    assert {row["file"]: row["label"] for row in items} == {"c.wav": "snare", "x/a.wav": "kick"}
    assert summary.labels == ["kick", "snare"] and summary.skipped == {"no label": 1}
    skipped = read_csv(tmp_path / "out" / "skipped.csv")
    assert skipped == [{"file": "x/b.wav", "reason": f"no label: no label in {table}"}]

    with pytest.raises(SonogenError, match=rf"^{re.escape(str(tmp_path))}/nope\.csv: .*not found"):
        prepare(src, tmp_path / "o2", labels=f"csv:{tmp_path}/nope.csv", workers=1)
    table.write_text("path,class\nx/a.wav,kick\n")
    with pytest.raises(SonogenError, match=r"labels\.csv: needs the columns file,label"):
        prepare(src, tmp_path / "o3", labels=f"csv:{table}", workers=1)


def test_no_clips_raises_and_leaves_only_skipped_csv(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.wav").write_bytes(b"")
    sf.write(src / "b.wav", np.zeros(8000), 16000)
    out = tmp_path / "out"
    with pytest.raises(SonogenError) as caught:
        prepare(src, out, workers=1)
    message = str(caught.value)
    assert message.startswith(f"no clips made from {src}: 2 files skipped (1 empty, 1 silent)")
    assert message.endswith(f"see {out / 'skipped.csv'}")
    assert sorted(p.name for p in out.iterdir()) == ["skipped.csv"]
    assert [row["file"] for row in read_csv(out / "skipped.csv")] == ["a.wav", "b.wav"]
    # the leftover is ours, so --force may replace it
    write_tones(src, ["c.wav"])
    assert prepare(src, out, workers=1, force=True).clips == 1


def test_normalize_modes_and_trim(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    gap = np.zeros(4000)
    sf.write(src / "tone.wav", np.concatenate([gap, sine(500, 0.5, RATE, 0.5), gap]), RATE)
    peaks, rms = {}, {}
    for mode in ("peak", "loudness", "none"):
        out = tmp_path / mode
        prepare(src, out, normalize=mode, trim_silence=True, clip_samples=4096, split="0")
        clip = np.load(out / "audio.npy")[0].astype(np.float64) / 32767
        # 4000 leading zeros trimmed to less than librosa's frame (2048) and hop (512)
        assert np.flatnonzero(clip)[0] < 1024
        peaks[mode], rms[mode] = np.max(np.abs(clip)), np.sqrt(np.mean(clip**2))
    assert abs(peaks["peak"] - 0.95) < 1e-3 and abs(peaks["none"] - 0.5) < 1e-3
    assert abs(20 * np.log10(rms["loudness"]) + 20) < 0.2

    prepare(src, tmp_path / "untrimmed", clip_samples=4096, split="0", workers=1)
    assert np.all(np.load(tmp_path / "untrimmed" / "audio.npy")[0, :4000] == 0)


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"sample_rate": 0}, r"^--sample-rate: must be above 0"),
        ({"sample_rate": 500}, r"^--sample-rate: 500 Hz is outside 1000\.\.384000 Hz"),
        ({"clip_samples": 10**9}, r"^--clip-samples: 1000000000 is 62500 s at 16000 Hz"),
        ({"hop_samples": 10}, r"^--hop: 10 would put each sample in 1638 clips"),
        ({"clip_samples": -5}, r"^--clip-samples: must be above 0"),
        ({"clip_samples": 1.5}, r"^--clip-samples: must be a whole number"),
        ({"hop_samples": 0}, r"^--hop: "),
        ({"normalize": "loud"}, r"^--normalize: unknown mode 'loud'; use one of peak, loudness"),
        ({"labels": "tags"}, r"^--labels: unknown form 'tags'; use \"folder\", \"csv:PATH\""),
        ({"split": "half"}, r"^--split: 'half' is not a split rule; use .*\"fsdd\", \"regex:"),
        ({"split": "1.0"}, r"^--split: '1.0' is not a split rule"),
        ({"split": "regex:("}, r"^--split: bad regular expression '\('"),
        ({"workers": 0}, r"^--workers: must be above 0"),
        ({"min_seconds": -1}, r"^--min-seconds: must be 0 or more"),
        ({"seed": -1}, r"^--seed: must be a whole number"),
        ({"license": "  "}, r"^--license: empty; give the data's licence"),
        ({"license": "x" * 300}, r"^--license: 300 characters; give its name or a link"),
    ],
)
def test_bad_options_are_refused_before_any_work(tmp_path, options, pattern):
    src = write_tones(tmp_path / "src", ["a.wav"])
    with pytest.raises(SonogenError, match=pattern):
        prepare(src, tmp_path / "out", **options)
    assert not (tmp_path / "out").exists()


def test_bad_paths_are_refused(tmp_path):
    src = write_tones(tmp_path / "src", ["a.wav"])
    with pytest.raises(SonogenError, match=r"nowhere: no such folder"):
        prepare(tmp_path / "nowhere", tmp_path / "out")
    with pytest.raises(SonogenError, match=r"a\.wav: is a file, not a folder"):
        prepare(src / "a.wav", tmp_path / "out")
    inside = src / "prepared"
    with pytest.raises(SonogenError, match=r"prepared: is inside the source folder .*src"):
        prepare(src, inside)
    with pytest.raises(SonogenError, match=r"holds the source folder"):
        prepare(src, tmp_path, force=True)
    assert sorted(p.name for p in src.iterdir()) == ["a.wav"]

    empty = tmp_path / "texts"
    empty.mkdir()
    (empty / "readme.txt").write_text("hello")
    with pytest.raises(SonogenError, match=r"texts: no audio files found \(looked for .*\.flac"):
        prepare(empty, tmp_path / "out")


def test_write_dataset_extra_columns_and_float_clips(tmp_path):
    clips = np.stack([np.linspace(-1, 1, 64), np.zeros(64)]).astype(np.float32)
    items = [
        {"index": 0, "file": "n/60.wav", "offset_seconds": 0.0, "label": "piano", "split": "train"},
        {"index": 1, "file": "n/61.wav", "offset_seconds": 0.0, "label": "", "split": "valid"},
    ]
    items[0]["pitch"] = 60
    items[1]["velocity"] = 100
    options = {"instrument": "piano"}

    def write(out, force=False):
        write_dataset(
            out,
            clips,
            items,
            sample_rate=8000,
            clip_samples=64,
            labels=["piano"],
            source="builtin:notes",
            skipped=[],
            options=options,
            force=force,
        )

    write(tmp_path / "a")
    out = tmp_path / "a"
    lines = (out / "items.csv").read_text().split("\n")
    assert lines[:3] == [
        "index,file,offset_seconds,label,split,pitch,velocity",
        "0,n/60.wav,0.0,piano,train,60,",
        "1,n/61.wav,0.0,,valid,,100",
    ]
    assert (out / "skipped.csv").read_text() == "file,reason\n"
    audio = np.load(out / "audio.npy")
    assert audio.dtype == np.int16 and audio[0, 0] == -32767 and audio[0, -1] == 32767
    assert json.loads((out / "dataset.json").read_text()) == {
        "format_version": 1,
        "sample_rate": 8000,
        "clip_samples": 64,
        "count": 2,
        "labels": ["piano"],
        "source": "builtin:notes",
        "license": None,
        "created_by": json.loads((out / "dataset.json").read_text())["created_by"],
        "options": options,
    }
    with pytest.raises(SonogenError, match="--force"):
        write(out)
    write(tmp_path / "b")
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b")
    with pytest.raises(ValueError, match="shape"):
        write_dataset(
            tmp_path / "c",
            clips[:, :10],
            items,
            sample_rate=8000,
            clip_samples=64,
            labels=None,
            source="x",
            skipped=[],
            options={},
        )


def test_free_spoken_digits_subset(tmp_path):
    if not FSDD.is_dir():
        pytest.skip(f"{FSDD} is absent (development data, not shipped)")
    src = tmp_path / "fsdd100"
    for digit in range(10):
        # one speaker's takes 0-9: five go to valid under the fsdd rule, five to train
        chosen = sorted((FSDD / str(digit)).glob(f"{digit}_*_[0-9].wav"))[:10]
        assert len(chosen) == 10
        (src / str(digit)).mkdir(parents=True)
        for path in chosen:
            os.symlink(path, src / str(digit) / path.name)
    summary = prepare(src, tmp_path / "out", split="fsdd", workers=2)
    assert summary.labels == [str(digit) for digit in range(10)]
    assert (summary.files_used, summary.clips, summary.skipped) == (100, 100, {})
    assert (summary.train_clips, summary.valid_clips) == (50, 50)
    for row in read_csv(tmp_path / "out" / "items.csv"):
        take = int(Path(row["file"]).stem.split("_")[2])
        assert row["split"] == ("valid" if take <= 4 else "train")
        assert row["label"] == Path(row["file"]).name[0]


def test_groups_from_fsdd_names_csv_column_and_regex(tmp_path):
    from sonogen.data.dataset import group_names, open_dataset

    names = ["0/0_alice_0.wav", "0/0_alice_5.wav", "1/1_bob_12.wav", "1/1_carol_3.wav"]
    src = write_tones(tmp_path / "src", names)

    def groups(out: Path) -> dict[str, str]:
        return {row["file"]: row["group"] for row in read_csv(out / "items.csv")}

    # --split fsdd implies --group fsdd (auto): the speaker of {digit}_{speaker}_{take}
    summary = prepare(src, tmp_path / "fsdd", split="fsdd", workers=1)
    assert groups(tmp_path / "fsdd") == dict(
        zip(names, ["alice", "alice", "bob", "carol"], strict=True)
    )
    assert summary.groups == ["alice", "bob", "carol"]
    assert json.loads((tmp_path / "fsdd" / "dataset.json").read_text())["options"]["group"] == (
        "fsdd"
    )
    assert group_names(open_dataset(tmp_path / "fsdd")) == ["alice", "alice", "bob", "carol"]

    # a share split has no groups unless asked; --group fsdd asks
    assert prepare(src, tmp_path / "plain", split="0", workers=1).groups is None
    assert set(groups(tmp_path / "plain").values()) == {""}
    assert prepare(src, tmp_path / "asked", split="0", group="fsdd", workers=1).groups == [
        "alice",
        "bob",
        "carol",
    ]

    # regex: its one capture group, searched in the path; unmatched files have no group
    prepare(src, tmp_path / "regex", split="0", group=r"regex:_(alice|bob)_", workers=1)
    assert groups(tmp_path / "regex") == dict(
        zip(names, ["alice", "alice", "bob", ""], strict=True)
    )

    # the labels CSV's group column (auto with csv labels)
    table = tmp_path / "labels.csv"
    rows = [f"{name},{name[0]},{'s1' if i < 2 else 's2'}" for i, name in enumerate(names)]
    table.write_text("file,label,group\n" + "\n".join(rows) + "\n")
    summary = prepare(src, tmp_path / "csv", labels=f"csv:{table}", split="0", workers=1)
    assert groups(tmp_path / "csv") == dict(zip(names, ["s1", "s1", "s2", "s2"], strict=True))
    assert summary.groups == ["s1", "s2"]


def test_old_dataset_without_group_column_has_unknown_groups(tmp_path):
    from sonogen.data.dataset import group_names, open_dataset

    out = tmp_path / "old"
    items = [
        {"index": i, "file": f"{i}.wav", "offset_seconds": 0.0, "label": "", "split": "train"}
        for i in range(3)
    ]
    write_dataset(
        out,
        np.zeros((3, 64), np.int16),
        items,
        sample_rate=RATE,
        clip_samples=64,
        labels=None,
        source="old",
        skipped=[],
        options={},
    )
    assert "group" not in (out / "items.csv").read_text().splitlines()[0]
    assert group_names(open_dataset(out)) == ["", "", ""]


def test_bad_group_options_are_refused_in_one_line(tmp_path):
    names = ["0/0_alice_0.wav", "0/0_alice_5.wav", "1/1_bob_12.wav", "1/x.wav"]
    src = write_tones(tmp_path / "src", names)
    table = tmp_path / "labels.csv"
    table.write_text(
        "file,label,group\n0/0_alice_0.wav,0,s1\n0/0_alice_5.wav,0,\n1/1_bob_12.wav,1,s2\n"
        "1/x.wav,1, \n"
    )
    cases = [
        # a half-filled group column is refused, naming its rows (lines of the CSV)
        (
            {"labels": f"csv:{table}"},
            r"labels\.csv: 2 of 4 rows have an empty group \(rows 3, 5\); fill in every row's "
            r"group, or delete the group column$",
        ),
        ({"group": "regex:_alice_"}, r"^--group: 'regex:_alice_' has 0 capture groups, needs "),
        ({"group": "regex:(a)(b)"}, r"^--group: 'regex:\(a\)\(b\)' has 2 capture groups"),
        ({"group": "regex:(["}, r"^--group: bad regular expression '\(\['"),
        ({"group": "regex:^(zzz)"}, r"^--group regex:\^\(zzz\): matched none of the 4 file"),
        ({"group": "speaker"}, r"^--group: unknown form 'speaker'; use \"auto\", \"fsdd\""),
        ({"group": "csv"}, r"^--group csv: needs --labels csv:PATH with a group column"),
        ({"group": "fsdd"}, r"1/x\.wav: name does not follow the fsdd group rule"),
    ]
    for number, (options, pattern) in enumerate(cases):
        with pytest.raises(SonogenError, match=pattern) as error:
            prepare(src, tmp_path / f"out{number}", split="0", workers=1, **options)
        assert "\n" not in str(error.value)
        assert not (tmp_path / f"out{number}").exists()


def test_the_licence_is_recorded_from_the_option_or_a_license_file(tmp_path):
    from sonogen.data.dataset import open_dataset

    src = write_tones(tmp_path / "src", ["a.wav", "b.wav"])
    options = {"sample_rate": RATE, "clip_samples": 1000, "split": "0", "workers": 1}
    options |= {"labels": "none"}
    prepare(src, tmp_path / "none", **options)
    assert open_dataset(tmp_path / "none").license is None
    (src / "LICENSE.txt").write_text("\nCreative Commons Attribution 4.0\nmore text\n")
    before = (src / "LICENSE.txt").read_bytes()
    prepare(src, tmp_path / "file", **options)
    # the first line that says something, named with its file; the file is not touched
    assert open_dataset(tmp_path / "file").license == (
        "LICENSE.txt: Creative Commons Attribution 4.0"
    )
    assert (src / "LICENSE.txt").read_bytes() == before
    prepare(src, tmp_path / "given", license=" CC BY-SA\n4.0 ", **options)
    assert open_dataset(tmp_path / "given").license == "CC BY-SA 4.0"
