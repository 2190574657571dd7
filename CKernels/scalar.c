/* The scalar reference. Every vector variant must equal it (integers
 * bit-exactly, floats within the documented bound); vector variants also
 * call these functions for their tails. */
#include <math.h>

#include "kernel_common.h"

static void absdist_map_i32(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    (void)acc;
    const int32_t c = (int32_t)p->center_int;
    for (size_t i = begin; i < end; i++) uk_write_u32(output, i, uk_absdist_i32(uk_read_i32(input, i), c));
}

static void absdist_map_i64(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    (void)acc;
    const int64_t c = p->center_int;
    for (size_t i = begin; i < end; i++) uk_write_u64(output, i, uk_absdist_i64(uk_read_i64(input, i), c));
}

static void absdist_map_f32(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    (void)acc;
    const float c = (float)p->center_float;
    for (size_t i = begin; i < end; i++) uk_write_f32(output, i, fabsf(uk_read_f32(input, i) - c));
}

static void absdist_map_f64(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    (void)acc;
    const double c = p->center_float;
    for (size_t i = begin; i < end; i++) uk_write_f64(output, i, fabs(uk_read_f64(input, i) - c));
}

static void absdist_sum_i32(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    (void)output;
    const int32_t c = (int32_t)p->center_int;
    uk_u128 sum = 0;
    for (size_t i = begin; i < end;) {
        /* A uint64 holds UK_I32_FOLD_INTERVAL distances without wrapping. */
        const size_t stop = end - i > UK_I32_FOLD_INTERVAL ? i + UK_I32_FOLD_INTERVAL : end;
        uint64_t part = 0;
        for (; i < stop; i++) part += uk_absdist_i32(uk_read_i32(input, i), c);
        sum += part;
    }
    uk_acc_add_u128(acc, sum);
}

static void absdist_sum_i64(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    (void)output;
    const int64_t c = p->center_int;
    uk_u128 sum = 0;
    for (size_t i = begin; i < end; i++) sum += uk_absdist_i64(uk_read_i64(input, i), c);
    uk_acc_add_u128(acc, sum);
}

static void absdist_sum_f32(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    (void)output;
    const float c = (float)p->center_float;
    double sum = 0;
    for (size_t i = begin; i < end; i++) sum += (double)fabsf(uk_read_f32(input, i) - c);
    acc->f += sum;
}

static void absdist_sum_f64(const void *input, void *output, size_t begin, size_t end,
                            const uk_params *p, uk_acc *acc) {
    (void)output;
    const double c = p->center_float;
    double sum = 0;
    for (size_t i = begin; i < end; i++) sum += fabs(uk_read_f64(input, i) - c);
    acc->f += sum;
}

static void stream_sum_i32(const void *input, void *output, size_t begin, size_t end,
                           const uk_params *p, uk_acc *acc) {
    (void)output;
    (void)p;
    uk_i128 sum = 0;
    for (size_t i = begin; i < end;) {
        const size_t stop = end - i > UK_I32_FOLD_INTERVAL ? i + UK_I32_FOLD_INTERVAL : end;
        int64_t part = 0;
        for (; i < stop; i++) part += uk_read_i32(input, i);
        sum += part;
    }
    uk_acc_add_u128(acc, (uk_u128)sum);
}

static void stream_sum_i64(const void *input, void *output, size_t begin, size_t end,
                           const uk_params *p, uk_acc *acc) {
    (void)output;
    (void)p;
    uk_i128 sum = 0;
    for (size_t i = begin; i < end; i++) sum += uk_read_i64(input, i);
    uk_acc_add_u128(acc, (uk_u128)sum);
}

static void stream_sum_f32(const void *input, void *output, size_t begin, size_t end,
                           const uk_params *p, uk_acc *acc) {
    (void)output;
    (void)p;
    double sum = 0;
    for (size_t i = begin; i < end; i++) sum += (double)uk_read_f32(input, i);
    acc->f += sum;
}

static void stream_sum_f64(const void *input, void *output, size_t begin, size_t end,
                           const uk_params *p, uk_acc *acc) {
    (void)output;
    (void)p;
    double sum = 0;
    for (size_t i = begin; i < end; i++) sum += uk_read_f64(input, i);
    acc->f += sum;
}

const uk_isa_table uk_table_scalar = {{
    [UK_OP_ABSDIST_MAP] = {absdist_map_i32, absdist_map_i64, absdist_map_f32, absdist_map_f64},
    [UK_OP_ABSDIST_SUM] = {absdist_sum_i32, absdist_sum_i64, absdist_sum_f32, absdist_sum_f64},
    [UK_OP_STREAM_SUM] = {stream_sum_i32, stream_sum_i64, stream_sum_f32, stream_sum_f64},
}};
