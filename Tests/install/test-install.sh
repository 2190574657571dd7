#!/usr/bin/env bash
# Checks what `make install PREFIX=...` put under PREFIX, then runs the installed binary
# the way a compute node without Swift would: in a private mount namespace where the
# Swift runtime's library directories (and the toolchain's own directory, when it has one
# such as /opt/swift) are empty tmpfs mounts, with an empty environment (env -i, so no
# LD_LIBRARY_PATH). Needs root (unshare --mount) and mpirun.
#
#   Tests/install/test-install.sh PREFIX
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 PREFIX" >&2; exit 64; }
prefix=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "$0: must run as root (it hides the toolchain with unshare --mount)" >&2; exit 64; }
# What to hide: the runtime library directories the compiler links against, and the
# toolchain's root (the directory holding usr/bin/swift) unless that is a system directory.
hidden=$(swift -print-target-info | python3 -c 'import json, sys; print(" ".join(json.load(sys.stdin)["paths"]["runtimeLibraryPaths"]))')
toolchain=$(dirname "$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")")
case "$toolchain" in /|/usr|/usr/local) ;; *) hidden="$hidden $toolchain" ;; esac
for directory in $hidden; do
    case "$directory" in /|/usr|/usr/lib|/usr/local|/lib) echo "$0: refusing to hide $directory" >&2; exit 70 ;; esac
done
work=$(mktemp -d /tmp/uk-install-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0
check() {    # check NAME COMMAND...: runs the command, reports and counts the outcome
    local name=$1; shift
    if "$@"; then echo "pass: $name"; else echo "FAIL: $name"; failed=$((failed + 1)); fi
}

for file in bin/unlocked include/unlocked/unlocked_plugin.h share/unlocked/examples/slurm/unlocked.sbatch \
            share/unlocked/examples/plugins/README.md share/unlocked/examples/plugins/sqdist/sqdist.c; do
    check "installed $file" test -f "$prefix/$file"
done
check "the binary is executable" test -x "$prefix/bin/unlocked"
ldd "$prefix/bin/unlocked" > "$work/ldd"
check "ldd: no Swift runtime, Foundation or dispatch library" bash -c "! grep -Eq 'libswift|libFoundation|libdispatch|libBlocksRuntime' '$work/ldd'"
for directory in $hidden; do
    check "ldd: nothing from $directory" bash -c "! grep -q '$directory/' '$work/ldd'"
done
check "ldd: every library found" bash -c "! grep -q 'not found' '$work/ldd'"

# A plugin built against the installed header alone, for the run below.
check "a plugin builds against the installed header" \
    gcc -O2 -shared -fPIC -I "$prefix/include/unlocked" -o "$work/libsqdist.so" "$prefix/share/unlocked/examples/plugins/sqdist/sqdist.c"

# The control: a program linked to the Swift runtime dynamically, which must not start there.
echo 'print("dynamic")' > "$work/dynamic.swift"
check "a dynamically linked Swift program builds" swiftc -o "$work/dynamic" "$work/dynamic.swift"
check "ldd: it needs the Swift runtime" bash -c "ldd '$work/dynamic' | grep -q libswiftCore"

# The reference answer, from the same binary with the toolchain in reach.
expected=$("$prefix/bin/unlocked" run --size 1000003 --reps 1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"])')

cat > "$work/hidden.sh" <<'HIDDEN'
#!/bin/bash
# Inside the private mount namespace: the toolchain is gone, the environment empty.
set -u
status=0
for directory in $HIDDEN; do
    mount -t tmpfs -o size=1m uk-no-swift "$directory" || exit 70
    if [ -n "$(ls -A "$directory")" ]; then echo "FAIL: $directory is still visible"; exit 1; fi
    echo "pass: $directory hidden"
done
if command -v swift >/dev/null && swift --version >/dev/null 2>&1; then echo "FAIL: swift still runs"; exit 1; fi
echo "pass: no Swift toolchain runs"
if env -i "$WORK/dynamic" >/dev/null 2>&1; then echo "FAIL: a dynamically linked Swift program still starts"; exit 1; fi
echo "pass: a dynamically linked Swift program cannot start (its runtime is out of reach)"
run() {    # run NAME EXPECTED-RESULT COMMAND...: runs with an empty environment, compares the JSON result
    local name=$1 expected=$2; shift 2
    local out
    out=$(env -i PATH=/usr/bin:/bin HOME=/root OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "$@" 2>"$WORK/err")
    local code=$?
    local result
    result=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"])' 2>/dev/null)
    if [ "$code" -eq 0 ] && [ "$result" = "$expected" ]; then echo "pass: $name (result $result)"
    else echo "FAIL: $name: exit $code, result '$result', expected '$expected'"; cat "$WORK/err"; status=1; fi
}
run "unlocked run without the toolchain" "$EXPECTED" "$PREFIX/bin/unlocked" run --size 1000003 --reps 1 --json
# The openmp engine's region is embedded in the binary; only the system's libgomp.so.1 is loaded.
run "unlocked run --engine openmp without the toolchain" "$EXPECTED" \
    "$PREFIX/bin/unlocked" run --engine openmp --workers 2 --size 1000003 --reps 1 --json
run "mpirun -np 2 unlocked run without the toolchain" "$EXPECTED" \
    mpirun -q -np 2 --oversubscribe "$PREFIX/bin/unlocked" run --size 1000003 --reps 1 --json
if env -i PATH=/usr/bin:/bin "$PREFIX/bin/unlocked" plugins info "$WORK/libsqdist.so" | grep -q "sqdist"; then
    echo "pass: the plugin loads without the toolchain"
else
    echo "FAIL: the plugin does not load without the toolchain"; status=1
fi
exit $status
HIDDEN
chmod +x "$work/hidden.sh"
check "runs with the toolchain out of reach" \
    env HIDDEN="$hidden" PREFIX="$prefix" WORK="$work" EXPECTED="$expected" unshare --mount --propagation private "$work/hidden.sh"

echo "$failed failed"
[ "$failed" -eq 0 ]
