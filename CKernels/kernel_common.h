/* Private helpers shared by the per-ISA kernel files. */
#ifndef UNLOCKED_KERNEL_COMMON_H
#define UNLOCKED_KERNEL_COMMON_H

#include "include/unlocked_kernels.h"

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

/* How many int32 distances (each < 2^32) one uint64 lane may add before it
 * could wrap: 2^32 of them. Vector variants fold lanes into the 128-bit
 * accumulator at least this often. */
#define UK_I32_FOLD_INTERVAL ((size_t)1 << 31)

#endif
