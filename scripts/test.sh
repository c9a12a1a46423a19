#!/usr/bin/env bash
# Set up on a fresh clone, then run every test suite once; pytest prints each suite's time.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
./scripts/setup.sh
# What the tests start from Debian, installed when missing: chromium for the browser tests
# (Playwright cannot download browsers here), PostgreSQL (initdb in a temporary folder),
# and Java 17 for Spark in local mode.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing from Debian: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
echo "set-up took $(( $(date +%s) - start )) s"
# one formatter and one linter, configured in pyproject.toml
uv run --frozen ruff check --quiet .
uv run --frozen ruff format --check --quiet .
exec uv run --frozen pytest "$@"
