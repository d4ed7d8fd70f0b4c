#!/usr/bin/env bash
# A throwaway PostgreSQL 15 + PostGIS cluster for tests and local multi-node runs, on
# loopback, with trust authentication (never for production).
#   scripts/postgis.sh start [NAME] [PORT]     initdb if needed, start; prints its URL
#   scripts/postgis.sh replica NAME PORT PRIMARY_PORT   a streaming replica of PRIMARY_PORT
#   scripts/postgis.sh stop [NAME]            fast shutdown
#   scripts/postgis.sh remove [NAME]          stop and delete the cluster's files
#   scripts/postgis.sh url [NAME] [PORT]      the superuser URL (database "postgres")
# Clusters live in ${FORMOSA_PG_ROOT:-/tmp/formosa-pg}/NAME (default NAME "main",
# PORT 25432). As root, the server runs as the "postgres" user (initdb refuses root).
# Ports stay below Linux's ephemeral range (32768–60999): a server port in it can be
# taken at that moment by some client socket's local port, and the cluster then fails
# to start (seen once in a PostGIS re-run, "pg_ctl: could not start server").
set -euo pipefail
ROOT="${FORMOSA_PG_ROOT:-/tmp/formosa-pg}"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[ -x "$BIN/initdb" ] || { echo "error: PostgreSQL server not installed (apt-get install postgresql-15-postgis-3)" >&2; exit 1; }
cmd="${1:-start}"
name="${2:-main}"
port="${3:-25432}"
dir="$ROOT/$name"

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

prepare_dir() {
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir" "$ROOT"
  chmod 700 "$dir"
}

start_server() {
  # fsync stays on: the tests kill servers and count acknowledged writes.
  as_pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c wal_level=replica -c max_wal_senders=5 -c hot_standby=on -c shared_buffers=256MB" \
    start >/dev/null || { echo "error: PostgreSQL cluster '$name' on port $port did not start; its log ($dir/log) ends:" >&2; tail -n 20 "$dir/log" >&2; return 1; }
}

case "$cmd" in
  start)
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      prepare_dir
      as_pg "$BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
      echo "host replication all 127.0.0.1/32 trust" >> "$dir/data/pg_hba.conf"
    fi
    as_pg "$BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1 || start_server
    echo "postgresql://postgres@127.0.0.1:$port/postgres"
    ;;
  replica)
    primary_port="${4:?replica NAME PORT PRIMARY_PORT}"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      prepare_dir
      as_pg "$BIN/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres -D "$dir/data" -R -X stream -c fast >/dev/null
    fi
    as_pg "$BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1 || start_server
    echo "postgresql://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    [ -f "$dir/data/PG_VERSION" ] && as_pg "$BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    ;;
  remove)
    [ -f "$dir/data/PG_VERSION" ] && as_pg "$BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  url)
    echo "postgresql://postgres@127.0.0.1:$port/postgres"
    ;;
  *)
    echo "usage: $0 start|replica|stop|remove|url [NAME] [PORT]" >&2
    exit 2
    ;;
esac
