#!/usr/bin/env bash
# Builds bench/variant_check.c with the kernels (clang, as SwiftPM does) and
# runs it natively under ASan+UBSan, then, when an aarch64 cross toolchain
# and qemu-aarch64 are installed (apt-get install gcc-aarch64-linux-gnu
# qemu-user), cross-compiled for arm64 so the NEON variant runs under qemu.
# Every run starts with the first-use dispatch check; `dispatch` as the only
# argument runs just that, natively, with UNLOCKED_ISA unset and set to each
# variant name and to an unknown one (refused names must fail the kernel).
set -euo pipefail
cd "$(dirname "$0")/.."
CC=${CC:-$(command -v clang || echo /opt/swift/usr/bin/clang)}
out=.build/bench
mkdir -p "$out"
flags=(-O3 -fno-strict-aliasing -ICKernels/include -ICKernels)

echo "== native, -fsanitize=address,undefined"
"$CC" "${flags[@]}" -g -fsanitize=address,undefined -fno-sanitize-recover=undefined \
    -fuse-ld=lld CKernels/*.c bench/variant_check.c -lm -o "$out/variant_check"

if [ "${1:-}" = dispatch ]; then
    echo "== first-use dispatch, fresh processes"
    env -u UNLOCKED_ISA "$out/variant_check" dispatch
    for isa in scalar avx2 AVX512 neon bogus; do
        echo "UNLOCKED_ISA=$isa"
        UNLOCKED_ISA=$isa "$out/variant_check" dispatch
    done
    exit 0
fi
"$out/variant_check"

if command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null; then
    echo "== arm64 under qemu-aarch64 (NEON)"
    objs=()
    for f in CKernels/*.c bench/variant_check.c; do
        o="$out/arm64-$(basename "$f" .c).o"
        "$CC" --target=aarch64-linux-gnu --sysroot=/usr/aarch64-linux-gnu -isystem /usr/aarch64-linux-gnu/include \
            "${flags[@]}" -c "$f" -o "$o"
        objs+=("$o")
    done
    aarch64-linux-gnu-gcc "${objs[@]}" -lm -lpthread -o "$out/variant_check-arm64"
    qemu-aarch64 -L /usr/aarch64-linux-gnu "$out/variant_check-arm64"
else
    echo "(no aarch64-linux-gnu-gcc + qemu-aarch64: NEON not run)"
fi
