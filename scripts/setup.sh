#!/usr/bin/env bash
# Idempotent set-up on a fresh clone: uv (from PyPI) and the locked environment in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check uv
fi
# compiled bytecode up front: these machines set PYTHONDONTWRITEBYTECODE, and recompiling
# mlflow and bentoml at every start costs seconds of cold start
uv sync --frozen --quiet --compile-bytecode
