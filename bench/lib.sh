# bench/lib.sh -- sourced by the bench scripts (. bench/lib.sh): a scratch
# directory, and a brasa server in it, both gone when the script exits,
# however it exits.
#
#   bench_init NAME         sets tmp (/tmp/brasa-NAME-XXXXXX) and the traps;
#                           NAME prefixes the scripts' error messages
#   bench_serve DIR ARGS... starts $bin (build/brasa) serve on a free
#                           loopback port with --data-dir DIR/data, its
#                           output in DIR/out and DIR/err; once it listens
#                           sets pid, port, url and key (the bootstrap key)
#   bench_stop              stops it (and waits)
#   fail MSG                prints "NAME: MSG" (with the server's log when it
#                           died, or the tail of its errors) and exits 1
#   api METHOD PATH [BODY_FILE]
#                           a request with the key: prints the status, the
#                           answer is in $tmp/resp
#   jget KEY [FILE]         the value (string or number) of the first "KEY"
#                           in FILE ($tmp/resp), a one-line JSON answer
#   now_ms, rss_kb PID, cpu_ticks PID, pct TICKS0 TICKS1 MS
#                           clocks and /proc readings; pct is the % of
#                           one core the ticks are over MS milliseconds
#   recv_start NAME ARGS..., recv_stop, recv_count NAME
#                           bench/recv ($rv) as a webhook or Currents
#                           destination: below
bin=${BRASA_BIN:-build/brasa}

bench_init() {
    bench_name=$1
    tmp=$(mktemp -d "/tmp/brasa-$1-XXXXXX")
    pid=
    trap 'bench_stop; rm -rf "$tmp"' EXIT
    trap 'exit 1' INT TERM
}

bench_stop() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    pid=
}

bench_serve() {
    srvdir=$1
    shift
    mkdir -p "$srvdir"
    "$bin" serve --listen 127.0.0.1 --port 0 --data-dir "$srvdir/data" "$@" >"$srvdir/out" 2>"$srvdir/err" &
    pid=$!
    i=0
    while ! grep -q listening "$srvdir/out" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -gt 1200 ] || ! kill -0 "$pid" 2>/dev/null; then
            echo "$bench_name: the server did not start" >&2; cat "$srvdir/err" >&2; exit 1
        fi
        sleep 0.05
    done
    port=$(sed -n 's/^brasa .* listening on http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$srvdir/out")
    key=$(sed -n 's/^bootstrap key: //p' "$srvdir/out")
    url=http://127.0.0.1:$port
}

fail() {
    echo "$bench_name: $*" >&2
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then echo "$bench_name: the server died; its log:" >&2; fi
    [ -n "${srvdir:-}" ] && [ -f "$srvdir/err" ] && tail -20 "$srvdir/err" >&2
    exit 1
}

now_ms() { date +%s%3N; }

api() {
    if [ $# -gt 2 ]; then
        curl -sS -o "$tmp/resp" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $key" \
            -H 'Content-Type: application/json' --data-binary @"$3" "$url$2" || true
    else
        curl -sS -o "$tmp/resp" -w '%{http_code}' -H "Authorization: Bearer $key" "$url$2" || true
    fi
}

jget() {
    awk -v k="\"$1\"" '{
        i = index($0, k); if (!i) next
        s = substr($0, i + length(k)); sub(/^[ \t]*:[ \t]*/, "", s)
        if (substr(s, 1, 1) == "\"") { s = substr(s, 2); sub(/".*/, "", s) } else sub(/[,}\] \t].*/, "", s)
        print s; exit }' "${2:-$tmp/resp}"
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
pct() { awk -v a="$1" -v b="$2" -v ms="$3" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", (b - a) / hz / (ms / 1000) * 100 }'; }

# recv_start NAME ARGS...: bench/recv ($rv) on a free port (output in $tmp/NAME.*);
# sets rpid, rport. recv_count NAME: its counts into $tmp/NAME.count.
recv_start() {
    rname=$1
    shift
    "$rv" --port 0 "$@" >"$tmp/$rname.out" 2>"$tmp/$rname.err" &
    rpid=$!
    i=0
    while ! grep -q '^listening' "$tmp/$rname.out" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -gt 200 ] || ! kill -0 "$rpid" 2>/dev/null; then cat "$tmp/$rname.err" >&2; fail "the receiver did not start"; fi
        sleep 0.05
    done
    rport=$(sed -n 's/^listening //p' "$tmp/$rname.out")
}
recv_stop() {
    if [ -n "$rpid" ]; then kill "$rpid" 2>/dev/null || true; wait "$rpid" 2>/dev/null || true; fi
    rpid=
}
recv_count() { curl -sS "http://127.0.0.1:$rport/__count" >"$tmp/$1.count" || fail "the receiver does not answer"; }
