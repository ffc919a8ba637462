"""The architecture's one-way streets (README, Architecture): nothing below the API imports
sonogen.api, and the generic trainer and family contract never test a data kind (a family may
check that its own data is what it learns from)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "sonogen"
ABOVE_THE_API = {"cli.py", "__init__.py", "api.py"}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_nothing_below_the_api_imports_it():
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).as_posix() not in ABOVE_THE_API
        and "sonogen.api" in imported_modules(path)
    ]
    assert offenders == []


def test_the_trainer_and_the_family_contract_test_no_data_kind():
    # a family declares what it does (Family.tokens, augment, summarise_validation); the
    # trainer never branches on data.kind
    for path in [PACKAGE / "trainer.py", PACKAGE / "models" / "base.py", PACKAGE / "run.py"]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        kinds = [
            node.lineno
            for node in ast.walk(tree)
            if isinstance(node, ast.Compare)
            and any(
                isinstance(side, ast.Attribute) and side.attr == "kind"
                for side in [node.left, *node.comparators]
            )
        ]
        assert kinds == [], f"{path.name}: a data kind compared at lines {kinds}"
