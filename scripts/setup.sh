#!/usr/bin/env bash
# One-time (and idempotent) setup: Node dependencies, the local servers, Debian tools.
# Fails with one clear line when a prerequisite is missing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || die "no Node.js: install Node 20.19 or newer"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || die "Node $(node --version) is too old: install Node 20.19 or newer"
command -v npm >/dev/null 2>&1 || die "no npm: install npm 10 or newer"

# Reinstall only when the lockfile changed since the last install.
stamp="node_modules/.voicecare-lock.sha"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing Node dependencies (npm ci, ~1.5 min cold)"
  started=$SECONDS
  npm ci --no-audit --no-fund --loglevel=error >&2 || die "npm ci failed (see above)"
  echo "$want" > "$stamp"
  say "Node dependencies ready ($(( SECONDS - started ))s)"
fi

bash "$root/scripts/install-tools.sh" all

# The local signing key for staff tokens (`npm run token`); git-ignored, created once.
node --import tsx -e "const { loadOrCreateDevKey } = await import('./api/auth/jwt.ts'); const { config } = await import('./infra/config.ts'); const { devKeyPath } = await import('./api/main.ts'); await loadOrCreateDevKey(devKeyPath(config()));" >&2 \
  || die "could not create the API dev key (see above)"

# The console the API serves at / (a few seconds; Vite skips nothing, so it is simply rebuilt).
npx vite build --config console/vite.config.ts --logLevel warn >&2 || die "the console did not build (see above)"
