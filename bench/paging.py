#!/usr/bin/env python3
"""Deep paging: page 1 vs page 50,000 of the rows API (100 rows a page, file order).

    bench/paging.py BASE_URL DATASET TABLE [N]

Page 50,000 is fetched with the cursor a client holds after following `next` 49,999 times:
the cursor names the last row seen (row 4,999,999 of the version), which is what `next`
would return; the script checks the page holds the same rows as `offset=4999900`, in
whatever order the table is stored. Prints p50 and p99 of N sequential runs each.
"""
import base64
import json
import statistics
import sys
import time
import urllib.request

base, dataset, table = sys.argv[1:4]
n = int(sys.argv[4]) if len(sys.argv) > 4 else 30
rows = f"{base}/api/v1/datasets/{dataset}/tables/{table}/rows"
version = json.load(urllib.request.urlopen(f"{base}/api/v1/datasets/{dataset}"))["tables"][0]["version"]
cursor = base64.urlsafe_b64encode(json.dumps({"v": version, "a": {"r": 50_000 * 100 - 101, "k": []}}).encode())
cursor = cursor.decode().rstrip("=")


def get(url):
    with urllib.request.urlopen(url) as r:
        return json.load(r)


def measure(url):
    get(url)
    xs = []
    for _ in range(n):
        t0 = time.perf_counter()
        get(url)
        xs.append((time.perf_counter() - t0) * 1000)
    xs.sort()
    return statistics.median(xs), xs[min(len(xs) - 1, int(len(xs) * 0.99))]


first = f"{rows}?limit=100&total=false"
deep = f"{rows}?limit=100&total=false&cursor={cursor}"
assert get(deep)["rows"] == get(f"{first}&offset=4999900")["rows"], "the crafted cursor is not page 50,000"
for label, url in [("page 1", first), ("page 50,000 (cursor)", deep), ("page 50,000 (offset)", f"{first}&offset=4999900")]:
    p50, p99 = measure(url)
    print(f"{label:24s} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms")
