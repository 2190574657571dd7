/* Example plugin 3: deliberately NOT thread-safe.
 *
 *   absdist.map (i32, f64) — the same output as the built-in kernel, computed
 *   in place in ONE global scratch buffer: two threads at once would
 *   overwrite each other's block and write wrong distances.
 *   absdist.sum (i32) — the exact sum, kept in ONE global running total, as
 *   legacy C keeps state between calls: two threads at once lose updates.
 *
 * Like most C extensions that keep global state, it can neither share an
 * instance nor give each worker its own, so it declares
 * UK_CONCURRENCY_SERIAL: the host runs every call under one global lock and
 * says so in the run report (what CPython's free-threaded build does with an
 * extension that does not declare support).
 * Run it by its qualified name: --kernel scratch:absdist.map
 *
 * The `isolated` engine runs it in parallel anyway: each worker loads its own
 * copy of this library into a link-map namespace of its own (dlmopen), so
 * each has its own `scratch` and `running` — the C analogue of a
 * sub-interpreter with per-interpreter extension state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unlocked_plugin.h"

#define BLOCK 4096

/* The global the plugin is not thread-safe because of. */
static union {
    int64_t i64[BLOCK];
    double f64[BLOCK];
} *scratch;

/* The running total of absdist.sum: global, so only one call at a time. */
static unsigned __int128 running;

static int plugin_init(const uk_host_api *host, void **state, char *error) {
    (void)host;
    scratch = malloc(sizeof *scratch);
    if (!scratch) {
        snprintf(error, UK_ERROR_CAPACITY, "out of memory for the scratch buffer");
        return 1;
    }
    *state = NULL;
    return 0;
}

static void plugin_fini(void *state) {
    (void)state;
    free(scratch);
    scratch = NULL;
}

static int map_i32(void *ctx, const void *input, void *output, size_t begin, size_t end,
                   const uk_params *params, uk_acc *acc, char *error) {
    (void)ctx, (void)acc, (void)error;
    const int32_t *x = input;
    uint32_t *out = output;
    int64_t c = params->center_int;
    for (size_t start = begin; start < end; start += BLOCK) {
        size_t n = end - start < BLOCK ? end - start : BLOCK;
        for (size_t i = 0; i < n; i++) scratch->i64[i] = x[start + i];
        for (size_t i = 0; i < n; i++) scratch->i64[i] = scratch->i64[i] >= c ? scratch->i64[i] - c : c - scratch->i64[i];
        for (size_t i = 0; i < n; i++) out[start + i] = (uint32_t)scratch->i64[i];
    }
    return 0;
}

static int map_f64(void *ctx, const void *input, void *output, size_t begin, size_t end,
                   const uk_params *params, uk_acc *acc, char *error) {
    (void)ctx, (void)acc, (void)error;
    const double *x = input;
    double *out = output, c = params->center_float;
    for (size_t start = begin; start < end; start += BLOCK) {
        size_t n = end - start < BLOCK ? end - start : BLOCK;
        memcpy(scratch->f64, x + start, n * sizeof(double));
        for (size_t i = 0; i < n; i++) {
            double d = scratch->f64[i] - c;
            scratch->f64[i] = d < 0 ? -d : d;
        }
        memcpy(out + start, scratch->f64, n * sizeof(double));
    }
    return 0;
}

static int sum_i32(void *ctx, const void *input, void *output, size_t begin, size_t end,
                   const uk_params *params, uk_acc *acc, char *error) {
    (void)ctx, (void)output, (void)error;
    const int32_t *x = input;
    int64_t c = params->center_int;
    running = 0;
    for (size_t i = begin; i < end; i++) running += (uint64_t)(x[i] >= c ? x[i] - c : c - x[i]);
    unsigned __int128 total = ((unsigned __int128)acc->hi << 64 | acc->lo) + running;
    acc->lo = (uint64_t)total;
    acc->hi = (uint64_t)(total >> 64);
    return 0;
}

static void combine_u128(uk_acc *into, const uk_acc *from) {
    unsigned __int128 total = ((unsigned __int128)into->hi << 64 | into->lo) + ((unsigned __int128)from->hi << 64 | from->lo);
    into->lo = (uint64_t)total;
    into->hi = (uint64_t)(total >> 64);
}

static const uk_kernel kernels[] = {
    {sizeof(uk_kernel), 0, "absdist.map", "out[i] = |x[i] - c| via a global scratch buffer",
     UK_DTYPE_I32, UK_DTYPE_U32, UK_KIND_MAP, UK_ACC_NONE, map_i32, NULL},
    {sizeof(uk_kernel), 0, "absdist.map", "out[i] = |x[i] - c| via a global scratch buffer",
     UK_DTYPE_F64, UK_DTYPE_F64, UK_KIND_MAP, UK_ACC_NONE, map_f64, NULL},
    {sizeof(uk_kernel), 0, "absdist.sum", "sum of |x[i] - c| kept in a global running total",
     UK_DTYPE_I32, UK_DTYPE_I32, UK_KIND_REDUCE, UK_ACC_UINT128, sum_i32, combine_u128},
};

static const uk_kernel *get_kernel(uint32_t index) {
    return index < sizeof kernels / sizeof kernels[0] ? &kernels[index] : NULL;
}

static const uk_plugin plugin = {
    .size = sizeof(uk_plugin),
    .abi_major = UK_ABI_MAJOR,
    .abi_minor = UK_ABI_MINOR,
    .concurrency = UK_CONCURRENCY_SERIAL,
    .name = "scratch",
    .version = "1.0.0",
    .init = plugin_init,
    .fini = plugin_fini,
    .get_kernel = get_kernel,
};

UK_EXPORT const uk_plugin *unlocked_plugin_entry(void) { return &plugin; }
