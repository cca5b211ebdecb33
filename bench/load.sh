#!/usr/bin/env bash
# Mixed load: point-filter requests cycling through 400 (station, indicator) pairs, 64
# connections for 30 s, with wrk, against the portal's rows API and against Datasette on the
# same rows in SQLite (index on station_code, indicator, observed_at; suggest_facets off).
#
#     bench/load.sh DATA_DIR SQLITE_DB [SECONDS] [CONNECTIONS]
#
# DATA_DIR holds the 10M-row table as dataset `obs`, table `readings` (bench/ingest.sh, the
# default ingest, laid out from the data); SQLITE_DB has it as table `observations`
# (bench/sqlite.sh). Both servers run one at a time on the same machine, each as its own
# process; wrk runs beside them. Needs wrk (Debian) and datasette (PyPI). BENCH_BIN names
# another opendata binary than target/release/opendata. BENCH_PEERS=no runs the portal alone
# (with whatever OPENDATA_* settings the caller exports, e.g. OPENDATA_USAGE__ENABLED=false).
set -euo pipefail
data=${1:?DATA_DIR}
db=${2:?SQLITE_DB}
secs=${3:-30}
conns=${4:-64}
here=$(cd "$(dirname "$0")" && pwd)
bin=${BENCH_BIN:-$here/../target/release/opendata}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# 400 distinct pairs, in a fixed shuffled order, so a result cache alone cannot win.
python3 - "$work" <<'PY'
import random, sys
work = sys.argv[1]
stations = [f"ST{i:04d}" for i in range(400)]
indicators = ["PM2.5", "PM10", "NO2", "SO2", "CO"]
pairs = [(s, indicators[i % len(indicators)]) for i, s in enumerate(stations)]
random.Random(7).shuffle(pairs)
def lua(fmt):
    paths = ",\n".join('  "' + fmt.format(s=s, i=i.replace(".", "%2E")) + '"' for s, i in pairs)
    return ("paths = {\n" + paths + "\n}\ncounter = 0\n"
            "request = function()\n  counter = counter + 1\n"
            "  return wrk.format('GET', paths[(counter % #paths) + 1])\nend\n"
            "done = function(summary, latency, requests)\n"
            "  io.write(string.format('p50 %.1f ms  p99 %.1f ms\\n', latency:percentile(50) / 1000, latency:percentile(99) / 1000))\n"
            "end\n")
open(f"{work}/opendata.lua", "w").write(lua(
    "/api/v1/datasets/obs/tables/readings/rows?station_code={s}&indicator={i}&order=-observed_at&limit=100"))
open(f"{work}/datasette.lua", "w").write(lua(
    "/obs/observations.json?station_code={s}&indicator={i}&_sort_desc=observed_at&_size=100"))
PY

wait_for() { for _ in $(seq 1 200); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1"; exit 1; }

run() {  # name, base url, lua
  local name=$1 base=$2 script=$3
  curl -sf -o /dev/null "$base$(sed -n 2p "$script" | tr -d ' ",')"  # warm-up, and fail early
  echo "== $name: wrk -t2 -c$conns -d${secs}s"
  wrk -t2 -c"$conns" -d"${secs}s" --timeout 10s -s "$script" "$base" | grep -E "Requests/sec|p50|Non-2xx|Socket errors|requests in"
}

# The rate limit is per client address, and wrk is one client: it is turned off here.
OPENDATA_LIMITS__REQUESTS_PER_MINUTE=0 OPENDATA_LOG=warn "$bin" serve --data "$data" --addr 127.0.0.1:8091 &
wait_for http://127.0.0.1:8091/healthz
run opendata http://127.0.0.1:8091 "$work/opendata.lua"
kill %1; wait %1 2>/dev/null || true
[ "${BENCH_PEERS:-yes}" = no ] && exit 0

datasette serve "$db" --port 8092 --setting suggest_facets off --setting default_page_size 100 >/dev/null 2>&1 &
wait_for http://127.0.0.1:8092/-/versions.json
run "datasette $(datasette --version | awk '{print $NF}')" http://127.0.0.1:8092 "$work/datasette.lua"
