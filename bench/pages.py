#!/usr/bin/env python3
"""Web pages: bytes on the wire for a first load (HTML + stylesheet, gzip as a browser asks)
and server render time p50/p99 over N sequential requests.

    bench/pages.py BASE_URL [N]

Run against `opendata serve --demo` (release build).
"""
import gzip
import re
import statistics
import sys
import time
import urllib.request

base = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 50
PAGES = ["/", "/datasets?q=%D1%85%D2%AF%D0%BD%20%D0%B0%D0%BC", "/datasets/air-quality-ub",
         "/datasets/air-quality-ub?station_code=UB01&order=-value",
         "/datasets/air-quality-ub?chart.x=observed_at&chart.y=value&chart.group=station_code",
         "/datasets/population-by-aimag?chart.x=on_&chart.y=khun_amyn_too&chart.agg=sum&chart.kind=bar",
         "/organizations/nso"]


def get(path, gz=True):
    req = urllib.request.Request(base + path, headers={"Accept-Encoding": "gzip"} if gz else {})
    with urllib.request.urlopen(req) as r:
        return r.read(), r.headers


print(f"{'page':100s} {'first load (gzip)':>18s} {'render p50':>11s} {'p99':>8s}")
for path in PAGES:
    body, headers = get(path)
    html = gzip.decompress(body) if headers.get("Content-Encoding") == "gzip" else body
    total = len(body)
    for asset in re.findall(rb'(?:href|src)="(/assets/[^"]+)"', html):
        a, _ = get(asset.decode())
        total += len(a)
    xs = []
    for _ in range(n):
        t = time.perf_counter()
        get(path, gz=False)
        xs.append((time.perf_counter() - t) * 1000)
    xs.sort()
    print(f"{path[:100]:100s} {total / 1024:15.1f} KB {statistics.median(xs):8.1f} ms {xs[int(len(xs) * 0.99) - 1]:6.1f} ms")
