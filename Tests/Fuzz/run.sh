#!/usr/bin/env bash
# Runs the fuzz harnesses one after another, FUZZ_SECONDS (default 60) each,
# and prints one line per harness: name, executions, crashes.
#
#   Tests/Fuzz/run.sh DRIVER [HARNESS...]     (default: every harness)
#
# The committed corpus Tests/Fuzz/corpus/<harness> seeds each run; inputs the
# fuzzer finds go to .build-fuzz/corpus/<harness>, so the committed one only
# changes by hand. A crash, hang (-timeout) or leak is saved under
# .build-fuzz/crashes/<harness>/ and makes the script exit 1.
set -u
driver=$1
shift
seconds=${FUZZ_SECONDS:-60}
harnesses=${*:-npy-header cpu-list count synthetic-topology plugin-descriptor bench-compare}
root=$(cd "$(dirname "$0")/../.." && pwd)
failed=0
for harness in $harnesses; do
    corpus=$root/.build-fuzz/corpus/$harness
    crashes=$root/.build-fuzz/crashes/$harness
    log=$root/.build-fuzz/logs/$harness.log
    mkdir -p "$corpus" "$crashes" "$(dirname "$log")"
    before=$(find "$crashes" -type f | wc -l)
    # Topology inputs go through hwloc (~2 ms each); short ones say all it parses.
    case $harness in
        synthetic-topology) max_len=160 ;;
        plugin-descriptor) max_len=1024 ;;
        *) max_len=4096 ;;
    esac
    # ASan reports crashes; the Swift runtime's own backtracer would race it. Slow
    # inputs (a 65536-CPU range) are picked less often, so more inputs run.
    SWIFT_BACKTRACE=enable=no LSAN_OPTIONS=suppressions=$root/Tests/Fuzz/lsan.supp \
        UNLOCKED_FUZZ_HARNESS=$harness "$driver" -max_total_time="$seconds" -timeout=10 \
        -max_len=$max_len -entropic_scale_per_exec_time=1 -print_final_stats=1 -artifact_prefix="$crashes/" \
        "$corpus" "$root/Tests/Fuzz/corpus/$harness" >"$log" 2>&1
    executions=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log")
    found=$(( $(find "$crashes" -type f | wc -l) - before ))
    if [ "$found" -gt 0 ]; then
        failed=1
        printf '%-20s %12s executions  %d crashes  (%s; log %s)\n' "$harness" "${executions:-?}" "$found" \
            "$(ls -t "$crashes" | head -1 | sed "s|^|$crashes/|")" "$log"
    elif [ -z "$executions" ]; then
        failed=1
        printf '%-20s %12s executions  ? crashes  (the driver stopped early; log %s)\n' "$harness" "?" "$log"
    else
        printf '%-20s %12s executions  0 crashes\n' "$harness" "$executions"
    fi
done
exit $failed
