#!/bin/sh
# Liquid render throughput: brasa's engine (bench/liquid.c) beside Ruby
# Liquid 5 (Debian's ruby-liquid, the engine family Braze runs;
# bench/liquid/ruby.rb) and LiquidJS 10 (npm, pinned by
# bench/package-lock.json; bench/liquid/liquidjs.js), on the same ~6 KB
# email (bench/liquid/email.liquid) and user (bench/liquid/user.json). Each
# engine parses the template once and renders it in a loop for
# $BENCH_SECONDS (5) on core 0. Ruby and LiquidJS get the template with
# Braze's ${...} tags mapped to plain lookups (bench/liquid/braze.sed).
#
# Before any time is printed, the three renderings must be the same bytes
# (LiquidJS escapes " as &#34; where Ruby and brasa write &quot;: that is
# normalised); otherwise the script prints the difference and fails. An
# engine that is not installed is skipped with a line saying so.
set -eu
. bench/lib.sh
bench_init liquid
secs=${BENCH_SECONDS:-5}
dir=bench/liquid
export TZ=UTC # dates print in the process's zone in Ruby and LiquidJS
pin=
command -v taskset >/dev/null 2>&1 && pin="taskset -c 0"
sed -E -f $dir/braze.sed $dir/email.liquid >"$tmp/plain.liquid"

# rate FILE: renders/s from the runner's `renders=N seconds=S` line.
rate() { awk -F'[= ]' '/^renders=/ { printf "%.0f", $2 / $4 }' "$1"; }
version() { sed -n 's/^renders=.* version=//p' "$1"; }
# same NAME FILE: FILE is brasa's rendering once quotes are normalised.
same() {
    sed 's/&#34;/\&quot;/g' "$2" >"$2.norm"
    if ! cmp -s "$tmp/brasa.html" "$2.norm"; then
        diff -u "$tmp/brasa.html" "$2.norm" | head -40 >&2
        fail "$1 and brasa render $dir/email.liquid differently (above: - brasa, + $1)"
    fi
}

$pin build/bench/liquid "$secs" $dir/email.liquid $dir/user.json "$tmp/brasa.html" >"$tmp/brasa.out" ||
    fail "brasa's render failed"
brasa=$(rate "$tmp/brasa.out")

ruby=
if ! command -v ruby >/dev/null 2>&1 || ! ruby -e 'require "liquid"' 2>/dev/null; then
    echo "liquid: Ruby Liquid skipped (ruby or ruby-liquid is not installed: scripts/deps.sh bench)"
else
    $pin ruby $dir/ruby.rb "$tmp/plain.liquid" $dir/user.json "$secs" "$tmp/ruby.html" >"$tmp/ruby.out" ||
        fail "Ruby Liquid's render failed"
    same "Ruby Liquid" "$tmp/ruby.html"
    ruby=$(rate "$tmp/ruby.out")
fi

js=
if ! command -v node >/dev/null 2>&1 || [ ! -f bench/node_modules/liquidjs/package.json ]; then
    echo "liquid: LiquidJS skipped (node or bench/node_modules/liquidjs is missing: npm ci --prefix bench)"
else
    $pin node $dir/liquidjs.js "$tmp/plain.liquid" $dir/user.json "$secs" "$tmp/liquidjs.html" >"$tmp/liquidjs.out" ||
        fail "LiquidJS's render failed"
    same LiquidJS "$tmp/liquidjs.html"
    js=$(rate "$tmp/liquidjs.out")
fi

grep '^liquid:' "$tmp/brasa.out"
[ -n "$ruby$js" ] && echo "liquid: the renderings are the same bytes in every engine that ran"
line="liquid: brasa $brasa renders/s"
if [ -n "$ruby" ]; then
    line="$line, Ruby Liquid $(version "$tmp/ruby.out") $ruby/s (ratio $(awk "BEGIN { printf \"%.1f\", $brasa / $ruby }"))"
fi
if [ -n "$js" ]; then
    line="$line, LiquidJS $(version "$tmp/liquidjs.out") $js/s (ratio $(awk "BEGIN { printf \"%.1f\", $brasa / $js }"))"
fi
[ -n "$ruby$js" ] && line="$line; goal 100x each"
echo "$line"
