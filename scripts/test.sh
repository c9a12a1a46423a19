#!/usr/bin/env bash
# Set up on a fresh clone, then run every test suite once; pytest prints each suite's time.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
./scripts/setup.sh
# The browser tests drive Debian's chromium (Playwright cannot download browsers here).
if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
echo "set-up took $(( $(date +%s) - start )) s"
# one formatter and one linter, configured in pyproject.toml
uv run --frozen ruff check --quiet .
uv run --frozen ruff format --check --quiet .
exec uv run --frozen pytest "$@"
