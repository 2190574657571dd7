/* The built-in kernels, registered through the plugin ABI like any plugin,
 * so the host has one code path for all kernels. Each kernel calls the
 * variant that dispatch selected (on this first call, if nothing asked
 * before), or fails with dispatch's message if UNLOCKED_ISA is refused. */
#include "kernel_common.h"

static void combine_int128(uk_acc *into, const uk_acc *from) {
    /* Signed and unsigned 128-bit addition are the same bit operation. */
    uk_acc_add_u128(into, uk_acc_get(from));
}

static void combine_float64(uk_acc *into, const uk_acc *from) { into->f += from->f; }

#define UK_BUILTIN_RUN(op, elem)                                                         \
    static int run_##op##_##elem(void *ctx, const void *input, void *output, size_t begin, \
                                 size_t end, const uk_params *params, uk_acc *acc,       \
                                 char *error) {                                          \
        (void)ctx;                                                                       \
        const uk_isa_table *table = uk_selected_table();                                 \
        if (!table) return uk_dispatch_init(error);                                      \
        table->fn[op][elem](input, output, begin, end, params, acc);                     \
        return 0;                                                                        \
    }

#define UK_BUILTIN_RUNS(op)      \
    UK_BUILTIN_RUN(op, UK_ELEM_I32) \
    UK_BUILTIN_RUN(op, UK_ELEM_I64) \
    UK_BUILTIN_RUN(op, UK_ELEM_F32) \
    UK_BUILTIN_RUN(op, UK_ELEM_F64)

UK_BUILTIN_RUNS(UK_OP_ABSDIST_MAP)
UK_BUILTIN_RUNS(UK_OP_ABSDIST_SUM)
UK_BUILTIN_RUNS(UK_OP_STREAM_SUM)

#define MAP(elem, in, out)                                                                \
    {sizeof(uk_kernel), 0, "absdist.map", "out[i] = |x[i] - c|", in, out, UK_KIND_MAP,    \
     UK_ACC_NONE, run_UK_OP_ABSDIST_MAP_##elem, NULL}
#define SUM(elem, in, acc_kind, combine)                                                  \
    {sizeof(uk_kernel), 0, "absdist.sum", "sum of |x[i] - c|", in, in, UK_KIND_REDUCE,    \
     acc_kind, run_UK_OP_ABSDIST_SUM_##elem, combine}
#define STREAM(elem, in, acc_kind, combine)                                               \
    {sizeof(uk_kernel), 0, "stream.sum", "sum of x[i] (read-bandwidth probe)", in, in,    \
     UK_KIND_REDUCE, acc_kind, run_UK_OP_STREAM_SUM_##elem, combine}

static const uk_kernel builtin_kernels[] = {
    SUM(UK_ELEM_I32, UK_DTYPE_I32, UK_ACC_UINT128, combine_int128),
    SUM(UK_ELEM_I64, UK_DTYPE_I64, UK_ACC_UINT128, combine_int128),
    SUM(UK_ELEM_F32, UK_DTYPE_F32, UK_ACC_FLOAT64, combine_float64),
    SUM(UK_ELEM_F64, UK_DTYPE_F64, UK_ACC_FLOAT64, combine_float64),
    MAP(UK_ELEM_I32, UK_DTYPE_I32, UK_DTYPE_U32),
    MAP(UK_ELEM_I64, UK_DTYPE_I64, UK_DTYPE_U64),
    MAP(UK_ELEM_F32, UK_DTYPE_F32, UK_DTYPE_F32),
    MAP(UK_ELEM_F64, UK_DTYPE_F64, UK_DTYPE_F64),
    STREAM(UK_ELEM_I32, UK_DTYPE_I32, UK_ACC_INT128, combine_int128),
    STREAM(UK_ELEM_I64, UK_DTYPE_I64, UK_ACC_INT128, combine_int128),
    STREAM(UK_ELEM_F32, UK_DTYPE_F32, UK_ACC_FLOAT64, combine_float64),
    STREAM(UK_ELEM_F64, UK_DTYPE_F64, UK_ACC_FLOAT64, combine_float64),
};

static const uk_kernel *builtin_get_kernel(uint32_t index) {
    return index < sizeof builtin_kernels / sizeof builtin_kernels[0] ? &builtin_kernels[index]
                                                                       : NULL;
}

static const uk_plugin builtin_plugin = {
    .size = sizeof(uk_plugin),
    .abi_major = UK_ABI_MAJOR,
    .abi_minor = UK_ABI_MINOR,
    .concurrency = UK_CONCURRENCY_THREAD_SAFE,
    .name = "builtin",
    .version = "1.0.0",
    .get_kernel = builtin_get_kernel,
};

const uk_plugin *uk_builtin_plugin(void) { return &builtin_plugin; }
