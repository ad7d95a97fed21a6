#!/bin/sh
# Webhook fan-out: one API campaign broadcast to every user of a segment,
# through the webhook channel, into a receiver on this machine.
#
# 1. The receiver's own ceiling (bench/recv, one thread), driven by
#    bench/recv_client: 64 keep-alive connections, one request in flight
#    each (as libcurl drives them), $BENCH_RECV_SECONDS (3) s. The fan-out
#    rate below means something only well under it.
# 2. A store with $BENCH_USERS (1000000) users (bench/fanout.c: external_id,
#    first_name, email, custom attributes tier and city), served by brasa;
#    a segment of every user (POST /admin/segments); an API campaign with
#    one webhook variation (POST /admin/campaigns).
# 3. The broadcast: POST /messages/send to the segment, a JSON body with 5
#    Liquid variables (user_id, first_name, email_address,
#    custom_attribute.tier, campaign.dispatch_id); GET /admin/dispatches/ID
#    every 200 ms until done. Messages delivered per second: the receiver's
#    count over the time from the send request to the last delivery. The
#    server's RSS every 200 ms (/proc/PID/status) from just before the send
#    to done: baseline, peak, delta. Every message must arrive once (the
#    receiver counts distinct X-Brasa-Message-Id values), and the first 100
#    are checked for a fully rendered body.
# 4. /users/track alone: bench/loadgen closed loop, 64 connections, the
#    ingest bodies of bench/ingest.sh over $BENCH_TRACK_USERS (100000) of the
#    users, $BENCH_SECONDS (10) s after a 1 s warm-up. (After the broadcast,
#    so the profiles it grows do not count in the broadcast's RSS.)
# 5. A second broadcast with the /users/track load of 4 running meanwhile:
#    its throughput as a ratio to 3, and the messages/s during that window.
# 6. What a team would write instead (bench/naive_sender.c), with the server
#    stopped, into a fresh receiver: the same $BENCH_USERS messages, the same
#    bodies made by snprintf (no Liquid, no store, no durability, no
#    retries), POSTed by 64 threads each looping on one libcurl easy handle
#    (64 keep-alive connections, one request in flight each: the 64
#    connections to one host of brasa's webhook channel). Its messages/s the
#    same way as 3's (the receiver's count over the time from its start to
#    the last delivery), every message once, the first 100 bodies checked as
#    in 3; printed beside 3's with the ratio.
#
# Targets: >= 20,000 messages/s; RSS delta < 100 MB. Everything shares the
# machine's cores (server, receiver, load generators); the figures include
# that. Skipped, with a message, against a build without /admin/campaigns.
# Binaries: $BRASA_BIN (build/brasa), $LOADGEN (build/bench/loadgen),
# build/bench/{recv,recv_client,fanout,naive_sender}.
set -eu
. bench/lib.sh
secs=${BENCH_SECONDS:-10}
users=${BENCH_USERS:-1000000}
track_users=${BENCH_TRACK_USERS:-100000}
recv_secs=${BENCH_RECV_SECONDS:-3}
lg=${LOADGEN:-build/bench/loadgen}
rv=build/bench/recv
rc=build/bench/recv_client
fo=build/bench/fanout
ns=build/bench/naive_sender
naive_conns=64 # brasa's webhook channel: at most 64 connections to one host (src/send/webhook.c)
for f in "$bin" "$lg" "$rv" "$rc" "$fo" "$ns"; do [ -x "$f" ] || { echo "fanout: $f is not built (make $f)" >&2; exit 1; }; done
[ "$track_users" -le "$users" ] || track_users=$users

bench_init fanout
rpid='' spid=''
trap 'recv_stop; sampler_stop; bench_stop; rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP PIPE # (a reader that went away, as in `| head`, must not leave the receiver running)

# sampler_start PID FILE: "epoch_ms rss_kb" of PID every 200 ms into FILE.
sampler_start() {
    (while kill -0 "$1" 2>/dev/null; do
        awk -v t="$(now_ms)" '/^VmRSS/ {print t, $2}' "/proc/$1/status" 2>/dev/null || true
        sleep 0.2
    done) >"$2" &
    spid=$!
}
sampler_stop() {
    if [ -n "$spid" ]; then kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true; fi
    spid=
}

# track OUT SECONDS: /users/track at full speed (bench/loadgen closed loop,
# 64 connections, 1 s warm-up); every answer 201, sampled ones 75/75.
track() {
    "$lg" -c 64 -r 0 -d "$2" -w 1 --track "$track_users" -s 201 -H "Authorization: Bearer $key" \
        -e '"attributes_processed":75,' -e '"events_processed":75,' "$url/users/track" >"$1" 2>&1 || {
        echo "fanout: wrong answers from /users/track:" >&2; cat "$1" >&2; exit 1
    }
}
lgfield() { sed -n "s/^loadgen:.* $2=\([^ ]*\).*/\1/p" "$1"; }

# send OUT: POST /messages/send; sets did (the dispatch id) and t_send
# (epoch ms just before the request).
send() {
    t_send=$(now_ms)
    st=$(api POST /messages/send "$tmp/send.json")
    cp "$tmp/resp" "$1"
    [ "$st" = 201 ] || fail "POST /messages/send answered $st: $(cat "$1")"
    did=$(jget dispatch_id "$1")
    [ -n "$did" ] && [ -n "$(jget send_id "$1")" ] && [ "$(jget message "$1")" = success ] ||
        fail "POST /messages/send: unexpected answer $(cat "$1")"
}

# wait_done: polls GET /admin/dispatches/$did every 200 ms until done (fails
# after 120 s without progress); sets total sent errors skipped t_done.
wait_done() {
    last='' still=0
    while :; do
        st=$(api GET "/admin/dispatches/$did")
        [ "$st" = 200 ] || fail "GET /admin/dispatches/$did answered $st: $(cat "$tmp/resp")"
        state=$(jget state)
        case $state in
        done) break ;;
        queued | sending) ;;
        *) fail "dispatch $did: unexpected state '$state': $(cat "$tmp/resp")" ;;
        esac
        prog="$state $(jget sent) $(jget errors) $(jget skipped)"
        if [ "$prog" = "$last" ]; then
            still=$((still + 1))
            [ $still -lt 600 ] || fail "dispatch $did: no progress in 120 s: $(cat "$tmp/resp")"
        else
            still=0 last=$prog
        fi
        kill -0 "$pid" 2>/dev/null || fail "the server died during the broadcast"
        sleep 0.2
    done
    t_done=$(now_ms)
    total=$(jget total) sent=$(jget sent) errors=$(jget errors) skipped=$(jget skipped)
}

# check_delivery NAME: the dispatch's counts against the receiver's; sets
# requests uniq dups noid first_at last_at.
check_delivery() {
    recv_count "$1"
    f=$tmp/$1.count
    requests=$(jget requests "$f") uniq=$(jget unique_ids "$f") dups=$(jget duplicates "$f") noid=$(jget without_id "$f")
    first_at=$(jget first_at "$f") last_at=$(jget last_at "$f")
    [ "$total" = "$users" ] || fail "$1: the dispatch's total is $total, the segment has $users users"
    [ "$errors" = 0 ] || fail "$1: $errors delivery errors against a receiver that answers 200 to everything"
    [ $((sent + skipped)) = "$total" ] || fail "$1: sent $sent + skipped $skipped != total $total"
    [ "$requests" -ge "$sent" ] || fail "$1: the dispatch counts $sent sent, the receiver got $requests"
    if [ "$noid" = 0 ]; then
        [ "$uniq" = "$sent" ] || fail "$1: $uniq distinct message ids delivered for $sent messages sent"
    fi
}

# check_bodies DUMP DISPATCH: the first deliveries (bench/recv --dump): POST
# /hook, the content type asked for, the template's body fully rendered.
check_bodies() {
    [ -s "$1" ] || fail "the receiver dumped no request"
    head -1 "$1" | grep -q '"method":"POST","path":"/hook"' || fail "unexpected request: $(head -1 "$1")"
    grep -q '"content-type":"application/json"' "$1" || fail "no Content-Type: application/json: $(head -1 "$1")"
    ! grep -q '{{\|{%' "$1" || fail "a body left Liquid unrendered: $(grep -m1 '{{\|{%' "$1")"
    awk -v d="$2" '!/"body":"[{]\\"user\\":\\"user-[0-9]+\\",\\"name\\":\\"[^\\"]+\\",\\"email\\":\\"user-[0-9]+@example.com\\",\\"tier\\":\\"(bronze|silver|gold|platinum)\\",\\"dispatch\\":\\"/ || index($0, d) == 0 { bad++ }
        END { exit bad > 0 }' "$1" || fail "a body is not the rendered template: $(head -1 "$1")"
}

# ---- 0. does this build send? -----------------------------------------------
printf '%s\n' '{"name":"fanout","kind":"api","variations":[{"name":"v1","channel":"webhook"}]}' >"$tmp/campaign.json"
bench_serve "$tmp/probe" --log-level warn
st=$(api POST /admin/campaigns "$tmp/campaign.json")
bench_stop
if [ "$st" = 404 ]; then
    echo "Fan-out: skipped: this build has no POST /admin/campaigns (no messaging yet)"
    exit 0
fi

# ---- 1. the receiver's ceiling ----------------------------------------------
recv_start ceiling
c0=$(cpu_ticks "$rpid") w0=$(now_ms)
"$rc" -c 64 -p 1 -d "$recv_secs" -w 0 "http://127.0.0.1:$rport/hook" >"$tmp/ceiling" 2>&1 ||
    { cat "$tmp/ceiling" >&2; fail "the receiver's ceiling run failed"; }
c1=$(cpu_ticks "$rpid") w1=$(now_ms)
recv_stop
ceiling=$(sed -n 's/.* rps=\([0-9]*\).*/\1/p' "$tmp/ceiling")
# its CPU share: below 100% the client (or another tenant of the machine) was the limit
ceiling_cpu=$(pct "$c0" "$c1" $((w1 - w0)))

# ---- 2. users, segment, campaign --------------------------------------------
t=$(now_ms)
"$fo" seed "$tmp/data" "$users" 2>"$tmp/seed.err" || { cat "$tmp/seed.err" >&2; fail "seeding failed"; }
seed_s=$(awk -v a="$t" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
bench_serve "$tmp" --rate-limit default=0 --rate-limit users.track=0 --log-level warn
rss_loaded=$(rss_kb "$pid") # before the segment builds its columns

printf '%s\n' '{"name":"fanout: every user","definition":{"type":"external_id","op":"exists"}}' >"$tmp/segment.json"
st=$(api POST /admin/segments "$tmp/segment.json")
[ "$st" = 201 ] || fail "POST /admin/segments answered $st: $(cat "$tmp/resp")"
segment=$(jget id)
[ "$(jget size)" = "$users" ] || fail "the segment has $(jget size) users, not $users: $(cat "$tmp/resp")"

st=$(api POST /admin/campaigns "$tmp/campaign.json")
[ "$st" = 201 ] || fail "POST /admin/campaigns answered $st: $(cat "$tmp/resp")"
campaign=$(jget campaign_id)
sed 's/.*"variations"//' "$tmp/resp" >"$tmp/variations"
variation=$(jget id "$tmp/variations")
[ -n "$campaign" ] && [ -n "$variation" ] || fail "POST /admin/campaigns: unexpected answer $(cat "$tmp/resp")"
grep -q '"id" *: *"' "$tmp/variations" && variation="\"$variation\"" # a string id stays one

# The message: a JSON body with 5 Liquid variables, rendered per user.
# (Quoted here-document: the shell leaves ${...} alone.)
cat >"$tmp/send.tmpl" <<'EOF'
{"campaign_id":"@CAMPAIGN@","segment_id":"@SEGMENT@","broadcast":true,"messages":{"webhook":{"url":"http://127.0.0.1:@PORT@/hook","request_method":"POST","request_headers":{"Content-Type":"application/json"},"message_variation_id":@VARIATION@,"body":"{\"user\":\"{{${user_id}}}\",\"name\":\"{{${first_name}}}\",\"email\":\"{{${email_address}}}\",\"tier\":\"{{custom_attribute.${tier}}}\",\"dispatch\":\"{{campaign.${dispatch_id}}}\"}"}}}
EOF
# send_json PORT: $tmp/send.json for a receiver on PORT.
send_json() {
    sed -e "s|@CAMPAIGN@|$campaign|" -e "s|@SEGMENT@|$segment|" -e "s|@PORT@|$1|" -e "s|@VARIATION@|$variation|" \
        "$tmp/send.tmpl" >"$tmp/send.json"
}

# ---- 3. the broadcast -------------------------------------------------------
recv_start send1 --dump "$tmp/dump" --dump-max 100
send_json "$rport"
rss0=$(rss_kb "$pid")
sampler_start "$pid" "$tmp/rss"
cs0=$(cpu_ticks "$pid") cr0=$(cpu_ticks "$rpid") w0=$(now_ms)
send "$tmp/send1"
wait_done
cs1=$(cpu_ticks "$pid") cr1=$(cpu_ticks "$rpid") w1=$(now_ms)
sampler_stop
check_delivery send1
check_bodies "$tmp/dump" "$did"
d1_requests=$requests d1_uniq=$uniq d1_dups=$dups d1_noid=$noid d1_sent=$sent d1_skipped=$skipped
elapsed=$((last_at - t_send))
rate=$(awk -v n="$requests" -v ms="$elapsed" 'BEGIN { printf "%.0f", (ms > 0 ? n * 1000 / ms : 0) }')
steady=$(awk -v n="$requests" -v ms="$((last_at - first_at))" 'BEGIN { printf "%.0f", (ms > 0 ? (n - 1) * 1000 / ms : 0) }')
first_ms=$((first_at - t_send))
peak=$(awk -v m="$rss0" '$2 > m { m = $2 } END { print m }' "$tmp/rss")
samples=$(wc -l <"$tmp/rss")
cpu_srv=$(pct "$cs0" "$cs1" $((w1 - w0)))
cpu_rcv=$(pct "$cr0" "$cr1" $((w1 - w0)))
recv_stop

# ---- 4. /users/track alone --------------------------------------------------
track "$tmp/track_alone" "$secs"
alone=$(lgfield "$tmp/track_alone" achieved)

# ---- 5. a second broadcast, with /users/track meanwhile ---------------------
recv_start send2
send_json "$rport"
send "$tmp/send2"
i=0
while recv_count send2 && [ "$(jget requests "$tmp/send2.count")" = 0 ]; do
    i=$((i + 1))
    [ $i -lt 600 ] || fail "the second broadcast delivered nothing in 120 s"
    sleep 0.2
done
track "$tmp/track_during" "$secs" &
tpid=$!
sleep 1 # loadgen's warm-up
recv_count during0
ti0=$(now_ms)
wait $tpid || fail "the /users/track run failed"
recv_count during1
ti1=$(now_ms)
wait_done
check_delivery send2
during=$(lgfield "$tmp/track_during" achieved)
during_msgs=$(awk -v a="$(jget requests "$tmp/during0.count")" -v b="$(jget requests "$tmp/during1.count")" -v ms="$((ti1 - ti0))" \
    'BEGIN { printf "%.0f", (b - a) * 1000 / ms }')
overlap=$(awk -v d="$(jget last_at "$tmp/send2.count")" -v a="$ti0" -v b="$ti1" 'BEGIN { o = (d < b ? d : b) - a; printf "%.1f", (o < 0 ? 0 : o) / 1000 }')
kill -0 "$pid" 2>/dev/null || fail "the server died"
rss_end=$(rss_kb "$pid")
bench_stop
recv_stop # the second broadcast's receiver; the naive sender gets a fresh one

# ---- 6. the naive sender ----------------------------------------------------
recv_start naive --dump "$tmp/naive_dump" --dump-max 100
naive_did=$(printf '%024x' "$(now_ms)") # 24 hex digits, as a dispatch id
t_naive=$(now_ms)
cn0=$(cpu_ticks "$rpid") w0=$(now_ms)
"$ns" -c "$naive_conns" -n "$users" -d "$naive_did" "http://127.0.0.1:$rport/hook" >"$tmp/naive" 2>&1 ||
    { cat "$tmp/naive" >&2; fail "the naive sender failed"; }
cn1=$(cpu_ticks "$rpid") w1=$(now_ms)
recv_count naive
f=$tmp/naive.count
n_requests=$(jget requests "$f") n_uniq=$(jget unique_ids "$f") n_last=$(jget last_at "$f")
[ "$n_requests" = "$users" ] && [ "$n_uniq" = "$users" ] && [ "$(jget without_id "$f")" = 0 ] ||
    fail "naive sender: the receiver got $n_requests requests, $n_uniq distinct ids, for $users users: $(cat "$f")"
check_bodies "$tmp/naive_dump" "$naive_did"
recv_stop
naive_rate=$(awk -v n="$n_requests" -v ms="$((n_last - t_naive))" 'BEGIN { printf "%.0f", (ms > 0 ? n * 1000 / ms : 0) }')
naive_cpu=$(pct "$cn0" "$cn1" $((w1 - w0)))
naive_own=$(sed -n 's/.* cpu=\([0-9]*\).*/\1/p' "$tmp/naive")

# ---- report -----------------------------------------------------------------
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
echo "Fan-out: webhook broadcast of one API campaign to a segment of every user ($users users), a JSON body with 5 Liquid variables"
awk -v r="$ceiling" -v c="$ceiling_cpu" -v s="$recv_secs" 'BEGIN {
    printf "  receiver (bench/recv, one thread): ceiling %d req/s at %d%% of a core, %.0f req/s per second of its CPU (bench/recv_client, 64 keep-alive connections, 1 request in flight each, %d s)\n", r, c, (c > 0 ? r * 100 / c : 0), s }'
echo "  users seeded in ${seed_s}s; server RSS once started on them: $(mib "$rss_loaded") MiB"
echo "  broadcast: total $total, sent $d1_sent, skipped $d1_skipped, errors 0; the receiver got $d1_requests requests," \
    "$(if [ "$d1_noid" = 0 ]; then echo "$d1_uniq distinct message ids, $d1_dups duplicates"; else echo "$d1_noid without X-Brasa-Message-Id (duplicates not measured)"; fi)"
awk -v r="$rate" -v n="$d1_requests" -v ms="$elapsed" -v f="$first_ms" -v s="$steady" 'BEGIN {
    printf "  delivered: %d messages/s (%d in %.1f s from POST /messages/send to the last delivery; the first after %d ms; %d/s from first to last)\n", r, n, ms / 1000, f, s
    printf "  target >= 20,000 messages/s: %s\n", (r >= 20000 ? "met" : "not met") }'
awk -v b="$rss0" -v p="$peak" -v n="$samples" 'BEGIN {
    d = (p - b) * 1024 / 1e6
    printf "  server RSS during the broadcast (%d samples, every 200 ms): %.0f MiB before (segment built), peak %.0f MiB, delta %.1f MB; target < 100 MB: %s\n",
        n, b / 1024, p / 1024, d, (d < 100 ? "met" : "not met") }'
echo "  CPU during the broadcast, % of one core (the machine has $(nproc)): server $cpu_srv%, receiver $cpu_rcv%"
awk -v a="$alone" -v d="$during" -v m="$during_msgs" -v o="$overlap" -v s="$secs" -v u="$track_users" 'BEGIN {
    printf "  /users/track (bench/loadgen, 64 connections, closed loop, %d s; 150 objects a request over %d users): alone %.0f req/s, during a second broadcast %.0f req/s: ratio %.2f\n", s, u, a, d, (a > 0 ? d / a : 0)
    printf "  the broadcast meanwhile: %d messages/s%s\n", m, (o + 0 < s - 0.5 ? sprintf(" (it ended %.1f s into the %d s ingest run: the ratio is diluted)", o, s) : "") }'
echo "  server RSS at the end: $(mib "$rss_end") MiB"
awk -v n="$n_requests" -v ms="$((n_last - t_naive))" -v c="$naive_cpu" -v o="$naive_own" 'BEGIN {
    printf "  naive sender (bench/naive_sender: snprintf bodies, no Liquid, no store, no durability, no retries): %d messages in %.1f s, every one once; CPU, %% of one core: sender %d%%, receiver %d%%\n", n, ms / 1000, o, c }'
awk -v b="$rate" -v bc="$cpu_srv" -v m="$naive_rate" -v mc="$naive_own" 'BEGIN {
    printf "  messages per second of CPU: brasa %.0f (server), naive %.0f (sender): ratio %.2f\n", (bc > 0 ? b * 100 / bc : 0), (mc > 0 ? m * 100 / mc : 0), (bc > 0 && mc > 0 && m > 0 ? (b / bc) / (m / mc) : 0) }'
awk -v b="$rate" -v m="$naive_rate" -v c="$naive_conns" 'BEGIN {
    printf "fanout: brasa %d msg/s, naive libcurl sender (%d connections, keep-alive) %d msg/s: ratio %.2f\n", b, c, m, (m > 0 ? b / m : 0) }'
