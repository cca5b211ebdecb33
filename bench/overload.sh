#!/usr/bin/env bash
# Overload and attack figures: the server as its own process (two query workers, 64 MB of
# held tables and 256 MB of query each, no rate limit) offered ten times the load it
# sustains, of point queries, SQL, downloads and searches, for SECONDS seconds (default
# 60); then every kind of hostile request at once. Prints the answers by status, /healthz
# p99 and the peak heap of the server and its workers.
set -euo pipefail
cd "$(dirname "$0")/.."
OVERLOAD_SECONDS="${1:-60}" cargo test -p opendata-tests --test integration attack:: -- --nocapture --test-threads=1 2>&1 \
  | grep -E "(overload|attack|sigterm):|test result|panicked"
