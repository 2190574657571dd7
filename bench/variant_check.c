/*
 * Every vector variant this CPU runs against the scalar reference, in plain
 * C: the same matrix as Tests/UnlockedTests/KernelVariantTests.swift
 * (lengths 0…300 at byte offsets 0…63, random and special values, map with
 * and without streaming stores, guard bytes around the output). It exists
 * for what `swift test` cannot reach: the NEON variant, cross-compiled and
 * run under qemu-aarch64, the kernels under ASan/UBSan on their own, and
 * dispatch in a fresh process (the first kernel call, made before anything
 * else touches dispatch, selects the variant; `dispatch` as the only
 * argument runs just that check).
 *
 *   bench/variant_check.sh            # native, then arm64 under qemu if present
 *   bench/variant_check.sh dispatch   # first-use dispatch, with UNLOCKED_ISA unset and forced
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "unlocked_kernels.h"

#define MAX_COUNT 300
#define GUARD 64

static uint64_t rng_state = 0x5EED;
static uint64_t next_random(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static const size_t widths[UK_ELEM_COUNT] = {4, 8, 4, 8};
static const char *const elem_names[UK_ELEM_COUNT] = {"i32", "i64", "f32", "f64"};
static const char *const op_names[UK_OP_COUNT] = {"absdist.map", "absdist.sum", "stream.sum"};

/* One element: full-range integers; floats of mixed magnitude, one in eight special. */
static void random_element(uk_elem elem, void *at) {
    const uint64_t bits = next_random();
    const double real = ((double)(bits >> 11) * 0x1p-53 - 0.5) * (double)(1 << (bits % 20));
    static const double specials[] = {NAN, -NAN, INFINITY, -INFINITY, 0.0, -0.0, 1e-310, 3e38};
    const double value = bits % 8 == 0 ? specials[(bits >> 8) % 8] : real;
    switch (elem) {
    case UK_ELEM_I32: { int32_t v = (int32_t)bits; memcpy(at, &v, 4); break; }
    case UK_ELEM_I64: { int64_t v = (int64_t)bits; memcpy(at, &v, 8); break; }
    case UK_ELEM_F32: { float v = (float)value; memcpy(at, &v, 4); break; }
    default: memcpy(at, &value, 8);
    }
}

/* Σ|term| of a float range, for the documented bound (n-1)·2^-53·Σ|t|. */
static double magnitude(uk_op op, uk_elem elem, const unsigned char *x, size_t n, double c) {
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double v;
        if (elem == UK_ELEM_F32) {
            float f;
            memcpy(&f, x + 4 * i, 4);
            v = op == UK_OP_ABSDIST_SUM ? fabsf(f - (float)c) : f;
        } else {
            memcpy(&v, x + 8 * i, 8);
            v = op == UK_OP_ABSDIST_SUM ? fabs(v - c) : v;
        }
        sum += fabs(v);
    }
    return sum;
}

static int same_result(uk_op op, uk_elem elem, const uk_acc *a, const uk_acc *b, double bound) {
    if (elem == UK_ELEM_I32 || elem == UK_ELEM_I64) return a->lo == b->lo && a->hi == b->hi;
    (void)op;
    if (isnan(a->f) || isnan(b->f)) return isnan(a->f) && isnan(b->f);
    if (isinf(a->f) || isinf(b->f)) return a->f == b->f;
    return fabs(a->f - b->f) <= bound;
}

/* ---- dispatch on first use ---------------------------------------------- */

/* Float64 values over 60 binary orders of magnitude: every variant adds them
 * in its own order (its own vector accumulators), so the sums differ in the
 * last bits and the result names the variant that computed it. */
#define ORDER_COUNT 256
static double order_data[ORDER_COUNT];

/* The built-in stream.sum over float64, as the host sees it (plugin ABI). */
static const uk_kernel *builtin_stream_sum_f64(void) {
    const uk_plugin *plugin = uk_builtin_plugin();
    for (uint32_t i = 0; plugin->get_kernel(i); i++) {
        const uk_kernel *k = plugin->get_kernel(i);
        if (strcmp(k->name, "stream.sum") == 0 && k->input_type == UK_DTYPE_F64) return k;
    }
    return NULL;
}

typedef struct first_call {
    int rc;
    uk_acc acc;
    char error[UK_ERROR_CAPACITY];
} first_call;

static void *call_builtin(void *arg) {
    first_call *call = arg;
    const uk_params p = {sizeof p, 0, 0, 0};
    call->rc = builtin_stream_sum_f64()->run(NULL, order_data, NULL, 0, ORDER_COUNT, &p, &call->acc,
                                             call->error);
    return NULL;
}

/* What UNLOCKED_ISA asks for: 0 unset, 1 a variant this CPU runs (*isa), -1 refused. */
static int forced_isa(uk_isa *isa) {
    const char *forced = getenv("UNLOCKED_ISA");
    if (!forced || !*forced) return 0;
    for (int i = 0; i < UK_ISA_COUNT; i++)
        if (strcasecmp(forced, uk_isa_name((uk_isa)i)) == 0 && uk_isa_supported((uk_isa)i)) {
            *isa = (uk_isa)i;
            return 1;
        }
    return -1;
}

/* Runs before anything else in the process touches dispatch: four threads
 * make the first kernel call at once, without uk_dispatch_init. Each must
 * have run the variant dispatch promises (UNLOCKED_ISA, else the widest
 * supported), or failed with dispatch's refusal. Returns the failure count. */
static int check_first_use_dispatch(void) {
    for (size_t i = 0; i < ORDER_COUNT; i++)
        order_data[i] = ((double)(next_random() >> 11) * 0x1p-53 - 0.5) * ldexp(1, (int)(next_random() % 60));
    enum { THREADS = 4 };
    first_call calls[THREADS] = {0};
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) pthread_create(&threads[t], NULL, call_builtin, &calls[t]);
    for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);

    int failed = 0;
    char init_error[UK_ERROR_CAPACITY] = "";
    uk_isa want = UK_ISA_SCALAR;
    const int forced = forced_isa(&want);
    if (forced < 0) {
        const int init = uk_dispatch_init(init_error);
        for (int t = 0; t < THREADS; t++)
            if (calls[t].rc == 0 || strcmp(calls[t].error, init_error) != 0) failed++;
        if (init != -1 || strncmp(init_error, "UNLOCKED_ISA=", 13) != 0 || uk_selected_table()) failed++;
        printf("dispatch: first kernel calls %s UNLOCKED_ISA=%s: %s\n", failed ? "FAIL to refuse" : "refuse",
               getenv("UNLOCKED_ISA"), calls[0].error);
        return failed;
    }
    if (!forced)
        for (int isa = 0; isa < UK_ISA_COUNT; isa++)
            if (uk_isa_supported((uk_isa)isa)) want = (uk_isa)isa;

    /* Each supported variant's own sum; they must tell the variants apart. */
    double sums[UK_ISA_COUNT];
    for (int isa = 0; isa < UK_ISA_COUNT; isa++) {
        if (!uk_isa_supported((uk_isa)isa)) continue;
        const uk_params p = {sizeof p, 0, 0, 0};
        uk_acc acc = {0};
        uk_isa_table_for((uk_isa)isa)->fn[UK_OP_STREAM_SUM][UK_ELEM_F64](order_data, NULL, 0, ORDER_COUNT, &p, &acc);
        sums[isa] = acc.f;
        for (int other = 0; other < isa; other++)
            if (uk_isa_supported((uk_isa)other) && sums[other] == sums[isa]) {
                printf("FAIL dispatch: %s and %s give the same sum, the check cannot tell them apart\n",
                       uk_isa_name((uk_isa)other), uk_isa_name((uk_isa)isa));
                failed++;
            }
    }
    for (int t = 0; t < THREADS; t++) {
        if (calls[t].rc != 0 || calls[t].acc.f != sums[want]) {
            int ran = -1;
            for (int isa = 0; isa < UK_ISA_COUNT; isa++)
                if (uk_isa_supported((uk_isa)isa) && calls[t].acc.f == sums[isa]) ran = isa;
            printf("FAIL dispatch: first call on thread %d ran %s, want %s (rc %d %s)\n", t,
                   ran < 0 ? "no known variant" : uk_isa_name((uk_isa)ran), uk_isa_name(want),
                   calls[t].rc, calls[t].error);
            failed++;
        }
    }
    /* An explicit init afterwards changes nothing. */
    if (uk_dispatch_init(init_error) != 0 || uk_isa_selected() != want ||
        uk_selected_table() != uk_isa_table_for(want)) {
        printf("FAIL dispatch: uk_dispatch_init after first use: %s, selected %s\n", init_error,
               uk_isa_name(uk_isa_selected()));
        failed++;
    }
    if (!failed)
        printf("dispatch: first kernel calls without init ran %s (%s)\n", uk_isa_name(want),
               uk_isa_selection_reason());
    return failed;
}

int main(int argc, char **argv) {
    const int dispatch_failed = check_first_use_dispatch();
    if (argc > 1 && strcmp(argv[1], "dispatch") == 0) return dispatch_failed != 0;
    static unsigned char input[GUARD + 64 + MAX_COUNT * 8];
    static unsigned char ref_out[2 * GUARD + 64 + MAX_COUNT * 8], out[sizeof ref_out];
    long passed = 0, failed = 0;
    const uk_isa_table *scalar = uk_isa_table_for(UK_ISA_SCALAR);
    for (int isa = 1; isa < UK_ISA_COUNT; isa++) {
        const uk_isa_table *table = uk_isa_table_for((uk_isa)isa);
        if (!table) continue;
        printf("checking %s against scalar\n", uk_isa_name((uk_isa)isa));
        for (int elem = 0; elem < UK_ELEM_COUNT; elem++) {
            const size_t w = widths[elem];
            for (size_t offset = 0; offset < 64; offset++) {
                unsigned char *x = input + offset;
                for (size_t i = 0; i < MAX_COUNT; i++) random_element((uk_elem)elem, x + i * w);
                uk_params p = {sizeof p, 0, (int64_t)next_random(), 0};
                random_element(UK_ELEM_F64, &p.center_float);
                if (offset % 8 == 0) p.center_float = 50; /* mostly finite distances */
                if (elem == UK_ELEM_I32) p.center_int = (int32_t)p.center_int;
                for (size_t n = 0; n <= MAX_COUNT; n++) {
                    for (int op = 0; op < UK_OP_COUNT; op++) {
                        for (int streaming = 0; streaming < (op == UK_OP_ABSDIST_MAP ? 2 : 1); streaming++) {
                            p.flags = streaming ? UK_FLAG_STREAMING_STORES : 0;
                            uk_acc want = {0}, got = {0};
                            int ok;
                            if (op == UK_OP_ABSDIST_MAP) {
                                memset(ref_out, 0xA5, sizeof ref_out);
                                memset(out, 0xA5, sizeof out);
                                scalar->fn[op][elem](x, ref_out + GUARD + offset, 0, n, &p, NULL);
                                table->fn[op][elem](x, out + GUARD + offset, 0, n, &p, NULL);
                                ok = memcmp(out, ref_out, sizeof out) == 0;
                            } else {
                                scalar->fn[op][elem](x, NULL, 0, n, &p, &want);
                                table->fn[op][elem](x, NULL, 0, n, &p, &got);
                                const double bound =
                                    elem >= UK_ELEM_F32
                                        ? 2.0 * (double)(n ? n - 1 : 0) * 0x1p-53 *
                                              magnitude((uk_op)op, (uk_elem)elem, x, n, p.center_float)
                                        : 0;
                                ok = same_result((uk_op)op, (uk_elem)elem, &got, &want, bound);
                            }
                            if (ok) {
                                passed++;
                            } else if (failed++ < 20) {
                                printf("FAIL %s %s %s n=%zu offset=%zu streaming=%d\n",
                                       uk_isa_name((uk_isa)isa), op_names[op], elem_names[elem], n,
                                       offset, streaming);
                            }
                        }
                    }
                }
            }
        }
    }
    printf("%ld passed, %ld failed\n", passed, failed);
    return failed != 0 || dispatch_failed != 0;
}
