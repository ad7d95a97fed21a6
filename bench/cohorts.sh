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
secs=${BENCH_SECONDS:-5}
profiles=${BENCH_PROFILES:-1000000}
conns=${BENCH_CONNS:-8}
bin=build/brasa
bc=build/bench/cohorts
for f in "$bin" "$bc"; do [ -x "$f" ] || { echo "cohorts: $f is not built (make $f)" >&2; exit 1; }; done

tmp=$(mktemp -d /tmp/brasa-cohorts-XXXXXX)
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

secret=$("$bc" seed "$tmp/data" "$profiles")
"$bin" serve --listen 127.0.0.1 --port 0 --data-dir "$tmp/data" --log-level warn >"$tmp/out" 2>"$tmp/err" &
pid=$!
i=0
while ! grep -q listening "$tmp/out" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 1200 ] || ! kill -0 "$pid" 2>/dev/null; then
        echo "cohorts: the server did not start" >&2; cat "$tmp/err" >&2; exit 1
    fi
    sleep 0.05
done
port=$(sed -n 's/.*http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$tmp/out")
key=$(sed -n 's/^bootstrap key: //p' "$tmp/out")
rss0=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")

echo "Partner cohort import: POST /partners/heap/cohorts/users, 1,000 user_ids per request, $profiles profiles"
"$bc" load "$port" "$secret" "$profiles" "$conns" "$secs" "$key" | sed 's/^/  /'
rss1=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
echo "  server RSS: $((rss0 / 1024)) MiB with the profiles loaded, $((rss1 / 1024)) MiB after the run"
if ! kill -0 "$pid" 2>/dev/null; then echo "cohorts: the server died; its log:" >&2; tail -20 "$tmp/err" >&2; exit 1; fi
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
"$bc" memory | sed 's/^/  /'
