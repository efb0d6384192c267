#!/usr/bin/env bash
# Manage one local PostgreSQL region cluster. initdb and postgres refuse to run as root, so
# root runs them as the `postgres` system user; anyone else runs them as themselves.
#
#   cluster.sh start <dir> <port> <admin-password> <archive: on|off>
#   cluster.sh stop  <dir>
#
# `start` initialises the cluster on first use and is idempotent afterwards. <dir> must be a
# path the postgres user can reach; callers pick one outside root's home (see dev.sh).
#
# With archive on, the cluster ships every WAL segment to object storage through the
# capydb-wal-archive helper: CAPYDB_WAL_HELPER names the binary and CAPYDB_WAL_CONFIG its JSON
# config (bucket, region, endpoint); both are copied into <dir> so the postgres user can use them.
set -euo pipefail

bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  echo "cluster.sh: PostgreSQL server binaries not found; run infra/install-deps.sh" >&2
  exit 1
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cmd=${1:?usage: cluster.sh start|stop <dir> ...}
dir=${2:?cluster directory required}
BIN=$(bindir)

case "$cmd" in
  start)
    port=${3:?port required}; password=${4:?admin password required}; archive=${5:-off}
    mkdir -p "$dir"
    [ "$(id -u)" != 0 ] || chown postgres:postgres "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      pwfile=$(mktemp)
      printf '%s\n' "$password" > "$pwfile"
      [ "$(id -u)" != 0 ] || chown postgres "$pwfile"
      as_pg "$BIN/initdb" -D "$dir/data" -U postgres --pwfile="$pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { rm -f "$pwfile"; cat "$dir/initdb.log" >&2; exit 1; }
      rm -f "$pwfile"
      {
        echo "listen_addresses = '127.0.0.1'"
        echo "unix_socket_directories = '$dir'"
        echo "max_connections = 200"
        echo "shared_buffers = 64MB"
        echo "fsync = on"
        echo "wal_level = replica"
        echo "max_wal_senders = 4"
      } | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
    fi
    # Archiving settings live in their own file, rewritten on every start (clusters made by
    # older versions of this script get the include line added).
    grep -q "capydb-archive.conf" "$dir/data/postgresql.conf" \
      || echo "include_if_exists = 'capydb-archive.conf'" | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
    if [ "$archive" = on ]; then
      helper=${CAPYDB_WAL_HELPER:?archive on needs CAPYDB_WAL_HELPER (the capydb-wal-archive binary)}
      walcfg=${CAPYDB_WAL_CONFIG:?archive on needs CAPYDB_WAL_CONFIG (the JSON config of the helper)}
      as_pg mkdir -p "$dir/bin"
      # Written beside and renamed into place: an archiver still running the old binary keeps
      # its file, and never sees a half-written one.
      as_pg tee "$dir/bin/.capydb-wal-archive.new" <"$helper" >/dev/null
      as_pg chmod 0755 "$dir/bin/.capydb-wal-archive.new"
      as_pg mv -f "$dir/bin/.capydb-wal-archive.new" "$dir/bin/capydb-wal-archive"
      as_pg tee "$dir/wal-archive.json" <"$walcfg" >/dev/null
      {
        echo "archive_mode = on"
        # At most a minute of committed work is not yet in object storage (the RPO).
        echo "archive_timeout = 60"
        echo "archive_command = '$dir/bin/capydb-wal-archive --config $dir/wal-archive.json push %p %f'"
      } | as_pg tee "$dir/data/capydb-archive.conf" >/dev/null
    else
      as_pg rm -f "$dir/data/capydb-archive.conf"
    fi
    # A postmaster that still holds the data directory is reused if it accepts connections; one
    # that is starting is waited for, and one that is shutting down is let finish first.
    for _ in $(seq 1 120); do
      as_pg "$BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1 || break
      "$BIN/pg_isready" -q -h "$dir" -p "$port" -U postgres && exit 0
      sleep 0.5
    done
    if as_pg "$BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      echo "cluster.sh: a postmaster still holds $dir/data and does not accept connections" >&2
      exit 1
    fi
    as_pg "$BIN/pg_ctl" -D "$dir/data" -o "-p $port" -l "$dir/server.log" -w -t 60 start >/dev/null \
      || { tail -20 "$dir/server.log" >&2; exit 1; }
    for _ in $(seq 1 120); do
      "$BIN/pg_isready" -q -h "$dir" -p "$port" -U postgres && exit 0
      sleep 0.5
    done
    echo "cluster.sh: $dir started but does not accept connections; see $dir/server.log" >&2
    exit 1
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_pg "$BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    ;;
  *) echo "usage: cluster.sh start|stop <dir> ..." >&2; exit 2 ;;
esac
