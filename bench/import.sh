#!/bin/sh
# brasa import users: a 1M-row CSV in Braze's user import format (11
# columns: external_id, default attributes, typed custom attributes).
#
# 1. Into a stopped store: the rows are parsed, checked by the /users/track
#    parser and applied by the engine in this process (issue target:
#    500,000 rows/s).
# 2. Into a running server (its users.track rate limit off): the same
#    rows as /users/track requests of 75 objects, 8 at a time.
# Rows: $BENCH_ROWS (1000000). Binary: $BRASA_BIN (build/brasa).
set -eu
. bench/lib.sh
rows=${BENCH_ROWS:-1000000}
target=500000
[ -x "$bin" ] || { echo "import: $bin is not built (make $bin)" >&2; exit 1; }
bench_init import

awk -v n="$rows" 'BEGIN {
    print "external_id,first_name,last_name,email,country,dob,tier,score,vip,home_city,signup"
    split("gold silver bronze", tier, " ")
    for (i = 0; i < n; i++)
        printf "user-%d,First%d,Last%d,user%d@example.com,%s,19%02d-%02d-%02d,%s,%d,%s,City %d,2025-%02d-%02dT10:00:00Z\n",
            i, i, i, i, i % 5 ? "US" : "GB", 50 + i % 50, 1 + i % 12, 1 + i % 28, tier[1 + i % 3], i % 1000,
            i % 2 ? "true" : "false", i % 500, 1 + i % 12, 1 + i % 28
}' >"$tmp/users.csv"
size=$(wc -c <"$tmp/users.csv")
sync # the file's own writeback is not the import's to pay

# run DIR OUT: imports the file, checks every row went in, prints rows/s.
run() {
    "$bin" import users "$tmp/users.csv" --data-dir "$1" >"$2" 2>"$2.err" || fail "import failed: $(cat "$2.err")"
    grep -q ": $rows users created or updated, 0 rows refused" "$2" || fail "not every row imported: $(cat "$2")"
    sed -n 's/.*(\([0-9]*\) rows\/s).*/\1/p' "$2"
}
stopped=$(run "$tmp/stopped" "$tmp/a")
bench_serve "$tmp/srv" --rate-limit users.track=0 --log-level warn
live=$(run "$tmp/srv/data" "$tmp/b")
bench_stop
echo "$stopped $live $target $rows $size" | awk '{
    printf "import: %d-row CSV (%.0f MB): %d rows/s into a stopped store (target %d: %.2fx); %d rows/s through the running server\n",
        $4, $5 / 1e6, $1, $3, $1 / $3, $2 }'
