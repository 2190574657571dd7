/* Run-time ISA dispatch: one table, chosen once per process, on the first
 * call of any function here that needs it (no caller has to remember an
 * init: worker processes and embedders get the same variant as the CLI). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kernel_common.h"

static const char *const isa_names[UK_ISA_COUNT] = {"scalar", "avx2", "avx512", "neon"};

/* What each variant needs, as the CPU reports it (see uk_cpu_has). */
static const char *const isa_requirements[UK_ISA_COUNT] = {
    "any CPU", "x86-64 with AVX2 and FMA", "x86-64 with AVX-512 F, BW, DQ and VL",
    "arm64 (Advanced SIMD)"};

#if defined(__x86_64__)
#define UK_BUILD_ARCH "x86-64"
#elif defined(__aarch64__)
#define UK_BUILD_ARCH "arm64"
#else
#define UK_BUILD_ARCH "this architecture"
#endif

/* The table this build contains for `isa`, whatever the CPU. */
static const uk_isa_table *uk_isa_table_compiled(uk_isa isa) {
    switch (isa) {
    case UK_ISA_SCALAR: return &uk_table_scalar;
#if defined(__x86_64__)
    case UK_ISA_AVX2: return &uk_table_avx2;
    case UK_ISA_AVX512: return &uk_table_avx512;
#endif
#if defined(__aarch64__)
    case UK_ISA_NEON: return &uk_table_neon;
#endif
    default: return NULL;
    }
}

/* Whether the CPU (and the OS, which must save the wider registers) runs
 * `isa`. __builtin_cpu_supports checks XGETBV for the AVX state too. */
static int uk_cpu_has(uk_isa isa) {
    switch (isa) {
    case UK_ISA_SCALAR: return 1;
#if defined(__x86_64__)
    case UK_ISA_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case UK_ISA_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#endif
#if defined(__aarch64__)
    case UK_ISA_NEON: return 1; /* Advanced SIMD is mandatory on AArch64. */
#endif
    default: return 0;
    }
}

const char *uk_isa_name(uk_isa isa) {
    return (unsigned)isa < UK_ISA_COUNT ? isa_names[isa] : "unknown";
}

const char *uk_isa_requirement(uk_isa isa) {
    return (unsigned)isa < UK_ISA_COUNT ? isa_requirements[isa] : "unknown";
}

int uk_isa_compiled(uk_isa isa) {
    return uk_isa_table_compiled(isa) != NULL;
}

int uk_isa_supported(uk_isa isa) {
    return uk_isa_table_for(isa) != NULL;
}

const uk_isa_table *uk_isa_table_for(uk_isa isa) {
    const uk_isa_table *table = uk_isa_table_compiled(isa);
    return table && uk_cpu_has(isa) ? table : NULL;
}

/* "scalar, avx2, …" for error messages. */
static const char *uk_isa_supported_list(void) {
    static char list[64];
    list[0] = 0;
    for (int isa = 0; isa < UK_ISA_COUNT; isa++) {
        if (!uk_isa_supported((uk_isa)isa)) continue;
        if (list[0]) strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, isa_names[isa], sizeof list - strlen(list) - 1);
    }
    return list;
}

/* Written once by select_once; pthread_once orders those writes before any
 * caller's reads. */
static pthread_once_t dispatch_once = PTHREAD_ONCE_INIT;
static uk_isa selected = UK_ISA_SCALAR;
static const uk_isa_table *selected_table; /* NULL while UNLOCKED_ISA is refused */
static char selection_reason[UK_ERROR_CAPACITY];
static char selection_error[UK_ERROR_CAPACITY];

static uk_isa best_supported(void) {
    for (int isa = UK_ISA_COUNT - 1; isa > UK_ISA_SCALAR; isa--)
        if (uk_isa_supported((uk_isa)isa)) return (uk_isa)isa;
    return UK_ISA_SCALAR;
}

/* A refused UNLOCKED_ISA selects nothing: running another variant than the
 * one the user forced would make every measurement lie. */
static void refuse(const char *message) {
    snprintf(selection_error, sizeof selection_error, "%s", message);
    snprintf(selection_reason, sizeof selection_reason, "none: %s", message);
}

static void select_once(void) {
    char message[UK_ERROR_CAPACITY];
    const char *forced = getenv("UNLOCKED_ISA");
    if (forced && *forced) {
        for (int isa = 0; isa < UK_ISA_COUNT; isa++) {
            if (strcasecmp(forced, isa_names[isa]) != 0) continue;
            if (!uk_isa_compiled((uk_isa)isa)) {
                snprintf(message, sizeof message,
                         "UNLOCKED_ISA=%s: this " UK_BUILD_ARCH
                         " build has no %s variant, it needs %s (accepted here: %s)",
                         forced, isa_names[isa], isa_requirements[isa], uk_isa_supported_list());
                refuse(message);
                return;
            }
            if (!uk_cpu_has((uk_isa)isa)) {
                snprintf(message, sizeof message,
                         "UNLOCKED_ISA=%s: this CPU cannot run it, it needs %s (accepted here: %s)",
                         forced, isa_requirements[isa], uk_isa_supported_list());
                refuse(message);
                return;
            }
            selected = (uk_isa)isa;
            selected_table = uk_isa_table_for(selected);
            snprintf(selection_reason, sizeof selection_reason, "forced by UNLOCKED_ISA=%s", forced);
            return;
        }
        snprintf(message, sizeof message,
                 "UNLOCKED_ISA=%s: unknown variant (accepted: scalar, avx2, avx512, neon; "
                 "this CPU runs: %s)",
                 forced, uk_isa_supported_list());
        refuse(message);
        return;
    }
    selected = best_supported();
    selected_table = uk_isa_table_for(selected);
    if (selected == UK_ISA_SCALAR)
        snprintf(selection_reason, sizeof selection_reason,
                 "no vector variant of this build runs on this CPU");
    else
        snprintf(selection_reason, sizeof selection_reason,
                 "widest variant this CPU runs (%s)", isa_requirements[selected]);
}

int uk_dispatch_init(char *error) {
    pthread_once(&dispatch_once, select_once);
    if (selection_error[0]) {
        if (error) snprintf(error, UK_ERROR_CAPACITY, "%s", selection_error);
        return -1;
    }
    return 0;
}

uk_isa uk_isa_selected(void) {
    pthread_once(&dispatch_once, select_once);
    return selected;
}

const char *uk_isa_selection_reason(void) {
    pthread_once(&dispatch_once, select_once);
    return selection_reason;
}

const uk_isa_table *uk_selected_table(void) {
    pthread_once(&dispatch_once, select_once);
    return selected_table;
}
