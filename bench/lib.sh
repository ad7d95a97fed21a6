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
    port=$(sed -n 's/.*http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$srvdir/out")
    key=$(sed -n 's/^bootstrap key: //p' "$srvdir/out")
    url=http://127.0.0.1:$port
}
