#!/bin/sh
# Acknowledged writes over HTTP: wrk, 64 connections, POST /admin/keys (each
# request commits one row before its 201), against brasa with group commit and
# with one commit per write (--commit-batch 1). Prints both and the ratio.
# Seconds per run: $BENCH_SECONDS (5).
set -eu
. bench/lib.sh
bench_init http_commit
secs=${BENCH_SECONDS:-5}
run() { # $1 = commit batch; prints requests/s
    dir=$tmp/batch-$1
    bench_serve "$dir" --rate-limit default=0 --log-level warn --commit-batch "$1"
    BRASA_KEY=$key wrk -t2 -c64 -d"${secs}s" --latency -s bench/post_keys.lua "$url/admin/keys" > "$dir/wrk"
    bench_stop
    if grep -q "Non-2xx" "$dir/wrk"; then echo "errors in run:" >&2; cat "$dir/wrk" >&2; exit 1; fi
    rps=$(awk '/Requests\/sec/ {print int($2)}' "$dir/wrk")
    p50=$(awk '$1=="50%" {print $2}' "$dir/wrk"); p99=$(awk '$1=="99%" {print $2}' "$dir/wrk")
    echo "$rps $p50 $p99"
}
set -- $(run 8192); g=$1; gp50=$2; gp99=$3
set -- $(run 1); o=$1; op50=$2; op99=$3
echo "HTTP acknowledged writes (POST /admin/keys, wrk 64 connections, ${secs}s each)"
printf '  %-22s %10s %10s %10s\n' mode "writes/s" p50 p99
printf '  %-22s %10s %10s %10s\n' "group commit" "$g" "$gp50" "$gp99"
printf '  %-22s %10s %10s %10s\n' "one commit per write" "$o" "$op50" "$op99"
awk -v g="$g" -v o="$o" 'BEGIN { printf "  ratio (group / one per write): %.1fx\n", g / o }'
