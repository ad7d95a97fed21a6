#!/bin/sh
# Currents: the outbox delivered to a Custom HTTP receiver, and what a live
# connector costs /users/track.
#
# 1. The fill: a server on a fresh data directory; $BENCH_EVENTS (1000000)
#    custom events written through /users/track, rounded up to whole
#    requests of 75 attributes objects (8 custom attributes each) and 75
#    events (3-5 properties each), Braze's limits, over $BENCH_USERS
#    (100000) external ids: bench/loadgen -n, closed loop, 64 connections.
#    Every answer 201, sampled answers 75/75 processed. Each event is one
#    users.behaviors.CustomEvent record in the outbox.
# 2. The drain: bench/recv (one thread) as the receiver; POST
#    /admin/currents creates a custom_http connector with "start":
#    "earliest" and a token; the receiver's count (GET /__count, every
#    100 ms) must reach every event. Events per second: the events over the
#    time from the POST to the receiver's last request; the ratio to the
#    target of 200,000/s (Braze's 100-event batches). CPU per event of the
#    server and the receiver (ticks in /proc/PID/stat over the drain). Then
#    it checks: the receiver holds every event id (unique_events = accepted
#    = the events written, no broken body, requests with
#    Braze-Currents-Version: 1 and the Bearer token), and the connector
#    reports them sent, with no lag and no errors.
# 3. The receiver's own ceiling: bench/recv_client posts the first batch
#    the server sent (taken from the receiver's dump, its event ids made
#    distinct per request) to a fresh bench/recv for $BENCH_RECV_SECONDS (3)
#    s, on 1 keep-alive connection with one request in flight (as a
#    connector drives its receiver), and on 8. The drain's rate means
#    something only well under it.
# 4. /users/track with and without a live connector: wrk -t2 -c64 with
#    bench/ingest.lua (the bodies of bench/ingest.sh), $BENCH_SECONDS (10) s
#    a run, on a fresh server alone, then on a fresh server with a
#    custom_http connector ("start":"latest") delivering to bench/recv
#    meanwhile; $BENCH_TRACK_ROUNDS (2) rounds, alternating, so a drift of
#    the machine falls on both. The ratio of the mean request rates (target
#    >= 0.90), and what the connector delivered during the live runs (its
#    lag at their end).
#
# Everything shares the machine's cores (server, receiver, load
# generators); the figures include that. Skipped, with a message, against a
# build without /admin/currents. Binaries: $BRASA_BIN (build/brasa),
# $LOADGEN (build/bench/loadgen), build/bench/{recv,recv_client}; wrk, node.
set -eu
. bench/lib.sh
events=${BENCH_EVENTS:-1000000}
users=${BENCH_USERS:-100000}
secs=${BENCH_SECONDS:-10}
recv_secs=${BENCH_RECV_SECONDS:-3}
rounds=${BENCH_TRACK_ROUNDS:-2}
lg=${LOADGEN:-build/bench/loadgen}
rv=build/bench/recv
rc=build/bench/recv_client
for f in "$bin" "$lg" "$rv" "$rc"; do [ -x "$f" ] || { echo "currents: $f is not built (make $f)" >&2; exit 1; }; done
command -v wrk >/dev/null || { echo "currents: wrk is not installed (scripts/deps.sh bench)" >&2; exit 1; }
command -v node >/dev/null || { echo "currents: node is not installed" >&2; exit 1; }

bench_init currents
rpid=''
trap 'recv_stop; bench_stop; rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP PIPE

# connector START: POST /admin/currents, a custom_http connector to the
# receiver on $rport; sets cid.
connector() {
    printf '{"name":"bench","type":"custom_http","url":"http://127.0.0.1:%s/currents","token":"bench-token","start":"%s"}\n' \
        "$rport" "$1" >"$tmp/connector.json"
    st=$(api POST /admin/currents "$tmp/connector.json")
    [ "$st" = 201 ] || fail "POST /admin/currents answered $st: $(cat "$tmp/resp")"
    cid=$(jget id)
    [ -n "$cid" ] || fail "POST /admin/currents: no id in $(cat "$tmp/resp")"
}

# connector_state FILE: GET /admin/currents into FILE; the fields of the
# (only) connector: sent, lag events, errors.
connector_state() {
    st=$(api GET /admin/currents)
    [ "$st" = 200 ] || fail "GET /admin/currents answered $st: $(cat "$tmp/resp")"
    cp "$tmp/resp" "$1"
}

# serve NAME: a fresh server for the runs (no rate limits).
serve() { bench_serve "$tmp/$1" --rate-limit default=0 --rate-limit users.track=0 --log-level warn; }

# ---- 0. does this build have Currents? --------------------------------------
bench_serve "$tmp/probe" --log-level warn
st=$(api GET /admin/currents)
bench_stop
if [ "$st" = 404 ]; then
    echo "Currents: skipped: this build has no /admin/currents"
    exit 0
fi

# ---- 1. the fill ------------------------------------------------------------
reqs=$(((events + 74) / 75))
n=$((reqs * 75))
serve drain
t0=$(now_ms)
"$lg" -c 64 -r 0 -n "$reqs" -d 3600 -w 0 --track "$users" -s 201 -H "Authorization: Bearer $key" \
    -e '"attributes_processed":75,' -e '"events_processed":75,' "$url/users/track" >"$tmp/fill" 2>&1 || {
    cat "$tmp/fill" >&2; fail "the fill through /users/track failed"
}
t1=$(now_ms)
fill_ms=$((t1 - t0))
grep -q "($reqs answers in all" "$tmp/fill" || { cat "$tmp/fill" >&2; fail "the fill did not get $reqs answers"; }
body=$(sed -n 's/.*mean body \([0-9]*\) bytes.*/\1/p' "$tmp/fill")

# ---- 2. the drain -----------------------------------------------------------
recv_start drain --dump "$tmp/dump" --dump-max 1
cs0=$(cpu_ticks "$pid") cr0=$(cpu_ticks "$rpid") t_create=$(now_ms)
connector earliest
last='' still=0
while :; do
    recv_count drain
    got=$(jget accepted_events "$tmp/drain.count")
    [ "$got" -ge "$n" ] && break
    if [ "$got" = "$last" ]; then
        still=$((still + 1))
        [ $still -lt 600 ] || { connector_state "$tmp/state"; fail "no event delivered in 60 s ($got of $n): $(cat "$tmp/state")"; }
    else
        still=0 last=$got
    fi
    kill -0 "$pid" 2>/dev/null || fail "the server died during the drain"
    sleep 0.1
done
cs1=$(cpu_ticks "$pid") cr1=$(cpu_ticks "$rpid") t_seen=$(now_ms)
f=$tmp/drain.count
requests=$(jget requests "$f") first_at=$(jget first_at "$f") last_at=$(jget last_at "$f")
got=$(jget events "$f") dups=$(jget duplicate_events "$f")
[ "$(jget unique_events "$f")" = "$n" ] && [ "$(jget accepted_events "$f")" = "$n" ] ||
    fail "the receiver holds $(jget unique_events "$f") distinct event ids for $n events written: $(cat "$f")"
[ "$(jget bad_bodies "$f")" = 0 ] && [ "$(jget failed "$f")" = 0 ] || fail "broken bodies or failed requests: $(cat "$f")"
head -1 "$tmp/dump" | grep -q '"method":"POST","path":"/currents"' || fail "unexpected request: $(head -c 300 "$tmp/dump")"
grep -q '"braze-currents-version":"1"' "$tmp/dump" || fail "no Braze-Currents-Version: 1: $(head -c 600 "$tmp/dump")"
grep -q '"authorization":"Bearer bench-token"' "$tmp/dump" || fail "no Authorization: Bearer: $(head -c 600 "$tmp/dump")"
# the connector's own counters agree, once its last batch is recorded
i=0
while connector_state "$tmp/state"; [ "$(jget sent "$tmp/state")" != "$n" ]; do
    i=$((i + 1))
    [ $i -lt 50 ] || fail "the connector reports $(jget sent "$tmp/state") sent, the receiver got $n: $(cat "$tmp/state")"
    sleep 0.1
done
sed 's/.*"lag"//' "$tmp/state" >"$tmp/lag"
[ "$(jget events "$tmp/lag")" = 0 ] || fail "the connector reports a lag after the drain: $(cat "$tmp/state")"
[ "$(jget dead_letter "$tmp/state")" = 0 ] || fail "events in the dead letter: $(cat "$tmp/state")"
! grep -q '"errors" *: *{ *"' "$tmp/state" || fail "the connector reports errors: $(cat "$tmp/state")"
rss_drain=$(rss_kb "$pid")
recv_stop
bench_stop
drain_ms=$((last_at - t_create))
rate=$(awk -v n="$n" -v ms="$drain_ms" 'BEGIN { printf "%.0f", (ms > 0 ? n * 1000 / ms : 0) }')
hz=$(getconf CLK_TCK)
us_srv=$(awk -v a="$cs0" -v b="$cs1" -v n="$n" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz * 1e6 / n }')
us_rcv=$(awk -v a="$cr0" -v b="$cr1" -v n="$n" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz * 1e6 / n }')
cpu_srv=$(pct "$cs0" "$cs1" $((t_seen - t_create)))
cpu_rcv=$(pct "$cr0" "$cr1" $((t_seen - t_create)))

# ---- 3. the receiver's ceiling ----------------------------------------------
# The first batch the server sent, each event id rewritten to the same
# length: 16 '@' (the marker recv_client writes each request's id over),
# then the event's place in the batch (brasa's ids, base-index-sub, repeat
# their index part when a batch spans two /users/track requests).
node -e '
const fs = require("fs");
const d = JSON.parse(fs.readFileSync(process.argv[1], "utf8").split("\n")[0]);
let k = 0;
const body = d.body.replace(/"id":"([^"]{16})([^"]{5,})"/g, (m, base, tail) =>
  "\"id\":\"" + "@".repeat(16) + "-" + (k++).toString(16).padStart(tail.length - 1, "0") + "\"");
fs.writeFileSync(process.argv[2], body);
process.stdout.write(String(JSON.parse(body).events.length));
' "$tmp/dump" "$tmp/batch.json" >"$tmp/batch.n" || fail "cannot read the first batch from the receiver's dump"
batch_n=$(cat "$tmp/batch.n") batch_bytes=$(wc -c <"$tmp/batch.json")
# ceiling NAME CONNS: sets rps ev_s cpu (the receiver's % of a core).
ceiling() {
    recv_start "$1"
    c0=$(cpu_ticks "$rpid") w0=$(now_ms)
    "$rc" -c "$2" -p 1 -d "$recv_secs" -w 0 -b "$tmp/batch.json" "http://127.0.0.1:$rport/currents" >"$tmp/$1" 2>&1 ||
        { cat "$tmp/$1" >&2; fail "the receiver's ceiling run failed"; }
    c1=$(cpu_ticks "$rpid") w1=$(now_ms)
    recv_count "$1"
    recv_stop
    rps=$(sed -n 's/.* rps=\([0-9]*\).*/\1/p' "$tmp/$1")
    ev_s=$((rps * batch_n))
    cpu=$(pct "$c0" "$c1" $((w1 - w0)))
    [ "$(jget bad_bodies "$tmp/$1.count")" = 0 ] || fail "the receiver found the batch broken: $(cat "$tmp/$1.count")"
    [ "$(jget unique_events "$tmp/$1.count")" = "$(jget events "$tmp/$1.count")" ] ||
        fail "the ceiling run's event ids are not distinct: $(cat "$tmp/$1.count")"
}
ceiling ceiling1 1; c1_rps=$rps c1_ev=$ev_s c1_cpu=$cpu
ceiling ceiling8 8; c8_rps=$rps c8_ev=$ev_s c8_cpu=$cpu

# ---- 4. /users/track with and without a live connector ----------------------
# track NAME: wrk on the server; sets rps; every answer 201, sampled 75/75.
track() {
    BRASA_KEY=$key BENCH_USERS=$users wrk -t2 -c64 -d"${secs}s" -s bench/ingest.lua "$url/users/track" >"$tmp/$1.wrk" 2>&1 || true
    kill -0 "$pid" 2>/dev/null || fail "the server died during the $1 run"
    chk=$(grep '^check:' "$tmp/$1.wrk" || true)
    if [ -z "$chk" ] || grep -qE 'Socket errors|Non-2xx' "$tmp/$1.wrk" ||
        ! echo "$chk" | grep -q ' non201=0 ' || ! echo "$chk" | grep -q ' sample_bad=0 ' ||
        echo "$chk" | grep -q ' sampled=0 '; then
        cat "$tmp/$1.wrk" >&2; fail "wrong answers in the $1 run"
    fi
    rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/$1.wrk")
}
# run_alone K, run_live K: one run on a fresh server, a line into $tmp/track.runs:
# "mode req/s server% receiver% events-delivered lag-events lag-seconds".
run_alone() {
    serve "alone$1"
    s0=$(cpu_ticks "$pid") w0=$(now_ms)
    track "alone$1"
    echo "alone $rps $(pct "$s0" "$(cpu_ticks "$pid")" $(($(now_ms) - w0))) 0 0 0 0" >>"$tmp/track.runs"
    bench_stop
}
run_live() {
    serve "live$1"
    recv_start "live$1"
    connector latest
    s0=$(cpu_ticks "$pid") r0=$(cpu_ticks "$rpid") w0=$(now_ms)
    track "live$1"
    w1=$(now_ms)
    recv_count "live$1"
    connector_state "$tmp/live$1.state"
    sed 's/.*"lag"//' "$tmp/live$1.state" >"$tmp/live$1.lag"
    [ "$(jget bad_bodies "$tmp/live$1.count")" = 0 ] || fail "broken bodies during the live run: $(cat "$tmp/live$1.count")"
    echo "live $rps $(pct "$s0" "$(cpu_ticks "$pid")" $((w1 - w0))) $(pct "$r0" "$(cpu_ticks "$rpid")" $((w1 - w0)))" \
        "$(jget events "$tmp/live$1.count") $(jget events "$tmp/live$1.lag") $(jget seconds "$tmp/live$1.lag")" >>"$tmp/track.runs"
    recv_stop
    bench_stop
}
# Alternating, so a drift in the machine's speed falls on both.
: >"$tmp/track.runs"
k=1
while [ $k -le "$rounds" ]; do
    run_alone $k
    run_live $k
    k=$((k + 1))
done

# ---- report -----------------------------------------------------------------
echo "Currents: outbox -> custom_http connector -> bench/recv (one thread) on this machine ($(nproc) cores, shared by server, receiver and load generators)"
awk -v n="$n" -v r="$reqs" -v b="$body" -v ms="$fill_ms" -v u="$users" 'BEGIN {
    printf "  fill: %d custom events through /users/track in %d requests (75 attributes objects + 75 events each, mean body %d bytes, %d users) in %.1f s: %.0f events/s\n", n, r, b, u, ms / 1000, n * 1000 / ms }'
awk -v n="$n" -v g="$got" -v q="$requests" -v ms="$drain_ms" -v f="$((first_at - t_create))" -v r="$rate" \
    -v s="$us_srv" -v c="$us_rcv" -v cs="$cpu_srv" -v cr="$cpu_rcv" 'BEGIN {
    printf "  drain (\"start\":\"earliest\"): %d events in %d requests (%.1f events a request), %.2f s from POST /admin/currents to the last request (the first after %d ms)\n", g, q, g / q, ms / 1000, f
    printf "  delivered: %d events/s; target 200,000/s: ratio %.2f, %s\n", r, r / 200000, (r >= 200000 ? "met" : "not met")
    printf "  CPU per event: server %s us, receiver %s us (during the drain: server %d%%, receiver %d%% of one core)\n", s, c, cs, cr }'
echo "  every event arrived: $n distinct ids ($dups sent again), no broken body, no failed request; the connector reports $n sent, lag 0, no errors, nothing in the dead letter"
echo "  server RSS after the drain: $(awk -v k="$rss_drain" 'BEGIN { printf "%.0f", k / 1024 }') MiB"
awk -v n="$batch_n" -v b="$batch_bytes" -v s="$recv_secs" -v r1="$c1_rps" -v e1="$c1_ev" -v p1="$c1_cpu" \
    -v r8="$c8_rps" -v e8="$c8_ev" -v p8="$c8_cpu" -v rate="$rate" 'BEGIN {
    printf "  receiver ceiling (bench/recv_client posting the server'"'"'s first batch, %d events, %d bytes, ids distinct per request, %d s):\n", n, b, s
    printf "    1 connection, 1 request in flight: %d req/s = %d events/s (receiver at %d%% of a core)\n", r1, e1, p1
    printf "    8 connections, 1 in flight each:   %d req/s = %d events/s (receiver at %d%% of a core)\n", r8, e8, p8
    printf "    the drain ran at %.0f%% of the one-connection ceiling\n", (e1 > 0 ? rate * 100 / e1 : 0) }'
awk -v s="$secs" -v r="$rounds" '
    { n[$1]++; rps[$1] += $2; cpu[$1] += $3; rcv[$1] += $4
      runs[$1] = runs[$1] (runs[$1] == "" ? "" : ", ") sprintf("%.0f", $2)
      if ($1 == "live") { ev += $5; lag = lag (lag == "" ? "" : ", ") $6 " events/" $7 " s" } }
    END {
        a = rps["alone"] / n["alone"]; l = rps["live"] / n["live"]
        printf "  /users/track (wrk -t2 -c64, bench/ingest.lua, %d s a run, %d rounds alternating, a fresh server each run):\n", s, r
        printf "    alone: %.0f req/s (%.0f objects/s; runs %s; server %.0f%% of one core)\n", a, a * 150, runs["alone"], cpu["alone"] / n["alone"]
        printf "    with a live custom_http connector: %.0f req/s (%.0f objects/s; runs %s; server %.0f%%, receiver %.0f%%)\n", l, l * 150, runs["live"], cpu["live"] / n["live"], rcv["live"] / n["live"]
        printf "    the connector meanwhile: %.0f events/s delivered; its lag at the end of each run: %s\n", ev / n["live"] / s, lag
        printf "    ratio %.2f; target >= 0.90: %s\n", (a > 0 ? l / a : 0), (a > 0 && l / a >= 0.9 ? "met" : "not met") }' "$tmp/track.runs"
