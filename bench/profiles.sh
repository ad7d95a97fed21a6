#!/bin/sh
# Memory per profile and start-up time (bench/profiles.c): builds
# $BENCH_PROFILES profiles (1000000) through the engine in process, prints
# resident bytes per profile against the 300-byte target, then the time
# engine_open takes to load them back. Needs ~1.5 GB of disk in /tmp for a
# million profiles (the journal holds every body until the checkpoint).
set -eu
n=${BENCH_PROFILES:-1000000}
bin=${PROFILES_BIN:-build/bench/profiles}
[ -x "$bin" ] || { echo "profiles: $bin is not built (make $bin)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/brasa-profiles-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
"$bin" "$n" "$tmp/store"
