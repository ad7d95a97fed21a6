#!/bin/sh
# Partner cohort import (bench/cohorts.c): membership changes applied per
# second through POST /partners/heap/cohorts/users with 1,000 user_ids per
# request (the documented maximum), against $BENCH_PROFILES (1,000,000)
# existing profiles; then the memory of a cohort of that many members, in
# the server and for other layouts. Target: >= 500,000 changes/s.
#
# A fresh store is seeded in-process (the engine applies /users/track
# commands of 75 profiles, then checkpoints), brasa serves it, and
# bench/cohorts.c drives $BENCH_CONNS (8) keep-alive connections for
# $BENCH_SECONDS (5) s, then fills a second cohort with every profile over one
# connection. Every answer is checked (each id of each request must be a
# real change). About a minute in all.
set -eu
. bench/lib.sh
secs=${BENCH_SECONDS:-5}
profiles=${BENCH_PROFILES:-1000000}
conns=${BENCH_CONNS:-8}
bc=build/bench/cohorts
for f in "$bin" "$bc"; do [ -x "$f" ] || { echo "cohorts: $f is not built (make $f)" >&2; exit 1; }; done

bench_init cohorts

secret=$("$bc" seed "$tmp/data" "$profiles")
bench_serve "$tmp" --log-level warn
rss0=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")

echo "Partner cohort import: POST /partners/heap/cohorts/users, 1,000 user_ids per request, $profiles profiles"
"$bc" load "$port" "$secret" "$profiles" "$conns" "$secs" "$key" | sed 's/^/  /'
rss1=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
echo "  server RSS: $((rss0 / 1024)) MiB with the profiles loaded, $((rss1 / 1024)) MiB after the run"
if ! kill -0 "$pid" 2>/dev/null; then echo "cohorts: the server died; its log:" >&2; tail -20 "$tmp/err" >&2; exit 1; fi
bench_stop
"$bc" memory | sed 's/^/  /'
