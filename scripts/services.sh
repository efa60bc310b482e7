#!/usr/bin/env bash
# Starts, stops and checks the local servers: livekit-server, the Pub/Sub emulator and FerretDB.
# All bind loopback. Each runs in its own process group so `down` leaves no orphans.
#   services.sh up | down | status [--nodes N] [--pg]
# With --nodes N (2 or more) it also runs the multi-node stack beside the single-node servers,
# which it leaves alone: a private Redis (no persistence) and N livekit-server nodes sharing it,
# node i on HTTP 7900+10(i-1), RTC TCP +1, UDP +2. `down --nodes N` stops only that stack.
# With --pg it also runs a second FerretDB on 27027 over a private PostgreSQL cluster (55432,
# data in .run/pg, fsync off). FerretDB's SQLite backend filters everything but `_id` in Go, so
# a query by `sessionId` reads the whole collection; the PostgreSQL backend pushes it down to an
# index, as MongoDB does. The placement bench uses it; the tests stay on SQLite. `down --pg`
# stops only that pair.
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
# The multi-node stack; never the machine's own Redis on 6379.
MULTI_REDIS_PORT="${MULTINODE_REDIS_PORT:-6391}"
MULTI_BASE_PORT="${MULTINODE_BASE_PORT:-7900}"
multi="$run/multinode"
PG_PORT="${VOICECARE_PG_PORT:-55432}"
MONGO_PG_PORT="${FERRETDB_PG_PORT:-27027}"
pgdir="$run/pg"

say() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] error: %s\n' "$*" >&2; exit 1; }

node_port() { echo $(( MULTI_BASE_PORT + 10 * ($1 - 1) )); }

healthy() {
  case "$1" in
    redis) redis-cli -p "$MULTI_REDIS_PORT" ping 2>/dev/null | grep -q PONG ;;
    lk-node*) curl -fsS --max-time 1 "http://127.0.0.1:$(node_port "${1#lk-node}")/" 2>/dev/null | grep -q OK ;;
    livekit) curl -fsS --max-time 1 "http://127.0.0.1:$LIVEKIT_PORT/" 2>/dev/null | grep -q OK ;;
    pubsub) curl -fsS --max-time 1 "http://127.0.0.1:$PUBSUB_PORT/" >/dev/null 2>&1 ;;
    ferretdb) (exec 3<>"/dev/tcp/127.0.0.1/$MONGO_PORT") 2>/dev/null ;;
    postgres) pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres 2>/dev/null ;;
    ferretdb-pg) (exec 3<>"/dev/tcp/127.0.0.1/$MONGO_PG_PORT") 2>/dev/null ;;
  esac
}

port_of() {
  case "$1" in redis) echo "$MULTI_REDIS_PORT" ;; lk-node*) node_port "${1#lk-node}" ;;
    livekit) echo "$LIVEKIT_PORT" ;; pubsub) echo "$PUBSUB_PORT" ;; ferretdb) echo "$MONGO_PORT" ;;
    postgres) echo "$PG_PORT" ;; ferretdb-pg) echo "$MONGO_PG_PORT" ;; esac
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

# The config of node $1: the single-node file's settings plus the shared Redis and own ports.
node_config() {
  local i="$1" port; port="$(node_port "$i")"
  cat <<YAML
# Generated by scripts/services.sh for the multi-node stack: node $i of several sharing Redis.
port: $port
bind_addresses:
  - 127.0.0.1
rtc:
  tcp_port: $(( port + 1 ))
  udp_port: $(( port + 2 ))
  use_external_ip: false
  node_ip: 127.0.0.1
redis:
  address: 127.0.0.1:$MULTI_REDIS_PORT
# ListParticipants asks the node hosting the room instead of the Redis copy, which keeps the
# participants of a node that died (the reaper would see a dead node's agent as present).
api:
  enable_psrpc_for_get_list_participants: true
keys:
  devkey: secret
logging:
  level: warn
room:
  auto_create: true
  empty_timeout: 60
  departure_timeout: 10
YAML
}

multi_up() {
  local n="$1" i
  command -v redis-server >/dev/null 2>&1 || die "no redis-server: run scripts/setup.sh (or apt-get install redis-server)"
  [ -x "$LIVEKIT_BIN" ] || die "livekit-server not installed: run scripts/install-tools.sh first"
  mkdir -p "$multi"
  # No persistence and a private folder: nothing of it outlives `down`.
  start_one redis redis-server --port "$MULTI_REDIS_PORT" --bind 127.0.0.1 --save "" \
    --appendonly no --dir "$multi"
  wait_healthy redis
  # One at a time, so the node id each one adds to Redis's `nodes` hash is known: tests read
  # room placement from Redis (`room_node_map`: room → node id) and need id → node.
  for i in $(seq 1 "$n"); do
    if healthy "lk-node$i"; then say "lk-node$i: already running"; continue; fi
    local before; before="$(redis-cli -p "$MULTI_REDIS_PORT" hkeys nodes | sort)"
    node_config "$i" > "$multi/livekit-node$i.yaml"
    start_one "lk-node$i" "$LIVEKIT_BIN" --config "$multi/livekit-node$i.yaml"
    wait_healthy "lk-node$i"
    local id="" started=$SECONDS
    until [ -n "$id" ]; do
      id="$(comm -13 <(echo "$before") <(redis-cli -p "$MULTI_REDIS_PORT" hkeys nodes | sort) | head -1)"
      (( SECONDS - started > 10 )) && die "lk-node$i did not register in Redis within 10s"
      [ -n "$id" ] || sleep 0.1
    done
    echo "$id" > "$multi/lk-node$i.id"
  done
  echo "$n" > "$multi/nodes"
}

multi_down() {
  local n="${1:-}" i
  [ -n "$n" ] || n="$(cat "$multi/nodes" 2>/dev/null || echo 0)"
  for i in $(seq 1 "$n"); do stop_one "lk-node$i"; rm -f "$multi/lk-node$i.id"; done
  stop_one redis
  rm -f "$multi/nodes"
}

multi_status() {
  local n="$1" rc=0 s
  for s in redis $(seq -f 'lk-node%g' 1 "$n"); do
    if healthy "$s"; then say "$s: healthy on 127.0.0.1:$(port_of "$s")"; else say "$s: down"; rc=1; fi
  done
  return $rc
}

# PostgreSQL will not run as root: as root, the cluster belongs to Debian's `postgres` user.
pg_as=(); [ "$(id -u)" -eq 0 ] && pg_as=(runuser -u postgres --)

pg_up() {
  local bin; bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [ -n "$bin" ] && [ -x "$bin/initdb" ] || die "no PostgreSQL: run scripts/setup.sh (or apt-get install postgresql)"
  [ -x "$FERRETDB_BIN" ] || die "FerretDB not installed: run scripts/install-tools.sh first"
  mkdir -p "$pgdir"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$pgdir"
  if [ ! -f "$pgdir/data/PG_VERSION" ]; then
    "${pg_as[@]}" "$bin/initdb" -D "$pgdir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
      >"$run/logs/postgres-init.log" 2>&1 || die "initdb failed (log: $run/logs/postgres-init.log)"
  fi
  # Scratch data for benches: durability is traded for speed, as the SQLite FerretDB's is.
  start_one postgres "${pg_as[@]}" "$bin/postgres" -D "$pgdir/data" -p "$PG_PORT" -k "$pgdir" \
    -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off
  wait_healthy postgres
  if ! psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "select 1 from pg_database where datname = 'ferretdb'" | grep -q 1; then
    psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "create database ferretdb" >/dev/null
  fi
  mkdir -p "$pgdir/ferretdb-state"
  start_one ferretdb-pg "$FERRETDB_BIN" --handler=pg \
    --postgresql-url="postgres://postgres@127.0.0.1:$PG_PORT/ferretdb" \
    --listen-addr="127.0.0.1:$MONGO_PG_PORT" --telemetry=disable --state-dir="$pgdir/ferretdb-state" \
    --debug-addr=- --log-level=warn
  wait_healthy ferretdb-pg
}

pg_down() {
  stop_one ferretdb-pg
  stop_one postgres
}

pg_status() {
  local rc=0 s
  for s in postgres ferretdb-pg; do
    if healthy "$s"; then say "$s: healthy on 127.0.0.1:$(port_of "$s")"; else say "$s: down"; rc=1; fi
  done
  return $rc
}

cmd="${1:-}"; shift || true
nodes=""
pg=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    --nodes) nodes="${2:-}"; shift 2 || die "--nodes needs a number" ;;
    --nodes=*) nodes="${1#--nodes=}"; shift ;;
    --pg) pg=1; shift ;;
    *) die "unknown option $1 (usage: services.sh up|down|status [--nodes N] [--pg])" ;;
  esac
done
if [ -n "$nodes" ]; then
  [[ "$nodes" =~ ^[0-9]+$ ]] && [ "$nodes" -ge 2 ] && [ "$nodes" -le 8 ] \
    || die "--nodes must be a number from 2 to 8, got '$nodes'"
fi

case "$cmd" in
  up) up; if [ -n "$nodes" ]; then multi_up "$nodes"; fi; if [ -n "$pg" ]; then pg_up; fi ;;
  down)
    if [ -n "$nodes" ] || [ -n "$pg" ]; then
      if [ -n "$nodes" ]; then multi_down "$nodes"; fi
      if [ -n "$pg" ]; then pg_down; fi
    else multi_down; pg_down; down; fi ;;
  status) status_rc=0; status || status_rc=$?
    if [ -n "$nodes" ]; then multi_status "$nodes" || status_rc=1; fi
    if [ -n "$pg" ]; then pg_status || status_rc=1; fi
    exit $status_rc ;;
  *) die "usage: services.sh up|down|status [--nodes N] [--pg]" ;;
esac
