#!/usr/bin/env bash
# Scale-out figures with the release binary: for 1, 2 and 3 nodes behind HAProxy (PostgreSQL
# catalog, S3 bucket; deploy/local-cluster.sh), the point-query mix through the balancer
# (wrk); on the 3-node cluster, a point query and a GROUP BY cold (the node has never read
# the file: it comes from the bucket) and warm, and the time from a publish to a search hit
# on the third node. Then the same queries on one node over a local data folder.
#   bench/cluster.sh CSV [SECS]
set -euo pipefail
cd "$(dirname "$0")/.."
CSV="${1:?CSV from gen_observations.py}"; SECS="${2:-20}"
BIN="$PWD/target/release/opendata"
export CLUSTER_DIR=/tmp/opendata-bench-cluster CLUSTER_NODE="$BIN serve"
export OPENDATA_LIMITS__REQUESTS_PER_MINUTE=0 OPENDATA_LOG=warn
POINT='/api/v1/datasets/obs/tables/main/rows?station_code=ST0123&indicator=PM10&limit=100'
GROUP='/api/v1/sql?q=SELECT%20aimag%2C%20indicator%2C%20avg(value)%20AS%20v%20FROM%20obs__main%20GROUP%20BY%20aimag%2C%20indicator'
ms() { curl -s -o /dev/null -w '%{time_total}' "$1" | awk '{printf "%.1f", $1 * 1000}'; }
p50() { for _ in $(seq 1 21); do ms "$1"; echo; done | sort -n | sed -n 11p; }
mix() { PATH_FMT='/api/v1/datasets/obs/tables/main/rows?station_code=%s&indicator=%s&limit=100' \
  wrk -t2 -c32 -d"${SECS}s" -s ../shared/bench/point_mix.lua "$1" | awk '/Requests\/sec/ {print $2} /Non-2xx/ {print "non-2xx " $4}'; }

for n in 1 2 3; do
  deploy/local-cluster.sh down
  out=$(deploy/local-cluster.sh up "$n")
  eval "$(grep -E '^(BALANCER|NODES|CATALOG|STORAGE|AWS_[A-Z_]+)=' <<<"$out" | sed 's/^/export /')"
  start=$(date +%s.%N)
  "$BIN" ingest "$CSV" --dataset obs --org nso --catalog "$CATALOG" --storage "$STORAGE" --data "$CLUSTER_DIR/client" >/dev/null 2>&1
  echo "nodes=$n ingest into the bucket: $(echo "$(date +%s.%N) - $start" | bc) s"
  IFS=, read -r -a nodes <<<"$NODES"
  if [ "$n" = 3 ]; then
    echo "point query, node 1: cold $(ms "${nodes[0]}$POINT") ms, warm p50 $(p50 "${nodes[0]}$POINT") ms"
    echo "GROUP BY, node 2: cold $(ms "${nodes[1]}$GROUP") ms, warm p50 $(p50 "${nodes[1]}$GROUP") ms"
    printf 'aimag,yaks\nХовд,1\n' >/tmp/bench-yaks.csv
    start=$(date +%s%N)
    "$BIN" ingest /tmp/bench-yaks.csv --dataset sarlag --org nso --title "Сарлаг" --catalog "$CATALOG" --storage "$STORAGE" --data "$CLUSTER_DIR/client" >/dev/null 2>&1
    published=$(date +%s%N)
    until curl -s "${nodes[2]}/api/v1/datasets?q=%D1%81%D0%B0%D1%80%D0%BB%D0%B0%D0%B3" | grep -q '"id":"sarlag"'; do sleep 0.005; done
    echo "publish on the command line to a search hit on node 3: $(( ($(date +%s%N) - published) / 1000000 )) ms after the commit ($(( (published - start) / 1000000 )) ms to ingest)"
  fi
  for node in "${nodes[@]}"; do curl -s -o /dev/null "$node$POINT"; done   # every cache warm
  echo "nodes=$n point mix through HAProxy, wrk 32 connections ${SECS}s: $(mix "$BALANCER" | tr '\n' ' ') req/s"
done
deploy/local-cluster.sh down

# The same queries on one node over its own data folder (SQLite, local files).
DATA=$(mktemp -d)
"$BIN" ingest "$CSV" --dataset obs --org nso --data "$DATA" >/dev/null 2>&1
OPENDATA_DATA="$DATA" "$BIN" serve --addr 127.0.0.1:8177 >/dev/null 2>&1 &
pid=$!
until curl -s -o /dev/null http://127.0.0.1:8177/healthz; do sleep 0.1; done
echo "local folder: point query first $(ms "http://127.0.0.1:8177$POINT") ms, warm p50 $(p50 "http://127.0.0.1:8177$POINT") ms"
echo "local folder: GROUP BY first $(ms "http://127.0.0.1:8177$GROUP") ms, warm p50 $(p50 "http://127.0.0.1:8177$GROUP") ms"
echo "local folder: point mix direct, wrk 32 connections ${SECS}s: $(mix http://127.0.0.1:8177 | tr '\n' ' ') req/s"
kill "$pid"; wait "$pid" 2>/dev/null || true; rm -rf "$DATA"
