"""MIDI <-> tokens, prepare_midi (split by piece, skipped files, transposition), token windows,
bar arithmetic, the tokenizer rebuilt from a run's config, and the chorales."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import yaml

from sonogen.data.dataset import open_dataset
from sonogen.errors import SonogenError
from sonogen.music.tokens import (
    TokenWindows,
    bar_starts,
    count_bars,
    make_tokenizer,
    piece_tokens,
    prepare_midi,
    read_pieces,
    score_to_tokens,
    tokenizer_extra,
    tokenizer_from_extra,
    tokens_to_score,
    trim_to_bars,
)
from tests.music.midi_fixtures import SCALE, TPQ, scale_score, write_scale_files

STEP = TPQ // 8  # the tokenizers' default grid: 8 positions per beat


def random_score(seed: int = 0, notes: int = 60):
    """Return a two-track Score of random notes: chords, varied lengths, and onsets and
    durations off the 1/8-beat grid by less than half a step (so the nearest step is clear)."""
    from symusic import Note, Score, TimeSignature, Track

    rng = np.random.default_rng(seed)
    score = Score(TPQ)
    score.time_signatures.append(TimeSignature(0, 4, 4))
    sounding: dict[int, list[tuple[int, int]]] = {}  # pitch -> (start, end) of its notes
    for program in (0, 40):
        track = Track(program=program)
        for _ in range(notes // 2):
            step, pitch = int(rng.integers(1, 32 * 8)), int(rng.integers(36, 96))
            onset = step * STEP + int(rng.integers(-STEP // 2 + 5, STEP // 2 - 5))
            duration = int(rng.integers(1, 24)) * STEP + int(rng.integers(-20, 20))
            start, end = onset - STEP, onset + duration + STEP
            if any(a < end and start < b for a, b in sounding.get(pitch, [])):
                continue  # one pitch sounding twice at once is ambiguous in MIDI itself
            sounding.setdefault(pitch, []).append((onset, onset + duration))
            track.notes.append(Note(onset, duration, pitch, int(rng.integers(20, 127))))
        score.tracks.append(track)
    return score


@pytest.mark.parametrize("name", ["REMI", "TSD", "MIDILike"])
def test_midi_to_tokens_to_midi_keeps_every_note(name):
    tokenizer = make_tokenizer(name)
    score = random_score()
    decoded = tokens_to_score(tokenizer, score_to_tokens(tokenizer, score))
    original = sorted(
        (round(n.time / STEP), n.pitch, n.time / TPQ, n.duration / TPQ)
        for track in score.tracks
        for n in track.notes
    )
    back = sorted(
        (round(n.time / decoded.tpq * 8), n.pitch, n.time / decoded.tpq, n.duration / decoded.tpq)
        for n in decoded.tracks[0].notes
    )
    assert len(decoded.tracks) == 1 and len(back) == len(original) > 40  # merged, none lost
    for (_, pitch, onset, duration), (_, pitch2, onset2, duration2) in zip(
        original, back, strict=True
    ):
        assert pitch2 == pitch
        assert abs(onset2 - onset) <= 1 / 16  # within half of the 1/8-beat position grid
        # a Duration token: durations up to 3 beats use the same 1/8-beat grid; MIDILike's
        # NoteOff comes after the rounded onset plus the rounded duration: up to a whole step
        assert abs(duration2 - duration) <= (1 / 8 if name == "MIDILike" else 1 / 16)


def test_multi_stream_and_unknown_tokenizers_are_refused(tmp_path):
    with pytest.raises(SonogenError, match="CPWord: a multi-stream tokenizer"):
        make_tokenizer("CPWord")
    write_scale_files(tmp_path / "midi", 2)
    with pytest.raises(SonogenError, match="--tokenizer Bogus: unknown; use one of REMI"):
        prepare_midi(tmp_path / "midi", tmp_path / "data", tokenizer="Bogus")


def write_source(folder):
    """Ten scale files, one broken, one empty, one drums only, one reaching the top pitch."""
    from symusic import Note, Score, Track

    write_scale_files(folder, 10, bars=2)
    (folder / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06not really")
    empty = Score(TPQ)
    empty.tracks.append(Track(program=0))
    empty.dump_midi(str(folder / "empty.mid"))
    drums = Score(TPQ)
    kit = Track(program=0, is_drum=True)
    kit.notes.append(Note(0, TPQ, 36, 100))
    drums.tracks.append(kit)
    drums.dump_midi(str(folder / "drums.midi"))
    high = scale_score(1)
    high.tracks[0].notes.append(Note(0, TPQ, 108, 100))  # 109 is the vocabulary's top pitch
    (folder / "sub").mkdir()
    high.dump_midi(str(folder / "sub" / "high.mid"))


def test_prepare_splits_by_piece_skips_bad_files_and_transposes_train_only(tmp_path):
    write_source(tmp_path / "midi")
    summary = prepare_midi(
        tmp_path / "midi", tmp_path / "data", split="0.3", transpose=(-2, 3), seq_len=32
    )
    info = open_dataset(tmp_path / "data")
    meta = json.loads((tmp_path / "data" / "dataset.json").read_text())
    assert meta["kind"] == "midi-tokens" and meta["labels"] is None
    assert meta["clip_samples"] == 32 and meta["sample_rate"] == 22050
    assert meta["extra"]["tokenizer_name"] == "REMI" and meta["extra"]["vocab_size"] == 295
    with (tmp_path / "data" / "skipped.csv").open() as handle:
        skipped = {row["file"]: row["reason"] for row in csv.DictReader(handle)}
    assert set(skipped) == {"broken.mid", "empty.mid", "drums.midi"}
    assert skipped["broken.mid"].startswith("unreadable: ")
    assert skipped["empty.mid"].startswith("no notes") and skipped["drums.midi"].startswith("no ")
    assert summary.files_total == 14 and summary.files_used == 11
    assert summary.skipped == {"no notes": 2, "unreadable": 1}

    pieces = read_pieces(info)
    originals = [p for p in pieces if p["transposition"] == 0]
    assert len(originals) == 11 and info.count == len(pieces) == summary.pieces
    valid = {p["file"] for p in originals if p["split"] == "valid"}
    assert len(valid) == 3  # round(0.3 * 11) files, whole pieces
    for row in pieces:
        if row["file"] in valid:
            assert row["split"] == "valid" and row["transposition"] == 0
        else:
            assert row["split"] == "train"
    shifts = {}
    for row in pieces:
        shifts.setdefault(row["file"], []).append(row["transposition"])
    for name, found in shifts.items():
        if name in valid:
            assert found == [0]
        elif name == "sub/high.mid":
            assert sorted(found) == [-2, -1, 0, 1]  # +2 would take 108 past the top pitch
        else:
            assert sorted(found) == [-2, -1, 0, 1, 2]
    assert summary.transposed_pieces == len(pieces) - 11

    # a transposed copy is its original with every pitch moved
    tokenizer = tokenizer_from_extra(info.extra)
    tokens = np.load(tmp_path / "data" / "tokens.npy")
    assert tokens.dtype == np.int32 and len(tokens) == summary.tokens
    by_key = {(p["file"], p["transposition"]): p for p in pieces}
    name = next(n for n in shifts if n not in valid and n != "sub/high.mid")
    base, up = by_key[(name, 0)], by_key[(name, 2)]
    for row in (base, up):
        assert tokens[row["start"]] == info.extra["bos_id"]
        assert tokens[row["start"] + row["length"] - 1] == info.extra["eos_id"]

    def pitches(row):
        part = tokens[row["start"] : row["start"] + row["length"]]
        return [n.pitch for n in tokens_to_score(tokenizer, part).tracks[0].notes]

    assert pitches(up) == [p + 2 for p in pitches(base)]
    assert pitches(base) == [SCALE[i % 8] for i in range(len(pitches(base)))]


def test_prepare_with_no_usable_file_is_an_error_with_skipped_csv(tmp_path):
    (tmp_path / "midi").mkdir()
    with pytest.raises(SonogenError, match="no MIDI files found"):
        prepare_midi(tmp_path / "midi", tmp_path / "data")
    (tmp_path / "midi" / "bad.mid").write_bytes(b"nonsense")
    with pytest.raises(SonogenError, match=r"no pieces made .* 1 files skipped \(1 unreadable\)"):
        prepare_midi(tmp_path / "midi", tmp_path / "data")
    assert "bad.mid" in (tmp_path / "data" / "skipped.csv").read_text()
    with pytest.raises(SonogenError, match="--transpose"):
        prepare_midi(tmp_path / "midi", tmp_path / "other", transpose=(3, 1))


def test_token_windows_cover_each_piece_and_pad_short_ones(tmp_path):
    from symusic import Note, Score, Track

    folder = tmp_path / "midi"
    write_scale_files(folder, 3, bars=6)  # 6, 8 and 10 bars
    short = Score(TPQ)
    track = Track(program=0)
    track.notes.append(Note(0, TPQ, 60, 100))
    short.tracks.append(track)
    short.dump_midi(str(folder / "short.mid"))
    prepare_midi(folder, tmp_path / "data", split="none", seq_len=40)
    info = open_dataset(tmp_path / "data")
    windows = TokenWindows(info, "train", 40)
    pieces = read_pieces(info)
    tokens = np.load(tmp_path / "data" / "tokens.npy")
    covered = np.zeros(len(tokens), dtype=int)
    for i in range(len(windows)):
        window, label = windows[i]
        assert label == -1 and window.shape == (41,) and str(window.dtype) == "torch.int64"
        start = int(windows.starts[i])
        piece = next(p for p in pieces if p["start"] <= start < p["start"] + p["length"])
        stop = min(start + 41, piece["start"] + piece["length"])  # never past its piece
        assert window[: stop - start].tolist() == tokens[start:stop].tolist()
        assert (window[stop - start :] == info.extra["pad_id"]).all()
        covered[start:stop] += 1
    assert (covered > 0).all()  # every token is in some window
    short_row = next(p for p in pieces if p["file"] == "short.mid")
    assert (
        short_row["length"] < 41
        and sum(1 for s in windows.starts if short_row["start"] <= s < short_row["start"] + 41) == 1
    )
    assert windows.stride == 20
    with pytest.raises(SonogenError, match="'valid' split has no pieces"):
        TokenWindows(info, "valid", 40)


def test_tokenizer_survives_a_sorted_yaml_round_trip():
    tokenizer = make_tokenizer("REMI")
    extra = tokenizer_extra(tokenizer)
    # config.yaml and dataset.json may sort keys as strings; ids must not move
    again = yaml.safe_load(yaml.safe_dump(json.loads(json.dumps(extra, sort_keys=True))))
    rebuilt = tokenizer_from_extra(again)
    assert rebuilt.vocab == tokenizer.vocab
    again["vocab_sha256"] = "0" * 64
    with pytest.raises(SonogenError, match="numbers its 295 tokens differently"):
        tokenizer_from_extra(again)
    with pytest.raises(SonogenError, match="no tokenizer settings"):
        tokenizer_from_extra({}, where="run/config.yaml: data.extra")


def test_bars_follow_time_signatures_and_trim_cuts_exactly():
    from symusic import Note, TimeSignature

    score = scale_score(4)  # 16 quarter notes in 4/4
    assert bar_starts(score) == [0, 4 * TPQ, 8 * TPQ, 12 * TPQ] and count_bars(score) == 4
    score.time_signatures.append(TimeSignature(4 * TPQ, 3, 4))  # bar 2 onwards in 3/4
    assert bar_starts(score)[:4] == [0, 4 * TPQ, 7 * TPQ, 10 * TPQ]
    long = scale_score(2)
    long.tracks[0].notes.append(Note(6 * TPQ, 4 * TPQ, 48, 100))  # held over the cut
    cut = trim_to_bars(long, 2)
    assert count_bars(cut) == 2 and cut.end() == 8 * TPQ
    assert max(n.time + n.duration for n in cut.tracks[0].notes) == 8 * TPQ
    silent_tail = trim_to_bars(scale_score(1), 3)  # one bar of notes, then two silent bars
    assert count_bars(silent_tail) == 3 and silent_tail.note_num() == 4


def test_chorales_from_the_music21_corpus(tmp_path):
    pytest.importorskip("music21", reason="music21 is not installed (it ships the chorales)")
    from sonogen.music.chorales import chorale_names, make_chorales

    try:
        names = chorale_names()
    except SonogenError as error:
        pytest.skip(f"music21's corpus is not available here: {error}")
    assert len(names) >= 300
    out = make_chorales(tmp_path / "chorales", limit=5, split="0.2", seq_len=128)
    info = open_dataset(out)
    pieces = read_pieces(info)
    assert len(pieces) == 5 and sum(p["split"] == "valid" for p in pieces) == 1
    assert info.source.startswith("builtin:chorales")
    tokenizer = tokenizer_from_extra(info.extra)
    for tokens in piece_tokens(info):
        score = tokens_to_score(tokenizer, tokens)
        assert score.note_num() > 100 and count_bars(score) >= 8  # four voices, several phrases
