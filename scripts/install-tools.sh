#!/usr/bin/env bash
# Installs the local servers the project tests against, into a git-ignored cache.
# Re-running reuses what is already built. Each missing prerequisite fails with one line.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${VOICECARE_TOOLS_DIR:-$root/.cache/tools}"
mkdir -p "$tools"

LIVEKIT_VERSION="v1.13.5"
FERRETDB_VERSION="v1.24.0"
ACTIONLINT_VERSION="v1.7.12"

say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

need_go() {
  if command -v go >/dev/null 2>&1; then return; fi
  if [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"; return; fi
  die "no Go toolchain: install Go >= 1.26 (https://go.dev/doc/install) to build $1"
}

install_livekit() {
  local bin="$tools/livekit-server-$LIVEKIT_VERSION"
  if [ -x "$bin" ]; then return; fi
  if command -v livekit-server >/dev/null 2>&1; then
    ln -sf "$(command -v livekit-server)" "$bin"; say "using livekit-server from PATH"; return
  fi
  need_go livekit-server
  say "building livekit-server $LIVEKIT_VERSION (first run only, ~4 min)"
  local gobin="$tools/gobin-livekit"
  rm -rf "$gobin"; mkdir -p "$gobin"
  GOBIN="$gobin" GOFLAGS=-mod=mod go install "github.com/livekit/livekit-server/cmd/server@$LIVEKIT_VERSION" \
    || die "go install of livekit-server $LIVEKIT_VERSION failed (see above)"
  mv "$gobin/server" "$bin.tmp" && mv "$bin.tmp" "$bin"
  rm -rf "$gobin"
  say "livekit-server ready"
}

install_ferretdb() {
  local bin="$tools/ferretdb-$FERRETDB_VERSION"
  if [ -x "$bin" ]; then return; fi
  need_go ferretdb
  say "building FerretDB $FERRETDB_VERSION (first run only, ~2 min)"
  local dir
  dir="$(go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -n "$dir" ] && [ -d "$dir" ] || die "could not download the FerretDB $FERRETDB_VERSION module"
  local src="$tools/ferretdb-src"
  rm -rf "$src"; cp -r "$dir" "$src"; chmod -R u+w "$src"
  # The module zip omits build/version/version.txt; without it the binary panics at start.
  mkdir -p "$src/build/version"; echo "$FERRETDB_VERSION" > "$src/build/version/version.txt"
  (cd "$src" && go build -o "$bin.tmp" ./cmd/ferretdb) || die "FerretDB build failed (see above)"
  mv "$bin.tmp" "$bin"
  rm -rf "$src"
  say "FerretDB ready"
}

install_actionlint() {
  local bin="$tools/actionlint-$ACTIONLINT_VERSION"
  if [ -x "$bin" ]; then return; fi
  need_go actionlint
  say "building actionlint $ACTIONLINT_VERSION (first run only)"
  local gobin="$tools/gobin-actionlint"
  rm -rf "$gobin"; mkdir -p "$gobin"
  GOBIN="$gobin" go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION" \
    || die "go install of actionlint $ACTIONLINT_VERSION failed (see above)"
  mv "$gobin/actionlint" "$bin.tmp" && mv "$bin.tmp" "$bin"
  rm -rf "$gobin"
  say "actionlint ready"
}

install_debs() {
  local missing=()
  command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
  command -v sox >/dev/null 2>&1 || missing+=(sox)
  # The local (offline) recogniser: the engine, and its US-English acoustic model and dictionary.
  command -v pocketsphinx_batch >/dev/null 2>&1 || missing+=(pocketsphinx)
  [ -f /usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict ] || missing+=(pocketsphinx-en-us)
  # More natural voices for the local TTS option and the simulated patient of the speech eval.
  command -v flite >/dev/null 2>&1 || missing+=(flite)
  command -v text2wave >/dev/null 2>&1 || missing+=(festival)
  [ -d /usr/share/festival/voices/us/cmu_us_slt_arctic_hts ] || missing+=(festvox-us-slt-hts)
  # The images' init: tests/image-contents.test.ts runs the services under it, as the image does.
  command -v tini >/dev/null 2>&1 || missing+=(tini)
  # The console's browser tests: Debian's Chromium, driven by playwright-core (never a download).
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  # The multi-node stack (services.sh up --nodes N): LiveKit nodes share a private Redis.
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  # The placement bench's FerretDB over PostgreSQL (services.sh up --pg), which uses indexes.
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  if [ "${#missing[@]}" -eq 0 ]; then return; fi
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    die "missing ${missing[*]}: install them with apt-get install ${missing[*]}"
  fi
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  say "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

check_java() {
  command -v java >/dev/null 2>&1 || die "no Java runtime: the Pub/Sub emulator needs Java 11+ (apt-get install openjdk-17-jre-headless)"
  command -v gcloud >/dev/null 2>&1 || die "no gcloud SDK: install it with the pubsub-emulator component (gcloud components install pubsub-emulator)"
}

what="${1:-all}"
case "$what" in
  livekit) install_livekit ;;
  ferretdb) install_ferretdb ;;
  debs) install_debs ;;
  actionlint) install_actionlint ;;
  all)
    check_java
    install_debs
    # The two Go builds are independent; run them side by side to halve a cold setup.
    install_livekit & lk=$!
    install_ferretdb & fd=$!
    install_actionlint & al=$!
    wait "$lk" || exit 1
    wait "$fd" || exit 1
    wait "$al" || exit 1
    ;;
  *) die "usage: install-tools.sh [all|livekit|ferretdb|debs|actionlint]" ;;
esac
