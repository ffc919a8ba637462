"""Helpers for the fuzz corpus: run a command in-process, check that a bad input is one clean
error line (exit 2, no traceback) and that nothing a user owns changed."""

from __future__ import annotations

import hashlib
import io
import sys
import traceback
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str | Path) -> CliResult:
    """Run ``sonogen ARGS`` in this process through ``cli.main`` (as the console script does);
    an exception that escapes main is recorded as a traceback on stderr with exit code 1."""
    from sonogen import cli

    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["sonogen", *map(str, args)]
    code = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            cli.main()
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:  # noqa: B036 - a bug must show up as a failed test, not end it
        err.write(traceback.format_exc())
        code = 1
    finally:
        sys.argv = argv
    return CliResult(code, out.getvalue(), err.getvalue())


def assert_clean_error(result: CliResult, *needles: str) -> str:
    """Assert exit 2 and one 'error: ...' line on stderr naming every needle; return it."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.code == 2, (result.code, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def tree_digest(root: Path) -> dict[str, str]:
    """Return {relative path: sha256} of every file under root (or of root itself)."""
    root = Path(root)
    if root.is_file():
        return {root.name: hashlib.sha256(root.read_bytes()).hexdigest()}
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def stray_temporaries(root: Path) -> list[str]:
    """Return the names under root that look like a temporary left behind (.tmp, .partial)."""
    return sorted(
        str(path.relative_to(root))
        for path in Path(root).rglob("*")
        if ".tmp" in path.name or path.name.endswith(".partial")
    )


@pytest.fixture
def cli():
    return run_cli
