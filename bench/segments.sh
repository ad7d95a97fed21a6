#!/bin/sh
# Segment evaluation (bench/segments.c): $BENCH_SEGMENT_PROFILES (10,000,000)
# profiles generated in-process (10 custom attributes, 5 custom events with
# summaries, 3 partner cohorts), the 4-filter segment timed with the
# evaluator (target <= 20 ms) and asked of SQLite with covering indexes over
# $BENCH_SEGMENT_SQLITE profiles (default: the same number; target >= 100x),
# and resident memory. About 95 s and 5 GiB at 10 million; set
# BENCH_SEGMENT_PROFILES=1000000 for a 10 s run.
set -eu
n=${BENCH_SEGMENT_PROFILES:-10000000}
sn=${BENCH_SEGMENT_SQLITE:-$n}
b=build/bench/segments
[ -x "$b" ] || { echo "segments: $b is not built (make $b)" >&2; exit 1; }
echo "Segments: evaluation over $n profiles vs SQLite over $sn"
"$b" "$n" "$sn" | sed 's/^/  /'
