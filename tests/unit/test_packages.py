"""The four top-level packages import from this repository, and imports flow one way
(STYLE.md "Layout and layering")."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("model", "data", "training", "serving", "il2select")
# package -> the project packages it may import (STYLE.md)
ALLOWED = {
    "model": set(),
    "data": {"model"},
    "training": {"model", "data"},
    "serving": {"model"},
    "il2select": {"model", "data", "training", "serving"},
    "bench": {"model", "data", "training", "serving", "il2select"},
}
FORBIDDEN_THIRD_PARTY = {"model": {"bentoml", "mlflow", "typer", "httpx"}}
# STYLE.md: model/ holds the MLflow pyfunc wrapper, and nothing else of MLflow
ALLOWED_EXCEPTIONS = {("model", "pyfunc.py"): {"mlflow"}}


@pytest.mark.parametrize("name", PACKAGES)
def test_package_resolves_to_this_repository(name):
    module = importlib.import_module(name)
    location = Path(module.__file__).resolve()
    assert location.is_relative_to(REPO / name), f"{name} imports from {location}"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_layering(package):
    project = set(ALLOWED)
    for path in (REPO / package).rglob("*.py"):
        imported = _imports(path)
        wrong = (imported & project) - ALLOWED[package] - {package}
        assert not wrong, f"{path.relative_to(REPO)} imports {sorted(wrong)}"
        banned = imported & FORBIDDEN_THIRD_PARTY.get(package, set())
        banned -= ALLOWED_EXCEPTIONS.get((package, path.name), set())
        assert not banned, f"{path.relative_to(REPO)} imports {sorted(banned)}"


def test_init_files_hold_no_code():
    for package in PACKAGES:
        for init in (REPO / package).rglob("__init__.py"):
            tree = ast.parse(init.read_text())
            body = [
                n
                for n in tree.body
                if not isinstance(n, (ast.Import, ast.ImportFrom))
                and not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
                and not (
                    isinstance(n, ast.Assign)
                    and all(getattr(t, "id", "") == "__all__" for t in n.targets)
                )
            ]
            assert not body, f"{init.relative_to(REPO)} holds code"
