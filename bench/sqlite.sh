#!/usr/bin/env bash
# Loads the observations CSV into SQLite for Datasette, with the index a Datasette publisher
# would add for point queries: (station_code, indicator, observed_at).
#
#     bench/sqlite.sh CSV DB
set -euo pipefail
csv=${1:?CSV}
db=${2:?DB}
rm -f "$db"
sqlite3 "$db" <<SQL
CREATE TABLE observations (id INTEGER PRIMARY KEY, observed_at TEXT, aimag TEXT, soum TEXT,
  station_code TEXT, indicator TEXT, value REAL, unit TEXT, population INTEGER, is_valid TEXT,
  note TEXT);
.mode csv
.import --skip 1 $csv observations
CREATE INDEX obs_point ON observations (station_code, indicator, observed_at);
ANALYZE;
SQL
echo "$db: $(sqlite3 "$db" 'SELECT count(*) FROM observations') rows"
