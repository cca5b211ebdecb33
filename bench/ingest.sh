#!/usr/bin/env bash
# Ingest benchmark: opendata ingest vs DuckDB COPY vs polars sink_parquet, on the same CSV,
# in one run. Each runs as its own process, so peak RSS is measured alike.
#
#   bench/ingest.sh [ROWS] [WORKDIR]
#
# Needs: a release build (cargo build --release), python3 with duckdb and polars
# (pip install duckdb polars), and ../shared/bench/gen_observations.py.
set -euo pipefail
ROWS=${1:-10000000}
WORK=${2:-bench/out}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
GEN=${GEN:-$ROOT/../shared/bench/gen_observations.py}
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/opendata
mkdir -p "$WORK"
CSV=$WORK/obs-$ROWS.csv
[ -f "$CSV" ] || python3 "$GEN" --rows "$ROWS" --out "$CSV"
rm -rf "$WORK/data" "$WORK/source-order" "$WORK/peers"
mkdir -p "$WORK/peers"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; file: $CSV ($(du -h "$CSV" | cut -f1))"
sync
python3 "$HERE/run_cmd.py" "opendata ingest" "$CSV" -- \
  "$BIN" ingest "$CSV" --dataset obs --table readings --org bench --title Observations --data "$WORK/data"
# The same table in the source's order, without the layout chosen from the data: what the
# layout costs.
python3 "$HERE/run_cmd.py" "opendata ingest --sort-by none" "$CSV" -- \
  "$BIN" ingest "$CSV" --dataset obs --table readings --org bench --title Observations --data "$WORK/source-order" \
  --sort-by none
python3 "$HERE/run_cmd.py" "duckdb COPY ... TO parquet (zstd)" "$CSV" -- python3 -c "
import duckdb; duckdb.connect().execute(\"COPY (SELECT * FROM read_csv_auto('$CSV')) TO '$WORK/peers/duck.parquet' (FORMAT parquet, COMPRESSION zstd)\")"
python3 "$HERE/run_cmd.py" "polars scan_csv.sink_parquet (zstd)" "$CSV" -- python3 -c "
import polars as pl; pl.scan_csv('$CSV', try_parse_dates=True).sink_parquet('$WORK/peers/polars.parquet', compression='zstd')"
ls -l "$WORK"/data/tables/obs/readings/*.parquet "$WORK"/peers/*.parquet | awk '{printf "%-60s %6d MB\n", $9, $5/1e6}'
