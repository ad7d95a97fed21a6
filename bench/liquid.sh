#!/bin/sh
# Liquid render throughput on a realistic 5 KB email (see bench/liquid.c).
# Seconds per run: $BENCH_SECONDS (5).
exec build/bench/liquid "${BENCH_SECONDS:-5}"
