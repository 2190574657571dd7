/*
 * unlocked_kernels.h — the built-in abs-distance kernels and their run-time
 * ISA dispatch.
 *
 * Operations (the seed's workload, `abs(x - c)` over a large array):
 *   absdist.map  out[i] = |x[i] - c|
 *   absdist.sum  Σ |x[i] - c|
 *   stream.sum   Σ x[i]           (the read-bandwidth probe)
 *
 * Exact integer semantics — never a silent wrap:
 *   - int32 in → uint32 distance, int64 in → uint64 distance, so
 *     |INT32_MIN - INT32_MAX| = 4294967295 is exact.
 *   - absdist.sum accumulates int32 distances in uint64 lanes (x86: 32-bit
 *     lanes over blocks whose distances are all proven small) and folds them
 *     into the 128-bit accumulator before they could wrap; int64 distances
 *     are summed in 128 bits (a low half and a carry count per lane). Both
 *     are read as UK_ACC_UINT128.
 *   - stream.sum of int32 / int64 is an exact signed 128-bit sum
 *     (UK_ACC_INT128).
 * Floats (IEEE 754, no fast-math):
 *   - d = |x - c| is computed in the element type with one rounding, so every
 *     variant produces bit-identical map output; NaN in gives NaN out, and
 *     |(-0.0) - 0| = +0.0.
 *   - Sums accumulate in double (float32 values and distances are widened
 *     exactly). Variants add in different orders (several vector
 *     accumulators), so the documented bound for a sum of n terms t_i is
 *     |S_variant - S_exact| <= (n - 1) * 2^-53 * Σ|t_i|
 *     (Rump's bound for round-to-nearest summation, valid for every order;
 *     for absdist.sum Σ|t_i| = S_exact), as long as no partial sum
 *     overflows. Any NaN term makes the sum NaN; +Inf terms give +Inf, and
 *     +Inf with -Inf (stream.sum) gives NaN.
 *
 * Every variant takes an explicit half-open range [begin, end) over a
 * caller-owned array and reads and writes nothing outside it: whole vectors,
 * then a remainder done with masked loads and stores (AVX-512) or the
 * scalar reference (AVX2, NEON). Any length, and any BYTE alignment of
 * input and output (an int32 array may start at an odd address: every
 * access is an unaligned load or a memcpy). Map output uses streaming
 * (non-temporal) stores when params->flags has UK_FLAG_STREAMING_STORES
 * (the host sets it when the whole output exceeds the last-level cache):
 * variants first reach vector alignment with ordinary stores (an output
 * that is not even element-aligned never streams); x86 ends with an sfence,
 * NEON uses STNP.
 */
#ifndef UNLOCKED_KERNELS_H
#define UNLOCKED_KERNELS_H

#include "unlocked_plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum uk_isa {
    UK_ISA_SCALAR = 0,
    UK_ISA_AVX2 = 1,
    UK_ISA_AVX512 = 2,
    UK_ISA_NEON = 3,
    UK_ISA_COUNT = 4
} uk_isa;

typedef enum uk_op {
    UK_OP_ABSDIST_MAP = 0,
    UK_OP_ABSDIST_SUM = 1,
    UK_OP_STREAM_SUM = 2,
    UK_OP_COUNT = 3
} uk_op;

/* Element types the built-in kernels take, as table indices. */
typedef enum uk_elem {
    UK_ELEM_I32 = 0,
    UK_ELEM_I64 = 1,
    UK_ELEM_F32 = 2,
    UK_ELEM_F64 = 3,
    UK_ELEM_COUNT = 4
} uk_elem;

/* One variant. MAP ops write output[begin, end) and ignore acc; REDUCE ops
 * add into *acc and ignore output. */
typedef void (*uk_variant_fn)(const void *input, void *output, size_t begin,
                              size_t end, const uk_params *params, uk_acc *acc);

/* The table every ISA file exports: [op][elem]. */
typedef struct uk_isa_table {
    uk_variant_fn fn[UK_OP_COUNT][UK_ELEM_COUNT];
} uk_isa_table;

/* Dispatch selects the variant once per process, on the first call of
 * uk_dispatch_init, uk_isa_selected, uk_isa_selection_reason,
 * uk_selected_table or any built-in kernel, from whichever thread comes
 * first: UNLOCKED_ISA if set (scalar|avx2|avx512|neon, any case), otherwise
 * the widest the CPU supports (avx512 > avx2 > scalar on x86-64, neon on
 * arm64). No call is needed before kernels run; uk_dispatch_init exists to
 * learn early whether UNLOCKED_ISA is refused.
 *
 * uk_dispatch_init returns 0, or -1 with a one-line message in `error`
 * (UK_ERROR_CAPACITY bytes, may be NULL) when UNLOCKED_ISA names an unknown
 * variant or one this CPU or build lacks. Then nothing is selected: built-in
 * kernels fail with that message, and uk_selected_table returns NULL.
 * Thread-safe and idempotent. */
int uk_dispatch_init(char *error);

/* The selected variant (UK_ISA_SCALAR when UNLOCKED_ISA is refused). */
uk_isa uk_isa_selected(void);

/* Why that variant was selected, one line (e.g. "forced by UNLOCKED_ISA=avx2"),
 * or "none: " and the refusal. */
const char *uk_isa_selection_reason(void);

/* "scalar", "avx2", "avx512", "neon". */
const char *uk_isa_name(uk_isa isa);

/* What the variant needs from the CPU, e.g. "x86-64 with AVX2 and FMA". */
const char *uk_isa_requirement(uk_isa isa);

/* 1 if this build contains the variant AND this CPU can run it. */
int uk_isa_supported(uk_isa isa);

/* 1 if this build contains the variant (whatever the CPU). */
int uk_isa_compiled(uk_isa isa);

/* The table of one variant, or NULL if !uk_isa_supported(isa). */
const uk_isa_table *uk_isa_table_for(uk_isa isa);

/* The table of the selected variant, NULL when UNLOCKED_ISA is refused. */
const uk_isa_table *uk_selected_table(void);

/* The built-in kernels as a plugin descriptor (the statically linked
 * "builtin" plugin). Kernels call the selected variant. */
const uk_plugin *uk_builtin_plugin(void);

/* Per-ISA tables, defined in their own files. */
extern const uk_isa_table uk_table_scalar;
#if defined(__x86_64__) || defined(_M_X64)
extern const uk_isa_table uk_table_avx2;
extern const uk_isa_table uk_table_avx512;
#endif
#if defined(__aarch64__)
extern const uk_isa_table uk_table_neon;
#endif

#ifdef __cplusplus
}
#endif

#endif /* UNLOCKED_KERNELS_H */
