#!/usr/bin/env bash
# Does all setup, starts the local servers once, runs lint, typecheck and every test, and stops
# the servers it started. Extra arguments go to vitest (e.g. a file filter).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/setup.sh

export METADATA_SERVER_DETECTION=none
started_services=0
if ! bash scripts/services.sh status >/dev/null 2>&1; then
  started_services=1
  bash scripts/services.sh up
fi
# tests/multinode.test.ts starts the multi-node stack itself; stop it too unless it was up before.
started_multi=0
if ! bash scripts/services.sh status --nodes 2 >/dev/null 2>&1; then started_multi=1; fi
cleanup() {
  if [ "$started_multi" = 1 ]; then bash scripts/services.sh down --nodes 2 >/dev/null 2>&1 || true; fi
  if [ "$started_services" = 1 ]; then bash scripts/services.sh down || true; fi
}
trap cleanup EXIT INT TERM

if [ "$#" -eq 0 ]; then
  echo "[test] typecheck" >&2
  npx tsc --noEmit
  npx tsc --noEmit -p console
  echo "[test] lint" >&2
  npx eslint . --max-warnings=0
  npx prettier --check . --log-level=warn
fi

mkdir -p .run
rc=0
npx vitest run --project unit --project integration --reporter=default --reporter=json --outputFile.json=.run/vitest-report.json "$@" || rc=$?
# One plain closing line for CI readers: "N passed, N failed".
if [ -f .run/vitest-report.json ]; then
  node -e 'const r=require(process.argv[1]); console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed`)' \
    "$root/.run/vitest-report.json"
fi
exit $rc
