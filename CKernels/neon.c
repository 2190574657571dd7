/* NEON (Advanced SIMD) variants. Advanced SIMD is part of every AArch64
 * CPU, so unlike the x86 files no target attribute is needed: the baseline
 * already has it.
 *
 * Shape of every kernel: four independent 16-byte vectors per iteration,
 * then single vectors, then the scalar reference for the remainder. */
#if defined(__aarch64__)

#include <arm_neon.h>

#include "kernel_common.h"

/* ---- map ---------------------------------------------------------------- */

/* vabdq_s32 is the absolute difference computed exactly and truncated to 32
 * bits, which is the exact distance read as uint32. FABD is FPAbs(FPSub):
 * one rounding, NaN stays NaN, -0.0 becomes +0.0, as fabs(x - c). AArch64
 * has no 64-bit SABD: negate x - c (mod 2^64) where x < c. */
UK_ALWAYS_INLINE uint64x2_t dist_i64(int64x2_t x, int64x2_t c) {
    const uint64x2_t below = vcgtq_s64(c, x);
    const uint64x2_t diff = vreinterpretq_u64_s64(vsubq_s64(x, c));
    return vsubq_u64(veorq_u64(diff, below), below);
}

/* Map loops: whole vectors, then the scalar reference. With
 * UK_FLAG_STREAMING_STORES and an element-aligned output, scalar elements
 * reach 16-byte alignment and whole vectors go out as non-temporal stores
 * (STNP, through clang's __builtin_nontemporal_store, which assumes the
 * vector's alignment). */
#define UK_NEON_MAP(name, elem, T, load, ptype, vtype, setup, compute, width)            \
    static void name(const void *input, void *output, size_t begin, size_t end,         \
                     const uk_params *p, uk_acc *acc) {                                 \
        const T *x = input;                                                              \
        ptype *out = output;                                                             \
        setup;                                                                           \
        size_t i = begin;                                                                \
        const uintptr_t first = (uintptr_t)(out + i);                                    \
        if ((p->flags & UK_FLAG_STREAMING_STORES) && first % sizeof(ptype) == 0) {       \
            size_t head = (size_t)((16 - first % 16) % 16) / sizeof(ptype);              \
            if (head > end - i) head = end - i;                                          \
            uk_scalar(UK_OP_ABSDIST_MAP, elem)(input, output, i, i + head, p, acc);      \
            for (i += head; i + width <= end; i += width) {                              \
                const vtype d = compute(load(x + i));                                    \
                __builtin_nontemporal_store(d, (vtype *)(void *)(out + i));              \
            }                                                                            \
        } else {                                                                         \
            for (; i + width <= end; i += width) {                                       \
                const vtype d = compute(load(x + i));                                    \
                memcpy(out + i, &d, sizeof d);                                           \
            }                                                                            \
        }                                                                                \
        uk_scalar(UK_OP_ABSDIST_MAP, elem)(input, output, i, end, p, acc);               \
    }

#define DIST_I32(v) vreinterpretq_u32_s32(vabdq_s32(v, c))
#define DIST_I64(v) dist_i64(v, c)
#define DIST_F32(v) vabdq_f32(v, c)
#define DIST_F64(v) vabdq_f64(v, c)

UK_NEON_MAP(absdist_map_i32, UK_ELEM_I32, int32_t, vld1q_s32, uint32_t, uint32x4_t,
            const int32x4_t c = vdupq_n_s32((int32_t)p->center_int), DIST_I32, 4)
UK_NEON_MAP(absdist_map_i64, UK_ELEM_I64, int64_t, vld1q_s64, uint64_t, uint64x2_t,
            const int64x2_t c = vdupq_n_s64(p->center_int), DIST_I64, 2)
UK_NEON_MAP(absdist_map_f32, UK_ELEM_F32, float, vld1q_f32, float, float32x4_t,
            const float32x4_t c = vdupq_n_f32((float)p->center_float), DIST_F32, 4)
UK_NEON_MAP(absdist_map_f64, UK_ELEM_F64, double, vld1q_f64, double, float64x2_t,
            const float64x2_t c = vdupq_n_f64(p->center_float), DIST_F64, 2)

/* ---- exact integer sums ------------------------------------------------- */

/* UADALP adds pairs of uint32 into uint64 lanes: each add is below 2^33, so
 * a lane is exact for 2^31 of them; the caller folds at least that often. */
UK_ALWAYS_INLINE uk_u128 fold_u64x4(const uint64x2_t s[4]) {
    uk_u128 total = 0;
    for (int k = 0; k < 4; k++) total += (uk_u128)vgetq_lane_u64(s[k], 0) + vgetq_lane_u64(s[k], 1);
    return total;
}

static void absdist_sum_i32(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    const int32_t *x = input;
    const int32x4_t c = vdupq_n_s32((int32_t)p->center_int);
    uk_u128 total = 0;
    size_t i = begin;
    while (end - i >= 4) {
        const size_t stop = end - i > UK_I32_FOLD_INTERVAL ? i + UK_I32_FOLD_INTERVAL : end;
        uint64x2_t s[4] = {vdupq_n_u64(0), vdupq_n_u64(0), vdupq_n_u64(0), vdupq_n_u64(0)};
        for (; i + 16 <= stop; i += 16)
            for (int k = 0; k < 4; k++)
                s[k] = vpadalq_u32(s[k], vreinterpretq_u32_s32(vabdq_s32(vld1q_s32(x + i + 4 * k), c)));
        for (; i + 4 <= stop; i += 4)
            s[0] = vpadalq_u32(s[0], vreinterpretq_u32_s32(vabdq_s32(vld1q_s32(x + i), c)));
        total += fold_u64x4(s);
    }
    uk_acc_add_u128(acc, total);
    uk_scalar(UK_OP_ABSDIST_SUM, UK_ELEM_I32)(input, output, i, end, p, acc);
}

/* Adds two uint64 into 128-bit lanes: s keeps the low half, carry counts
 * each wrap (s < d after the add; the compare is all ones, so subtract). */
UK_ALWAYS_INLINE void add_u64(uint64x2_t *s, uint64x2_t *carry, uint64x2_t d) {
    *s = vaddq_u64(*s, d);
    *carry = vsubq_u64(*carry, vcltq_u64(*s, d));
}

UK_ALWAYS_INLINE uk_u128 fold_u128x4(const uint64x2_t s[4], const uint64x2_t carry[4]) {
    uk_u128 total = 0;
    for (int k = 0; k < 4; k++)
        for (int lane = 0; lane < 2; lane++)
            total += ((uk_u128)(lane ? vgetq_lane_u64(carry[k], 1) : vgetq_lane_u64(carry[k], 0)) << 64) +
                     (lane ? vgetq_lane_u64(s[k], 1) : vgetq_lane_u64(s[k], 0));
    return total;
}

static void absdist_sum_i64(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    const int64_t *x = input;
    const int64x2_t c = vdupq_n_s64(p->center_int);
    uint64x2_t s[4], carry[4];
    for (int k = 0; k < 4; k++) s[k] = carry[k] = vdupq_n_u64(0);
    size_t i = begin;
    for (; i + 8 <= end; i += 8)
        for (int k = 0; k < 4; k++) add_u64(&s[k], &carry[k], dist_i64(vld1q_s64(x + i + 2 * k), c));
    for (; i + 2 <= end; i += 2) add_u64(&s[0], &carry[0], dist_i64(vld1q_s64(x + i), c));
    uk_acc_add_u128(acc, fold_u128x4(s, carry));
    uk_scalar(UK_OP_ABSDIST_SUM, UK_ELEM_I64)(input, output, i, end, p, acc);
}

/* SADALP adds pairs of int32 into int64 lanes: each add is within ±2^32, so
 * a lane is exact for 2^31 of them. */
static void stream_sum_i32(const void *input, void *output, size_t begin, size_t end,
                           const uk_params *p, uk_acc *acc) {
    const int32_t *x = input;
    uk_i128 total = 0;
    size_t i = begin;
    while (end - i >= 4) {
        const size_t stop = end - i > UK_I32_FOLD_INTERVAL ? i + UK_I32_FOLD_INTERVAL : end;
        int64x2_t s[4] = {vdupq_n_s64(0), vdupq_n_s64(0), vdupq_n_s64(0), vdupq_n_s64(0)};
        for (; i + 16 <= stop; i += 16)
            for (int k = 0; k < 4; k++) s[k] = vpadalq_s32(s[k], vld1q_s32(x + i + 4 * k));
        for (; i + 4 <= stop; i += 4) s[0] = vpadalq_s32(s[0], vld1q_s32(x + i));
        for (int k = 0; k < 4; k++) total += (uk_i128)vgetq_lane_s64(s[k], 0) + vgetq_lane_s64(s[k], 1);
    }
    uk_acc_add_u128(acc, (uk_u128)total);
    uk_scalar(UK_OP_STREAM_SUM, UK_ELEM_I32)(input, output, i, end, p, acc);
}

/* x + 2^63 as uint64 is x with its sign bit flipped: sum those exactly and
 * take n · 2^63 back off. */
static void stream_sum_i64(const void *input, void *output, size_t begin, size_t end,
                           const uk_params *p, uk_acc *acc) {
    const int64_t *x = input;
    const uint64x2_t bias = vdupq_n_u64((uint64_t)1 << 63);
    uint64x2_t s[4], carry[4];
    for (int k = 0; k < 4; k++) s[k] = carry[k] = vdupq_n_u64(0);
    size_t i = begin;
    for (; i + 8 <= end; i += 8)
        for (int k = 0; k < 4; k++)
            add_u64(&s[k], &carry[k], veorq_u64(vreinterpretq_u64_s64(vld1q_s64(x + i + 2 * k)), bias));
    for (; i + 2 <= end; i += 2) add_u64(&s[0], &carry[0], veorq_u64(vreinterpretq_u64_s64(vld1q_s64(x + i)), bias));
    uk_acc_add_u128(acc, fold_u128x4(s, carry) - ((uk_u128)(i - begin) << 63));
    uk_scalar(UK_OP_STREAM_SUM, UK_ELEM_I64)(input, output, i, end, p, acc);
}

/* ---- float sums, accumulated in double ---------------------------------- */

UK_ALWAYS_INLINE double fold_f64x4(const float64x2_t s[4]) {
    return vaddvq_f64(vaddq_f64(vaddq_f64(s[0], s[1]), vaddq_f64(s[2], s[3])));
}

/* Adds four float values to two double vectors (widening is exact). */
UK_ALWAYS_INLINE void add_f32(float64x2_t *lo, float64x2_t *hi, float32x4_t d) {
    *lo = vaddq_f64(*lo, vcvt_f64_f32(vget_low_f32(d)));
    *hi = vaddq_f64(*hi, vcvt_high_f64_f32(d));
}

UK_ALWAYS_INLINE double sum_f32(const float *x, size_t *at, size_t end, float32x4_t c, int absdist) {
    float64x2_t lo[4], hi[4];
    for (int k = 0; k < 4; k++) lo[k] = hi[k] = vdupq_n_f64(0);
    size_t i = *at;
    for (; i + 16 <= end; i += 16)
        for (int k = 0; k < 4; k++) {
            const float32x4_t v = vld1q_f32(x + i + 4 * k);
            add_f32(&lo[k], &hi[k], absdist ? vabdq_f32(v, c) : v);
        }
    for (; i + 4 <= end; i += 4) {
        const float32x4_t v = vld1q_f32(x + i);
        add_f32(&lo[0], &hi[0], absdist ? vabdq_f32(v, c) : v);
    }
    *at = i;
    return fold_f64x4(lo) + fold_f64x4(hi);
}

UK_ALWAYS_INLINE double sum_f64(const double *x, size_t *at, size_t end, float64x2_t c, int absdist) {
    float64x2_t s[4];
    for (int k = 0; k < 4; k++) s[k] = vdupq_n_f64(0);
    size_t i = *at;
    for (; i + 8 <= end; i += 8)
        for (int k = 0; k < 4; k++) {
            const float64x2_t v = vld1q_f64(x + i + 2 * k);
            s[k] = vaddq_f64(s[k], absdist ? vabdq_f64(v, c) : v);
        }
    for (; i + 2 <= end; i += 2) {
        const float64x2_t v = vld1q_f64(x + i);
        s[0] = vaddq_f64(s[0], absdist ? vabdq_f64(v, c) : v);
    }
    *at = i;
    return fold_f64x4(s);
}

static void absdist_sum_f32(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    size_t i = begin;
    acc->f += sum_f32(input, &i, end, vdupq_n_f32((float)p->center_float), 1);
    uk_scalar(UK_OP_ABSDIST_SUM, UK_ELEM_F32)(input, output, i, end, p, acc);
}

static void absdist_sum_f64(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    size_t i = begin;
    acc->f += sum_f64(input, &i, end, vdupq_n_f64(p->center_float), 1);
    uk_scalar(UK_OP_ABSDIST_SUM, UK_ELEM_F64)(input, output, i, end, p, acc);
}

static void stream_sum_f32(const void *input, void *output, size_t begin, size_t end,
                           const uk_params *p, uk_acc *acc) {
    size_t i = begin;
    acc->f += sum_f32(input, &i, end, vdupq_n_f32(0), 0);
    uk_scalar(UK_OP_STREAM_SUM, UK_ELEM_F32)(input, output, i, end, p, acc);
}

static void stream_sum_f64(const void *input, void *output, size_t begin, size_t end,
                           const uk_params *p, uk_acc *acc) {
    size_t i = begin;
    acc->f += sum_f64(input, &i, end, vdupq_n_f64(0), 0);
    uk_scalar(UK_OP_STREAM_SUM, UK_ELEM_F64)(input, output, i, end, p, acc);
}

const uk_isa_table uk_table_neon = {{
    [UK_OP_ABSDIST_MAP] = {absdist_map_i32, absdist_map_i64, absdist_map_f32, absdist_map_f64},
    [UK_OP_ABSDIST_SUM] = {absdist_sum_i32, absdist_sum_i64, absdist_sum_f32, absdist_sum_f64},
    [UK_OP_STREAM_SUM] = {stream_sum_i32, stream_sum_i64, stream_sum_f32, stream_sum_f64},
}};

#endif /* __aarch64__ */
