#!/usr/bin/env bash
# Set up on a fresh clone, then run every test suite once; pytest prints each suite's time.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
./scripts/setup.sh
echo "set-up took $(( $(date +%s) - start )) s"
exec uv run --frozen pytest "$@"
