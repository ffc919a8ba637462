"""Issue 11, using a run: generate, interpolate, transfer/reconstruct, compose and evaluate given
bad or odd inputs. Each case: exit 2, one error line naming the option or file, no traceback,
the user's files byte-identical and no temporaries left behind."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import sonogen
from sonogen import api
from tests.conftest import QUIET, TINY, TINY_FVAE, make_tone_dataset, tone_clips
from tests.reliability.conftest import assert_clean_error, run_cli, stray_temporaries, tree_digest


def labelled_dataset(out: Path, labels: list[str]) -> Path:
    """Write a dataset dir of 16 tones whose labels are ``labels`` (any text, as a labels CSV
    could give), half each."""
    from sonogen.data.prepare import write_dataset

    count = 16
    clips = tone_clips(count, 1024, 8000, 500.0)
    items = [
        {
            "index": i,
            "file": f"tone_{i}.wav",
            "offset_seconds": 0.0,
            "label": labels[i % 2],
            "split": "valid" if i % 8 == 7 else "train",
        }
        for i in range(count)
    ]
    write_dataset(
        out, clips, items, sample_rate=8000, clip_samples=1024, labels=labels,
        source="test tones", skipped=[], options={},
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("use")


@pytest.fixture(scope="module")
def reference(root) -> Path:
    """A labelled audio dataset dir whose first label is ``../x`` (a path, as a CSV could hold)."""
    return labelled_dataset(root / "labelled", ["../x", "ok"])


@pytest.fixture(scope="module")
def gan_run(root, reference) -> Path:
    """A tiny labelled WaveGAN trained on ``reference``."""
    data = reference
    return sonogen.train(
        data, "wavegan", root / "gan", overrides=TINY["wavegan"] + QUIET,
        max_steps=1, batch_size=4, progress=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def tones(root) -> Path:
    """An unlabelled audio dataset dir (evaluate against it trains no classifier)."""
    return make_tone_dataset(root / "tones", count=16)


@pytest.fixture(scope="module")
def fvae_run(root, tones) -> Path:
    return sonogen.train(
        tones, "fvae", root / "fvae", overrides=TINY_FVAE + QUIET,
        max_steps=1, batch_size=4, progress=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def music(root) -> tuple[Path, Path]:
    """(an untrained tiny music-lstm run, its MIDI-token dataset dir)."""
    import torch

    from sonogen.models.music import MusicLSTM, MusicLSTMConfig
    from tests.music.midi_fixtures import data_config, make_scale_dataset, save_run

    data = make_scale_dataset(root / "midi", count=4)
    torch.manual_seed(0)
    config = MusicLSTMConfig(embedding_dim=8, hidden=16, layers=1, dropout=0.0)
    return save_run(MusicLSTM(config, data_config(data)).eval(), "music-lstm", root / "lstm"), data


@pytest.fixture
def sound(tmp_path) -> Path:
    """A user's sound file: 0.2 s of a tone at 8 kHz."""
    path = tmp_path / "mine" / "voice.wav"
    path.parent.mkdir()
    sf.write(path, tone_clips(1, 1600, 8000, 300.0)[0], 8000, subtype="PCM_16")
    return path


def assert_untouched(before: dict, folder: Path) -> None:
    assert tree_digest(folder) == before
    assert stray_temporaries(folder) == []


# --------------------------------------------------------------------------------------------
# case 3: reconstruct / transfer never overwrite their input


@pytest.mark.parametrize("command", ["transfer", "reconstruct"])
@pytest.mark.parametrize("link", ["hard", "symbolic"])
def test_transfer_refuses_an_output_that_is_a_link_to_its_input(fvae_run, sound, command, link):
    out = sound.with_name("out.wav")
    (os.link if link == "hard" else os.symlink)(sound, out)
    before = tree_digest(sound.parent)
    result = run_cli(command, fvae_run, sound, out)
    line = assert_clean_error(result, "OUT", str(out), "would overwrite")
    assert "input" in line
    assert_untouched(before, sound.parent)


def test_transfer_into_a_folder_or_to_another_format_is_one_line(fvae_run, sound, tmp_path):
    before = tree_digest(sound.parent)
    line = assert_clean_error(run_cli("transfer", fvae_run, sound, sound.parent), "is a folder")
    assert str(sound.parent / "voice.wav") in line  # says what name would do
    assert_clean_error(
        run_cli("transfer", fvae_run, sound, tmp_path / "out.mp3"), "out.mp3", ".wav"
    )
    assert_untouched(before, sound.parent)
    assert not (tmp_path / "out.mp3").exists()


def test_transfer_writes_a_new_file_and_leaves_the_input_alone(fvae_run, sound, tmp_path):
    before = tree_digest(sound.parent)
    result = run_cli("transfer", fvae_run, sound, tmp_path / "made" / "new.wav")
    assert result.code == 0, result.stderr
    assert sf.info(tmp_path / "made" / "new.wav").frames == 1600
    assert_untouched(before, sound.parent)
    assert stray_temporaries(tmp_path / "made") == []


# --------------------------------------------------------------------------------------------
# case 6: sizes beyond a stated limit


@pytest.mark.parametrize(
    "args, needles",
    [
        (["-n", "100001"], ["-n 100001", "100000"]),
        (["-n", "0"], ["-n 0", "at least 1"]),
        (["--seconds", "inf"], ["--seconds inf", "600"]),
        (["--seconds", "1e9"], ["--seconds 1000000000", "600"]),
        (["--seconds", "0"], ["--seconds 0"]),
        (["--seed", str(2**70)], [f"--seed {2**70}", "2**63-1"]),
        (["--seed", "-3"], ["--seed -3", "2**63-1"]),
        (["--temperature", "nan"], ["--temperature nan", "finite"]),
        (["--truncation", "nan"], ["--truncation nan", "finite"]),
        (["--truncation", "-1"], ["--truncation -1"]),
    ],
)
def test_generate_refuses_sizes_beyond_the_limits(gan_run, tmp_path, args, needles):
    out = tmp_path / "clips"
    assert_clean_error(run_cli("generate", gan_run, "--out", out, *args), *needles)
    assert not out.exists()  # refused before anything was made


@pytest.mark.parametrize(
    "args, needles",
    [
        (["1", "2", "--steps", "100000000"], ["--steps 100000000", "1000"]),
        (["1", "2", "--steps", "1"], ["--steps 1", "at least 2"]),
        ([str(2**70), "2"], [f"A {2**70}", "2**63-1"]),
    ],
)
def test_interpolate_refuses_sizes_beyond_the_limits(gan_run, tmp_path, args, needles):
    assert_clean_error(run_cli("interpolate", gan_run, *args, "--out", tmp_path / "m"), *needles)
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    "args, needles",
    [
        (["--bars", "100000"], ["--bars 100000", "1000"]),
        (["--bars", "0"], ["--bars 0"]),
        (["--bars", "-2"], ["--bars -2"]),
        (["-n", "100000"], ["-n 100000", "1000"]),
        (["--top-p", "0"], ["--top-p 0"]),
        (["--top-p", "1.5"], ["--top-p 1.5", "at most 1"]),
        (["--temperature", "nan"], ["--temperature nan"]),
        (["--program", "200"], ["--program 200", "127"]),
        (["--render", "--sample-rate", "0"], ["--sample-rate 0"]),
        (["--seed", str(2**70)], ["--seed", "2**63-1"]),
    ],
)
def test_compose_refuses_sizes_beyond_the_limits(music, tmp_path, args, needles):
    run, _ = music
    assert_clean_error(run_cli("compose", run, "--out", tmp_path / "p", *args), *needles)
    assert not (tmp_path / "p").exists()


def test_generate_writes_each_batch_before_making_the_next(gan_run, tmp_path, monkeypatch):
    out = tmp_path / "clips"
    present: list[int] = []
    done: list[int] = []
    original = api.Model.generate

    def counting(self, n, **options):
        present.append(len(list(out.glob("*.wav"))) if out.exists() else 0)
        return original(self, n, **options)

    monkeypatch.setattr(api, "GENERATE_BATCH", 2)
    monkeypatch.setattr(api.Model, "generate", counting)
    paths, seed = api.generate(
        gan_run, 5, out, seed=3, progress=lambda d, total: done.append((d, total))
    )
    assert present == [0, 2, 4]  # batch k starts with the 2k clips before it on disk
    assert done == [(2, 5), (4, 5), (5, 5)]
    assert [p.name for p in paths] == [f"seed3_{i:04d}.wav" for i in range(5)]
    assert sorted(out.iterdir()) == paths


def test_same_seed_gives_the_same_clips_whatever_n(gan_run, tmp_path):
    few, _ = api.generate(gan_run, 16, tmp_path / "few", seed=11)
    many, _ = api.generate(gan_run, 40, tmp_path / "many", seed=11)
    again, _ = api.generate(gan_run, 40, tmp_path / "again", seed=11)
    read = [sf.read(p, dtype="int16")[0] for p in many]
    assert all(
        np.array_equal(sf.read(a, dtype="int16")[0], b) for a, b in zip(few, read, strict=False)
    )
    assert all(
        np.array_equal(sf.read(a, dtype="int16")[0], b) for a, b in zip(again, read, strict=True)
    )
    # the second batch has a seed of its own: not a repeat of the first
    assert not np.array_equal(read[0], read[16])


def test_a_label_that_is_a_path_stays_inside_out(gan_run, tmp_path):
    out = tmp_path / "box" / "clips"
    result = run_cli("generate", gan_run, "--out", out, "-n", "2", "--label", "../x")
    assert result.code == 0, result.stderr
    assert sorted(tmp_path.rglob("*.wav")) == sorted(out.glob("*.wav"))
    names = sorted(p.name for p in out.glob("*.wav"))
    assert len(names) == 2 and all(n.startswith("___x_seed") for n in names), names


@pytest.mark.parametrize(
    "text, expected",
    [
        ("../x", "___x"),
        ("a b/c\\d:e", "a_b_c_d_e"),
        ("", "_"),
        (".hidden", "_hidden"),
        ("ok-1_2.3", "ok-1_2.3"),
        ("\x00\n", "__"),
        ("bad\udcff", "bad_"),
    ],
)
def test_safe_file_stem(text, expected):
    assert api.safe_file_stem(text) == expected


def test_safe_file_stem_is_bounded():
    stem = api.safe_file_stem("é" * 500)
    assert 0 < len(stem.encode()) <= 120 and set(stem) == {"é"}


# --------------------------------------------------------------------------------------------
# case 10: interpolate has one contract: two seeds (GANs) or two sounds (fvae)


def test_interpolate_a_gan_between_two_files_says_it_takes_seeds(gan_run, sound, tmp_path):
    before = tree_digest(sound.parent)
    result = run_cli("interpolate", gan_run, sound, sound, "--out", tmp_path / "m")
    assert_clean_error(
        result, "wavegan interpolates between two seeds: sonogen interpolate RUN 1 2 --out DIR"
    )
    assert_untouched(before, sound.parent)
    assert not (tmp_path / "m").exists()


def test_interpolate_a_gan_between_two_seeds_with_a_label(gan_run, tmp_path):
    out = tmp_path / "m"
    result = run_cli(
        "interpolate", gan_run, "1", "2", "--out", out, "--steps", "3", "--label", "ok"
    )
    assert result.code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [f"morph_0{i}.wav" for i in range(3)]
    first = sf.read(out / "morph_00.wav", dtype="int16")[0]
    model = sonogen.load(gan_run)
    expected = model.interpolate(1, 2, 3, label="ok")[0]
    assert np.abs(first / 32767.0 - expected).max() < 1e-4


def test_interpolate_fvae_between_seeds_starts_and_ends_at_their_clips(fvae_run, tmp_path):
    # fvae encodes, so it takes both kinds; between seeds the ends are generate's clips
    out = tmp_path / "m"
    result = run_cli("interpolate", fvae_run, "1", "2", "--out", out, "--steps", "3")
    assert result.code == 0, result.stderr
    morph = [sf.read(out / f"morph_0{i}.wav", dtype="int16")[0] / 32767.0 for i in range(3)]
    model = sonogen.load(fvae_run)
    ends = [model.generate(1, seed=seed)[0] for seed in (1, 2)]
    assert np.abs(morph[0] - ends[0]).max() < 1e-3 and np.abs(morph[2] - ends[1]).max() < 1e-3
    assert np.abs(morph[1] - morph[0]).max() > 1e-3  # the middle is neither end


def test_interpolate_a_seed_and_a_sound_says_give_two_of_a_kind(fvae_run, sound, tmp_path):
    result = run_cli("interpolate", fvae_run, "1", sound, "--out", tmp_path / "m")
    assert_clean_error(result, "give two seeds", "not one of each")
    assert not (tmp_path / "m").exists()


def test_interpolate_a_family_that_cannot(music, tmp_path):
    run, _ = music
    result = run_cli("interpolate", run, "1", "2", "--out", tmp_path / "m")
    assert_clean_error(result, "music-lstm cannot interpolate")


# --------------------------------------------------------------------------------------------
# case 12: --out naming a file, or a folder that cannot be written


@pytest.fixture
def out_file(tmp_path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("mine\n")
    return path


def test_out_naming_a_file_is_one_line(gan_run, music, out_file, reference):
    run, midi = music
    before = tree_digest(out_file)
    commands = [
        ["generate", gan_run, "-n", "1"],
        ["interpolate", gan_run, "1", "2"],
        ["evaluate", gan_run, "--reference", reference, "-n", "2"],
        ["compare", gan_run, "--reference", reference, "-n", "2"],
        ["compose", run, "--bars", "1", "-n", "1"],
        ["evaluate", run, "--reference", midi, "-n", "2"],
    ]
    for command in commands:
        assert_clean_error(run_cli(*command, "--out", out_file), "--out", str(out_file), "file")
        assert tree_digest(out_file) == before


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores modes")
def test_an_unwritable_out_is_one_line(gan_run, fvae_run, sound, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert_clean_error(
            run_cli("generate", gan_run, "-n", "1", "--out", locked / "clips"),
            "--out", "permission denied",
        )  # fmt: skip
        assert_clean_error(
            run_cli("transfer", fvae_run, sound, locked / "x.wav"), "OUT", "permission denied"
        )
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


def test_a_folder_the_user_cannot_write_is_named(gan_run, fvae_run, sound, tmp_path, monkeypatch):
    """The same refusal where permissions are ignored (root): os.access says no."""
    locked = tmp_path / "locked"
    locked.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != locked and real(path, mode))
    assert_clean_error(
        run_cli("generate", gan_run, "-n", "1", "--out", locked / "clips"),
        "--out", str(locked), "permission denied",
    )  # fmt: skip
    assert_clean_error(
        run_cli("transfer", fvae_run, sound, locked / "x.wav"), "OUT", "permission denied"
    )
    assert list(locked.iterdir()) == []


# --------------------------------------------------------------------------------------------
# case 4 (evaluate): a file name that is not UTF-8 is skipped with its reason


@pytest.mark.skipif(os.name != "posix", reason="bytes file names are a POSIX thing")
def test_evaluate_a_folder_holding_a_name_that_is_not_utf8(tones, tmp_path):
    # the folder's own name and one file's name are bytes that are not UTF-8
    folder = Path(os.fsdecode(os.fsencode(tmp_path) + b"/clips\xfe"))
    folder.mkdir()
    clips = tone_clips(3, 1024, 8000, 500.0)
    for i in range(2):
        sf.write(tmp_path / "plain.wav", clips[i], 8000, subtype="PCM_16")
        os.rename(tmp_path / "plain.wav", folder / f"good{i}.wav")
    sf.write(tmp_path / "odd.wav", clips[2], 8000, subtype="PCM_16")
    os.rename(os.fsencode(tmp_path / "odd.wav"), os.fsencode(folder) + b"/bad\xff.wav")
    result = run_cli("evaluate", folder, "--reference", tones, "-n", "3", "--out", tmp_path / "e")
    assert result.code == 0, result.stderr
    metrics = json.loads((tmp_path / "e" / "metrics.json").read_text(encoding="utf-8"))
    target = metrics["target"]
    assert target["files"] == 2
    assert len(target["skipped"]) == 1
    row = target["skipped"][0]
    assert row["file"].startswith("bad") and row["file"].endswith(".wav")
    assert row["file"].isprintable() and "UTF-8" in row["detail"], row
    page = (tmp_path / "e" / "report.html").read_text(encoding="utf-8")
    assert "clips\\xfe" in page  # the folder's name, shown with a backslash escape


# --------------------------------------------------------------------------------------------
# weak: user text printed literally; a run used with the wrong kind of data


def test_paths_with_markup_and_emoji_codes_are_printed_as_they_are(gan_run, tmp_path):
    odd = tmp_path / "[bold]run:smile::x:"
    line = assert_clean_error(run_cli("generate", odd, "-n", "1"))
    assert str(odd) in line
    out = tmp_path / "[red]clips:x:"
    result = run_cli("generate", gan_run, "-n", "1", "--out", out, "--seed", "1")
    assert result.code == 0, result.stderr
    assert f"written to {out}" in result.stdout.replace("\n", "")


def test_a_run_used_with_the_wrong_kind_of_data_is_one_line(gan_run, music, reference, tmp_path):
    run, midi = music
    assert_clean_error(
        run_cli("evaluate", run, "--reference", reference, "-n", "2"),
        "music run", "MIDI", "prepare-midi",
    )  # fmt: skip
    assert_clean_error(
        run_cli("evaluate", gan_run, "--reference", midi, "-n", "2"), "audio run", "MIDI"
    )
    assert_clean_error(
        run_cli("compose", gan_run, "--out", tmp_path / "p"), "makes audio, not MIDI"
    )
    assert_clean_error(run_cli("generate", run, "--out", tmp_path / "g"), "compose")
    assert not (tmp_path / "p").exists() and not (tmp_path / "g").exists()


def test_compose_writes_each_batch_and_a_seed_repeats_its_pieces(music, tmp_path, monkeypatch):
    from sonogen.music import compose

    run, _ = music
    monkeypatch.setattr(compose, "COMPOSE_BATCH", 1)
    two = compose.compose(run, tmp_path / "two", bars=1, n=2, seed=5)
    one = compose.compose(run, tmp_path / "one", bars=1, n=1, seed=5)
    assert [r["midi"].name for r in two] == ["seed5_0000.mid", "seed5_0001.mid"]
    assert two[0]["midi"].read_bytes() == one[0]["midi"].read_bytes()
    assert stray_temporaries(tmp_path) == []


@pytest.mark.parametrize("command", ["generate", "info", "transfer"])
def test_a_dataset_dir_given_as_a_run_says_so(tmp_path, command):
    data = make_tone_dataset(tmp_path / "tones")
    before = tree_digest(data)
    extra = {"generate": ["-n", "2"], "info": [], "transfer": [data / "x.wav", tmp_path / "o.wav"]}
    line = assert_clean_error(run_cli(command, data, *extra[command]), str(data))
    assert "is a dataset dir, not a run dir" in line and "sonogen train" in line
    assert tree_digest(data) == before
