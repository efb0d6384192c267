#!/usr/bin/env bash
# `make dev`: moto, two region clusters (local-1 archives WAL, local-2 does not) and the local
# runtime on 127.0.0.1:3000. State lives in .capydb/; Ctrl-C stops everything started here.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${CAPYDB_STATE_DIR:-$ROOT/.capydb}
MOTO_PORT=${CAPYDB_MOTO_PORT:-5055}
PG1_PORT=${CAPYDB_PG1_PORT:-54331}
PG2_PORT=${CAPYDB_PG2_PORT:-54332}
LISTEN=${CAPYDB_LISTEN:-127.0.0.1:3000}
mkdir -p "$STATE"
cd "$ROOT"

"$ROOT/infra/install-deps.sh"
# Every binary the README uses: the runtime, the archive helper the cluster runs, and the CLI.
cargo build --quiet -p capydb-functions --bin capydb-local --bin capydb-wal-archive --bin capydb-lambda --bin capydb-invoke -p capydb-cli --bin capydb
# The dashboard the runtime serves at / (types generated from api/openapi.json, then Vite).
(cd "$ROOT/dashboard" && npm run --silent build >"$STATE/dashboard-build.log" 2>&1) || {
  cat "$STATE/dashboard-build.log" >&2; echo "the dashboard did not build (log above)" >&2; exit 1; }
# `--build-only` stops here (CI checks that a fresh clone gets every README binary this way).
[ "${1:-}" != "--build-only" ] || exit 0
echo "built; starting the local stack" >&2

secret() { [ -s "$1" ] || head -c 32 /dev/urandom | base64 > "$1"; chmod 600 "$1"; cat "$1"; }
PG_PASSWORD=$(secret "$STATE/pg-admin-password" | tr -dc 'A-Za-z0-9' | head -c 24)
SECRETS_KEY=$(secret "$STATE/secrets.key")
SESSION_SECRET=$(secret "$STATE/session.secret")

# The clusters run as `postgres`, which may not be able to enter this checkout (e.g. under
# /root); keep their files where it can, linked from the state folder.
CLUSTERS=$STATE/clusters
if [ ! -e "$CLUSTERS" ]; then
  if [ "$(id -u)" != 0 ] || runuser -u postgres -- test -x "$STATE" 2>/dev/null; then
    mkdir -p "$CLUSTERS"
  else
    outside=/var/tmp/capydb-dev-$(echo "$STATE" | sha256sum | cut -c1-12)
    mkdir -p "$outside"
    ln -s "$outside" "$CLUSTERS"
  fi
fi
chmod 755 "$(readlink -f "$CLUSTERS")"

# One stack per state folder. A `make dev` started while an earlier one still stops waits for
# it (the lock is held until the clusters are down); fd 9 is closed for every child, so only
# this script holds it.
exec 9>"$STATE/dev.lock"
if ! flock -n 9; then
  echo "an earlier make dev (pid $(cat "$STATE/dev.pid" 2>/dev/null || echo '?')) is still running or stopping; waiting up to 60 s" >&2
  flock -w 60 9 || { echo "it is still running: stop it first (Ctrl-C in its shell)" >&2; exit 1; }
fi
echo $$ >"$STATE/dev.pid"

moto_pid='' runtime_pid=''
# Stop in dependency order: the runtime (no new work), then the clusters (their last WAL
# segment is archived while moto still answers), then moto.
cleanup() {
  trap - EXIT INT TERM
  local started=$SECONDS
  echo "stopping the local stack" >&2
  [ -z "$runtime_pid" ] || { kill "$runtime_pid" 2>/dev/null || true; wait "$runtime_pid" 2>/dev/null || true; }
  local runtime_done=$SECONDS
  "$ROOT/infra/cluster.sh" stop "$CLUSTERS/local-1" 9>&- || true
  "$ROOT/infra/cluster.sh" stop "$CLUSTERS/local-2" 9>&- || true
  local clusters_done=$SECONDS
  [ -z "$moto_pid" ] || { kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; }
  rm -f "$STATE/dev.pid"
  echo "stopped in $((SECONDS - started)) s (runtime $((runtime_done - started)) s, clusters $((clusters_done - runtime_done)) s, moto $((SECONDS - clusters_done)) s)" >&2
}
trap cleanup EXIT INT TERM

# In a session of its own: Ctrl-C reaches the whole foreground process group, and moto exits on
# SIGINT; it must outlive the clusters' last WAL push, so only `cleanup` stops it.
setsid "$ROOT/.capydb/venv/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$STATE/moto.log" 2>&1 9>&- &
moto_pid=$!
for _ in $(seq 1 100); do
  (echo >"/dev/tcp/127.0.0.1/$MOTO_PORT") 2>/dev/null && break
  sleep 0.1
done
(echo >"/dev/tcp/127.0.0.1/$MOTO_PORT") 2>/dev/null || { echo "moto did not start; see $STATE/moto.log" >&2; exit 1; }

# local-1 ships its WAL into the dev bucket (wal/local-1/) through the archive helper.
printf '{"bucket":"capydb-dev","region":"local-1","aws_region":"us-east-1","endpoint_url":"http://127.0.0.1:%s","create_bucket":true}\n' \
  "$MOTO_PORT" > "$STATE/wal-archive.json"
export CAPYDB_WAL_HELPER=$ROOT/target/debug/capydb-wal-archive CAPYDB_WAL_CONFIG=$STATE/wal-archive.json
# `start` returns once the cluster accepts connections (see cluster.sh), so the runtime never
# provisions against a cluster that is still starting.
"$ROOT/infra/cluster.sh" start "$CLUSTERS/local-1" "$PG1_PORT" "$PG_PASSWORD" on 9>&-
"$ROOT/infra/cluster.sh" start "$CLUSTERS/local-2" "$PG2_PORT" "$PG_PASSWORD" off 9>&-

region() { printf '{"name":"%s","admin_url":"postgres://postgres:%s@127.0.0.1:%s/postgres","public_host":"127.0.0.1","public_port":%s,"wal_archiving":%s}' "$1" "$PG_PASSWORD" "$2" "$2" "$3"; }
export CAPYDB_REGIONS="[$(region local-1 "$PG1_PORT" true),$(region local-2 "$PG2_PORT" false)]"
export CAPYDB_TABLE=capydb-dev CAPYDB_BUCKET=capydb-dev
export CAPYDB_SECRETS_KEY=$SECRETS_KEY CAPYDB_SESSION_SECRET=$SESSION_SECRET
export AWS_ENDPOINT_URL=http://127.0.0.1:$MOTO_PORT AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
# Local receivers (http://127.0.0.1:…) are fine here; a deployment refuses them.
export CAPYDB_WEBHOOKS_ALLOW_PRIVATE=true
# Integrations talk to the runtime's own stand-ins for Vercel and Netlify (any token works).
export CAPYDB_VERCEL_API_URL=http://$LISTEN/local/providers CAPYDB_NETLIFY_API_URL=http://$LISTEN/local/providers
export RUST_LOG=${RUST_LOG:-info,aws=warn,aws_smithy_runtime=warn,aws_config=warn}
# `make invoke` runs one function against this stack with the same settings (secrets: 0600).
(umask 077; export -p | grep -E '^declare -x (CAPYDB_|AWS_)' > "$STATE/runtime.env")

"$ROOT/target/debug/capydb-local" --listen "$LISTEN" --state-dir "$STATE" --dashboard-dir "$ROOT/dashboard/dist" 9>&- &
runtime_pid=$!
wait "$runtime_pid"
