#!/usr/bin/env bash
# Two builds of the portal side by side on the same data, in one run: the point query and
# the GROUP BY of bench/rows.py and bench/query.py (with DuckDB beside them), and the mixed
# point-query load of bench/load.sh (wrk, 64 connections), for each binary in turn.
#
#     bench/compare.sh BIN_A BIN_B [DATA_DIR] [PEER_PARQUET] [SECONDS]
#
# DATA_DIR holds the 10M-row table as dataset `obs`, table `readings`, as the default ingest
# lays it out (bench/ingest.sh writes it to bench/out/data, and DuckDB's Parquet to
# bench/out/peers/duck.parquet). Needs wrk (Debian), duckdb and polars (PyPI).
set -euo pipefail
a=${1:?BIN_A}
b=${2:?BIN_B}
data=${3:-bench/out/data}
peer=${4:-bench/out/peers/duck.parquet}
secs=${5:-30}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

python3 - "$work" <<'PY'
import random, sys
work = sys.argv[1]
stations = [f"ST{i:04d}" for i in range(400)]
indicators = ["PM2.5", "PM10", "NO2", "SO2", "CO"]
pairs = [(s, indicators[i % len(indicators)]) for i, s in enumerate(stations)]
random.Random(7).shuffle(pairs)
paths = ",\n".join(
    f'  "/api/v1/datasets/obs/tables/readings/rows?station_code={s}&indicator={i.replace(".", "%2E")}&order=-observed_at&limit=100"'
    for s, i in pairs)
open(f"{work}/mix.lua", "w").write(
    "paths = {\n" + paths + "\n}\ncounter = 0\nrequest = function()\n  counter = counter + 1\n"
    "  return wrk.format('GET', paths[(counter % #paths) + 1])\nend\n"
    "done = function(summary, latency, requests)\n"
    "  io.write(string.format('p50 %.1f ms  p99 %.1f ms\\n', latency:percentile(50) / 1000, latency:percentile(99) / 1000))\nend\n")
PY

wait_for() { for _ in $(seq 1 300); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1"; exit 1; }

for bin in "$a" "$b"; do
  echo "===== $bin"
  OPENDATA_LIMITS__REQUESTS_PER_MINUTE=0 OPENDATA_LOG=warn "$bin" serve --data "$data" --addr 127.0.0.1:8096 &
  pid=$!
  wait_for http://127.0.0.1:8096/healthz
  python3 "$here/rows.py" http://127.0.0.1:8096 obs readings "$peer" 50
  python3 "$here/query.py" http://127.0.0.1:8096 obs readings "$peer" "$pid" 20
  echo "== mixed point queries: wrk -t2 -c64 -d${secs}s"
  wrk -t2 -c64 -d"${secs}s" --timeout 10s -s "$work/mix.lua" http://127.0.0.1:8096 | grep -E "Requests/sec|p50|Non-2xx|Socket errors|requests in"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
