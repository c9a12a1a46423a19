#!/usr/bin/env bash
# The main job on the embedded defaults: train and register a champion if the embedded
# MLflow store has none, then serve the tumour-board API and page on 127.0.0.1:3000
# (a bearer token is created and printed once on first start).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
./scripts/setup.sh
echo "set-up took $(( $(date +%s) - start )) s" >&2
exec uv run il2select serve "$@"
