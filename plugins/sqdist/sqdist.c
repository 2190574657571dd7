/* Example plugin 1: a thread-safe kernel of its own, squared distance.
 *
 *   sqdist.map   out[i] = (x[i] - c)^2
 *   sqdist.sum   sum of (x[i] - c)^2
 *
 * No state at all, so one instance may run on every thread at once: it
 * declares UK_CONCURRENCY_THREAD_SAFE and needs no init/fini.
 * Build alone:  cc -O2 -shared -fPIC -I CKernels/include plugins/sqdist/sqdist.c -o libsqdist.so
 */
#include "unlocked_plugin.h"

typedef unsigned __int128 u128;

static u128 acc_get(const uk_acc *acc) { return ((u128)acc->hi << 64) | acc->lo; }
static void acc_set(uk_acc *acc, u128 v) {
    acc->lo = (uint64_t)v;
    acc->hi = (uint64_t)(v >> 64);
}

/* |x - c|^2 of int32 is below 2^64, so it fits the uint64 map output exactly. */
static uint64_t sq_i32(int32_t x, int64_t c) {
    uint64_t d = x >= c ? (uint64_t)((int64_t)x - c) : (uint64_t)(c - (int64_t)x);
    return d * d;
}

static int map_i32(void *ctx, const void *input, void *output, size_t begin, size_t end,
                   const uk_params *params, uk_acc *acc, char *error) {
    (void)ctx, (void)acc, (void)error;
    const int32_t *x = input;
    uint64_t *out = output;
    for (size_t i = begin; i < end; i++) out[i] = sq_i32(x[i], params->center_int);
    return 0;
}

static int sum_i32(void *ctx, const void *input, void *output, size_t begin, size_t end,
                   const uk_params *params, uk_acc *acc, char *error) {
    (void)ctx, (void)output, (void)error;
    const int32_t *x = input;
    u128 sum = acc_get(acc);
    for (size_t i = begin; i < end; i++) sum += sq_i32(x[i], params->center_int);
    acc_set(acc, sum);
    return 0;
}

#define FLOAT_KERNELS(T, suffix)                                                               \
    static int map_##suffix(void *ctx, const void *input, void *output, size_t begin,          \
                            size_t end, const uk_params *params, uk_acc *acc, char *error) {   \
        (void)ctx, (void)acc, (void)error;                                                     \
        const T *x = input;                                                                    \
        T *out = output, c = (T)params->center_float;                                          \
        for (size_t i = begin; i < end; i++) out[i] = (x[i] - c) * (x[i] - c);                 \
        return 0;                                                                              \
    }                                                                                          \
    static int sum_##suffix(void *ctx, const void *input, void *output, size_t begin,          \
                            size_t end, const uk_params *params, uk_acc *acc, char *error) {   \
        (void)ctx, (void)output, (void)error;                                                  \
        const T *x = input;                                                                    \
        double sum = 0, c = params->center_float;                                              \
        for (size_t i = begin; i < end; i++) sum += ((double)x[i] - c) * ((double)x[i] - c);   \
        acc->f += sum;                                                                         \
        return 0;                                                                              \
    }

FLOAT_KERNELS(float, f32)
FLOAT_KERNELS(double, f64)

static void combine_u128(uk_acc *into, const uk_acc *from) { acc_set(into, acc_get(into) + acc_get(from)); }
static void combine_f64(uk_acc *into, const uk_acc *from) { into->f += from->f; }

static const uk_kernel kernels[] = {
    {sizeof(uk_kernel), 0, "sqdist.sum", "sum of (x[i] - c)^2", UK_DTYPE_I32, UK_DTYPE_I32,
     UK_KIND_REDUCE, UK_ACC_UINT128, sum_i32, combine_u128},
    {sizeof(uk_kernel), 0, "sqdist.sum", "sum of (x[i] - c)^2", UK_DTYPE_F32, UK_DTYPE_F32,
     UK_KIND_REDUCE, UK_ACC_FLOAT64, sum_f32, combine_f64},
    {sizeof(uk_kernel), 0, "sqdist.sum", "sum of (x[i] - c)^2", UK_DTYPE_F64, UK_DTYPE_F64,
     UK_KIND_REDUCE, UK_ACC_FLOAT64, sum_f64, combine_f64},
    {sizeof(uk_kernel), 0, "sqdist.map", "out[i] = (x[i] - c)^2", UK_DTYPE_I32, UK_DTYPE_U64,
     UK_KIND_MAP, UK_ACC_NONE, map_i32, NULL},
    {sizeof(uk_kernel), 0, "sqdist.map", "out[i] = (x[i] - c)^2", UK_DTYPE_F32, UK_DTYPE_F32,
     UK_KIND_MAP, UK_ACC_NONE, map_f32, NULL},
    {sizeof(uk_kernel), 0, "sqdist.map", "out[i] = (x[i] - c)^2", UK_DTYPE_F64, UK_DTYPE_F64,
     UK_KIND_MAP, UK_ACC_NONE, map_f64, NULL},
};

static const uk_kernel *get_kernel(uint32_t index) {
    return index < sizeof kernels / sizeof kernels[0] ? &kernels[index] : NULL;
}

static const uk_plugin plugin = {
    .size = sizeof(uk_plugin),
    .abi_major = UK_ABI_MAJOR,
    .abi_minor = UK_ABI_MINOR,
    .concurrency = UK_CONCURRENCY_THREAD_SAFE,
    .name = "sqdist",
    .version = "1.0.0",
    .get_kernel = get_kernel,
};

UK_EXPORT const uk_plugin *unlocked_plugin_entry(void) { return &plugin; }
