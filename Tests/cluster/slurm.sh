#!/usr/bin/env bash
# Runs COMMAND under a private single-node SLURM started here and stopped on exit.
#
#   Tests/cluster/slurm.sh sbatch --wait job.sbatch
#
# Needs root and Debian's slurm-wlm and munge. Everything the daemons write (munge key and
# socket, slurm.conf, state, spool, logs, pid files) lives in one temporary directory, on
# ports chosen here, so a machine's own munged or SLURM is neither used nor disturbed.
# COMMAND sees SLURM_CONF (and no standard input); its exit code is this script's.
# Every wait is bounded: UK_SLURM_TIMEOUT (default 600 s) caps COMMAND, start-up gives up
# after 30 s. The daemons' logs are printed when start-up fails, or after a failed
# COMMAND with UK_SLURM_LOGS=1.
set -euo pipefail

[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARG...]" >&2; exit 64; }
[ "$(id -u)" -eq 0 ] || { echo "$0: must run as root (it starts slurmctld, slurmd and munged)" >&2; exit 64; }
for tool in munged slurmctld slurmd sinfo; do
    command -v "$tool" >/dev/null || { echo "$0: $tool not found: install slurm-wlm and munge (make test-deps)" >&2; exit 69; }
done

dir=$(mktemp -d /tmp/uk-slurm.XXXXXX)
chmod 0755 "$dir"    # munged, running as munge, must reach its own directory inside
mkdir -p "$dir/munge" "$dir/munge-run" "$dir/state" "$dir/spool" "$dir/log"
host=$(hostname -s)
log() { printf 'slurm.sh: %s\n' "$*" >&2; }
# Seconds since $1 (an $EPOCHREALTIME), to a tenth.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# Stops the daemons named by pid files together: SIGTERM, then SIGKILL after 10 s.
stop_pid_files() {
    local file pid pids=()
    for file in "$@"; do
        pid=$(cat "$file" 2>/dev/null) || continue
        kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
    done
    for _ in $(seq 100); do
        local alive=()
        for pid in ${pids[@]+"${pids[@]}"}; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
        [ ${#alive[@]} -eq 0 ] && return 0
        pids=("${alive[@]}")
        sleep 0.1
    done
    log "pids ${pids[*]} ignored SIGTERM for 10 s; killing them"
    kill -KILL "${pids[@]}" 2>/dev/null || true
}

stop_all() {
    local status=$?
    set +e
    local stopping=$EPOCHREALTIME
    # Cancel what is still queued or running, so no slurmstepd outlives its slurmd.
    if [ -s "$dir/slurmctld.pid" ]; then
        timeout 10 scancel --quiet --user=root
        for _ in $(seq 100); do
            [ -z "$(timeout 5 squeue -h -o %i 2>/dev/null)" ] && break
            sleep 0.1
        done
    fi
    stop_pid_files "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge-run/munged.pid"
    log "stopped in $(since "$stopping") s"
    # The daemons' logs explain a failed start; a failed COMMAND shows them when asked.
    if [ "$status" -ne 0 ] && { [ "$phase" = start ] || [ -n "${UK_SLURM_LOGS:-}" ]; }; then
        for file in "$dir"/log/*.log; do
            [ -s "$file" ] && { log "last lines of $file:"; tail -n 20 "$file" >&2; }
        done
    fi
    rm -rf "$dir"
    exit "$status"
}
# A signal ends COMMAND (run in the background so `wait` lets the trap in at once), then
# the EXIT trap stops the daemons.
on_signal() {
    [ -n "${command_pid:-}" ] && kill -TERM "$command_pid" 2>/dev/null
    exit "$1"
}
trap stop_all EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

# A port nothing listens on (/proc/net/tcp lists listening sockets in hex, state 0A).
free_port() {
    local port
    for _ in $(seq 50); do
        port=$((20000 + RANDOM % 20000))
        if ! awk -v p="$(printf '%04X' "$port")" '$4 == "0A" && $2 ~ ":" p "$" { found = 1 } END { exit !found }' \
                /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
            echo "$port"; return
        fi
    done
    log "no free port found"; return 1
}

starting=$EPOCHREALTIME
phase=start

# munge: a fresh key and socket of our own. munged wants its key and log in a directory only
# it can read, and its socket in one everybody can enter.
head -c 1024 /dev/urandom > "$dir/munge/munge.key"
chown -R munge:munge "$dir/munge" "$dir/munge-run"
chmod 0700 "$dir/munge"
chmod 0755 "$dir/munge-run"
chmod 0400 "$dir/munge/munge.key"
socket="$dir/munge-run/munge.socket"
runuser -u munge -- munged --socket="$socket" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/munge-run/munged.pid" --log-file="$dir/munge/munged.log" \
    --seed-file="$dir/munge/munged.seed"
munge --socket="$socket" -n | unmunge --socket="$socket" >/dev/null

# slurm.conf for this machine: its NodeName line comes from `slurmd -C`.
cluster="uk$$"
node=$(slurmd -C | head -n 1 | sed -E "s/^NodeName=[^ ]+/NodeName=$host NodeAddr=127.0.0.1/")
cat > "$dir/slurm.conf" <<CONF
ClusterName=$cluster
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
KillWait=5
$node State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$dir/slurm.conf"

slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"

# Bounded wait for the node to register and become idle.
state=""
for _ in $(seq 300); do
    state=$(timeout 5 sinfo -h -n "$host" -o %t 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 0.1
done
if [ "$state" != idle ]; then
    log "node $host is '${state:-unknown}' after 30 s, not idle"
    exit 70
fi
log "single-node SLURM up in $(since "$starting") s ($host, SLURM_CONF=$SLURM_CONF)"

phase=command
set +e
timeout --kill-after=10 "${UK_SLURM_TIMEOUT:-600}" "$@" &
command_pid=$!
wait "$command_pid"
status=$?
set -e
[ "$status" -eq 124 ] && log "'$*' did not finish within ${UK_SLURM_TIMEOUT:-600} s"
exit "$status"
