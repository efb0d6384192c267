#!/usr/bin/env bash
# Installs what the local stack and the tests need, skipping whatever is already there:
#   - PostgreSQL server and client binaries (Debian packages), and the `postgres` system user
#   - jq, which the README's walkthrough uses to pick fields out of `-o json`
#   - Node.js (>= 20.19, for Vite) and the dashboard's npm packages, exactly as its lockfile says
#   - with --browser (the tests): Debian's chromium, which Playwright drives
#   - a Python venv at .capydb/venv with moto[server], cfn-lint, stripe (the tests' independent
#     webhook signature verifier), openapi-spec-validator and schemathesis, versions pinned in
#     requirements.txt; and one at .capydb/sam-venv with the AWS SAM CLI (requirements-sam.txt)
# The Rust toolchain itself must already be installed (rustup); this script checks for it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# The venv is a tool install, shared by every state folder (a second stack on other ports too).
VENV=$ROOT/.capydb/venv

say() { echo "install-deps: $*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else say "need root to run: $*"; exit 1
  fi
}

command -v cargo >/dev/null || { say "cargo not found: install Rust with rustup (https://rustup.rs) first"; exit 1; }

pg_server_found() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }
if ! pg_server_found || ! command -v pg_dump >/dev/null || ! command -v pg_restore >/dev/null; then
  say "installing PostgreSQL from the distribution"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-client >/dev/null
fi
pg_server_found || { say "PostgreSQL server binaries are still missing after install"; exit 1; }
if ! command -v zstd >/dev/null; then
  # The stock tool the README's restore-by-hand recipe (and its test) decompresses archives with.
  say "installing zstd"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zstd >/dev/null
fi
if ! command -v jq >/dev/null; then
  say "installing jq"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null
fi
id postgres >/dev/null 2>&1 || as_root useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
command -v runuser >/dev/null || { say "runuser (util-linux) is required to run clusters as postgres"; exit 1; }

stamp=$VENV/.requirements.sha256
want=$(sha256sum "$ROOT/infra/requirements.txt" | cut -d' ' -f1)
if [ ! -x "$VENV/bin/moto_server" ] || [ ! -x "$VENV/bin/cfn-lint" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "creating $VENV with moto, cfn-lint and stripe"
  python3 -m venv "$VENV" 2>/dev/null || {
    as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$VENV"
  }
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/infra/requirements.txt"
  echo "$want" > "$stamp"
fi

SAM_VENV=$ROOT/.capydb/sam-venv
sam_stamp=$SAM_VENV/.requirements.sha256
sam_want=$(sha256sum "$ROOT/infra/requirements-sam.txt" | cut -d' ' -f1)
if [ ! -x "$SAM_VENV/bin/sam" ] || [ "$(cat "$sam_stamp" 2>/dev/null)" != "$sam_want" ]; then
  say "creating $SAM_VENV with the AWS SAM CLI"
  python3 -m venv "$SAM_VENV"
  "$SAM_VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/infra/requirements-sam.txt"
  echo "$sam_want" > "$sam_stamp"
fi

# The dashboard: Node.js from the distribution when it is missing, then `npm ci` whenever the
# lockfile changed (the stamp holds its hash).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  say "installing Node.js and npm"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' || {
  say "Node.js $(node --version) is too old for the dashboard's build (Vite needs 20.19 or newer): install a newer nodejs"
  exit 1
}
DASH=$ROOT/dashboard
dash_stamp=$DASH/node_modules/.lock.sha256
dash_want=$(sha256sum "$DASH/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$dash_stamp" 2>/dev/null)" != "$dash_want" ]; then
  say "installing the dashboard's npm packages (npm ci)"
  (cd "$DASH" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  echo "$dash_want" > "$dash_stamp"
fi

# Playwright drives the distribution's Chromium (its own browser download is not used).
if [ "${1:-}" = "--browser" ] && ! command -v chromium >/dev/null; then
  say "installing chromium for the dashboard's browser tests"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
