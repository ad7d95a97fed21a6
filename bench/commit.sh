#!/bin/sh
# Group-commit throughput (see bench/commit.c). Seconds per mode: $BENCH_SECONDS (5).
exec build/bench/commit "${BENCH_SECONDS:-5}" build/bench-data
