#!/usr/bin/env bash
# Formosa past one machine, on one machine: a PostgreSQL primary and a streaming replica
# (each its own cluster on its own port), N stateless Formosa nodes (writes and the change
# feed on the primary, reads from the replica) and HAProxy in front, all on loopback.
#
#   scripts/multinode.sh up      start everything (imports the bundled fixtures once)
#   scripts/multinode.sh status  what runs where
#   scripts/multinode.sh down    stop everything (data stays in $MN_ROOT; `purge` deletes it)
#
# Settings (environment): MN_NODES (2), MN_PORT (balancer, 8080), MN_NODE_PORT (first
# node, 18101), MN_PG_PORT (primary, 25440; the replica takes the next port), MN_ROOT
# (/tmp/formosa-multinode), FORMOSA_BIN (target/release/formosa, built if missing),
# FORMOSA_WRITE_TOKEN (writes through the balancer need it; default "multinode-token").
# Needs PostgreSQL 15 + PostGIS and HAProxy (scripts/install-deps.sh --test installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
NODES="${MN_NODES:-2}"
PORT="${MN_PORT:-8080}"
NODE_PORT="${MN_NODE_PORT:-18101}"
PG_PORT="${MN_PG_PORT:-25440}"
ROOT="${MN_ROOT:-/tmp/formosa-multinode}"
TOKEN="${FORMOSA_WRITE_TOKEN:-multinode-token}"
export FORMOSA_PG_ROOT="$ROOT/pg"
PRIMARY="postgresql://postgres@127.0.0.1:$PG_PORT/formosa"
REPLICA="postgresql://postgres@127.0.0.1:$((PG_PORT + 1))/formosa"

bin() {
  local b="${FORMOSA_BIN:-target/release/formosa}"
  if [ ! -x "$b" ]; then
    echo "building $b …" >&2
    cargo build --release -q -p formosa-cli
  fi
  echo "$b"
}

wait_for() { # URL, seconds
  for _ in $(seq 1 "$(($2 * 10))"); do
    curl -fs -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "error: $1 did not answer within $2 s" >&2
  return 1
}

up() {
  local formosa
  formosa="$(bin)"
  mkdir -p "$ROOT"
  bash scripts/postgis.sh start primary "$PG_PORT" >/dev/null
  if ! psql -q -X -A -t "postgresql://postgres@127.0.0.1:$PG_PORT/postgres" -c "SELECT 1 FROM pg_database WHERE datname = 'formosa'" | grep -q 1; then
    psql -q -X "postgresql://postgres@127.0.0.1:$PG_PORT/postgres" -c "CREATE DATABASE formosa"
    echo "importing the bundled fixtures into $PRIMARY …"
    FORMOSA_LOG=warn "$formosa" --store "$PRIMARY" -q demo --no-serve
  fi
  bash scripts/postgis.sh replica replica "$((PG_PORT + 1))" "$PG_PORT" >/dev/null
  local servers="" alive=""
  for i in $(seq 1 "$NODES"); do
    local port=$((NODE_PORT + i - 1))
    if [ -f "$ROOT/node$i.pid" ] && kill -0 "$(cat "$ROOT/node$i.pid")" 2>/dev/null; then
      :
    else
      FORMOSA_WRITE_TOKEN="$TOKEN" FORMOSA_LOG=info nohup "$formosa" --store "$PRIMARY" --read-store "$REPLICA" serve --bind "127.0.0.1:$port" >"$ROOT/node$i.log" 2>&1 &
      echo $! >"$ROOT/node$i.pid"
    fi
    servers+="    server node$i 127.0.0.1:$port check inter 500ms fall 2 rise 2"$'\n'
    alive+="    server node$i 127.0.0.1:$port check inter 500ms fall 2 rise 2"$'\n'
  done
  cat >"$ROOT/haproxy.cfg" <<CFG
global
    maxconn 4096
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    # A node that dies mid-request: idempotent requests go to another node, so readers
    # never see the failure; a write is answered with the error and never retried blindly.
    retries 3
    retry-on conn-failure empty-response response-timeout 502 503
    option redispatch 1
frontend formosa
    bind 127.0.0.1:$PORT
    # No node ready (the shared database away from all of them at once): the nodes still
    # serve what they hold, so send reads to those alive rather than answer 503 here.
    use_backend alive if { nbsrv(nodes) eq 0 }
    default_backend nodes
backend nodes
    balance roundrobin
    # /ready: 503 from the moment a node gets SIGTERM (draining) or loses its store.
    option httpchk GET /ready
    http-check expect status 200
$servers
backend alive
    balance roundrobin
    option httpchk GET /health
    http-check expect status 200
$alive
CFG
  if [ -f "$ROOT/haproxy.pid" ] && kill -0 "$(cat "$ROOT/haproxy.pid")" 2>/dev/null; then
    kill "$(cat "$ROOT/haproxy.pid")"
  fi
  for i in $(seq 1 "$NODES"); do wait_for "http://127.0.0.1:$((NODE_PORT + i - 1))/health" 60; done
  haproxy -D -f "$ROOT/haproxy.cfg" -p "$ROOT/haproxy.pid"
  wait_for "http://127.0.0.1:$PORT/health" 10
  status
}

status() {
  echo "primary  $PRIMARY"
  echo "replica  $REPLICA"
  for i in $(seq 1 "$NODES"); do
    local pid state="stopped"
    pid="$(cat "$ROOT/node$i.pid" 2>/dev/null || true)"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && state="pid $pid"
    echo "node$i    http://127.0.0.1:$((NODE_PORT + i - 1))/  ($state, log $ROOT/node$i.log)"
  done
  echo "balancer http://127.0.0.1:$PORT/  (HAProxy, config $ROOT/haproxy.cfg)"
}

down() {
  for f in "$ROOT"/node*.pid "$ROOT/haproxy.pid"; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
  bash scripts/postgis.sh stop replica "$((PG_PORT + 1))"
  bash scripts/postgis.sh stop primary "$PG_PORT"
}

case "${1:-}" in
  up) up ;;
  status) status ;;
  down) down ;;
  purge) down; rm -rf "$ROOT" ;;
  *) echo "usage: $0 up|status|down|purge" >&2; exit 2 ;;
esac
