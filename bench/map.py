#!/usr/bin/env python3
"""First paint of a dataset page's map at 10,000 features, in real Chromium (Playwright
driving Debian's /usr/bin/chromium): a table of 10,000 points over Mongolia is ingested
with the default settings, served, and its page loaded RUNS times in a fresh browser
context each; the figure is the time from navigation to the map's `map-drawn` mark (the
frame after the outlines and every feature were added), with the GeoJSON's size.

    bench/map.py [RUNS]        (needs target/release/opendata; BENCH_BIN names another)
"""
import os
import pathlib
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from playwright.sync_api import sync_playwright

runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
here = pathlib.Path(__file__).resolve().parent
binary = os.environ.get("BENCH_BIN", str(here.parent / "target/release/opendata"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

with tempfile.TemporaryDirectory() as tmp:
    tmp = pathlib.Path(tmp)
    rng = random.Random(7)
    lines = ["station,longitude,latitude,value"]
    for i in range(10_000):
        lines.append(f"S{i:05},{87.75 + rng.random() * 32:.5f},{41.6 + rng.random() * 10.5:.5f},{rng.randint(0, 500)}")
    (tmp / "points.csv").write_text("\n".join(lines) + "\n")
    data = tmp / "data"
    subprocess.run([binary, "ingest", str(tmp / "points.csv"), "--data", str(data), "--dataset", "points",
                    "--org", "bench", "--title", "Points"], check=True, capture_output=True)
    env = dict(os.environ, OPENDATA_LIMITS__REQUESTS_PER_MINUTE="0", OPENDATA_LOG="warn")
    server = subprocess.Popen([binary, "serve", "--data", str(data), "--addr", "127.0.0.1:8093"], env=env,
                              stdout=subprocess.DEVNULL)
    try:
        base = "http://127.0.0.1:8093"
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        geojson = urllib.request.urlopen(base + "/api/v1/datasets/points/tables/main/data.geojson?limit=10000").read()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            times = []
            for _ in range(runs):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.goto(base + "/datasets/points")
                page.wait_for_selector("div.map.ready", timeout=60000)
                assert page.locator("div.map").get_attribute("data-features") == "10000"
                times.append(page.evaluate("performance.getEntriesByName('map-drawn')[0].startTime"))
                context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait()

times.sort()
print(f"map first paint, 10,000 points, {runs} loads: p50 {statistics.median(times):.0f} ms, "
      f"min {times[0]:.0f} ms, max {times[-1]:.0f} ms; data.geojson {len(geojson) / 1e6:.2f} MB")
