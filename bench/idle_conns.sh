#!/bin/sh
# New clients while 10,000 connections are held open (issue #12: the target is
# p99 under 50 ms). Three runs against one brasa (--max-connections-per-ip 0,
# all from 127.0.0.1): no idle connections (baseline), 10,000 connections that
# never sent a byte, and 10,000 keep-alive connections that each made one
# request first. Each times $BENCH_NEW (2000) new clients, one after another:
# connect, GET /healthz with Connection: close, read the answer. Prints p50,
# p99 and max per run against the target, and the server's resident memory.
set -eu
idle=${BENCH_IDLE:-10000}
new=${BENCH_NEW:-2000}
. bench/lib.sh
bench_init idle_conns
bench_serve "$tmp" --max-connections-per-ip 0 --log-level warn
run() { # $1 = idle connections, $2 = -k or nothing
    build/bench/idle_conns -n "$1" -m "$new" ${2:-} -p $pid -t 50 127.0.0.1 "$port" /healthz
}
echo "New clients while connections are held (2 cores shared with the client; $new new clients each)"
printf '  %-38s %8s %8s %8s %8s %10s\n' held p50_ms p99_ms max_ms target "server RSS"
for spec in "0" "$idle" "$idle -k"; do
    set -- $spec
    line=$(run "$@")
    echo "$line" | awk -v what="$(if [ "$1" = 0 ]; then echo none; elif [ "${2:-}" = -k ]; then echo "$1 keep-alive (after one request)"; else echo "$1 idle (no byte sent)"; fi)" '{
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "  %-38s %8s %8s %8s %8s %8.0f MB%s\n", what, v["p50_ms"], v["p99_ms"], v["max_ms"],
            (v["p99_ms"] + 0 < v["target_ms"] + 0 ? "met" : "MISSED"), v["rss_idle_kb"] / 1024,
            (v["failed"] + 0 ? "  FAILED: " v["failed"] : "") }'
    sleep 1 # closed connections leave the server
done
