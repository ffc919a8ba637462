"""Music statistics on pieces with known answers, distribution overlap, the longest shared run of
tokens, and evaluate_music on a small run.

(Named test_music_metrics.py: pytest imports test files by their base name, and
tests/evaluation/test_metrics.py already has that of test_metrics.py.)"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from sonogen.music.metrics import (
    NgramIndex,
    evaluate_music,
    longest_shared_ngram,
    music_statistics,
    overlap,
)
from tests.music.midi_fixtures import TPQ, data_config, make_scale_dataset, save_run, scale_score


def score_of(notes, time_signature=(4, 4)):
    """Return a Score of (onset beats, duration beats, pitch) notes."""
    from symusic import Note, Score, TimeSignature, Track

    score = Score(TPQ)
    score.time_signatures.append(TimeSignature(0, *time_signature))
    track = Track(program=0)
    for onset, duration, pitch in notes:
        track.notes.append(Note(round(onset * TPQ), round(duration * TPQ), pitch, 90))
    score.tracks.append(track)
    return score


def test_statistics_of_a_c_major_scale():
    stats = music_statistics(scale_score(2))  # C D E F G A B C, quarter notes, two bars
    # pitch classes: C twice, six others once: -(1/4 log2 1/4 + 6 * 1/8 log2 1/8) = 2.75 bits
    assert stats["pitch_class_entropy"] == pytest.approx(2.75)
    assert stats["pitch_range"] == 12.0
    assert stats["scale_consistency"] == 1.0
    assert stats["notes_per_bar"] == 4.0
    assert stats["polyphony"] == 1.0
    assert stats["inter_onset_beats"] == 1.0


def test_statistics_of_other_known_cases(tmp_path):
    chromatic = music_statistics(score_of([(i / 2, 0.5, 60 + i) for i in range(12)]))
    assert chromatic["pitch_class_entropy"] == pytest.approx(math.log2(12))
    assert chromatic["scale_consistency"] == pytest.approx(7 / 12)
    assert chromatic["inter_onset_beats"] == 0.5 and chromatic["pitch_range"] == 11
    chords = music_statistics(score_of([(b, 1, p) for b in range(4) for p in (60, 64, 67)]))
    assert chords["polyphony"] == 3.0 and chords["notes_per_bar"] == 12.0
    assert chords["pitch_class_entropy"] == pytest.approx(math.log2(3))
    # a note held 4 beats, a second one over its last 2: 1 sounding, then 2: mean 1.5
    overlapping = music_statistics(score_of([(0, 4, 48), (2, 2, 55)]))
    assert overlapping["polyphony"] == pytest.approx(1.5)
    waltz = music_statistics(score_of([(b, 1, 60) for b in range(6)], time_signature=(3, 4)))
    assert waltz["notes_per_bar"] == 3.0 and waltz["pitch_class_entropy"] == 0.0
    empty = music_statistics(score_of([]))
    assert all(math.isnan(v) for v in empty.values())
    path = tmp_path / "scale.mid"
    scale_score(2).dump_midi(str(path))
    assert music_statistics(path) == music_statistics(scale_score(2))


def test_overlap_of_distributions():
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    assert overlap(x, x) == pytest.approx(1.0, abs=1e-6)
    assert overlap(x, x + 50) < 1e-6
    # two unit normals one standard deviation apart share 2 * Phi(-1/2) = 0.617 of their area
    shifted = overlap(rng.normal(size=2000), rng.normal(1.0, 1.0, size=2000))
    assert shifted == pytest.approx(0.617, abs=0.06)
    assert overlap([3, 3, 3], [3, 3]) == pytest.approx(1.0)  # no spread on either side
    assert overlap([1.0], [5.0]) < 1e-6
    assert overlap([1, 2, float("nan")], [1, 2]) == pytest.approx(1.0)
    assert math.isnan(overlap([], [1, 2]))


def test_longest_shared_run_of_tokens():
    training = [[9, 1, 2, 3, 8], [3, 4, 5, 6]]
    assert longest_shared_ngram([1, 2, 3, 4, 5], training) == 3  # 3 4 5 in the second piece
    assert longest_shared_ngram([7, 7, 7], training) == 0
    assert longest_shared_ngram([8, 3, 4], training) == 2  # "8 3" spans two pieces: not counted
    assert longest_shared_ngram([2, 3, 8], [9, 1, 2, 3, 8]) == 3  # one flat piece
    assert longest_shared_ngram([], training) == 0
    rng = np.random.default_rng(1)
    pieces = [rng.integers(0, 4, size=int(rng.integers(5, 40))) for _ in range(30)]
    index = NgramIndex(pieces)
    runs = {tuple(p[i:j]) for p in pieces for i in range(len(p)) for j in range(i + 1, len(p) + 1)}
    for _ in range(20):
        query = tuple(rng.integers(0, 4, size=25).tolist())
        expected = max(
            (j - i for i in range(25) for j in range(i + 1, 26) if query[i:j] in runs), default=0
        )
        assert index.longest_shared(query) == expected > 0


def test_evaluate_music_writes_metrics_and_a_report(tmp_path):
    from sonogen.models.music import MusicLSTM, MusicLSTMConfig
    from tests.music.midi_fixtures import train_steps

    dataset = make_scale_dataset(tmp_path, seq_len=48)
    torch.manual_seed(0)
    config = MusicLSTMConfig(embedding_dim=16, hidden=32, layers=1, dropout=0.0, learning_rate=1e-2)
    model = MusicLSTM(config, data_config(dataset))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train_steps(model, dataset, 60)
        run = save_run(model.eval(), "music-lstm", tmp_path / "run")
        metrics = evaluate_music(run, dataset, n=3, bars=2, seed=1, out=tmp_path / "eval")
    finally:
        torch.set_num_threads(threads)
    written = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert written["valid"] == pytest.approx(metrics["valid"])
    # the held-out likelihood is the model's own loss over the valid piece, every token once
    from sonogen.data.dataset import open_dataset
    from sonogen.music.tokens import piece_tokens

    (piece,) = piece_tokens(open_dataset(dataset), "valid")
    with torch.no_grad():
        logits = model.logits(torch.from_numpy(piece[None, :-1].astype(np.int64)))
        loss = torch.nn.functional.cross_entropy(logits[0], torch.from_numpy(piece[1:]).long())
    assert metrics["valid"]["tokens"] == len(piece) - 1
    assert metrics["valid"]["nll"] == pytest.approx(float(loss), rel=0.1)  # windows restart
    assert metrics["valid"]["perplexity"] == pytest.approx(math.exp(metrics["valid"]["nll"]))
    # the reference is the scale: known statistics, each with no spread
    reference = {name: s["reference"] for name, s in metrics["statistics"].items()}
    assert reference["scale_consistency"]["mean"] == 1.0
    assert reference["pitch_range"]["mean"] == 12.0 and reference["pitch_range"]["std"] == 0.0
    assert reference["notes_per_bar"]["mean"] == 4.0
    assert metrics["reference_pieces"] == 6
    memo = metrics["memorization"]
    assert len(memo["longest_shared_tokens"]["per_piece"]) == 3
    # held-out pieces are the scale again: all of each excerpt is found in training
    assert memo["held_out_baseline"]["max"] == min(memo["generated_tokens_median"], len(piece) - 1)
    assert sorted(p.name for p in (tmp_path / "eval" / "generated").iterdir()) == [
        "seed1_0000.mid",
        "seed1_0001.mid",
        "seed1_0002.mid",
    ]
    page = (tmp_path / "eval" / "report.html").read_text()
    assert page.count("<audio") == 5  # three generated pieces, two reference excerpts
    assert "pitch_class_entropy" in page and "audio/reference_0.wav" in page
    assert all((tmp_path / "eval" / "audio" / f"seed1_000{i}.wav").is_file() for i in range(3))
