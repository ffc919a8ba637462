"""Rendering MIDI through the SoundFont, and compose from a run trained by `sonogen.train`."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import soundfile as sf

import sonogen
from sonogen.errors import SonogenError
from sonogen.music.render import render_midi
from sonogen.music.tokens import bar_ticks, count_bars, read_score
from tests.music.midi_fixtures import make_scale_dataset, scale_score

TINY_LSTM = [
    "model.embedding_dim=16",
    "model.hidden=32",
    "model.layers=1",
    "model.dropout=0",
    "model.learning_rate=0.01",
    "model.seq_len=48",
]


def seconds_of(score) -> float:
    return float(score.to("second").end())


@pytest.mark.parametrize("sample_rate", [16000, 22050])
def test_render_is_audible_and_as_long_as_the_score(tmp_path, sample_rate):
    path = tmp_path / "scale.mid"
    scale_score(4).dump_midi(str(path))  # 16 quarter notes at 120 bpm: 8 s
    seconds = render_midi(path, tmp_path / "scale.wav", sample_rate=sample_rate)
    audio, rate = sf.read(tmp_path / "scale.wav", dtype="float32")
    assert rate == sample_rate and audio.ndim == 1
    assert seconds == pytest.approx(len(audio) / sample_rate)
    assert 8.0 <= seconds < 9.0  # the score, plus at most the last note's release
    assert np.abs(audio).max() == pytest.approx(0.9, abs=1e-3)
    # a note every half second: no half-second stretch of the score is silent
    half = sample_rate // 2
    rms = [np.sqrt(np.mean(audio[i : i + half] ** 2)) for i in range(0, 8 * sample_rate, half)]
    assert min(rms) > 0.01


def test_a_silent_tail_keeps_its_length_and_bad_soundfonts_are_refused(tmp_path):
    from sonogen.music.tokens import trim_to_bars

    score = trim_to_bars(scale_score(1), 3)  # one bar of notes, two of silence: 6 s
    seconds = render_midi(score, tmp_path / "tail.wav", sample_rate=8000)
    audio, _ = sf.read(tmp_path / "tail.wav", dtype="float32")
    assert seconds >= 6.0 and np.abs(audio[int(3.0 * 8000) :]).max() < 1e-3
    with pytest.raises(SonogenError, match="--soundfont .*missing.sf2: file not found"):
        render_midi(score, tmp_path / "x.wav", soundfont=tmp_path / "missing.sf2")
    (tmp_path / "fake.txt").write_text("not a soundfont")
    with pytest.raises(SonogenError, match="not a SoundFont"):
        render_midi(score, tmp_path / "x.wav", soundfont=tmp_path / "fake.txt")


@pytest.fixture(scope="module")
def lstm_run(tmp_path_factory):
    import torch

    root = tmp_path_factory.mktemp("compose")
    data = make_scale_dataset(root, seq_len=48)
    # tiny tensors: on a shared 2-core machine a second thread makes each step ~20x slower
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return sonogen.train(
            data,
            "music-lstm",
            root / "run",
            overrides=TINY_LSTM
            + [
                "train.preview_count=1",
                "train.preview_every_steps=20",
                "train.validate_every_steps=20",
            ],
            max_steps=40,
            batch_size=8,
            progress=False,
        )
    finally:
        torch.set_num_threads(threads)


def test_training_logs_perplexity_and_writes_midi_previews(lstm_run):
    with (lstm_run / "metrics.csv").open() as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("valid_nll")]
    assert [int(row["step"]) for row in rows] == [20, 40]
    first, last = (float(row["valid_nll"]) for row in (rows[0], rows[-1]))
    assert last < first < 6.0  # ln(295) = 5.7 is a uniform guess
    # the perplexity of a pass is exp of its mean nll (the family's summarise_validation), not
    # a mean of the batches' perplexities
    assert float(rows[-1]["valid_perplexity"]) == pytest.approx(np.exp(last), rel=1e-4)
    previews = sorted(p.name for p in (lstm_run / "samples").iterdir())
    assert previews == ["step0000020_0.mid", "step0000040_0.mid"]
    with pytest.raises(SonogenError, match="sonogen compose"):
        sonogen.load(lstm_run).generate(1)


def test_compose_writes_the_bars_asked_for_and_renders_them(lstm_run, tmp_path):
    from sonogen.music.compose import compose

    results = compose(
        lstm_run, tmp_path / "out", bars=3, n=2, seed=4, render=True, program=40, sample_rate=16000
    )
    assert [r["midi"].name for r in results] == ["seed4_0000.mid", "seed4_0001.mid"]
    for result in results:
        import pretty_midi

        parsed = pretty_midi.PrettyMIDI(str(result["midi"]))  # a standard MIDI file
        assert all(i.program == 40 for i in parsed.instruments)
        score = read_score(result["midi"])
        assert result["bars"] == count_bars(score) == 3 and result["prime_bars"] == 0
        assert score.end() == bar_ticks(score, 3)  # exactly three bars long
        assert result["notes"] == score.note_num()
        audio, rate = sf.read(result["wav"], dtype="float32")
        assert rate == 16000 and result["seconds"] == pytest.approx(len(audio) / 16000)
        assert seconds_of(score) <= result["seconds"] < seconds_of(score) + 1.5
        if result["notes"]:
            assert np.abs(audio).max() == pytest.approx(0.9, abs=1e-3)
    again = compose(lstm_run, tmp_path / "again", bars=3, n=2, seed=4)
    assert [r["notes"] for r in again] == [r["notes"] for r in results]  # a seed repeats
    assert (tmp_path / "again" / "seed4_0000.mid").read_bytes() != b""


def test_compose_checks_its_options(lstm_run, tmp_path, tone_dataset):
    from sonogen.music.compose import compose

    with pytest.raises(SonogenError, match="--bars 0: must be at least 1"):
        compose(lstm_run, tmp_path, bars=0)
    with pytest.raises(SonogenError, match="--program 128"):
        compose(lstm_run, tmp_path, program=128)
    empty = tmp_path / "empty.mid"
    from symusic import Score, Track

    silent = Score(480)
    silent.tracks.append(Track(program=0))
    silent.dump_midi(str(empty))
    with pytest.raises(SonogenError, match="holds no notes to continue"):
        compose(lstm_run, tmp_path, prime=empty)
    with pytest.raises(SonogenError, match="--model music-lstm: learns from MIDI tokens"):
        sonogen.train(tone_dataset, "music-lstm", tmp_path / "run", max_steps=1, progress=False)


def test_compose_counts_bars_from_time_with_a_tokenizer_without_bar_tokens(tmp_path):
    """TSD has no Bar token: compose decodes as it goes and stops once a note starts after
    the last bar asked for; an LSTM that has learnt the scale continues a one-bar prime."""
    import torch

    from sonogen.models.music import MusicLSTM, MusicLSTMConfig
    from sonogen.music.compose import compose
    from tests.music.midi_fixtures import SCALE, data_config, save_run, train_steps

    data = make_scale_dataset(tmp_path, tokenizer="TSD")
    torch.manual_seed(0)
    config = MusicLSTMConfig(embedding_dim=32, hidden=64, layers=1, dropout=0.0, learning_rate=1e-2)
    model = MusicLSTM(config, data_config(data))
    assert model.bar_id is None
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train_steps(model, data, 300)
        run = save_run(model.eval(), "music-lstm", tmp_path / "run")
        prime = tmp_path / "prime.mid"
        scale_score(1).dump_midi(str(prime))
        (result,) = compose(run, tmp_path / "out", bars=2, prime=prime, n=1, seed=0, top_p=0.5)
    finally:
        torch.set_num_threads(threads)
    score = read_score(result["midi"])
    assert result["prime_bars"] == 1 and result["bars"] == count_bars(score) == 3
    assert result["complete"]
    assert [n.pitch for n in score.tracks[0].notes] == [*SCALE, *SCALE[:4]]
