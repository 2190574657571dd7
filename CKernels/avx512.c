/* AVX-512 (F, BW, DQ, VL) variants. Compiled with a per-function target
 * attribute so the rest of the binary stays baseline x86-64; dispatch calls
 * them only on CPUs that report these features.
 *
 * Shape of every kernel: four independent 64-byte vectors per iteration
 * (enough to hide add latency; sums also prefetch 8 KiB ahead, see
 * uk_prefetch_ahead), then single vectors, then one masked vector for the
 * remainder. Masked loads do not touch masked-off elements, so nothing
 * outside [begin, end) is read. */
#if defined(__x86_64__)

#include <immintrin.h>

#include "kernel_common.h"

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))), \
                             apply_to = function)

/* A mask of the first n 32-bit lanes (n <= 16). */
UK_ALWAYS_INLINE __mmask16 lanes32(size_t n) { return (__mmask16)((1u << n) - 1); }

/* A mask of the first n 64-bit lanes (n <= 8). */
UK_ALWAYS_INLINE __mmask8 lanes64(size_t n) { return (__mmask8)((1u << n) - 1); }

/* ---- distances: one vector of |x - c| per element type ------------------ */

/* max - min is the exact unsigned distance even when x - c overflows. */
UK_ALWAYS_INLINE __m512i dist_i32(__m512i x, __m512i c) {
    return _mm512_sub_epi32(_mm512_max_epi32(x, c), _mm512_min_epi32(x, c));
}

UK_ALWAYS_INLINE __m512i dist_i64(__m512i x, __m512i c) {
    return _mm512_sub_epi64(_mm512_max_epi64(x, c), _mm512_min_epi64(x, c));
}

/* Clearing the sign bit is fabs: it keeps NaN a NaN and turns -0.0 into +0.0. */
UK_ALWAYS_INLINE __m512i dist_f32(__m512i x, __m512i c) {
    const __m512 d = _mm512_sub_ps(_mm512_castsi512_ps(x), _mm512_castsi512_ps(c));
    return _mm512_and_si512(_mm512_castps_si512(d), _mm512_set1_epi32(0x7fffffff));
}

UK_ALWAYS_INLINE __m512i dist_f64(__m512i x, __m512i c) {
    const __m512d d = _mm512_sub_pd(_mm512_castsi512_pd(x), _mm512_castsi512_pd(c));
    return _mm512_and_si512(_mm512_castpd_si512(d), _mm512_set1_epi64(0x7fffffffffffffff));
}

/* ---- map ---------------------------------------------------------------- */

/* out[i] = dist(x[i]) for i in [begin, end), `width`-byte elements. Written
 * once for all types: masks count 32-bit lanes, so a 64-bit element is two.
 * With UK_FLAG_STREAMING_STORES and an element-aligned output, a masked head
 * reaches 64-byte alignment, whole vectors bypass the cache with
 * non-temporal stores, and an sfence makes them visible before any later
 * store (such as the flag a worker sets when its chunk is done). */
UK_ALWAYS_INLINE void map_loop(const char *in, char *out, size_t begin, size_t end, size_t width,
                               uint32_t flags, __m512i c, __m512i (*dist)(__m512i, __m512i)) {
    const size_t per_vector = 64 / width;
    size_t i = begin;
    const uintptr_t first = (uintptr_t)(out + i * width);
    const int streaming = (flags & UK_FLAG_STREAMING_STORES) && first % width == 0;
    if (streaming) {
        const size_t head = (size_t)((64 - first % 64) % 64) / width;
        if (head && i < end) {
            const size_t n = head < end - i ? head : end - i;
            const __mmask16 m = lanes32(n * width / 4);
            const __m512i x = _mm512_maskz_loadu_epi32(m, in + i * width);
            _mm512_mask_storeu_epi32(out + i * width, m, dist(x, c));
            i += n;
        }
        for (; i + per_vector <= end; i += per_vector)
            _mm512_stream_si512((void *)(out + i * width), dist(_mm512_loadu_si512(in + i * width), c));
    } else {
        for (; i + 4 * per_vector <= end; i += 4 * per_vector)
            for (size_t k = 0; k < 4; k++) {
                const size_t at = (i + k * per_vector) * width;
                _mm512_storeu_si512(out + at, dist(_mm512_loadu_si512(in + at), c));
            }
        for (; i + per_vector <= end; i += per_vector)
            _mm512_storeu_si512(out + i * width, dist(_mm512_loadu_si512(in + i * width), c));
    }
    if (i < end) {
        const __mmask16 m = lanes32((end - i) * width / 4);
        const __m512i x = _mm512_maskz_loadu_epi32(m, in + i * width);
        _mm512_mask_storeu_epi32(out + i * width, m, dist(x, c));
    }
    if (streaming) _mm_sfence();
}

static void absdist_map_i32(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    (void)acc;
    map_loop(input, output, begin, end, 4, p->flags, _mm512_set1_epi32((int32_t)p->center_int),
             dist_i32);
}

static void absdist_map_i64(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    (void)acc;
    map_loop(input, output, begin, end, 8, p->flags, _mm512_set1_epi64(p->center_int), dist_i64);
}

static void absdist_map_f32(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    (void)acc;
    map_loop(input, output, begin, end, 4, p->flags,
             _mm512_castps_si512(_mm512_set1_ps((float)p->center_float)), dist_f32);
}

static void absdist_map_f64(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    (void)acc;
    map_loop(input, output, begin, end, 8, p->flags,
             _mm512_castpd_si512(_mm512_set1_pd(p->center_float)), dist_f64);
}

/* ---- exact integer accumulation ----------------------------------------- */

/* Adds sixteen uint32 values d to 64-bit lanes without widening each one:
 * s += d read as eight uint64 (low element + 2^32 · high element, mod 2^64)
 * and h += the high elements. fold_u32 takes the low elements back out of s.
 * Exact while each lane has added fewer than 2^32 vectors. */
UK_ALWAYS_INLINE void add_u32(__m512i *s, __m512i *h, __m512i d) {
    *s = _mm512_add_epi64(*s, d);
    *h = _mm512_add_epi64(*h, _mm512_srli_epi64(d, 32));
}

/* Σ of all 32-bit elements that add_u32 saw, exactly. */
UK_ALWAYS_INLINE uk_u128 fold_u32(const __m512i s[4], const __m512i h[4]) {
    uint64_t sl[8], hl[8];
    _mm512_storeu_si512(sl, _mm512_add_epi64(_mm512_add_epi64(s[0], s[1]), _mm512_add_epi64(s[2], s[3])));
    _mm512_storeu_si512(hl, _mm512_add_epi64(_mm512_add_epi64(h[0], h[1]), _mm512_add_epi64(h[2], h[3])));
    uk_u128 total = 0;
    for (int lane = 0; lane < 8; lane++) total += (uk_u128)(sl[lane] - (hl[lane] << 32)) + hl[lane];
    return total;
}

/* Adds eight uint64 values into 128-bit lanes: s keeps the low 64 bits and
 * carry counts each wrap of s (s < d after the add). */
UK_ALWAYS_INLINE void add_u64(__m512i *s, __m512i *carry, __m512i d) {
    *s = _mm512_add_epi64(*s, d);
    *carry = _mm512_mask_add_epi64(*carry, _mm512_cmplt_epu64_mask(*s, d), *carry, _mm512_set1_epi64(1));
}

UK_ALWAYS_INLINE uk_u128 fold_u64(const __m512i s[4], const __m512i carry[4]) {
    uint64_t sl[32], cl[32];
    for (int k = 0; k < 4; k++) {
        _mm512_storeu_si512(sl + 8 * k, s[k]);
        _mm512_storeu_si512(cl + 8 * k, carry[k]);
    }
    uk_u128 total = 0;
    for (int lane = 0; lane < 32; lane++) total += ((uk_u128)cl[lane] << 64) + sl[lane];
    return total;
}

/* ---- absdist.sum -------------------------------------------------------- */

/* int32 elements per block of absdist_sum_i32's fast path: 64 vectors, 4 KiB. */
#define BLOCK_I32 1024

/* The fast path's bound: 64 distances below 2^26 cannot wrap a 32-bit lane. */
#define BLOCK_I32_LIMIT (1 << 26)

/* Centres the fast path takes. With |c| < 2^30 every true difference x - c
 * of an int32 x lies within ±(2^31 + 2^30), so the wrapped 32-bit x - c is
 * below 2^26 in magnitude exactly when the true difference is. */
#define BLOCK_I32_CENTER (1 << 30)

/* Distances of real data are mostly small, and stream.sum's four operations
 * per vector are the budget for staying level with it once memory-bound.
 * A block of 64 vectors takes |x - c| as abs of the wrapped difference (two
 * operations instead of max, min, sub), adds it in 32-bit lanes (one instead
 * of add_u32's three) and ORs it into `seen` (half: one ternary-logic OR per
 * two vectors). If `seen` stays below 2^26, every wrapped difference was
 * below 2^26, so (see BLOCK_I32_CENTER) every abs was the exact distance and
 * no lane wrapped: the block's sums join the exact 64-bit lanes. Otherwise
 * the block, still in L1, is summed again the exact way. */
static void absdist_sum_i32(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    const size_t head = uk_unaligned_head(input, sizeof(int32_t), begin, end, 64);
    if (head > 0) {
        absdist_sum_i32(input, output, begin, begin + head, p, acc);
        begin += head;
    }
    const int32_t *x = input;
    const __m512i c = _mm512_set1_epi32((int32_t)p->center_int);
    const __m512i limit = _mm512_set1_epi32(BLOCK_I32_LIMIT);
    const int blocks = p->center_int > -BLOCK_I32_CENTER && p->center_int < BLOCK_I32_CENTER;
    uk_u128 total = 0;
    for (size_t i = begin; i < end;) {
        /* Fold before any 64-bit lane could wrap. */
        const size_t stop = end - i > UK_I32_FOLD_INTERVAL ? i + UK_I32_FOLD_INTERVAL : end;
        __m512i s[4] = {0}, h[4] = {0};
        for (; blocks && i + BLOCK_I32 <= stop; i += BLOCK_I32) {
            __m512i t[4] = {0}, seen = _mm512_setzero_si512();
            for (size_t j = i; j < i + BLOCK_I32; j += 64) {
                uk_prefetch_ahead(x + j, 256, x + end);
                __m512i d[4];
                for (int k = 0; k < 4; k++) {
                    d[k] = _mm512_abs_epi32(_mm512_sub_epi32(_mm512_loadu_si512(x + j + 16 * k), c));
                    t[k] = _mm512_add_epi32(t[k], d[k]);
                }
                seen = _mm512_ternarylogic_epi32(seen, d[0], d[1], 0xFE); /* seen | d0 | d1 */
                seen = _mm512_ternarylogic_epi32(seen, d[2], d[3], 0xFE);
            }
            if (_mm512_cmpge_epu32_mask(seen, limit) == 0) {
                add_u32(&s[0], &h[0], _mm512_add_epi32(_mm512_add_epi32(t[0], t[1]), _mm512_add_epi32(t[2], t[3])));
                continue;
            }
            for (size_t j = i; j < i + BLOCK_I32; j += 64)
                for (int k = 0; k < 4; k++) add_u32(&s[k], &h[k], dist_i32(_mm512_loadu_si512(x + j + 16 * k), c));
        }
        for (; i + 64 <= stop; i += 64) {
            uk_prefetch_ahead(x + i, 256, x + end);
            for (int k = 0; k < 4; k++) add_u32(&s[k], &h[k], dist_i32(_mm512_loadu_si512(x + i + 16 * k), c));
        }
        for (; i + 16 <= stop; i += 16) add_u32(&s[0], &h[0], dist_i32(_mm512_loadu_si512(x + i), c));
        if (i < stop) {
            const __mmask16 m = lanes32(stop - i);
            const __m512i v = _mm512_maskz_loadu_epi32(m, x + i);
            add_u32(&s[1], &h[1], _mm512_maskz_sub_epi32(m, _mm512_max_epi32(v, c), _mm512_min_epi32(v, c)));
            i = stop;
        }
        total += fold_u32(s, h);
    }
    uk_acc_add_u128(acc, total);
}

/* The same fast path for int64: 64 vectors (4 KiB) per block, distances
 * below 2^58 (64 of them stay below 2^64, so the block's lanes need no
 * carry checks), centres within 2^62 (the wrapped x - c is small exactly
 * when the true difference is, as no int64 x is 2^64 - 2^58 or more from
 * such a c). */
#define BLOCK_I64 512
#define BLOCK_I64_LIMIT ((int64_t)1 << 58)
#define BLOCK_I64_CENTER ((int64_t)1 << 62)

static void absdist_sum_i64(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    const size_t head = uk_unaligned_head(input, sizeof(int64_t), begin, end, 64);
    if (head > 0) {
        absdist_sum_i64(input, output, begin, begin + head, p, acc);
        begin += head;
    }
    const int64_t *x = input;
    const __m512i c = _mm512_set1_epi64(p->center_int);
    const __m512i limit = _mm512_set1_epi64(BLOCK_I64_LIMIT);
    const int blocks = p->center_int > -BLOCK_I64_CENTER && p->center_int < BLOCK_I64_CENTER;
    __m512i s[4] = {0}, carry[4] = {0};
    size_t i = begin;
    for (; blocks && i + BLOCK_I64 <= end; i += BLOCK_I64) {
        __m512i t[4] = {0}, seen = _mm512_setzero_si512();
        for (size_t j = i; j < i + BLOCK_I64; j += 32) {
            uk_prefetch_ahead(x + j, 256, x + end);
            __m512i d[4];
            for (int k = 0; k < 4; k++) {
                d[k] = _mm512_abs_epi64(_mm512_sub_epi64(_mm512_loadu_si512(x + j + 8 * k), c));
                t[k] = _mm512_add_epi64(t[k], d[k]);
            }
            seen = _mm512_ternarylogic_epi64(seen, d[0], d[1], 0xFE); /* seen | d0 | d1 */
            seen = _mm512_ternarylogic_epi64(seen, d[2], d[3], 0xFE);
        }
        if (_mm512_cmpge_epu64_mask(seen, limit) == 0) {
            add_u64(&s[0], &carry[0], _mm512_add_epi64(_mm512_add_epi64(t[0], t[1]), _mm512_add_epi64(t[2], t[3])));
            continue;
        }
        for (size_t j = i; j < i + BLOCK_I64; j += 32)
            for (int k = 0; k < 4; k++) add_u64(&s[k], &carry[k], dist_i64(_mm512_loadu_si512(x + j + 8 * k), c));
    }
    for (; i + 32 <= end; i += 32) {
        uk_prefetch_ahead(x + i, 256, x + end);
        for (int k = 0; k < 4; k++) add_u64(&s[k], &carry[k], dist_i64(_mm512_loadu_si512(x + i + 8 * k), c));
    }
    for (; i + 8 <= end; i += 8) add_u64(&s[0], &carry[0], dist_i64(_mm512_loadu_si512(x + i), c));
    if (i < end) {
        const __mmask8 m = lanes64(end - i);
        const __m512i v = _mm512_maskz_loadu_epi64(m, x + i);
        add_u64(&s[1], &carry[1], _mm512_maskz_sub_epi64(m, _mm512_max_epi64(v, c), _mm512_min_epi64(v, c)));
    }
    uk_acc_add_u128(acc, fold_u64(s, carry));
}

/* ---- exact signed sums: bias to unsigned, sum, remove the bias ---------- */

/* x + 2^31 as uint32 is x with its sign bit flipped; the 128-bit total then
 * loses n · 2^31. */
static void stream_sum_i32(const void *input, void *output, size_t begin, size_t end,
                           const uk_params *p, uk_acc *acc) {
    const size_t head = uk_unaligned_head(input, sizeof(int32_t), begin, end, 64);
    if (head > 0) {
        stream_sum_i32(input, output, begin, begin + head, p, acc);
        begin += head;
    }
    const int32_t *x = input;
    const __m512i bias = _mm512_set1_epi32(INT32_MIN);
    uk_u128 total = 0;
    for (size_t i = begin; i < end;) {
        const size_t stop = end - i > UK_I32_FOLD_INTERVAL ? i + UK_I32_FOLD_INTERVAL : end;
        __m512i s[4] = {0}, h[4] = {0};
        for (; i + 64 <= stop; i += 64) {
            uk_prefetch_ahead(x + i, 256, x + end);
            for (int k = 0; k < 4; k++) add_u32(&s[k], &h[k], _mm512_xor_si512(_mm512_loadu_si512(x + i + 16 * k), bias));
        }
        for (; i + 16 <= stop; i += 16) add_u32(&s[0], &h[0], _mm512_xor_si512(_mm512_loadu_si512(x + i), bias));
        if (i < stop) {
            const __mmask16 m = lanes32(stop - i);
            add_u32(&s[1], &h[1], _mm512_maskz_xor_epi32(m, _mm512_maskz_loadu_epi32(m, x + i), bias));
            i = stop;
        }
        total += fold_u32(s, h);
    }
    uk_acc_add_u128(acc, total - ((uk_u128)(end - begin) << 31));
}

static void stream_sum_i64(const void *input, void *output, size_t begin, size_t end,
                           const uk_params *p, uk_acc *acc) {
    const size_t head = uk_unaligned_head(input, sizeof(int64_t), begin, end, 64);
    if (head > 0) {
        stream_sum_i64(input, output, begin, begin + head, p, acc);
        begin += head;
    }
    const int64_t *x = input;
    const __m512i bias = _mm512_set1_epi64(INT64_MIN);
    __m512i s[4] = {0}, carry[4] = {0};
    size_t i = begin;
    for (; i + 32 <= end; i += 32) {
        uk_prefetch_ahead(x + i, 256, x + end);
        for (int k = 0; k < 4; k++) add_u64(&s[k], &carry[k], _mm512_xor_si512(_mm512_loadu_si512(x + i + 8 * k), bias));
    }
    for (; i + 8 <= end; i += 8) add_u64(&s[0], &carry[0], _mm512_xor_si512(_mm512_loadu_si512(x + i), bias));
    if (i < end) {
        const __mmask8 m = lanes64(end - i);
        add_u64(&s[1], &carry[1], _mm512_maskz_xor_epi64(m, _mm512_maskz_loadu_epi64(m, x + i), bias));
    }
    uk_acc_add_u128(acc, fold_u64(s, carry) - ((uk_u128)(end - begin) << 63));
}

/* ---- float sums, accumulated in double ---------------------------------- */

/* Adds sixteen float values to two double vectors (widening is exact). */
UK_ALWAYS_INLINE void add_f32(__m512d *lo, __m512d *hi, __m512i d) {
    const __m512 v = _mm512_castsi512_ps(d);
    *lo = _mm512_add_pd(*lo, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
    *hi = _mm512_add_pd(*hi, _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)));
}

UK_ALWAYS_INLINE double fold_f64(const __m512d s[4]) {
    return _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s[0], s[1]), _mm512_add_pd(s[2], s[3])));
}

/* Σ f(x[i]) over float32; `absdist` selects |x - c| or x itself. Masked-off
 * lanes are zero after the (masked) distance, so they add nothing. */
UK_ALWAYS_INLINE double sum_f32(const float *x, size_t begin, size_t end, __m512i c, int absdist) {
    __m512d lo[4] = {0}, hi[4] = {0};
    size_t i = begin;
    for (; i + 64 <= end; i += 64) {
        uk_prefetch_ahead(x + i, 256, x + end);
        for (int k = 0; k < 4; k++) {
            const __m512i v = _mm512_loadu_si512(x + i + 16 * k);
            add_f32(&lo[k], &hi[k], absdist ? dist_f32(v, c) : v);
        }
    }
    for (; i + 16 <= end; i += 16) {
        const __m512i v = _mm512_loadu_si512(x + i);
        add_f32(&lo[0], &hi[0], absdist ? dist_f32(v, c) : v);
    }
    if (i < end) {
        const __mmask16 m = lanes32(end - i);
        const __m512i v = _mm512_maskz_loadu_epi32(m, x + i);
        add_f32(&lo[1], &hi[1], absdist ? _mm512_maskz_mov_epi32(m, dist_f32(v, c)) : v);
    }
    return fold_f64(lo) + fold_f64(hi);
}

UK_ALWAYS_INLINE double sum_f64(const double *x, size_t begin, size_t end, __m512i c, int absdist) {
    __m512d s[4] = {0};
    size_t i = begin;
    for (; i + 32 <= end; i += 32) {
        uk_prefetch_ahead(x + i, 256, x + end);
        for (int k = 0; k < 4; k++) {
            const __m512i v = _mm512_loadu_si512(x + i + 8 * k);
            s[k] = _mm512_add_pd(s[k], _mm512_castsi512_pd(absdist ? dist_f64(v, c) : v));
        }
    }
    for (; i + 8 <= end; i += 8) {
        const __m512i v = _mm512_loadu_si512(x + i);
        s[0] = _mm512_add_pd(s[0], _mm512_castsi512_pd(absdist ? dist_f64(v, c) : v));
    }
    if (i < end) {
        const __mmask8 m = lanes64(end - i);
        const __m512i v = _mm512_maskz_loadu_epi64(m, x + i);
        s[1] = _mm512_add_pd(s[1], _mm512_castsi512_pd(absdist ? _mm512_maskz_mov_epi64(m, dist_f64(v, c)) : v));
    }
    return fold_f64(s);
}

static void absdist_sum_f32(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    (void)output;
    acc->f += sum_f32(input, begin, end, _mm512_castps_si512(_mm512_set1_ps((float)p->center_float)), 1);
}

static void absdist_sum_f64(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    (void)output;
    acc->f += sum_f64(input, begin, end, _mm512_castpd_si512(_mm512_set1_pd(p->center_float)), 1);
}

static void stream_sum_f32(const void *input, void *output, size_t begin, size_t end,
                           const uk_params *p, uk_acc *acc) {
    (void)output;
    (void)p;
    acc->f += sum_f32(input, begin, end, _mm512_setzero_si512(), 0);
}

static void stream_sum_f64(const void *input, void *output, size_t begin, size_t end,
                           const uk_params *p, uk_acc *acc) {
    (void)output;
    (void)p;
    acc->f += sum_f64(input, begin, end, _mm512_setzero_si512(), 0);
}

#pragma clang attribute pop

const uk_isa_table uk_table_avx512 = {{
    [UK_OP_ABSDIST_MAP] = {absdist_map_i32, absdist_map_i64, absdist_map_f32, absdist_map_f64},
    [UK_OP_ABSDIST_SUM] = {absdist_sum_i32, absdist_sum_i64, absdist_sum_f32, absdist_sum_f64},
    [UK_OP_STREAM_SUM] = {stream_sum_i32, stream_sum_i64, stream_sum_f32, stream_sum_f64},
}};

#endif /* __x86_64__ */
