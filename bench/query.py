#!/usr/bin/env python3
"""Query benchmark: aggregation, deep OFFSET and a full CSV export, the portal over HTTP vs
DuckDB in-process on its own Parquet of the same CSV.

    bench/query.py BASE_URL DATASET TABLE PEER_PARQUET SERVER_PID [N] [--export-only] [--filtered]

The table is the 10M-row observations table (bench/ingest.sh). SERVER_PID is the portal's
process, whose resident memory and its query workers' is sampled during the export: VmRSS,
and its two parts, RssAnon (the heap) and RssFile (pages of the Parquet file the engine
maps, which the kernel can drop at will). Prints p50 and p99 of N
sequential runs (N=10 by default) for the queries, and MB/s and RSS growth for the export.

A query worker decodes a table that SQL reads into memory after answering its first query
(server/src/engine/memtable.rs): the first GROUP BY is timed on its own, from the file, and
the runs after it start once the table had time to load. That table stays in the worker's
memory; `--export-only` measures the export alone, on the server as it was started.

The export is the plain download, `data.csv`, which the worker writes from the file on every
core (server/src/engine/csv_dump/). `--filtered` asks for it with a filter no row fails
(`id__gte=0`), which goes through polars' streaming engine as every filtered export does.
"""
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

import duckdb

export_only = "--export-only" in sys.argv
filtered = "--filtered" in sys.argv
args = [a for a in sys.argv if a not in ("--export-only", "--filtered")]
base, dataset, table, peer, pid = args[1:6]
n = int(args[6]) if len(args) > 6 else 10
sql_name = f"{dataset.replace('-', '_')}__{table.replace('-', '_')}"
AGG = "SELECT aimag, indicator, avg(value) AS mean, count(*) AS n FROM {t} GROUP BY 1, 2"
GROUPED = "group_by=aimag,indicator&select=aimag,indicator,avg(value)%20as%20mean,count(*)%20as%20n&limit=1000"


def measure(fn):
    fn()
    xs = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        xs.append((time.perf_counter() - t0) * 1000)
    xs.sort()
    return statistics.median(xs), xs[min(len(xs) - 1, int(len(xs) * 0.99))]


def get(path):
    with urllib.request.urlopen(base + path) as r:
        return r.read()


con = duckdb.connect()
con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{peer}')")
agg_path = "/api/v1/sql?" + urllib.parse.urlencode({"q": AGG.format(t=sql_name)})
rows = f"/api/v1/datasets/{dataset}/tables/{table}/rows"
if export_only:
    results = []
else:
    t0 = time.perf_counter()
    assert len(get(agg_path)) > 0
    cold = (time.perf_counter() - t0) * 1000
    time.sleep(15)
results = results if export_only else [
    ("GROUP BY aimag, indicator: opendata /api/v1/sql over HTTP", measure(lambda: get(agg_path))),
    ("GROUP BY aimag, indicator: duckdb in-process", measure(lambda: con.execute(AGG.format(t="t")).fetchall())),
    # The same aggregate without SQL, through the rows API (a scan of the file each time).
    ("GROUP BY aimag, indicator: opendata rows?group_by=", measure(lambda: get(f"{rows}?{GROUPED}"))),
    ("OFFSET 1000000 LIMIT 100: opendata rows API", measure(lambda: get(f"{rows}?offset=1000000&limit=100&total=false"))),
    ("OFFSET 1000000 LIMIT 100: duckdb in-process",
     measure(lambda: con.execute("SELECT * FROM t LIMIT 100 OFFSET 1000000").fetchall())),
]
if not export_only:
    print(f"first GROUP BY, from the file: {cold:.1f} ms")
    print(f"{n} sequential runs each, warm cache")
for name, (p50, p99) in results:
    print(f"{name:58s} p50 {p50:8.1f} ms   p99 {p99:8.1f} ms")


def children(parent):
    """The processes whose parent is `parent`: the server's query workers."""
    import os
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                for line in open(f"/proc/{entry}/status"):
                    if line.startswith("PPid:") and line.split()[1] == str(parent):
                        out.append(entry)
            except OSError:
                pass
    return out


def memory_kb():
    """Resident memory of the server and its query workers: all of it, the heap (anonymous)
    and the mapped Parquet file."""
    out = {"VmRSS": 0, "RssAnon": 0, "RssFile": 0}
    for p in [pid] + children(pid):
        try:
            for line in open(f"/proc/{p}/status"):
                key = line.split(":")[0]
                if key in out:
                    out[key] += int(line.split()[1])
        except OSError:
            pass
    return out


# The export: the whole table, or the whole table through a filter (see the docstring).
before = memory_kb()
peak = dict(before)
done = threading.Event()


def sample():
    while not done.is_set():
        for key, kb in memory_kb().items():
            peak[key] = max(peak[key], kb)
        time.sleep(0.05)


threading.Thread(target=sample, daemon=True).start()
# curl reads it into /dev/null, as DuckDB's COPY writes there: Python's own HTTP client
# decodes a chunked body at about 150 MB/s on this machine and would measure itself.
t0 = time.perf_counter()
size = int(subprocess.run(
    ["curl", "-sS", "-o", "/dev/null", "-w", "%{size_download}",
     f"{base}/api/v1/datasets/{dataset}/tables/{table}/data.csv" + ("?id__gte=0" if filtered else "")],
    check=True, capture_output=True, text=True).stdout)
secs = time.perf_counter() - t0
done.set()
t0 = time.perf_counter()
con.execute(f"COPY (SELECT * FROM t) TO '/dev/null' (FORMAT csv)")
duck = time.perf_counter() - t0
growth = ", ".join(f"{k} {before[k] / 1024:.0f} -> {peak[k] / 1024:.0f} MB (+{(peak[k] - before[k]) / 1024:.0f})"
                   for k in ("VmRSS", "RssAnon", "RssFile"))
print(f"CSV export, all rows{' through a filter' if filtered else ''}: opendata {size / 1e6:.0f} MB in {secs:.2f} s = "
      f"{size / 1e6 / secs:.0f} MB/s; server {growth}")
print(f"CSV export, all rows: duckdb COPY TO csv in-process {duck:.2f} s = {size / 1e6 / duck:.0f} MB/s (same size assumed)")
