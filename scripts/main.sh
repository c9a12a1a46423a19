#!/usr/bin/env bash
# The main job on the embedded defaults: triage the sample clinic list along the
# Manchester pathway and print the summary and work-list.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
./scripts/setup.sh
echo "set-up took $(( $(date +%s) - start )) s" >&2
mkdir -p out
uv run il2select triage --in data/synthetic/samples/clinic_list.csv \
  --out out/clinic_list_triaged.csv --errors out/clinic_list_errors.csv --summary
