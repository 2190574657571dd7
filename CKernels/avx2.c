/* AVX2 (+FMA, as dispatch requires) variants. Compiled with a per-function
 * target attribute so the rest of the binary stays baseline x86-64.
 *
 * Shape of every kernel: four independent 32-byte vectors per iteration
 * (sums also prefetch 8 KiB ahead, see uk_prefetch_ahead), then single
 * vectors, then the scalar reference for the last few elements (AVX2 has
 * no byte-granular masked loads that would keep the remainder inside
 * [begin, end) for every type). */
#if defined(__x86_64__)

#include <immintrin.h>

#include "kernel_common.h"

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)

/* ---- distances ---------------------------------------------------------- */

/* max - min is the exact unsigned distance even when x - c overflows. */
UK_ALWAYS_INLINE __m256i dist_i32(__m256i x, __m256i c) {
    return _mm256_sub_epi32(_mm256_max_epi32(x, c), _mm256_min_epi32(x, c));
}

/* AVX2 has no 64-bit min/max: negate x - c (mod 2^64) where x < c. */
UK_ALWAYS_INLINE __m256i dist_i64(__m256i x, __m256i c) {
    const __m256i below = _mm256_cmpgt_epi64(c, x);
    return _mm256_sub_epi64(_mm256_xor_si256(_mm256_sub_epi64(x, c), below), below);
}

/* Clearing the sign bit is fabs: it keeps NaN a NaN and turns -0.0 into +0.0. */
UK_ALWAYS_INLINE __m256i dist_f32(__m256i x, __m256i c) {
    const __m256 d = _mm256_sub_ps(_mm256_castsi256_ps(x), _mm256_castsi256_ps(c));
    return _mm256_and_si256(_mm256_castps_si256(d), _mm256_set1_epi32(0x7fffffff));
}

UK_ALWAYS_INLINE __m256i dist_f64(__m256i x, __m256i c) {
    const __m256d d = _mm256_sub_pd(_mm256_castsi256_pd(x), _mm256_castsi256_pd(c));
    return _mm256_and_si256(_mm256_castpd_si256(d), _mm256_set1_epi64x(0x7fffffffffffffff));
}

UK_ALWAYS_INLINE __m256i load(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* ---- map ---------------------------------------------------------------- */

/* out[i] = dist(x[i]) over whole vectors, from `i` on; returns where it
 * stopped, the caller finishes with the scalar reference. With
 * UK_FLAG_STREAMING_STORES and an element-aligned output, scalar elements
 * reach 32-byte alignment, whole vectors go out as non-temporal stores, and
 * an sfence makes them visible before any later store. */
UK_ALWAYS_INLINE size_t map_loop(const char *in, char *out, size_t begin, size_t end, size_t width,
                                 const uk_params *p, uk_op op, uk_elem elem, __m256i c,
                                 __m256i (*dist)(__m256i, __m256i)) {
    const size_t per_vector = 32 / width;
    size_t i = begin;
    const uintptr_t first = (uintptr_t)(out + i * width);
    if ((p->flags & UK_FLAG_STREAMING_STORES) && first % width == 0) {
        size_t head = (size_t)((32 - first % 32) % 32) / width;
        if (head > end - i) head = end - i;
        uk_scalar(op, elem)(in, out, i, i + head, p, NULL);
        for (i += head; i + per_vector <= end; i += per_vector)
            _mm256_stream_si256((__m256i *)(out + i * width), dist(load(in + i * width), c));
        _mm_sfence();
        return i;
    }
    for (; i + 4 * per_vector <= end; i += 4 * per_vector)
        for (size_t k = 0; k < 4; k++) {
            const size_t at = (i + k * per_vector) * width;
            _mm256_storeu_si256((__m256i *)(out + at), dist(load(in + at), c));
        }
    for (; i + per_vector <= end; i += per_vector)
        _mm256_storeu_si256((__m256i *)(out + i * width), dist(load(in + i * width), c));
    return i;
}

static void absdist_map_i32(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    const size_t i = map_loop(input, output, begin, end, 4, p, UK_OP_ABSDIST_MAP, UK_ELEM_I32,
                              _mm256_set1_epi32((int32_t)p->center_int), dist_i32);
    uk_scalar(UK_OP_ABSDIST_MAP, UK_ELEM_I32)(input, output, i, end, p, acc);
}

static void absdist_map_i64(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    const size_t i = map_loop(input, output, begin, end, 8, p, UK_OP_ABSDIST_MAP, UK_ELEM_I64,
                              _mm256_set1_epi64x(p->center_int), dist_i64);
    uk_scalar(UK_OP_ABSDIST_MAP, UK_ELEM_I64)(input, output, i, end, p, acc);
}

static void absdist_map_f32(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    const size_t i = map_loop(input, output, begin, end, 4, p, UK_OP_ABSDIST_MAP, UK_ELEM_F32,
                              _mm256_castps_si256(_mm256_set1_ps((float)p->center_float)), dist_f32);
    uk_scalar(UK_OP_ABSDIST_MAP, UK_ELEM_F32)(input, output, i, end, p, acc);
}

static void absdist_map_f64(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    const size_t i = map_loop(input, output, begin, end, 8, p, UK_OP_ABSDIST_MAP, UK_ELEM_F64,
                              _mm256_castpd_si256(_mm256_set1_pd(p->center_float)), dist_f64);
    uk_scalar(UK_OP_ABSDIST_MAP, UK_ELEM_F64)(input, output, i, end, p, acc);
}

/* ---- exact integer accumulation ----------------------------------------- */

/* Adds eight uint32 values d to 64-bit lanes without widening each one:
 * s += d read as four uint64 (low element + 2^32 · high element, mod 2^64)
 * and h += the high elements; fold_u32 takes the low elements back out of
 * s. Exact while each lane has added fewer than 2^32 vectors. */
UK_ALWAYS_INLINE void add_u32(__m256i *s, __m256i *h, __m256i d) {
    *s = _mm256_add_epi64(*s, d);
    *h = _mm256_add_epi64(*h, _mm256_srli_epi64(d, 32));
}

UK_ALWAYS_INLINE uk_u128 fold_u32(const __m256i s[4], const __m256i h[4]) {
    uint64_t sl[4], hl[4];
    _mm256_storeu_si256((__m256i *)sl, _mm256_add_epi64(_mm256_add_epi64(s[0], s[1]), _mm256_add_epi64(s[2], s[3])));
    _mm256_storeu_si256((__m256i *)hl, _mm256_add_epi64(_mm256_add_epi64(h[0], h[1]), _mm256_add_epi64(h[2], h[3])));
    uk_u128 total = 0;
    for (int lane = 0; lane < 4; lane++) total += (uk_u128)(sl[lane] - (hl[lane] << 32)) + hl[lane];
    return total;
}

/* Adds four uint64 values into 128-bit lanes. s is kept biased by 2^63 so
 * that "s wrapped" (s < d unsigned) is one signed compare against d ^ 2^63;
 * carry subtracts the all-ones compare result, i.e. counts the wraps. */
UK_ALWAYS_INLINE void add_u64(__m256i *s_biased, __m256i *carry, __m256i d) {
    *s_biased = _mm256_add_epi64(*s_biased, d);
    const __m256i d_biased = _mm256_xor_si256(d, _mm256_set1_epi64x(INT64_MIN));
    *carry = _mm256_sub_epi64(*carry, _mm256_cmpgt_epi64(d_biased, *s_biased));
}

/* Starts add_u64's lanes at a biased zero. */
UK_ALWAYS_INLINE __m256i biased_zero(void) { return _mm256_set1_epi64x(INT64_MIN); }

UK_ALWAYS_INLINE uk_u128 fold_u64(const __m256i s_biased[4], const __m256i carry[4]) {
    uint64_t sl[16], cl[16];
    for (int k = 0; k < 4; k++) {
        _mm256_storeu_si256((__m256i *)(sl + 4 * k), s_biased[k]);
        _mm256_storeu_si256((__m256i *)(cl + 4 * k), carry[k]);
    }
    uk_u128 total = 0;
    for (int lane = 0; lane < 16; lane++)
        total += ((uk_u128)cl[lane] << 64) + (sl[lane] ^ ((uint64_t)1 << 63));
    return total;
}

/* ---- absdist.sum -------------------------------------------------------- */

/* int32 elements per block of absdist_sum_i32's fast path: 128 vectors, 4 KiB. */
#define BLOCK_I32 1024

/* The fast path's bound: 128 distances below 2^25 cannot wrap a 32-bit lane. */
#define BLOCK_I32_LIMIT (1 << 25)

/* Centres the fast path takes: with |c| < 2^30 the wrapped 32-bit x - c is
 * small exactly when the true difference is (see avx512.c). */
#define BLOCK_I32_CENTER (1 << 30)

/* As in avx512.c: a block takes |x - c| as abs of the wrapped difference,
 * adds it in 32-bit lanes and ORs it into `seen`; if `seen` stays below the
 * bound, every abs was exact and no lane wrapped, else the block is redone
 * exactly from L1. The bound is a power of two, so "seen < bound" is "no
 * bit at or above it": AVX2 has no unsigned compare, but has testz. */
static void absdist_sum_i32(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    const size_t head = uk_unaligned_head(input, sizeof(int32_t), begin, end, 32);
    if (head > 0) {
        absdist_sum_i32(input, output, begin, begin + head, p, acc);
        begin += head;
    }
    const int32_t *x = input;
    const __m256i c = _mm256_set1_epi32((int32_t)p->center_int);
    const __m256i high_bits = _mm256_set1_epi32(-BLOCK_I32_LIMIT);
    const int blocks = p->center_int > -BLOCK_I32_CENTER && p->center_int < BLOCK_I32_CENTER;
    uk_u128 total = 0;
    size_t i = begin;
    while (end - i >= 8) {
        /* Fold before any 64-bit lane could wrap. */
        const size_t stop = end - i > UK_I32_FOLD_INTERVAL ? i + UK_I32_FOLD_INTERVAL : end;
        __m256i s[4] = {0}, h[4] = {0};
        for (; blocks && i + BLOCK_I32 <= stop; i += BLOCK_I32) {
            __m256i t[4] = {0}, seen = _mm256_setzero_si256();
            for (size_t j = i; j < i + BLOCK_I32; j += 32) {
                uk_prefetch_ahead(x + j, 128, x + end);
                for (int k = 0; k < 4; k++) {
                    const __m256i d = _mm256_abs_epi32(_mm256_sub_epi32(load(x + j + 8 * k), c));
                    t[k] = _mm256_add_epi32(t[k], d);
                    seen = _mm256_or_si256(seen, d);
                }
            }
            if (_mm256_testz_si256(seen, high_bits)) {
                add_u32(&s[0], &h[0], _mm256_add_epi32(_mm256_add_epi32(t[0], t[1]), _mm256_add_epi32(t[2], t[3])));
                continue;
            }
            for (size_t j = i; j < i + BLOCK_I32; j += 32)
                for (int k = 0; k < 4; k++) add_u32(&s[k], &h[k], dist_i32(load(x + j + 8 * k), c));
        }
        for (; i + 32 <= stop; i += 32) {
            uk_prefetch_ahead(x + i, 128, x + end);
            for (int k = 0; k < 4; k++) add_u32(&s[k], &h[k], dist_i32(load(x + i + 8 * k), c));
        }
        for (; i + 8 <= stop; i += 8) add_u32(&s[0], &h[0], dist_i32(load(x + i), c));
        total += fold_u32(s, h);
    }
    uk_acc_add_u128(acc, total);
    uk_scalar(UK_OP_ABSDIST_SUM, UK_ELEM_I32)(input, output, i, end, p, acc);
}

static void absdist_sum_i64(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    const size_t head = uk_unaligned_head(input, sizeof(int64_t), begin, end, 32);
    if (head > 0) {
        absdist_sum_i64(input, output, begin, begin + head, p, acc);
        begin += head;
    }
    const int64_t *x = input;
    const __m256i c = _mm256_set1_epi64x(p->center_int);
    __m256i s[4] = {biased_zero(), biased_zero(), biased_zero(), biased_zero()}, carry[4] = {0};
    size_t i = begin;
    for (; i + 16 <= end; i += 16) {
        uk_prefetch_ahead(x + i, 128, x + end);
        for (int k = 0; k < 4; k++) add_u64(&s[k], &carry[k], dist_i64(load(x + i + 4 * k), c));
    }
    for (; i + 4 <= end; i += 4) add_u64(&s[0], &carry[0], dist_i64(load(x + i), c));
    uk_acc_add_u128(acc, fold_u64(s, carry));
    uk_scalar(UK_OP_ABSDIST_SUM, UK_ELEM_I64)(input, output, i, end, p, acc);
}

/* ---- exact signed sums: bias to unsigned, sum, remove the bias ---------- */

/* x + 2^31 as uint32 is x with its sign bit flipped; the 128-bit total then
 * loses n · 2^31 for the n elements summed here. */
static void stream_sum_i32(const void *input, void *output, size_t begin, size_t end,
                           const uk_params *p, uk_acc *acc) {
    const size_t head = uk_unaligned_head(input, sizeof(int32_t), begin, end, 32);
    if (head > 0) {
        stream_sum_i32(input, output, begin, begin + head, p, acc);
        begin += head;
    }
    const int32_t *x = input;
    const __m256i bias = _mm256_set1_epi32(INT32_MIN);
    uk_u128 total = 0;
    size_t i = begin;
    while (end - i >= 8) {
        const size_t stop = end - i > UK_I32_FOLD_INTERVAL ? i + UK_I32_FOLD_INTERVAL : end;
        __m256i s[4] = {0}, h[4] = {0};
        for (; i + 32 <= stop; i += 32) {
            uk_prefetch_ahead(x + i, 128, x + end);
            for (int k = 0; k < 4; k++) add_u32(&s[k], &h[k], _mm256_xor_si256(load(x + i + 8 * k), bias));
        }
        for (; i + 8 <= stop; i += 8) add_u32(&s[0], &h[0], _mm256_xor_si256(load(x + i), bias));
        total += fold_u32(s, h);
    }
    uk_acc_add_u128(acc, total - ((uk_u128)(i - begin) << 31));
    uk_scalar(UK_OP_STREAM_SUM, UK_ELEM_I32)(input, output, i, end, p, acc);
}

static void stream_sum_i64(const void *input, void *output, size_t begin, size_t end,
                           const uk_params *p, uk_acc *acc) {
    const size_t head = uk_unaligned_head(input, sizeof(int64_t), begin, end, 32);
    if (head > 0) {
        stream_sum_i64(input, output, begin, begin + head, p, acc);
        begin += head;
    }
    const int64_t *x = input;
    const __m256i bias = _mm256_set1_epi64x(INT64_MIN);
    __m256i s[4] = {biased_zero(), biased_zero(), biased_zero(), biased_zero()}, carry[4] = {0};
    size_t i = begin;
    for (; i + 16 <= end; i += 16) {
        uk_prefetch_ahead(x + i, 128, x + end);
        for (int k = 0; k < 4; k++) add_u64(&s[k], &carry[k], _mm256_xor_si256(load(x + i + 4 * k), bias));
    }
    for (; i + 4 <= end; i += 4) add_u64(&s[0], &carry[0], _mm256_xor_si256(load(x + i), bias));
    uk_acc_add_u128(acc, fold_u64(s, carry) - ((uk_u128)(i - begin) << 63));
    uk_scalar(UK_OP_STREAM_SUM, UK_ELEM_I64)(input, output, i, end, p, acc);
}

/* ---- float sums, accumulated in double ---------------------------------- */

/* Adds eight float values to two double vectors (widening is exact). */
UK_ALWAYS_INLINE void add_f32(__m256d *lo, __m256d *hi, __m256i d) {
    const __m256 v = _mm256_castsi256_ps(d);
    *lo = _mm256_add_pd(*lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    *hi = _mm256_add_pd(*hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

UK_ALWAYS_INLINE double fold_f64(const __m256d s[4]) {
    const __m256d v = _mm256_add_pd(_mm256_add_pd(s[0], s[1]), _mm256_add_pd(s[2], s[3]));
    const __m128d pair = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(pair, _mm_unpackhi_pd(pair, pair)));
}

/* Σ f(x[i]) over the whole vectors of float32 from `*i`; `absdist` selects
 * |x - c| or x itself. Leaves *i where the scalar remainder starts. */
UK_ALWAYS_INLINE double sum_f32(const float *x, size_t *at, size_t end, __m256i c, int absdist) {
    __m256d lo[4] = {0}, hi[4] = {0};
    size_t i = *at;
    for (; i + 32 <= end; i += 32) {
        uk_prefetch_ahead(x + i, 128, x + end);
        for (int k = 0; k < 4; k++) {
            const __m256i v = load(x + i + 8 * k);
            add_f32(&lo[k], &hi[k], absdist ? dist_f32(v, c) : v);
        }
    }
    for (; i + 8 <= end; i += 8) {
        const __m256i v = load(x + i);
        add_f32(&lo[0], &hi[0], absdist ? dist_f32(v, c) : v);
    }
    *at = i;
    return fold_f64(lo) + fold_f64(hi);
}

UK_ALWAYS_INLINE double sum_f64(const double *x, size_t *at, size_t end, __m256i c, int absdist) {
    __m256d s[4] = {0};
    size_t i = *at;
    for (; i + 16 <= end; i += 16) {
        uk_prefetch_ahead(x + i, 128, x + end);
        for (int k = 0; k < 4; k++) {
            const __m256i v = load(x + i + 4 * k);
            s[k] = _mm256_add_pd(s[k], _mm256_castsi256_pd(absdist ? dist_f64(v, c) : v));
        }
    }
    for (; i + 4 <= end; i += 4) {
        const __m256i v = load(x + i);
        s[0] = _mm256_add_pd(s[0], _mm256_castsi256_pd(absdist ? dist_f64(v, c) : v));
    }
    *at = i;
    return fold_f64(s);
}

static void absdist_sum_f32(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    size_t i = begin;
    acc->f += sum_f32(input, &i, end, _mm256_castps_si256(_mm256_set1_ps((float)p->center_float)), 1);
    uk_scalar(UK_OP_ABSDIST_SUM, UK_ELEM_F32)(input, output, i, end, p, acc);
}

static void absdist_sum_f64(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    size_t i = begin;
    acc->f += sum_f64(input, &i, end, _mm256_castpd_si256(_mm256_set1_pd(p->center_float)), 1);
    uk_scalar(UK_OP_ABSDIST_SUM, UK_ELEM_F64)(input, output, i, end, p, acc);
}

static void stream_sum_f32(const void *input, void *output, size_t begin, size_t end,
                           const uk_params *p, uk_acc *acc) {
    size_t i = begin;
    acc->f += sum_f32(input, &i, end, _mm256_setzero_si256(), 0);
    uk_scalar(UK_OP_STREAM_SUM, UK_ELEM_F32)(input, output, i, end, p, acc);
}

static void stream_sum_f64(const void *input, void *output, size_t begin, size_t end,
                           const uk_params *p, uk_acc *acc) {
    size_t i = begin;
    acc->f += sum_f64(input, &i, end, _mm256_setzero_si256(), 0);
    uk_scalar(UK_OP_STREAM_SUM, UK_ELEM_F64)(input, output, i, end, p, acc);
}

#pragma clang attribute pop

const uk_isa_table uk_table_avx2 = {{
    [UK_OP_ABSDIST_MAP] = {absdist_map_i32, absdist_map_i64, absdist_map_f32, absdist_map_f64},
    [UK_OP_ABSDIST_SUM] = {absdist_sum_i32, absdist_sum_i64, absdist_sum_f32, absdist_sum_f64},
    [UK_OP_STREAM_SUM] = {stream_sum_i32, stream_sum_i64, stream_sum_f32, stream_sum_f64},
}};

#endif /* __x86_64__ */
