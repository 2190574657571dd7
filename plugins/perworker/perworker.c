/* Example plugin 2: per-worker state (the multi-phase-init idea).
 *
 *   absdist.sum (i32, f64) — the same result as the built-in kernel, but each
 *   worker stages blocks of its input through a scratch buffer of its own and
 *   counts its calls.
 *
 * The scratch buffer makes a shared instance unsafe, yet every worker may
 * run at once with its own context: it declares UK_CONCURRENCY_PER_WORKER,
 * and the host calls worker_init once per worker, hands that context to the
 * worker's kernel calls only, and calls worker_fini when the worker is done.
 * Run it by its qualified name: unlocked run --plugin libPluginPerWorker.so
 * --kernel blocked:absdist.sum
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unlocked_plugin.h"

#define BLOCK 1024

typedef unsigned __int128 u128;

/* Plugin-wide, read-only after init: shared by all workers without locks. */
typedef struct shared_config {
    size_t block;
} shared_config;

/* One worker's context: never touched by two threads at once. */
typedef struct worker_ctx {
    uint32_t worker;
    uint64_t calls;
    size_t block;
    union {
        int32_t i32[BLOCK];
        double f64[BLOCK];
    } scratch;
} worker_ctx;

static int plugin_init(const uk_host_api *host, void **state, char *error) {
    (void)host;
    shared_config *config = malloc(sizeof *config);
    if (!config) {
        snprintf(error, UK_ERROR_CAPACITY, "out of memory for the shared configuration");
        return 1;
    }
    config->block = BLOCK;
    *state = config;
    return 0;
}

static void plugin_fini(void *state) { free(state); }

static int worker_init(void *state, uint32_t worker, void **worker_ctx_out, char *error) {
    worker_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        snprintf(error, UK_ERROR_CAPACITY, "out of memory for worker %u", worker);
        return 1;
    }
    ctx->worker = worker;
    ctx->block = ((const shared_config *)state)->block;
    *worker_ctx_out = ctx;
    return 0;
}

static void worker_fini(void *state, void *worker_ctx_in) {
    (void)state;
    free(worker_ctx_in);
}

static int sum_i32(void *ctx_in, const void *input, void *output, size_t begin, size_t end,
                   const uk_params *params, uk_acc *acc, char *error) {
    (void)output;
    worker_ctx *ctx = ctx_in;
    if (!ctx) {
        snprintf(error, UK_ERROR_CAPACITY, "called without a worker context (PER_WORKER needs one)");
        return 1;
    }
    ctx->calls++;
    const int32_t *x = input;
    int64_t c = params->center_int;
    u128 sum = ((u128)acc->hi << 64) | acc->lo;
    for (size_t start = begin; start < end; start += ctx->block) {
        size_t n = end - start < ctx->block ? end - start : ctx->block;
        memcpy(ctx->scratch.i32, x + start, n * sizeof(int32_t));
        for (size_t i = 0; i < n; i++) {
            int64_t v = ctx->scratch.i32[i];
            sum += (uint64_t)(v >= c ? v - c : c - v);
        }
    }
    acc->lo = (uint64_t)sum;
    acc->hi = (uint64_t)(sum >> 64);
    return 0;
}

static int sum_f64(void *ctx_in, const void *input, void *output, size_t begin, size_t end,
                   const uk_params *params, uk_acc *acc, char *error) {
    (void)output;
    worker_ctx *ctx = ctx_in;
    if (!ctx) {
        snprintf(error, UK_ERROR_CAPACITY, "called without a worker context (PER_WORKER needs one)");
        return 1;
    }
    ctx->calls++;
    const double *x = input;
    double c = params->center_float, sum = 0;
    for (size_t start = begin; start < end; start += ctx->block) {
        size_t n = end - start < ctx->block ? end - start : ctx->block;
        memcpy(ctx->scratch.f64, x + start, n * sizeof(double));
        for (size_t i = 0; i < n; i++) {
            double d = ctx->scratch.f64[i] - c;
            sum += d < 0 ? -d : d;
        }
    }
    acc->f += sum;
    return 0;
}

static void combine_u128(uk_acc *into, const uk_acc *from) {
    u128 a = ((u128)into->hi << 64) | into->lo, b = ((u128)from->hi << 64) | from->lo;
    a += b;
    into->lo = (uint64_t)a;
    into->hi = (uint64_t)(a >> 64);
}

static void combine_f64(uk_acc *into, const uk_acc *from) { into->f += from->f; }

static const uk_kernel kernels[] = {
    {sizeof(uk_kernel), 0, "absdist.sum", "sum of |x[i] - c|, staged per worker", UK_DTYPE_I32,
     UK_DTYPE_I32, UK_KIND_REDUCE, UK_ACC_UINT128, sum_i32, combine_u128},
    {sizeof(uk_kernel), 0, "absdist.sum", "sum of |x[i] - c|, staged per worker", UK_DTYPE_F64,
     UK_DTYPE_F64, UK_KIND_REDUCE, UK_ACC_FLOAT64, sum_f64, combine_f64},
};

static const uk_kernel *get_kernel(uint32_t index) {
    return index < sizeof kernels / sizeof kernels[0] ? &kernels[index] : NULL;
}

static const uk_plugin plugin = {
    .size = sizeof(uk_plugin),
    .abi_major = UK_ABI_MAJOR,
    .abi_minor = UK_ABI_MINOR,
    .concurrency = UK_CONCURRENCY_PER_WORKER,
    .name = "blocked",
    .version = "1.0.0",
    .init = plugin_init,
    .fini = plugin_fini,
    .worker_init = worker_init,
    .worker_fini = worker_fini,
    .get_kernel = get_kernel,
};

UK_EXPORT const uk_plugin *unlocked_plugin_entry(void) { return &plugin; }
