#!/usr/bin/env bash
# Issue 3's performance check, single thread, reported (never asserted):
#  1. int32 absdist.sum over 64Ki elements (cache-resident): `unlocked run`
#     against the plain C loop of bench/absdist_loop.c built with
#     gcc -O3 -march=native, same data (seed 42, uniform [0,100), centre 50).
#  2. int32 absdist.sum over 256Mi elements (1 GiB) against stream.sum over
#     the same bytes, alternating so both see the same machine state.
# Run it on a quiet machine: `bench/baseline.sh` (or `bench/baseline.sh 5` for
# five rounds of the large pair). Needs gcc and a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}

[ -x .build/release/unlocked ] || swift build -c release
mkdir -p .build/bench
gcc -O3 -march=native -o .build/bench/absdist_loop bench/absdist_loop.c

rate() { sed -n 's/^throughput *\([0-9.]* [kMGT]*\) *elements\/s.*/\1/p'; }

echo "== int32 absdist.sum, 64Ki elements, single thread"
echo "plain C loop, gcc -O3 -march=native: $(.build/bench/absdist_loop 65536 200 | sed -n 's/^throughput *//p')"
echo "unlocked run ($(.build/release/unlocked kernels | sed -n '1s/selected variant: \([a-z0-9]*\).*/\1/p')):              $(.build/release/unlocked run --engine sequential --kernel absdist.sum --dtype i32 --size 64Ki --reps 200 | sed -n 's/^throughput *//p')"

echo "== int32, 256Mi elements (1 GiB), single thread, median of 5 reps per run, $rounds alternating rounds"
for round in $(seq "$rounds"); do
    for kernel in absdist.sum stream.sum; do
        median=$(.build/release/unlocked run --engine sequential --kernel "$kernel" --dtype i32 --size 256Mi --reps 5 --json |
                 sed -n 's/.*"time_median_ns" : \([0-9.e+]*\).*/\1/p')
        printf '%s %s %s\n' "$round" "$kernel" "$median"
    done
done | awk '{ n[$2]++; t[$2, n[$2]] = $3 / 1e6; line[$2] = line[$2] sprintf(" %.2f", $3 / 1e6) }
            function median(k,   i, j, v, m) {
                m = n[k]; for (i = 1; i <= m; i++) v[i] = t[k, i]
                for (i = 2; i <= m; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { x = v[j]; v[j] = v[j - 1]; v[j - 1] = x }
                return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
            }
            END {
                for (k in n) printf "%-12s median ms per round:%s\n", k, line[k]
                a = median("absdist.sum"); s = median("stream.sum")
                printf "median of rounds: absdist.sum %.2f ms, stream.sum %.2f ms, ratio %.3f\n", a, s, a / s
            }'
