#!/usr/bin/env bash
# The SLURM tests of issue 12, under a private single-node SLURM started by slurm.sh:
#  1. examples/slurm/unlocked.sbatch with the real `unlocked` (2 tasks, --cpus-per-task 1),
#     through srun --mpi=pmix and through mpirun: one answer, the one-process answer, and
#     each rank inside its step's cpuset;
#  2. srun without an MPI plugin: `unlocked run` refused in one line, exit 64;
#  3. checks.sbatch with unlocked-mpi-probe: the MPI layer under srun and mpirun.
#
#   Tests/cluster/test-slurm.sh UNLOCKED [PROBE]    (PROBE default .build/debug/unlocked-mpi-probe)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { echo "usage: $0 UNLOCKED [PROBE]" >&2; exit 64; }
unlocked=$(realpath "$1")
probe=$(realpath "${2:-$here/../../.build/debug/unlocked-mpi-probe}")
for program in "$unlocked" "$probe"; do
    [ -x "$program" ] || { echo "$0: $program is not built (make build; swift build --product unlocked-mpi-probe)" >&2; exit 66; }
done
work=$(mktemp -d /tmp/uk-slurm-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"

# Everything that needs the daemons runs in one script, so they start once.
cat > "$work/jobs.sh" <<'JOBS'
#!/usr/bin/env bash
set -uo pipefail
cd "$WORK"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1    # the test SLURM runs jobs as root
status=0
for launcher in srun mpirun; do
    code=0
    UNLOCKED="$UNLOCKED_BIN" UNLOCKED_SIZE=1000003 UNLOCKED_ARGS="--reps 3 --json" UNLOCKED_LAUNCHER=$launcher \
        sbatch --wait --quiet --output="$WORK/$launcher.json" --error="$WORK/$launcher.err" "$EXAMPLE" || code=$?
    echo "examples/slurm/unlocked.sbatch through $launcher: exit $code"
    [ "$code" -eq 0 ] || status=$code
done
# srun without an MPI plugin: each task would be a whole job of its own.
code=0
sbatch --wait --quiet --ntasks=2 --cpus-per-task=1 --output="$WORK/none.out" --error="$WORK/none.err" \
    --wrap "srun --mpi=none $UNLOCKED_BIN run --size 1000" || code=$?
echo "$code" > "$WORK/none.status"
sbatch --wait --quiet --output="$WORK/checks.out" "$CHECKS" "$PROBE" || status=$?
exit "$status"
JOBS
chmod +x "$work/jobs.sh"
status=0
WORK=$work UNLOCKED_BIN=$unlocked PROBE=$probe EXAMPLE="$here/../../examples/slurm/unlocked.sbatch" CHECKS="$here/checks.sbatch" \
    "$here/slurm.sh" "$work/jobs.sh" || status=$?

# The answer one process gives, without SLURM or MPI.
"$unlocked" run --kernel absdist.sum --size 1000003 --reps 1 --json > "$work/single.json"
failed=0
for launcher in srun mpirun; do
    echo "--- examples/slurm/unlocked.sbatch through $launcher"
    cat "$work/$launcher.err" 2>/dev/null
    python3 - "$work/$launcher.json" "$work/single.json" "$launcher" <<'CHECK' || failed=$((failed + 1))
import json, sys
def cpus(text):
    out = set()
    for piece in text.split(","):
        low, _, high = piece.partition("-")
        out |= set(range(int(low), int(high or low) + 1))
    return out
def mask_cpus(mask):
    value = int(mask, 16)
    return {bit for bit in range(value.bit_length()) if value >> bit & 1}
path, single_path, launcher = sys.argv[1:]
text = open(path).read()
report, single = json.loads(text), json.load(open(single_path))
failures = []
def check(name, condition):
    print(("pass: " if condition else "FAIL: ") + name)
    if not condition: failures.append(name)
check("one report, from rank 0", text.count('"schema"') == 1 and report["schema"] == "unlocked-run-ranks/1")
check("2 ranks", report["ranks_count"] == 2 and [r["rank"] for r in report["ranks"]] == [0, 1])
check("the one-process answer: %s" % report["result"], report["result"] == single["result"])
check("blocks cover the array", [r["elements"] for r in report["ranks"]] == [500001, 500002])
launcher_sets = [cpus(r["launcher_cpus"]) for r in report["ranks"]]
check("each rank bound to one CPU of its own: %s" % [r["launcher_cpus"] for r in report["ranks"]],
      all(len(s) == 1 for s in launcher_sets) and launcher_sets[0] != launcher_sets[1])
for r, allowed in zip(report["ranks"], launcher_sets):
    inside = cpus(r["planned_cpus"]) <= allowed and all(w["observed_cpu"] in allowed for w in r["workers"])
    check("rank %d's workers inside its cpuset %s" % (r["rank"], r["launcher_cpus"]), inside)
if launcher == "srun":
    # The step's own binding, as srun announced it to the tasks: one mask per task.
    bind = report["launcher_variables"].get("SLURM_CPU_BIND_LIST", "")
    masks = [mask_cpus(m) for m in bind.split(",") if m]
    check("each rank's cpuset is its task's mask in SLURM_CPU_BIND_LIST=%s" % bind, masks == launcher_sets)
    check("launched by PMIx", report["launcher"] == "PMIx")
else:
    check("launched by mpirun", report["launcher"] == "mpirun")
sys.exit(1 if failures else 0)
CHECK
done
echo "--- srun --mpi=none unlocked run"
cat "$work/none.err" 2>/dev/null
if [ "$(cat "$work/none.status" 2>/dev/null)" = 64 ] && [ ! -s "$work/none.out" ] \
    && [ "$(grep -c '^unlocked: 2 tasks were started without MPI wire-up' "$work/none.err")" -eq 1 ]; then
    echo "pass: refused with exit 64 and one line, no report"
else
    echo "FAIL: srun without an MPI plugin: exit $(cat "$work/none.status" 2>/dev/null), expected 64 and one line"
    failed=$((failed + 1))
fi
echo "--- checks.sbatch (unlocked-mpi-probe)"
cat "$work/checks.out" 2>/dev/null || true
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
