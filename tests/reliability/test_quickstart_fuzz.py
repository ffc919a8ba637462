"""`sonogen quickstart` given bad or odd input: exit 2, one error line naming the option or
folder, and nothing of the user's deleted. Each case is refused before the notes are rendered
(which takes a minute), so these tests are fast."""

from __future__ import annotations

from pathlib import Path

import pytest

from sonogen import api
from tests.reliability.conftest import assert_clean_error, run_cli, tree_digest


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--minutes", "-1"], "--minutes"),
        (["--minutes", "0"], "--minutes"),
        (["--minutes", "nan"], "--minutes"),
        (["--minutes", "1e400"], "--minutes"),
        (["--max-steps", "0"], "--max-steps"),
        (["--max-steps", "-5"], "--max-steps"),
        (["--max-steps", "99999999999"], "--max-steps"),
    ],
)
def test_bad_budgets_are_refused_before_rendering(tmp_path, args, needle):
    out = tmp_path / "qs"
    assert_clean_error(run_cli("quickstart", "--out", out, *args), needle)
    assert not out.exists()  # refused before anything was made


def test_out_that_is_a_file_is_refused_and_kept(tmp_path):
    out = tmp_path / "notes.txt"
    out.write_text("mine")
    assert_clean_error(run_cli("quickstart", "--out", out), str(out), "not a folder")
    assert out.read_text() == "mine"


def earlier_quickstart(out: Path) -> Path:
    """Write what an earlier quickstart leaves in OUT/run and OUT/generated (no weights: the
    checks look at names only)."""
    (out / "run" / "checkpoints").mkdir(parents=True)
    (out / "run" / "config.yaml").write_text("model_name: flow\n")
    (out / "run" / "metrics.csv").write_text("step,seconds\n")
    (out / "generated").mkdir()
    (out / "generated" / "piano_seed0_0000.wav").write_bytes(b"RIFF")
    return out


def test_an_earlier_quickstart_needs_force(tmp_path):
    out = earlier_quickstart(tmp_path / "qs")
    before = tree_digest(out)
    assert_clean_error(run_cli("quickstart", "--out", out), "--force")
    assert tree_digest(out) == before


@pytest.mark.parametrize(
    "user_file",
    ["run/my_notes.txt", "generated/take3.wav", "generated/stems/kick.wav"],
)
def test_force_never_deletes_a_users_files(tmp_path, user_file):
    """OUT/run or OUT/generated holding anything a quickstart does not write: --force refuses,
    and neither folder loses a file (the run is not deleted when the clips folder is refused)."""
    out = earlier_quickstart(tmp_path / "qs")
    (out / user_file).parent.mkdir(parents=True, exist_ok=True)
    (out / user_file).write_text("mine")
    before = tree_digest(out)
    line = assert_clean_error(run_cli("quickstart", "--out", out, "--force"), "--force")
    assert Path(user_file).parts[0] in line
    assert tree_digest(out) == before


def test_force_refuses_a_run_folder_that_is_not_a_run(tmp_path):
    out = tmp_path / "qs"
    (out / "run").mkdir(parents=True)
    (out / "run" / "take1.wav").write_bytes(b"RIFF")
    before = tree_digest(out)
    assert_clean_error(run_cli("quickstart", "--out", out, "--force"), "not a sonogen run")
    assert tree_digest(out) == before


def test_force_removes_only_the_earlier_quickstart(tmp_path, monkeypatch):
    """With only a quickstart's own files there, --force clears OUT/run and OUT/generated and
    starts again (stopped here at the rendering, to keep the test fast); the rest of OUT stays."""
    out = earlier_quickstart(tmp_path / "qs")
    (out / "readme.txt").write_text("mine")

    class Stop(Exception):
        pass

    def stop(*args, **kwargs):
        raise Stop

    monkeypatch.setattr(api, "make_dataset", stop)
    with pytest.raises(Stop):
        api.quickstart(out, force=True)
    assert sorted(p.name for p in out.iterdir()) == ["readme.txt"]
