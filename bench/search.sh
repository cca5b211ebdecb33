#!/usr/bin/env bash
# Search benchmark: the portal's search over a synthetic catalog, in process and over HTTP,
# against Datasette's FTS5 search over the same records in SQLite, in one run.
#
#     bench/search.sh [N] [WORKDIR]
#
# Needs a release build, wrk (Debian) and datasette (PyPI).
set -euo pipefail
n=${1:-10000}
work=${2:-bench/out/search}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
mkdir -p "$work"
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

wait_for() { for _ in $(seq 1 200); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1"; exit 1; }

python3 "$here/gen_catalog.py" --n "$n" --seed 42 --out "$work/catalog.jsonl"
rm -rf "$work/data" && mkdir -p "$work/data"
# The synthetic catalog lives in the index alone. A starting server brings its index in line
# with its (here empty) catalog, so it starts first and the index is built under it; its
# reader sees the commit.
OPENDATA_LIMITS__REQUESTS_PER_MINUTE=0 OPENDATA_LOG=warn "$target/release/opendata" serve --data "$work/data" --addr 127.0.0.1:8094 2>/dev/null &
wait_for http://127.0.0.1:8094/healthz
echo "== in process (gen_catalog.py --n $n --seed 42)"
(cd "$root" && cargo run -q --release -p opendata-search-index --example bench_search -- \
  "$work/catalog.jsonl" "$work/data/index" "$here/search_queries.txt")

# The same records for Datasette: a table, and an FTS5 index over its text (Datasette finds it).
python3 - "$work" <<'PY'
import json, sqlite3, sys
work = sys.argv[1]
db = sqlite3.connect(f"{work}/catalog.db")
db.executescript("""
DROP TABLE IF EXISTS datasets; DROP TABLE IF EXISTS datasets_fts;
CREATE TABLE datasets (id TEXT PRIMARY KEY, title TEXT, title_en TEXT, description TEXT,
  description_en TEXT, organization TEXT, tags TEXT, columns TEXT);
CREATE VIRTUAL TABLE datasets_fts USING fts5(title, title_en, description, description_en, tags,
  columns, content="datasets");
""")
for line in open(f"{work}/catalog.jsonl", encoding="utf-8"):
    d = json.loads(line)
    db.execute("INSERT INTO datasets VALUES (?,?,?,?,?,?,?,?)", (d["id"], d["title"], d["title_en"],
        d["description"], d["description_en"], d["organization"], " ".join(d["tags"]), " ".join(d["columns"])))
db.execute("INSERT INTO datasets_fts(rowid, title, title_en, description, description_en, tags, columns) "
           "SELECT rowid, title, title_en, description, description_en, tags, columns FROM datasets")
db.commit()
PY

python3 - "$work" "$here/search_queries.txt" <<'PY'
import sys, urllib.parse
work, queries = sys.argv[1], [q for q in open(sys.argv[2], encoding="utf-8").read().splitlines() if q]
def lua(fmt):
    paths = ",\n".join('  "' + fmt.format(q=urllib.parse.quote(q)) + '"' for q in queries)
    return ("paths = {\n" + paths + "\n}\ncounter = 0\nrequest = function()\n  counter = counter + 1\n"
            "  return wrk.format('GET', paths[(counter % #paths) + 1])\nend\n"
            "done = function(summary, latency, requests)\n  io.write(string.format('p50 %.1f ms  p99 %.1f ms\\n', "
            "latency:percentile(50) / 1000, latency:percentile(99) / 1000))\nend\n")
open(f"{work}/opendata.lua", "w").write(lua("/api/v1/datasets?q={q}"))
open(f"{work}/datasette.lua", "w").write(lua("/catalog/datasets.json?_search={q}&_facet=organization&_size=20"))
PY

sequential() {  # base, path prefix
  python3 - "$1" "$2" "$here/search_queries.txt" <<'PY'
import statistics, sys, time, urllib.parse, urllib.request
base, prefix, queries = sys.argv[1], sys.argv[2], [q for q in open(sys.argv[3], encoding="utf-8").read().splitlines() if q]
xs = []
for r in range(6):
    for q in queries:
        t = time.perf_counter()
        urllib.request.urlopen(base + prefix + urllib.parse.quote(q)).read()
        if r:
            xs.append((time.perf_counter() - t) * 1000)
xs.sort()
print(f"sequential over HTTP: p50 {statistics.median(xs):.2f} ms, p99 {xs[int(len(xs) * 0.99)]:.2f} ms")
PY
}

echo "== opendata over HTTP"
sleep 2
sequential http://127.0.0.1:8094 "/api/v1/datasets?q="
wrk -t2 -c32 -d30s --timeout 10s -s "$work/opendata.lua" http://127.0.0.1:8094 | grep -E "Requests/sec|p50|Non-2xx|Socket errors|requests in"
kill %1; wait %1 2>/dev/null || true

echo "== datasette $(datasette --version | awk '{print $NF}') FTS5 over HTTP"
datasette serve "$work/catalog.db" --port 8095 --setting suggest_facets off >/dev/null 2>&1 &
wait_for http://127.0.0.1:8095/-/versions.json
sequential http://127.0.0.1:8095 "/catalog/datasets.json?_facet=organization&_size=20&_search="
wrk -t2 -c32 -d30s --timeout 10s -s "$work/datasette.lua" http://127.0.0.1:8095 | grep -E "Requests/sec|p50|Non-2xx|Socket errors|requests in"
