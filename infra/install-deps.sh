#!/usr/bin/env bash
# Installs what the local stack and the tests need, skipping whatever is already there:
#   - PostgreSQL server and client binaries (Debian packages), and the `postgres` system user
#   - jq, which the README's walkthrough uses to pick fields out of `-o json`
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
