"""The top-level packages import from this repository, imports flow one way (STYLE.md
"Layout and layering"), the core's four parts import downward, and modules and functions
stay small enough to read."""

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
FORBIDDEN_THIRD_PARTY = {"model": {"bentoml", "mlflow", "typer", "httpx", "matplotlib"}}
# STYLE.md: model/ holds the MLflow pyfunc wrapper, and nothing else of MLflow
ALLOWED_EXCEPTIONS = {("model", "pyfunc.py"): {"mlflow"}}
# model/'s floors, lowest first: a part imports only the parts below it (and itself);
# settings and runtime, at model/'s root, import none of them
CORE_FLOORS = ("contract", "rules", "estimators", "recommend")
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60


@pytest.mark.parametrize("name", PACKAGES)
def test_package_resolves_to_this_repository(name):
    module = importlib.import_module(name)
    location = Path(module.__file__).resolve()
    assert location.is_relative_to(REPO / name), f"{name} imports from {location}"


def _imports(path: Path, depth: int = 1) -> set[str]:
    """The dotted names a module imports, cut to their first ``depth`` parts."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(".".join(alias.name.split(".")[:depth]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(".".join(node.module.split(".")[:depth]))
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


def test_the_core_is_four_parts_that_import_downward():
    parts = {p.name for p in (REPO / "model").iterdir() if (p / "__init__.py").exists()}
    assert parts == set(CORE_FLOORS)
    loose = {p.name for p in (REPO / "model").glob("*.py")} - {"__init__.py"}
    assert loose == {"settings.py", "runtime.py"}, loose
    for floor, part in enumerate(CORE_FLOORS):
        below = {f"model.{p}" for p in CORE_FLOORS[: floor + 1]}
        for path in (REPO / "model" / part).rglob("*.py"):  # its sub-packages too
            core = {name for name in _imports(path, depth=2) if name.startswith("model.")}
            upward = core - below - {"model.settings", "model.runtime"}
            assert not upward, f"{path.relative_to(REPO)} imports {sorted(upward)} (upward)"
    for name in loose:
        core = {n for n in _imports(REPO / "model" / name, depth=2) if n.startswith("model.")}
        assert not core, f"model/{name} imports {sorted(core)}"


def _project_modules():
    for package in PACKAGES:
        yield from (REPO / package).rglob("*.py")


@pytest.mark.parametrize("path", sorted(_project_modules()), ids=lambda p: str(p.relative_to(REPO)))
def test_modules_and_functions_stay_small(path):
    source = path.read_text()
    assert len(source.splitlines()) <= MAX_MODULE_LINES, f"{len(source.splitlines())} lines"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            assert length <= MAX_FUNCTION_LINES, f"{node.name}: {length} lines"


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
