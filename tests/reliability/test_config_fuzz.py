"""Fuzz corpus, issue 11 cases 7, 9 and 11 and the weak behaviours of weights and sampling: damaged
dataset dirs, crafted --config files, settings out of range, damaged run dirs and weights files.

Each bad input must be one clean error line (exit 2, no traceback) naming the file or setting,
must leave the user's files byte-identical, and must be refused before any training starts.
"""

from __future__ import annotations

import json
import resource
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import QUIET, TINY, make_tone_dataset
from tests.reliability.conftest import assert_clean_error, run_cli, stray_temporaries, tree_digest

# --------------------------------------------------------------------------------------------
# helpers


def train_args(data: Path, out: Path, model: str = "wavegan", *extra: str) -> list[str]:
    settings = [arg for setting in TINY.get(model, []) + QUIET for arg in ("--set", setting)]
    return ["train", data, "--model", model, "--out", out, "--max-steps", "1", *settings, *extra]


def assert_refused_before_training(result, out: Path, *needles: str) -> str:
    """A clean error naming the needles, and no weights or checkpoints in the run dir."""
    line = assert_clean_error(result, *needles)
    assert not (out / "model.safetensors").exists()
    assert not (out / "checkpoints").exists()
    return line


def edit_json(path: Path, **changes) -> None:
    values = json.loads(path.read_text())
    values.update(changes)
    path.write_text(json.dumps(values))


def write_items(path: Path, change) -> None:
    """Rewrite items.csv (or pieces.csv) with ``change(lines)`` applied to its lines."""
    lines = path.read_text().splitlines()
    path.write_text("\n".join(change(lines)) + "\n")


def replace_cell(lines: list[str], row: int, column: str, value: str) -> list[str]:
    header = lines[0].split(",")
    cells = lines[row].split(",")
    cells[header.index(column)] = value
    return lines[:row] + [",".join(cells)] + lines[row + 1 :]


def _cell(name: str, line: int, column: str, value: str):
    """Return a damage: CSV file ``name``'s cell at ``column`` on ``line`` (1: the header)
    replaced by ``value``."""
    return lambda d: write_items(
        d / name, lambda lines: replace_cell(lines, line - 1, column, value)
    )


def save_npy(path: Path, array: np.ndarray) -> None:
    with path.open("wb") as handle:  # np.save would add ".npy" to a name without it
        np.save(handle, array, allow_pickle=False)


@pytest.fixture(scope="module")
def tones(tmp_path_factory) -> Path:
    """A labelled tone dataset, made once; tests copy it before damaging it."""
    return make_tone_dataset(tmp_path_factory.mktemp("tones") / "tones", count=16, labels=True)


@pytest.fixture
def damaged(tones, tmp_path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(tones, copy)
    return copy


# --------------------------------------------------------------------------------------------
# case 7: a dataset dir is checked when it is opened, before any training


def _shape(d: Path) -> None:
    save_npy(d / "audio.npy", np.zeros((16, 1000), np.int16))


def _float_audio(d: Path) -> None:
    save_npy(d / "audio.npy", np.zeros((16, 1024), np.float32))


def _nan_audio(d: Path) -> None:
    save_npy(d / "audio.npy", np.full((16, 1024), np.nan, np.float64))


def _truncated_audio(d: Path) -> None:
    data = (d / "audio.npy").read_bytes()
    (d / "audio.npy").write_bytes(data[: len(data) // 2])


DAMAGED_DATASETS = {
    "sample_rate negative": (lambda d: edit_json(d / "dataset.json", sample_rate=-16000),
                             ("dataset.json", "sample_rate -16000", "sonogen prepare")),
    "sample_rate zero": (lambda d: edit_json(d / "dataset.json", sample_rate=0),
                         ("dataset.json", "sample_rate 0")),
    "sample_rate text": (lambda d: edit_json(d / "dataset.json", sample_rate="16000"),
                         ("dataset.json", "sample_rate '16000'")),
    "sample_rate float": (lambda d: edit_json(d / "dataset.json", sample_rate=8000.5),
                          ("dataset.json", "sample_rate 8000.5")),
    "clip_samples huge": (lambda d: edit_json(d / "dataset.json", clip_samples=2**40),
                          ("dataset.json", "clip_samples")),
    "count missing": (lambda d: (d / "dataset.json").write_text(json.dumps(
        {k: v for k, v in json.loads((d / "dataset.json").read_text()).items() if k != "count"}
    )), ("dataset.json", "no count")),
    "format_version text": (lambda d: edit_json(d / "dataset.json", format_version="one"),
                            ("dataset.json", "format_version 'one'")),
    "format_version newer": (lambda d: edit_json(d / "dataset.json", format_version=99),
                             ("dataset.json", "newer sonogen")),
    "unknown kind": (lambda d: edit_json(d / "dataset.json", kind="video"),
                     ("dataset.json", "kind 'video'")),
    "labels not strings": (lambda d: edit_json(d / "dataset.json", labels=[1, 2]),
                           ("dataset.json", "labels [1, 2]")),
    "labels a string": (lambda d: edit_json(d / "dataset.json", labels="low"),
                        ("dataset.json", "labels 'low'")),
    "extra not an object": (lambda d: edit_json(d / "dataset.json", extra=[1]),
                            ("dataset.json", "extra")),
    "dataset.json binary": (lambda d: (d / "dataset.json").write_bytes(b"\x89PNG\xff\xfe\x00" * 9),
                            ("dataset.json", "not a text file")),
    "dataset.json not JSON": (lambda d: (d / "dataset.json").write_text("{sample_rate: 8000"),
                              ("dataset.json", "not valid JSON")),
    "dataset.json a list": (lambda d: (d / "dataset.json").write_text("[8000, 1024]"),
                            ("dataset.json", "JSON object", "list")),
    "dataset.json NaN": (lambda d: (d / "dataset.json").write_text(
        (d / "dataset.json").read_text().replace('"sample_rate": 8000', '"sample_rate": NaN')
    ), ("dataset.json", "NaN")),
    "dataset.json nested": (lambda d: (d / "dataset.json").write_text("[" * 100_000),
                            ("dataset.json",)),
    "count disagrees": (lambda d: edit_json(d / "dataset.json", count=17),
                        ("audio.npy", "shape [16, 1024]", "[17, 1024]")),
    "clip_samples disagrees": (_shape, ("audio.npy", "shape [16, 1000]")),
    "float audio": (_float_audio, ("audio.npy", "float32", "int16")),
    "NaN audio": (_nan_audio, ("audio.npy", "float64")),
    "truncated audio": (_truncated_audio, ("audio.npy", "truncated")),
    "audio not npy": (lambda d: (d / "audio.npy").write_bytes(b"RIFF0000WAVE" * 100),
                      ("audio.npy", "not a readable .npy")),
    "audio missing": (lambda d: (d / "audio.npy").unlink(), ("audio.npy", "missing")),
    "items binary": (lambda d: (d / "items.csv").write_bytes(b"\xff\xfe\x00\x81" * 50),
                     ("items.csv", "not a text file")),
    "items missing": (lambda d: (d / "items.csv").unlink(), ("items.csv", "missing")),
    "items short": (lambda d: write_items(d / "items.csv", lambda lines: lines[:-1]),
                    ("items.csv", "15 rows", "count 16")),
    "items no split column": (
        lambda d: write_items(d / "items.csv", lambda lines: [line.rsplit(",", 1)[0]
                                                               for line in lines]),
        ("items.csv", "no split column")),
    "items unknown label": (
        _cell("items.csv", 4, "label", "mid"),
        ("items.csv", "line 4", "label 'mid'")),
    "items unknown split": (
        _cell("items.csv", 3, "split", "test"),
        ("items.csv", "line 3", "split 'test'")),
    "items index": (
        _cell("items.csv", 6, "index", "x"),
        ("items.csv", "line 6", "index 'x'")),
}  # fmt: skip


@pytest.mark.parametrize("case", list(DAMAGED_DATASETS))
def test_a_damaged_dataset_is_refused_before_training(case, damaged, tmp_path):
    damage, needles = DAMAGED_DATASETS[case]
    damage(damaged)
    before = tree_digest(damaged)
    out = tmp_path / "run"
    result = run_cli(*train_args(damaged, out))
    assert_refused_before_training(result, out, *needles)
    assert tree_digest(damaged) == before
    assert stray_temporaries(tmp_path) == []


def test_the_undamaged_datasets_open(tones, tmp_path):
    """The corpus above damages datasets that are otherwise accepted (audio and MIDI tokens)."""
    from sonogen.data.dataset import open_dataset

    assert open_dataset(tones).count == 16
    info = open_dataset(make_token_dataset(tmp_path / "tokens"))
    assert (info.kind, info.count, info.extra["vocab_size"]) == ("midi-tokens", 2, 50)


# MIDI-token datasets: made by hand in the layout of sonogen/music/tokens.py (no MIDI needed)


def make_token_dataset(out: Path) -> Path:
    out.mkdir(parents=True)
    extra = {
        "tokenizer": {}, "tokenizer_name": "REMI", "vocab_size": 50, "vocab_sha256": "",
        "pad_id": 0, "bos_id": 1, "eos_id": 2, "bar_id": 3, "tokens": 40,
    }  # fmt: skip
    meta = {
        "format_version": 1, "kind": "midi-tokens", "sample_rate": 22050, "clip_samples": 16,
        "count": 2, "labels": None, "source": "hand-made", "extra": extra,
    }  # fmt: skip
    (out / "dataset.json").write_text(json.dumps(meta))
    tokens = np.concatenate([[1], np.arange(4, 22), [2], [1], np.arange(4, 22), [2]])
    save_npy(out / "tokens.npy", tokens.astype(np.int32))
    (out / "pieces.csv").write_text(
        "index,file,start,length,split,transposition\n0,a.mid,0,20,train,0\n1,b.mid,20,20,valid,0\n"
    )
    return out


def _extra(**changes):
    def damage(d: Path) -> None:
        meta = json.loads((d / "dataset.json").read_text())
        meta["extra"].update(changes)
        (d / "dataset.json").write_text(json.dumps(meta))

    return damage


DAMAGED_TOKEN_DATASETS = {
    "vocab_size text": (_extra(vocab_size="many"), ("dataset.json", "extra.vocab_size 'many'")),
    "bos_id outside": (_extra(bos_id=99), ("dataset.json", "extra.bos_id 99", "0 to 49")),
    "tokens count": (_extra(tokens=41), ("tokens.npy", "shape [40]", "[41]")),
    "tokens int64": (lambda d: save_npy(d / "tokens.npy", np.ones(40, np.int64)),
                     ("tokens.npy", "int64", "int32")),
    "pieces beyond the tokens": (
        _cell("pieces.csv", 3, "start", "30"),
        ("pieces.csv", "line 3", "start 30")),
    "pieces length text": (
        _cell("pieces.csv", 2, "length", "ab"),
        ("pieces.csv", "line 2", "whole numbers")),
    "pieces split": (
        _cell("pieces.csv", 2, "split", "dev"),
        ("pieces.csv", "line 2", "split 'dev'")),
    "pieces short": (lambda d: write_items(d / "pieces.csv", lambda lines: lines[:-1]),
                     ("pieces.csv", "1 rows", "count 2")),
}  # fmt: skip


@pytest.mark.parametrize("case", list(DAMAGED_TOKEN_DATASETS))
def test_a_damaged_token_dataset_is_refused_before_training(case, tmp_path):
    data = make_token_dataset(tmp_path / "tokens")
    damage, needles = DAMAGED_TOKEN_DATASETS[case]
    damage(data)
    before = tree_digest(data)
    out = tmp_path / "run"
    result = run_cli(*train_args(data, out, "music-lstm"))
    line = assert_refused_before_training(result, out, *needles)
    assert "prepare-midi" in line
    assert tree_digest(data) == before


def test_token_ids_beyond_the_vocabulary_are_refused_before_training(tmp_path):
    """tokens.npy is checked against the vocabulary (chunk by chunk) when the family is handed
    its training data, before the first step."""
    from sonogen.config import DataConfig
    from sonogen.data.dataset import open_dataset
    from sonogen.errors import SonogenError
    from sonogen.models.music import MusicLSTM, MusicLSTMConfig

    data = make_token_dataset(tmp_path / "tokens")
    save_npy(data / "tokens.npy", np.full(40, 77, np.int32))
    info = open_dataset(data)
    config = DataConfig(sample_rate=22050, clip_samples=16, kind=info.kind, extra=info.extra)
    model = MusicLSTM(MusicLSTMConfig(hidden=8, embedding_dim=8, layers=1), config)
    with pytest.raises(SonogenError, match="tokens.npy: holds token ids outside 0..49"):
        model.training_data(info, "train")


# --------------------------------------------------------------------------------------------
# case 9: crafted --config files

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
model: {dim: *i}
"""


def test_an_alias_bomb_fails_fast_and_small(tones, tmp_path):
    assert len(BILLION_LAUGHS) < 700
    config = tmp_path / "bomb.yaml"
    config.write_text(BILLION_LAUGHS)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    start = time.perf_counter()
    result = run_cli(*train_args(tones, tmp_path / "run", "wavegan", "--config", config))
    assert time.perf_counter() - start < 2
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert grown < 100_000, f"peak memory grew by {grown} KiB"
    line = assert_clean_error(result, "bomb.yaml", "alias")
    assert len(line) < 600


CONFIGS = {
    "binary": (b"\x80\x81\xfe\xff" * 64, ("config.yaml", "not a text file")),
    "a list": (b"- model\n- train\n", ("config.yaml", "mapping", "list")),
    "a scalar": (b"42\n", ("config.yaml", "mapping", "int")),
    "too large": (b"# " + b"x" * 1_100_000 + b"\n", ("config.yaml", "too large")),
    "python tag": (b"model: !!python/object/apply:os.system ['touch HACKED']\n",
                   ("config.yaml", "not valid YAML")),
    "nested": (b"[" * 5_000, ("config.yaml", "nested too deeply")),
    "nan": (b"train: {ema_decay: .nan}\n", ("train.ema_decay", "finite")),
    "inf": (b"model: {learning_rate: .inf}\n", ("model.learning_rate", "finite")),
    "merge key": (b"base: &b {dim: 4}\nmodel:\n  <<: *b\n", ("config.yaml", "alias")),
    "huge unknown key": (b"model:\n  ? " + b"k" * 5000 + b"\n  : 1\n", ("unknown key 'kkk",)),
    "list key": (b"model: {[1, 2]: 3}\n", ("config.yaml",)),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CONFIGS))
def test_a_crafted_config_is_one_clean_error(case, tones, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    content, needles = CONFIGS[case]
    config = tmp_path / "config.yaml"
    config.write_bytes(content)
    out = tmp_path / "run"
    result = run_cli(*train_args(tones, out, "wavegan", "--config", config))
    line = assert_refused_before_training(result, out, *needles)
    assert len(line) < 600  # no value is shown whole
    assert config.read_bytes() == content
    assert not (tmp_path / "HACKED").exists()


@pytest.mark.parametrize("where", ["/dev/zero", "folder"])
def test_a_config_that_is_not_a_regular_file_is_refused(where, tones, tmp_path):
    config = tmp_path if where == "folder" else Path(where)
    out = tmp_path / "run"
    result = run_cli(*train_args(tones, out, "wavegan", "--config", config))
    assert_refused_before_training(result, out, str(config), "not a regular file")


@pytest.mark.parametrize(
    ("setting", "needles"),
    [
        ("model.dim=[1, 2]", ("model.dim [1, 2]", "whole number from 1 to 128")),
        ("train.ema_decay=.nan", ("train.ema_decay nan", "finite")),
        ("model.dim=!!python/object/apply:os.system [ls]", ("--set", "not valid YAML")),
        ("model.dim=*a", ("--set", "alias")),
    ],
)
def test_a_crafted_set_value_is_one_clean_error(setting, needles, tones, tmp_path):
    out = tmp_path / "run"
    result = run_cli(*train_args(tones, out, "wavegan", "--set", setting))
    assert_refused_before_training(result, out, *needles)


# --------------------------------------------------------------------------------------------
# case 11: every family's settings have declared ranges, checked with the rest of the config

OUT_OF_RANGE = [
    ("wavegan", "model.phase_shuffle=100000", ("model.phase_shuffle 100000", "0 to 16")),
    ("wavegan", "model.kernel_size=2", ("model.kernel_size 2", "3 to 101")),
    ("wavegan", "model.dim=1e23", ("model.dim '1e23'", "whole number from 1 to 128")),
    ("wavegan", "model.dim=1.0e+23", ("model.dim 1e+23", "whole number from 1 to 128")),
    ("wavegan", "model.dim=0", ("model.dim 0", "1 to 128")),
    ("wavegan", "model.latent_dim=1000000000", ("model.latent_dim", "1 to 4096")),
    ("wavegan", "model.learning_rate=.nan", ("model.learning_rate nan", "finite")),
    ("wavegan", "model.learning_rate=-1", ("model.learning_rate -1", "0 to 1")),
    ("wavegan", "model.beta2=1", ("model.beta2 1", "below 1")),
    ("specgan", "model.kernel_size=4", ("model.kernel_size 4", "odd whole number")),
    ("specgan", "model.n_fft=512", ("model.n_fft 512", "one of: 256", "128 frequency bins")),
    ("specgan", "model.hop_length=1", ("model.hop_length 1", "16 to 256")),
    ("fvae", "model.downsampling_layers=40", ("model.downsampling_layers 40", "0 to 12")),
    ("fvae", "model.downsampling_layers=12", ("model.downsampling_layers 12", "at most 4096")),
    ("fvae", "model.latent_dim=1", ("model.latent_dim 1", "2 to 1024")),
    ("fvae", "model.beta=.inf", ("model.beta inf", "finite")),
    ("fvae", "model.log_epsilon=0", ("model.log_epsilon 0", "above 0")),
    ("samplernn", "model.rnn=rnn", ("model.rnn 'rnn'", "one of: gru, lstm")),
    ("samplernn", "model.frame_size=-3", ("model.frame_size -3", "1 to 256")),
    ("transformer", "model.heads=1000", ("model.heads 1000", "1 to 256")),
    ("transformer", "model.dropout=1", ("model.dropout 1", "below 1")),
    ("lstm-baseline", "model.generation=fast", ("model.generation 'fast'", "window, stateful")),
    ("lstm-baseline", "model.hidden=100000", ("model.hidden 100000", "1 to 8192")),
    ("wavegan", "train.batch_size=1000000000", ("train.batch_size 1000000000", "1 to 4096")),
    ("wavegan", "train.ema_decay=2", ("train.ema_decay 2", "below 1")),
    ("wavegan", "train.accelerator=tpu", ("train.accelerator 'tpu'", "cpu, gpu, cuda, mps")),
    ("wavegan", "train.seed=1180591620717411303424", ("train.seed", "0 to 9223372036854775807")),
    ("wavegan", "train.checkpoint_every_steps=0", ("train.checkpoint_every_steps 0", "1 to")),
    ("wavegan", "train.precision=8-bit", ("train.precision '8-bit'", "32-true")),
    ("wavegan", "train.max_minutes=0", ("train.max_minutes 0", "above 0")),
]


@pytest.mark.parametrize(("model", "setting", "needles"), OUT_OF_RANGE)
def test_a_setting_out_of_range_is_refused(model, setting, needles, tones, tmp_path):
    out = tmp_path / "run"
    result = run_cli(*train_args(tones, out, model, "--set", setting))
    assert_refused_before_training(result, out, *needles)


@pytest.mark.parametrize("model", ["music-lstm", "music-transformer"])
def test_a_music_setting_out_of_range_is_refused(model, tmp_path):
    data = make_token_dataset(tmp_path / "tokens")
    out = tmp_path / "run"
    result = run_cli(*train_args(data, out, model, "--set", "model.layers=0"))
    assert_refused_before_training(result, out, "model.layers 0", "from 1 to")


def test_the_accelerator_option_is_checked(tones, tmp_path):
    out = tmp_path / "run"
    result = run_cli(*train_args(tones, out, "wavegan", "--accelerator", "tpu"))
    assert_refused_before_training(result, out, "accelerator 'tpu'", "cpu, gpu")


def test_settings_that_do_not_fit_the_data_are_refused(tmp_path):
    """Structural limits: WaveGAN's longest clip, SpecGAN's widest spectrogram, a transformer's
    heads, each before training."""
    long_clips = make_tone_dataset(tmp_path / "long", count=4, samples=70_000)
    result = run_cli(*train_args(long_clips, tmp_path / "r1", "wavegan"))
    assert_refused_before_training(result, tmp_path / "r1", "clip_samples 70000", "65536")
    result = run_cli(*train_args(long_clips, tmp_path / "r2", "specgan", "--set",
                                 "model.hop_length=16"))  # fmt: skip
    assert_refused_before_training(result, tmp_path / "r2", "model.hop_length 16", "at most 1024")
    result = run_cli(*train_args(long_clips, tmp_path / "r3", "transformer", "--set",
                                 "model.width=30", "--set", "model.heads=4"))  # fmt: skip
    assert_refused_before_training(result, tmp_path / "r3", "model.width 30")


def test_every_numeric_setting_declares_its_range():
    """A family's number settings all carry a declared range (config.setting), so a value that
    would reach torch or Lightning unchecked cannot be added by accident."""
    import dataclasses

    from sonogen.config import DataConfig, TrainConfig
    from sonogen.models.registry import FAMILIES, get_family

    configs = [TrainConfig, DataConfig] + [get_family(name).Config for name in FAMILIES]
    for config in configs:
        for spec in dataclasses.fields(config):
            if {"int", "float"} & {part.strip() for part in str(spec.type).split("|")}:
                assert "setting" in spec.metadata, f"{config.__name__}.{spec.name}"


# --------------------------------------------------------------------------------------------
# case 9 and 12: a damaged run dir's config.yaml; weights files; sampling options


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory) -> Path:
    data = make_tone_dataset(tmp_path_factory.mktemp("gan") / "data", count=16)
    run = data.parent / "run"
    result = run_cli(*train_args(data, run, "wavegan", "--accelerator", "cpu"))
    assert result.code == 0, result.stderr
    return run


@pytest.fixture
def run_copy(gan_run, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(gan_run, copy)
    return copy


def _config_edit(change):
    def damage(run: Path) -> None:
        import yaml

        values = yaml.safe_load((run / "config.yaml").read_text())
        change(values)
        (run / "config.yaml").write_text(yaml.safe_dump(values))

    return damage


RUN_CONFIGS = {
    "binary": (lambda r: (r / "config.yaml").write_bytes(b"\xff\xd8\xff\xe0" * 40),
               ("config.yaml", "not a text file")),
    "a list": (lambda r: (r / "config.yaml").write_text("- wavegan\n"),
               ("config.yaml", "mapping")),
    "no model_name": (_config_edit(lambda v: v.pop("model_name")), ("config.yaml", "model_name")),
    "no data": (_config_edit(lambda v: v.pop("data")), ("config.yaml", "no data")),
    "unknown model": (_config_edit(lambda v: v.update(model_name="gpt")),
                      ("config.yaml", "unknown model 'gpt'")),
    "model_name a list": (_config_edit(lambda v: v.update(model_name=["wavegan"])),
                          ("config.yaml", "unknown model ['wavegan']")),
    "no sample_rate": (_config_edit(lambda v: v["data"].pop("sample_rate")),
                       ("config.yaml", "data.sample_rate")),
    "sample_rate zero": (_config_edit(lambda v: v["data"].update(sample_rate=0)),
                         ("config.yaml", "data.sample_rate 0")),
    "dim text": (_config_edit(lambda v: v["model"].update(dim="wide")),
                 ("config.yaml", "model.dim 'wide'")),
    "phase_shuffle huge": (_config_edit(lambda v: v["model"].update(phase_shuffle=10**5)),
                           ("config.yaml", "model.phase_shuffle 100000")),
    "labels numbers": (_config_edit(lambda v: v["data"].update(labels=[1, 2])),
                       ("config.yaml", "data.labels")),
    "kind unknown": (_config_edit(lambda v: v["data"].update(kind="video")),
                     ("config.yaml", "data.kind 'video'")),
    "alias": (lambda r: (r / "config.yaml").write_text(
        (r / "config.yaml").read_text() + "x: &x [1]\ny: *x\n"), ("config.yaml", "alias")),
}  # fmt: skip


@pytest.mark.parametrize("case", list(RUN_CONFIGS))
def test_a_damaged_run_config_is_one_clean_error(case, run_copy, tmp_path):
    damage, needles = RUN_CONFIGS[case]
    damage(run_copy)
    before = tree_digest(run_copy)
    result = run_cli("generate", run_copy, "-n", "1", "--out", tmp_path / "clips")
    assert_clean_error(result, *needles)
    assert tree_digest(run_copy) == before
    assert not list((tmp_path / "clips").glob("*.wav")) if (tmp_path / "clips").exists() else True


def _rewrite_weights(run: Path, change) -> None:
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    path = run / "model.safetensors"
    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata())
    state = load_file(str(path))
    state, metadata = change(state, metadata)
    save_file(state, str(path), metadata=metadata)


def _no_checksum(state, metadata):
    return state, {k: v for k, v in metadata.items() if k != "sha256"}


def _nan_weights(state, metadata):
    from sonogen.models.base import weights_digest

    key = sorted(state)[0]
    state[key] = state[key].clone().fill_(float("nan"))
    return state, metadata | {"sha256": weights_digest(state)}


def _edited_weights(state, metadata):
    key = sorted(state)[0]
    state[key] = state[key].clone() + 1
    return state, metadata


WEIGHTS = {
    "no checksum": (lambda r: _rewrite_weights(r, _no_checksum),
                    ("model.safetensors", "no checksum", "--resume")),
    "NaN weights": (lambda r: _rewrite_weights(r, _nan_weights),
                    ("model.safetensors", "NaN or infinite")),
    "edited": (lambda r: _rewrite_weights(r, _edited_weights),
               ("model.safetensors", "do not match the checksum")),
    "truncated": (lambda r: (r / "model.safetensors").write_bytes(
        (r / "model.safetensors").read_bytes()[:200]), ("model.safetensors", "damaged")),
    "garbage": (lambda r: (r / "model.safetensors").write_bytes(b"\x00" * 7),
                ("model.safetensors", "damaged")),
}  # fmt: skip


@pytest.mark.parametrize("case", list(WEIGHTS))
def test_damaged_weights_are_refused(case, run_copy, tmp_path):
    damage, needles = WEIGHTS[case]
    damage(run_copy)
    before = tree_digest(run_copy)
    result = run_cli("generate", run_copy, "-n", "1", "--out", tmp_path / "clips")
    assert_clean_error(result, *needles)
    assert tree_digest(run_copy) == before


def test_saved_weights_always_carry_a_checksum(gan_run):
    from safetensors import safe_open

    from sonogen.models.base import read_weights, weights_digest

    with safe_open(str(gan_run / "model.safetensors"), framework="pt") as handle:
        stored = handle.metadata()["sha256"]
    state, _ = read_weights(gan_run / "model.safetensors", "train again")
    assert stored == weights_digest(state)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--temperature", "nan"),
        ("--temperature", "-1"),
        ("--temperature", "1000"),
        ("--temperature", "inf"),
        ("--truncation", "nan"),
        ("--truncation", "0"),
        ("--truncation", "-2"),
        ("--truncation", "inf"),
    ],
)
def test_sampling_options_out_of_range_are_refused(option, value, gan_run, tmp_path):
    before = tree_digest(gan_run)
    clips = tmp_path / "clips"
    result = run_cli("generate", gan_run, "-n", "2", "--out", clips, option, value)
    assert_clean_error(result, option)
    assert not clips.exists() or not any(clips.iterdir())
    assert tree_digest(gan_run) == before


def test_the_families_check_sampling_options_themselves(gan_run):
    """The same checks hold for Python callers of the families (not only through the CLI)."""
    import sonogen
    from sonogen.errors import SonogenError

    family = sonogen.load(gan_run).family
    for options, needle in [
        ({"temperature": float("nan")}, "--temperature nan"),
        ({"temperature": 101}, "at most 100"),
        ({"truncation": float("nan")}, "--truncation nan"),
        ({"truncation": -1.0}, "--truncation -1.0"),
        ({"seed": -1}, "--seed -1"),
        ({"seed": 2**64}, "--seed 18446744073709551616"),
    ]:
        with pytest.raises(SonogenError, match=needle):
            family.generate(2, **options)
    assert family.generate(2, seed=0, truncation=1.5, temperature=0.5).isfinite().all()


def test_gan_interpolate_checks_steps_and_seeds(gan_run):
    import sonogen
    from sonogen.errors import SonogenError

    family = sonogen.load(gan_run).family
    for args, needle in [
        ((1, 2, 1), "--steps 1: an interpolation needs at least 2 steps and at most 1000"),
        ((1, 2, 100_000_000), "--steps 100000000"),
        ((1, 2, 2.5), "--steps 2.5"),
        ((-1, 2, 4), "seed A -1: must be a whole number from 0 to 2\\*\\*63-1"),
        ((1, 2**63, 4), "seed B 9223372036854775808"),
        ((1, "x", 4), "two seeds, not one of each"),  # "x" is not a seed, so it is a sound
    ]:
        with pytest.raises(SonogenError, match=needle):
            family.interpolate(*args)
    with pytest.raises(SonogenError, match="seed B 'x'"):
        family.interpolate_seeds(1, "x", 4)
    assert family.interpolate(1, 2, 3).shape[0] == 3


def test_the_cli_refuses_huge_interpolations(gan_run, tmp_path):
    result = run_cli("interpolate", gan_run, "1", "2", "--out", tmp_path / "m", "--steps", "10000")
    assert_clean_error(result, "--steps 10000")
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").iterdir())


def test_fvae_interpolate_checks_steps_and_audio():
    import torch

    from sonogen.config import DataConfig
    from sonogen.errors import SonogenError
    from sonogen.models.fvae import FlowVAE, FlowVAEConfig

    config = FlowVAEConfig(
        bands=2, channels=2, max_channels=4, downsampling_layers=1, decoder_blocks=0,
        latent_dim=2, flow_layers=1, flow_hidden=4, flow_blocks=0,
    )  # fmt: skip
    model = FlowVAE(config, DataConfig(sample_rate=8000, clip_samples=64)).eval()
    sound = np.sin(np.arange(64) / 3).astype(np.float32)
    for a, b, steps, needle in [
        (sound, sound, 1, "--steps 1"),
        (sound, sound, 5000, "--steps 5000"),
        (np.zeros(0, np.float32), sound, 3, "a: expected one mono signal"),
        (sound, np.full(64, np.nan, np.float32), 3, "b: holds NaN"),
        (sound, np.full(64, np.inf, np.float32), 3, "b: holds NaN or infinite"),
        (["x", "y"], sound, 3, "a: expected float audio"),
        ([[0.1], [0.1, 0.2]], sound, 3, "a: expected float audio"),
    ]:
        with pytest.raises(SonogenError, match=needle):
            model.interpolate(a, b, steps)
    with pytest.raises(SonogenError, match="--temperature nan"):
        model.generate(1, temperature=float("nan"))
    assert torch.isfinite(model.interpolate(sound, sound * 0.5, 3)).all()
