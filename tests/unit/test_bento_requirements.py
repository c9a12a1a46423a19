"""The Bento's pinned requirements (``serving/bento/requirements.txt``, read by
``bentofile.yaml``) are the lock file's: a dependency added to ``pyproject.toml`` but not
exported would be missing from the container. Spark is left out: the service never runs
it (``il2select score-spark`` does, on a cluster with an image of its own)."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO / "serving/bento/requirements.txt"


def _pins(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.lstrip().startswith("#")]


def test_bento_requirements_are_the_locked_versions():
    exported = subprocess.run(
        ["uv", "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project"]
        + ["--prune", "pyspark"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert _pins(REQUIREMENTS.read_text()) == _pins(exported), (
        "serving/bento/requirements.txt is stale: run `uv export --no-dev --no-hashes "
        "--no-emit-project --prune pyspark -o serving/bento/requirements.txt`"
    )
    assert any(p.startswith("orjson==") for p in _pins(exported))
    assert not any(p.startswith(("pyspark==", "py4j==")) for p in _pins(exported))
