#!/usr/bin/env bash
# The main job: setup, then the local servers, reported healthy. Ctrl-C stops everything.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
exec npx tsx scripts/main.ts "$@"
