#!/usr/bin/env bash
# Manage one local PostgreSQL region cluster. initdb and postgres refuse to run as root, so
# root runs them as the `postgres` system user; anyone else runs them as themselves.
#
#   cluster.sh start <dir> <port> <admin-password> <archive: on|off>
#   cluster.sh stop  <dir>
#
# `start` initialises the cluster on first use and is idempotent afterwards. <dir> must be a
# path the postgres user can reach; callers pick one outside root's home (see dev.sh).
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
      as_pg mkdir -p "$dir/wal-archive"
      {
        echo "listen_addresses = '127.0.0.1'"
        echo "unix_socket_directories = '$dir'"
        echo "max_connections = 200"
        echo "shared_buffers = 64MB"
        echo "fsync = on"
        echo "wal_level = replica"
        echo "max_wal_senders = 4"
        if [ "$archive" = on ]; then
          # Continuous archiving is switched on now so that the cluster keeps every segment from
          # its first day; the object-store archive helper replaces this command.
          echo "archive_mode = on"
          echo "archive_timeout = 60"
          echo "archive_command = 'test ! -f $dir/wal-archive/%f && cp %p $dir/wal-archive/%f'"
        fi
      } | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
    fi
    if ! as_pg "$BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      as_pg "$BIN/pg_ctl" -D "$dir/data" -o "-p $port" -l "$dir/server.log" -w -t 60 start >/dev/null \
        || { tail -20 "$dir/server.log" >&2; exit 1; }
    fi
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_pg "$BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    ;;
  *) echo "usage: cluster.sh start|stop <dir> ..." >&2; exit 2 ;;
esac
