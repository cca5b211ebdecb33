#!/usr/bin/env python3
"""Runs one command and prints its wall time, throughput and peak RSS (of the whole process tree
that the command waits for), as one line. Used by ingest.sh so every engine is measured alike.

    run_cmd.py LABEL INPUT_FILE -- COMMAND...
"""
import os
import resource
import subprocess
import sys
import time


def main() -> int:
    label, src = sys.argv[1], sys.argv[2]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        print(f"{label}: FAILED (exit {proc.returncode})")
        return proc.returncode
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    mb = os.path.getsize(src) / 1e6
    print(f"{label:34s} {dt:7.2f} s  {mb / dt:6.0f} MB/s  peak RSS {rss_mb:6.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
