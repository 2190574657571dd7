/* Private helpers shared by the per-ISA kernel files. */
#ifndef UNLOCKED_KERNEL_COMMON_H
#define UNLOCKED_KERNEL_COMMON_H

#include <string.h>

#include "include/unlocked_kernels.h"

/* Vector helpers take function pointers and vector arguments; forcing them
 * inline lets the compiler specialise each kernel's loop (and keeps vector
 * values out of memory at call boundaries). */
#define UK_ALWAYS_INLINE static inline __attribute__((always_inline))

typedef unsigned __int128 uk_u128;
typedef __int128 uk_i128;

static inline uk_u128 uk_acc_get(const uk_acc *acc) {
    return ((uk_u128)acc->hi << 64) | acc->lo;
}

static inline void uk_acc_set(uk_acc *acc, uk_u128 v) {
    acc->lo = (uint64_t)v;
    acc->hi = (uint64_t)(v >> 64);
}

/* Adds an unsigned 64-bit value to the 128-bit accumulator. */
static inline void uk_acc_add_u64(uk_acc *acc, uint64_t v) {
    uk_acc_set(acc, uk_acc_get(acc) + v);
}

/* Adds a signed 64-bit value (two's complement in 128 bits). */
static inline void uk_acc_add_i64(uk_acc *acc, int64_t v) {
    uk_acc_set(acc, uk_acc_get(acc) + (uk_u128)(uk_i128)v);
}

static inline void uk_acc_add_u128(uk_acc *acc, uk_u128 v) {
    uk_acc_set(acc, uk_acc_get(acc) + v);
}

/* |x - c| without overflow, as the unsigned type of the same width. */
static inline uint32_t uk_absdist_i32(int32_t x, int32_t c) {
    return x >= c ? (uint32_t)x - (uint32_t)c : (uint32_t)c - (uint32_t)x;
}

static inline uint64_t uk_absdist_i64(int64_t x, int64_t c) {
    return x >= c ? (uint64_t)x - (uint64_t)c : (uint64_t)c - (uint64_t)x;
}

/* uk_read_T(base, i) / uk_write_T(base, i, v): element i of a T array that
 * may start at any byte (a chunk of a file, a caller's packed struct).
 * memcpy is the one access to a misaligned object that is defined C
 * (UBSan-clean); compilers turn it into a single plain load or store.
 * (Not "load/store": CSupport's uk_load_u32 / uk_store_u32 are atomics.) */
#define UK_DEFINE_ACCESS(T, suffix)                                              \
    static inline T uk_read_##suffix(const void *base, size_t i) {               \
        T v;                                                                     \
        memcpy(&v, (const char *)base + i * sizeof(T), sizeof(T));               \
        return v;                                                                \
    }                                                                            \
    static inline void uk_write_##suffix(void *base, size_t i, T v) {            \
        memcpy((char *)base + i * sizeof(T), &v, sizeof(T));                     \
    }
UK_DEFINE_ACCESS(int32_t, i32)
UK_DEFINE_ACCESS(int64_t, i64)
UK_DEFINE_ACCESS(uint32_t, u32)
UK_DEFINE_ACCESS(uint64_t, u64)
UK_DEFINE_ACCESS(float, f32)
UK_DEFINE_ACCESS(double, f64)
#undef UK_DEFINE_ACCESS

/* How many elements of a sum over [begin, end) of `width`-byte elements at
 * `input` come before the first `align`-byte boundary, when the range is long
 * enough (64 vectors or more) to gain from aligned loads: a vector load that
 * straddles two cache lines costs about a third more when the data is in
 * cache (measured on Zen, AVX-512 absdist.sum i32 at 100,000 elements), and
 * numpy's large arrays start 16 bytes into a page. The kernel sums that head
 * by calling itself on it (too short to peel again), then the aligned rest.
 * 0 when the data is aligned, or not even element-aligned. Integer sums
 * only: they are exact in any order, float sums would change their rounding. */
static inline __attribute__((always_inline)) size_t uk_unaligned_head(const void *input, size_t width, size_t begin,
                                                                     size_t end, size_t align) {
    const uintptr_t at = (uintptr_t)input + begin * width;
    if (at % width != 0 || end - begin < 64 * align / width) return 0;
    return (align - at % align) % align / width;
}

/* Software prefetch for the vector sums. A core's hardware prefetchers alone
 * leave a reduction short of the core's read bandwidth once the loop does
 * arithmetic per cache line (measured on Zen 5, one thread: each ALU
 * instruction per line costs a few percent against a loop of bare loads,
 * AVX2 absdist.sum f32 reached 0.82x). A prefetch per line, 8 KiB ahead,
 * closes the gap (AVX-512 measured alike at 4-12 KiB, AVX2 best at 8 KiB,
 * 2 KiB too short). Only lines inside the range are prefetched, so nothing
 * outside [begin, end) is touched even as a hint. `at` is the address the loop is about to read,
 * `bytes` how much one iteration reads, `limit` the range's end address. */
#define UK_PREFETCH_AHEAD 8192

static inline __attribute__((always_inline)) void uk_prefetch_ahead(const void *at, size_t bytes,
                                                                    const void *limit) {
    const uintptr_t first = (uintptr_t)at + UK_PREFETCH_AHEAD;
    if (first + bytes > (uintptr_t)limit) return;
    for (size_t line = 0; line < bytes; line += 64) __builtin_prefetch((const void *)(first + line), 0, 3);
}

/* The scalar reference of one table entry; vector variants finish their
 * ranges with it where masked operations are unavailable. */
static inline uk_variant_fn uk_scalar(uk_op op, uk_elem elem) {
    return uk_table_scalar.fn[op][elem];
}

/* How many int32 distances (each < 2^32) one uint64 lane may add before it
 * could wrap: 2^32 of them. Vector variants fold lanes into the 128-bit
 * accumulator at least this often. */
#define UK_I32_FOLD_INTERVAL ((size_t)1 << 31)

#endif
