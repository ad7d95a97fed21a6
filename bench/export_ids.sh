#!/bin/sh
# /users/export/ids latency while /users/track ingest runs at half load.
#
# A partner looking profiles up (50 external ids a request, every field)
# must not wait behind the ingest's commits: reads run on the engine
# thread between commands and never wait for an fsync (docs/architecture.md).
#
# 1. A fresh server is seeded with $BENCH_USERS (100000) users through
#    /users/track (bench/loadgen --track: 75 attributes + 75 events a request).
# 2. Its ingest ceiling: loadgen closed loop, 64 connections, 5 s.
# 3. Export alone: 50 requests/s over 4 connections, $BENCH_SECONDS (20) s.
# 4. The same export while ingest runs open-loop at half the ceiling for
#    the same time (a run that long includes checkpoints: every 10 s).
# Latency is counted from each request's intended send time (loadgen). The
# load generators share the machine's cores with the server.
#
# Binaries: $BRASA_BIN (build/brasa), $LOADGEN (build/bench/loadgen).
set -eu
. bench/lib.sh
secs=${BENCH_SECONDS:-20}
users=${BENCH_USERS:-100000}
lg=${LOADGEN:-build/bench/loadgen}
for f in "$bin" "$lg"; do [ -x "$f" ] || { echo "export_ids: $f is not built (make $f)" >&2; exit 1; }; done

bench_init export_ids
bench_serve "$tmp" --rate-limit default=0 --rate-limit users.track=0 --rate-limit users.export.ids=0 --log-level warn
field() { sed -n "s/^loadgen:.* $2=\([^ ]*\).*/\1/p" "$1"; }

# track OUT RATE SECONDS: ingest through loadgen (RATE 0: closed loop).
track() {
    "$lg" -c 64 -r "$2" -d "$3" -w 1 --track "$users" -s 201 -H "Authorization: Bearer $key" \
        -e '"attributes_processed":75,' "$url/users/track" >"$1" 2>&1 || {
        echo "export_ids: ingest failed:" >&2; cat "$1" >&2; exit 1
    }
}
# export OUT: 50 lookups/s of 50 ids each, every answer must list users.
export_ids() {
    "$lg" -c 4 -r 50 -d "$secs" -w 1 -b "$tmp/body" -s 201 -H "Authorization: Bearer $key" \
        -H 'Content-Type: application/json' -e '"message":"success"' -e '"external_id":"user-' \
        "$url/users/export/ids" >"$1" 2>&1 || {
        echo "export_ids: export failed:" >&2; cat "$1" >&2; exit 1
    }
}

# 50 ids spread over the users (all of them exist once seeded).
awk -v n="$users" 'BEGIN { printf "{\"external_ids\":["; for (i = 0; i < 50; i++) printf "%s\"user-%d\"", i ? "," : "", int(i * n / 50) + 7; print "]}" }' >"$tmp/body"

track "$tmp/seed" 0 "$(awk -v u="$users" 'BEGIN { s = int(u / 15000); print s < 3 ? 3 : s }')"
track "$tmp/max" 0 5
max=$(field "$tmp/max" achieved)
half=$(awk -v r="$max" 'BEGIN { printf "%.0f", r / 2 }')

export_ids "$tmp/alone"
track "$tmp/load" "$half" "$((secs + 1))" &
tpid=$!
sleep 1
export_ids "$tmp/under"
wait $tpid || { echo "export_ids: the ingest run failed" >&2; cat "$tmp/load" >&2; exit 1; }
kill -0 "$pid" 2>/dev/null || { echo "export_ids: the server died; its log:" >&2; tail -20 "$tmp/err" >&2; exit 1; }

echo "/users/export/ids: 50 external ids a request (every field), 50 requests/s over 4 connections, ${secs}s; $users users"
echo "  ingest ceiling (loadgen closed loop, 64 connections): $max req/s ($(awk -v r="$max" 'BEGIN { printf "%.0f", r * 150 }') objects/s)"
printf '  %-36s %9s %8s %8s %8s %8s\n' "export latency (ms from intended send)" achieved p50 p90 p99 max
for run in alone under; do
    f=$tmp/$run
    label="alone"
    [ "$run" = under ] && label="with ingest at $half req/s ($(field "$tmp/load" achieved) achieved)"
    printf '  %-36s %9s %8s %8s %8s %8s\n' "$label" "$(field "$f" achieved)" "$(field "$f" p50)" "$(field "$f" p90)" \
        "$(field "$f" p99)" "$(field "$f" max)"
done
awk -v p="$(field "$tmp/under" p99)" 'BEGIN { printf "  target: p99 <= 5 ms under half-load ingest: %s\n", p + 0 <= 5 ? "met" : "not met" }'
