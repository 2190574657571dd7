/*
 * Every vector variant this CPU runs against the scalar reference, in plain
 * C: the same matrix as Tests/UnlockedTests/KernelVariantTests.swift
 * (lengths 0…300 at byte offsets 0…63, random and special values, map with
 * and without streaming stores, guard bytes around the output). It exists
 * for what `swift test` cannot reach: the NEON variant, cross-compiled and
 * run under qemu-aarch64, and the kernels under ASan/UBSan on their own.
 *
 *   bench/variant_check.sh            # native, then arm64 under qemu if present
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(void) {
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
    return failed != 0;
}
