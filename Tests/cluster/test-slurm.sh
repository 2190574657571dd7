#!/usr/bin/env bash
# The SLURM tests of issue 12: submits checks.sbatch (2 tasks, --cpus-per-task 1) to a
# private single-node SLURM started by slurm.sh, and prints the job's output.
#
#   Tests/cluster/test-slurm.sh [PROBE]    (default .build/debug/unlocked-mpi-probe)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
probe=$(realpath "${1:-$here/../../.build/debug/unlocked-mpi-probe}")
[ -x "$probe" ] || { echo "$0: $probe is not built: swift build --product unlocked-mpi-probe" >&2; exit 66; }
output=$(mktemp /tmp/uk-slurm-checks.XXXXXX)
trap 'rm -f "$output"' EXIT
status=0
"$here/slurm.sh" sbatch --wait --quiet --output="$output" "$here/checks.sbatch" "$probe" || status=$?
cat "$output"
exit "$status"
