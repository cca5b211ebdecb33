#!/usr/bin/env bash
# What counting usage costs under load: bench/load.sh's mixed load against the portal alone,
# with usage counting on (the default) and off, alternating, ROUNDS times each.
#
#     bench/usage.sh DATA_DIR [SECONDS] [CONNECTIONS] [ROUNDS]
set -euo pipefail
data=${1:?DATA_DIR}
secs=${2:-30}
conns=${3:-64}
rounds=${4:-3}
here=$(cd "$(dirname "$0")" && pwd)
for round in $(seq 1 "$rounds"); do
  for enabled in true false; do
    echo "### round $round, usage.enabled=$enabled"
    OPENDATA_USAGE__ENABLED=$enabled BENCH_PEERS=no "$here/load.sh" "$data" none "$secs" "$conns"
  done
done
