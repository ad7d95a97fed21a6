#!/bin/sh
# dashboard.sh -- the dashboard's cold load in Debian's chromium (issue 16:
# first page usable in under 300 ms on localhost, under 200 KB): the
# release build serves, bench/dashboard.js measures. Skipped, with a line
# saying so, where chromium or tests/browser's playwright-core is missing.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
if [ ! -x /usr/bin/chromium ] || [ ! -d tests/browser/node_modules/playwright-core ]; then
    echo "dashboard: skipped (needs chromium and: npm ci --prefix tests/browser)"
    exit 0
fi
bench_init dashboard
bench_serve "$tmp/srv"
echo 'a password for the bench' | "$bin" operators add --data-dir "$tmp/srv/data" bench --role admin >/dev/null
# Something to show: a few users and events, so the page draws real figures.
printf '{"attributes":[{"external_id":"b1","first_name":"Bo"}],"events":[{"external_id":"b1","name":"viewed","time":"2026-01-01T00:00:00Z"}]}' > "$tmp/body"
[ "$(api POST /users/track "$tmp/body")" = 201 ] || fail "track: $(cat "$tmp/resp")"
node bench/dashboard.js "$url" bench 'a password for the bench' || fail "the browser run failed"
