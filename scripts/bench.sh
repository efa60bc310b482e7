#!/usr/bin/env bash
# The benchmark in one command (`npm run bench`): setup as `npm test` does it, the local servers
# (reused when already up; the ones this script starts are stopped again), then bench/run.ts.
# Extra arguments go to bench/run.ts, e.g. `npm run bench -- --turns 40 --memory-sessions 50`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
started_at=$SECONDS

bash scripts/setup.sh

export METADATA_SERVER_DETECTION=none
# Which servers were already answering, so only the ones started here are stopped at the end.
before="$(bash scripts/services.sh status 2>&1 || true)"
healthy_before="$(grep -c ': healthy' <<<"$before" || true)"
started_services=0
if [ "$healthy_before" != 3 ]; then
  started_services=1
  bash scripts/services.sh up
fi
cleanup() {
  if [ "$started_services" = 1 ]; then
    if [ "$healthy_before" = 0 ]; then
      bash scripts/services.sh down || true
    else
      # services.sh stops all three; some of them were someone else's, so leave them all up.
      echo "[bench] leaving the local servers running (some were already up before the bench)" >&2
    fi
  fi
}
trap cleanup EXIT INT TERM

rc=0
node --import tsx bench/run.ts "$@" || rc=$?
echo "[bench] total wall time including setup: $(( SECONDS - started_at )) s" >&2
exit $rc
