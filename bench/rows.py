#!/usr/bin/env python3
"""Rows benchmark: the rows API over HTTP vs DuckDB and polars in-process, same queries: a
point filter, and a lookup by id.

    bench/rows.py BASE_URL DATASET TABLE PEER_PARQUET [N]

Run bench/ingest.sh first: it writes the table (served by `opendata serve --data bench/out/data`)
and DuckDB's own Parquet of the same CSV (bench/out/peers/duck.parquet), which is what a user
who downloaded the CSV would query instead. Prints p50 and p99 of N sequential runs each.
"""
import statistics
import sys
import time
import urllib.request

import duckdb
import polars as pl

base, dataset, table, peer = sys.argv[1:5]
n = int(sys.argv[5]) if len(sys.argv) > 5 else 50
QUERIES = [
    ("point", "station_code=ST0042&indicator=PM2.5&order=-observed_at&limit=100",
     "SELECT * FROM t WHERE station_code='ST0042' AND indicator='PM2.5' ORDER BY observed_at DESC LIMIT 100"),
    ("id", "id=5000001", "SELECT * FROM t WHERE id=5000001"),
]


def measure(fn):
    fn()  # warm-up: file cache and metadata, for every engine alike
    xs = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        xs.append((time.perf_counter() - t0) * 1000)
    xs.sort()
    return statistics.median(xs), xs[min(len(xs) - 1, int(len(xs) * 0.99))]


def http(url):
    def get():
        with urllib.request.urlopen(url) as r:
            body = r.read()
        assert b'"rows"' in body
    return get


con = duckdb.connect()
con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{peer}')")
ctx = pl.SQLContext(t=pl.scan_parquet(peer))
for label, qs, sql in QUERIES:
    url = f"{base}/api/v1/datasets/{dataset}/tables/{table}/rows?{qs}"
    results = {
        "opendata rows API over HTTP": measure(http(url)),
        "duckdb in-process (own parquet)": measure(lambda: con.execute(sql).fetchall()),
        "polars in-process (same parquet)": measure(lambda: ctx.execute(sql).collect()),
    }
    print(f"{label}: {qs}  ({n} sequential runs each)")
    for name, (p50, p99) in results.items():
        print(f"  {name:36s} p50 {p50:8.1f} ms   p99 {p99:8.1f} ms")
