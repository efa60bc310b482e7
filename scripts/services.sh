#!/usr/bin/env bash
# Starts, stops and checks the local servers: livekit-server, the Pub/Sub emulator and FerretDB.
# All bind loopback. Each runs in its own process group so `down` leaves no orphans.
#   services.sh up | down | status
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${VOICECARE_TOOLS_DIR:-$root/.cache/tools}"
run="${VOICECARE_RUN_DIR:-$root/.run}"
mkdir -p "$run/logs"

LIVEKIT_BIN="$tools/livekit-server-v1.13.5"
FERRETDB_BIN="$tools/ferretdb-v1.24.0"
LIVEKIT_PORT=7880
PUBSUB_PORT="${PUBSUB_PORT:-8085}"
MONGO_PORT="${FERRETDB_PORT:-27017}"
PUBSUB_PROJECT="${PUBSUB_PROJECT_ID:-voicecare-local}"
HEALTH_TIMEOUT_S="${SERVICES_HEALTH_TIMEOUT_S:-60}"

say() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] error: %s\n' "$*" >&2; exit 1; }

healthy() {
  case "$1" in
    livekit) curl -fsS --max-time 1 "http://127.0.0.1:$LIVEKIT_PORT/" 2>/dev/null | grep -q OK ;;
    pubsub) curl -fsS --max-time 1 "http://127.0.0.1:$PUBSUB_PORT/" >/dev/null 2>&1 ;;
    ferretdb) (exec 3<>"/dev/tcp/127.0.0.1/$MONGO_PORT") 2>/dev/null ;;
  esac
}

port_of() {
  case "$1" in livekit) echo "$LIVEKIT_PORT" ;; pubsub) echo "$PUBSUB_PORT" ;; ferretdb) echo "$MONGO_PORT" ;; esac
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() { [ -f "$run/$1.pid" ] && kill -0 "$(cat "$run/$1.pid")" 2>/dev/null; }

start_one() {
  local name="$1"; shift
  if healthy "$name"; then
    pid_alive "$name" || say "$name: reusing the server already answering on port $(port_of "$name")"
    return 0
  fi
  if port_taken "$(port_of "$name")"; then
    die "$name: port $(port_of "$name") is taken by another program; free it or stop that program"
  fi
  # setsid: a new process group, so stop can signal the server and anything it forked.
  setsid "$@" >"$run/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$run/$name.pid"
}

wait_healthy() {
  local name="$1" started=$SECONDS
  until healthy "$name"; do
    if ! pid_alive "$name"; then
      tail -5 "$run/logs/$name.log" >&2 || true
      die "$name exited during start (log: $run/logs/$name.log)"
    fi
    if (( SECONDS - started > HEALTH_TIMEOUT_S )); then
      die "$name not healthy after ${HEALTH_TIMEOUT_S}s (log: $run/logs/$name.log)"
    fi
    sleep 0.2
  done
  say "$name healthy on 127.0.0.1:$(port_of "$name") ($(( SECONDS - started ))s)"
}

up() {
  [ -x "$LIVEKIT_BIN" ] && [ -x "$FERRETDB_BIN" ] || die "servers not installed: run scripts/install-tools.sh first"
  command -v gcloud >/dev/null 2>&1 || die "no gcloud SDK: install the Google Cloud SDK with the pubsub-emulator component"
  command -v java >/dev/null 2>&1 || die "no Java runtime: the Pub/Sub emulator needs Java 11+ (apt-get install openjdk-17-jre-headless)"

  start_one livekit "$LIVEKIT_BIN" --dev --config "$root/livekit.yaml"
  mkdir -p "$run/pubsub"
  METADATA_SERVER_DETECTION=none start_one pubsub gcloud beta emulators pubsub start \
    --host-port="127.0.0.1:$PUBSUB_PORT" --project="$PUBSUB_PROJECT" --data-dir="$run/pubsub" --quiet
  mkdir -p "$run/ferretdb/data" "$run/ferretdb/state"
  start_one ferretdb "$FERRETDB_BIN" --handler=sqlite --sqlite-url="file:$run/ferretdb/data/" \
    --listen-addr="127.0.0.1:$MONGO_PORT" --telemetry=disable --state-dir="$run/ferretdb/state" \
    --debug-addr=- --log-level=warn

  wait_healthy livekit
  wait_healthy ferretdb
  wait_healthy pubsub
}

stop_one() {
  local name="$1" pid
  [ -f "$run/$name.pid" ] || return 0
  pid="$(cat "$run/$name.pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    # The emulator's JVM can outlive its gcloud wrapper; take the whole group down.
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$run/$name.pid"
  say "$name stopped"
}

down() {
  stop_one ferretdb
  stop_one pubsub
  stop_one livekit
}

status() {
  local rc=0
  for s in livekit pubsub ferretdb; do
    if healthy "$s"; then say "$s: healthy on 127.0.0.1:$(port_of "$s")"; else say "$s: down"; rc=1; fi
  done
  return $rc
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) die "usage: services.sh up|down|status" ;;
esac
