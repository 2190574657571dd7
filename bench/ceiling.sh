#!/usr/bin/env bash
# Issue 17's yardstick: the reductions (stream.sum, absdist.sum; i32, i64,
# f32, f64) against likwid-bench's widest load kernel for each ISA variant
# this CPU runs (avx512 vs load_avx512, avx2 vs load_avx), on 1 core and on
# all allowed cores, over the same bytes (default 1 GB, at least 4x the
# last-level cache) on the same cores (likwid's domain N indices, which
# `unlocked --pin N:…` reads the same way). likwid-bench runs before every
# four Unlocked runs, so both see the same machine state; the table gives
# medians over the rounds with min-max, and the ratio of the medians (goal:
# >= 0.95). Unlocked's rate is its own: the median of 5 repetitions of one
# `unlocked run` (lockfree-pool engine) over freshly generated data.
#
#   bench/ceiling.sh [rounds] [bytes]             # default 5 rounds, 1e9 bytes
#   UNLOCKED_ARGS="--huge-pages off" bench/ceiling.sh   # extra `unlocked run` flags
#   UNLOCKED=/path/to/unlocked bench/ceiling.sh   # another build (default: release)
#
# Needs a release build and likwid: `make bench-deps` installs likwid,
# `make ceiling` builds, installs and runs this script. Where
# likwid-bench is missing or cannot run here it says so and exits 0. As root
# both tools run at nice -20 (the same for both). With autogroup scheduling
# (/proc/sys/kernel/sched_autogroup_enabled) nice only ranks processes of
# one session; on a machine shared with other sessions, give the run a
# session of its own with a raised priority, or they take CPU time from it:
#   setsid --wait sh -c 'echo -20 > /proc/self/autogroup && exec bench/ceiling.sh'
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
bytes=${2:-1000000000}
unlocked=${UNLOCKED:-.build/release/unlocked}
if [ -n "${UNLOCKED:-}" ] && [ ! -x "$UNLOCKED" ]; then echo "ceiling: UNLOCKED=$UNLOCKED is not an executable" >&2; exit 66; fi
[ -x "$unlocked" ] || swift build -c release
read -r -a extra <<< "${UNLOCKED_ARGS:-}"

if ! command -v likwid-bench >/dev/null; then
    echo "ceiling: likwid-bench not installed (make bench-deps): skipped"
    exit 0
fi

# The last-level cache as the kernel reports it (getconf may report the
# host's under a hypervisor): the highest cache level of CPU 0.
llc=0 level=0
for index in /sys/devices/system/cpu/cpu0/cache/index*; do
    [ -r "$index/size" ] || continue
    l=$(cat "$index/level") size=$(cat "$index/size")
    case $size in *K) size=$((${size%K} * 1024)) ;; *M) size=$((${size%M} * 1048576)) ;; esac
    if [ "$l" -gt "$level" ]; then level=$l llc=$size; fi
done
if [ "$bytes" -lt $((4 * llc)) ]; then bytes=$((4 * llc)); fi
bytes=$((bytes / 64000 * 64000)) # whole kB for likwid-bench, whole cache lines

prio=()
[ "$(id -u)" -eq 0 ] && prio=(nice -n -20)

# Variant -> likwid kernel, for the variants this build and CPU run.
pairs=()
for pair in avx512:load_avx512 avx2:load_avx; do
    isa=${pair%%:*}
    if UNLOCKED_ISA=$isa "$unlocked" kernels >/dev/null 2>&1; then pairs+=("$pair"); fi
done
if [ ${#pairs[@]} -eq 0 ]; then
    echo "ceiling: this CPU runs neither the avx512 nor the avx2 variant: nothing to compare, skipped"
    exit 0
fi

# All allowed cores, as Unlocked counts them (its default worker count).
all=$("$unlocked" run --kernel stream.sum --size 1Ki --reps 1 --warmup 0 --engine lockfree-pool --json |
      sed -n 's/^ *"workers" : \([0-9]*\),*$/\1/p' | head -1)
threads=(1)
[ "${all:-1}" -gt 1 ] && threads+=("$all")

likwid_rate() { # kernel threads -> MB/s (1e6), or the error
    local out
    if ! out=$("${prio[@]}" likwid-bench -t "$1" -W "N:$((bytes / 1000))kB:$2" 2>&1); then
        echo "error: $(echo "$out" | grep -v '^-*$' | tail -1)"
        return 1
    fi
    echo "$out" | sed -n 's/^MByte\/s:[[:space:]]*\([0-9.]*\).*/\1/p'
}

# One probe run, so a likwid-bench that cannot work here is skipped, not failed.
probe_kernel=${pairs[0]#*:}
if ! probe=$(likwid_rate "$probe_kernel" 1) || [ -z "$probe" ]; then
    echo "ceiling: likwid-bench cannot run here (${probe:-no MByte/s in its output}): skipped"
    exit 0
fi

width() { case $1 in i32|f32) echo 4 ;; *) echo 8 ;; esac; }

echo "ceiling: $(likwid-bench -h 2>&1 | sed -n 's/.*Version *\([0-9.]*\).*/likwid-bench \1/p' | head -1)," \
     "$bytes bytes per run (LLC $llc bytes), $rounds rounds, threads ${threads[*]}," \
     "$unlocked${extra[*]:+ ${extra[*]}} (tree at $(git rev-parse --short HEAD 2>/dev/null || echo '?'))${prio[*]:+, ${prio[*]}}"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
samples=$(mktemp)
trap 'rm -f "$samples"' EXIT
for round in $(seq "$rounds"); do
    for t in "${threads[@]}"; do
        pin=$([ "$t" -eq 1 ] && echo N:0 || echo "N:0-$((t - 1))")
        for pair in "${pairs[@]}"; do
            isa=${pair%%:*} lk=${pair#*:}
            for kernel in stream.sum absdist.sum; do
                if ! lrate=$(likwid_rate "$lk" "$t") || [ -z "$lrate" ]; then
                    echo "ceiling: likwid-bench -t $lk failed mid-run: ${lrate:-no MByte/s in its output}" >&2
                    exit 1
                fi
                echo "$isa $t likwid $lk $lrate" >> "$samples"
                for dtype in i32 i64 f32 f64; do
                    rate=$(UNLOCKED_ISA=$isa "${prio[@]}" "$unlocked" run --engine lockfree-pool --workers "$t" \
                           --pin "$pin" --kernel "$kernel" --dtype "$dtype" --size $((bytes / $(width "$dtype"))) \
                           --reps 5 "${extra[@]}" --json | sed -n 's/^ *"bytes_per_second" : \([0-9.e+]*\),*$/\1/p')
                    [ -n "$rate" ] || { echo "ceiling: no bytes_per_second from unlocked run" >&2; exit 1; }
                    echo "$isa $t $kernel $dtype $(awk -v r="$rate" 'BEGIN { printf "%.1f", r / 1e6 }') $lrate" >> "$samples"
                done
            done
        done
    done
    echo "round $round of $rounds done" >&2
done

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
# ratio: of the medians; paired: median (min-max) over the runs of each
# Unlocked run's rate over the likwid-bench run just before its group.
awk '
function median(list,   v, n, i, j, x) {
    n = split(list, v, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { x = v[j]; v[j] = v[j - 1]; v[j - 1] = x }
    lo = v[1]; hi = v[n]
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
$3 == "likwid" { key = $1 " " $2; lk[key] = lk[key] " " $5; lkname[key] = $4; next }
{
    key = $1 " " $2 " " $3 " " $4; un[key] = un[key] " " $5; pr[key] = pr[key] " " $5 / $6
    if (!(key in seen)) { order[++count] = key; seen[key] = 1 }
}
END {
    printf "%-7s %-7s %-11s %-5s %-22s %-34s %-6s %s\n", "variant", "threads", "kernel", "dtype",
           "unlocked GB/s", "likwid-bench GB/s", "ratio", "paired ratio"
    worst = 9
    for (i = 1; i <= count; i++) {
        split(order[i], k, " "); lkey = k[1] " " k[2]
        u = median(un[order[i]]); ulo = lo; uhi = hi
        l = median(lk[lkey]); llo = lo; lhi = hi
        p = median(pr[order[i]]); plo = lo; phi = hi
        ratio = u / l; if (ratio < worst) worst = ratio
        printf "%-7s %-7s %-11s %-5s %5.1f (%5.1f-%5.1f)  %-12s %5.1f (%5.1f-%5.1f)  %.3f  %.3f (%.2f-%.2f)%s\n", k[1], k[2], k[3], k[4],
               u / 1e3, ulo / 1e3, uhi / 1e3, lkname[lkey], l / 1e3, llo / 1e3, lhi / 1e3, ratio, p, plo, phi,
               ratio < 0.95 ? "  < 0.95" : ""
    }
    printf "lowest ratio of medians %.3f (goal >= 0.95); GB/s are medians (min-max) over the rounds\n", worst
}' "$samples"
