/* Fixture plugins for the loader and verify tests, one source compiled with
 * one -D per failure (see PluginTests.swift). Without any -D it is a valid
 * thread-safe plugin "fixture" with one kernel, good.sum (i32).
 *
 *   -DFIXTURE_NO_ENTRY     exports no unlocked_plugin_entry
 *   -DFIXTURE_ABI_MAJOR    claims ABI 99.0
 *   -DFIXTURE_NULL_RUN     a kernel whose run is NULL
 *   -DFIXTURE_DUPLICATE    good.sum (i32) listed twice
 *   -DFIXTURE_NO_COMBINE   a REDUCE kernel without combine
 *   -DFIXTURE_NO_WORKER_INIT  declares PER_WORKER without worker_init
 *   -DFIXTURE_ENDLESS      get_kernel never returns NULL
 *   -DFIXTURE_NEWER_MINOR  ABI 1.99 with a larger descriptor (must load)
 *   -DFIXTURE_LIFECYCLE    init and fini append "init"/"fini" lines to the file
 *                          named by $UNLOCKED_FIXTURE_LOG; init logs through the host
 *   -DFIXTURE_INIT_FAILS   init fails with a message
 *   -DFIXTURE_SEGV/_ABORT/_LOOP   adds bad.sum (i32), which segfaults, aborts
 *                          or loops forever once a range has 8+ elements
 *   -DFIXTURE_KERNEL_ERROR adds cursed.sum (i32), which fails with a message
 *                          on its third call in a process (mid-stream)
 *   -DFIXTURE_WRONG        adds bad.sum (i32), which drops the last element of
 *                          ranges longer than 8 whose length is not a multiple
 *                          of 8 (a vector-tail bug)
 *   -DFIXTURE_AFFINITY     adds affinity.sum (i32), a census of the threads that
 *                          run it: bits 0-63 of the result are the union of
 *                          their CPU affinities (CPUs 0-63), bits 64-126 the
 *                          union of the complements (CPUs 0-62: the CPUs some
 *                          thread could not use), bit 127 set when some thread
 *                          could use more than one CPU. A positive centre c
 *                          makes every call sleep c microseconds, so every
 *                          worker gets chunks and threads stay alive a while.
 *   -DFIXTURE_CTOR_SEGV/_CTOR_EXIT/_CTOR_HANG   an ELF constructor that
 *                          segfaults, calls exit(0) or never returns
 *   -DFIXTURE_FINI_SEGV    fini segfaults (the plugin loads and runs fine)
 *   -DFIXTURE_CHATTY       printf()s to stdout in its constructor, entry,
 *                          init and kernel (once per process each)
 *   -DFIXTURE_INIT_LONG_ERROR   init fails with a 10 KB message
 *   -DFIXTURE_WORKER_LONG_ERROR  PER_WORKER; worker_init fails with a 10 KB message
 *   -DFIXTURE_KERNEL_LONG_ERROR  adds bad.sum (i32), which fails with a 10 KB
 *                          message once a range has 8+ elements
 *   -DFIXTURE_RACY         adds racy.sum (i32) to a THREAD_SAFE plugin: it keeps
 *                          its running sum in one global variable, so two
 *                          calls at once corrupt each other's result
 */
#if defined(FIXTURE_AFFINITY)
#define _GNU_SOURCE
#include <sched.h>
#include <unistd.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unlocked_plugin.h"

typedef unsigned __int128 u128;

#if defined(FIXTURE_CHATTY)
/* Says where it is on stdout the first time each place runs. */
#define CHATTER(where)                                                        \
    do {                                                                      \
        static int said;                                                      \
        if (!__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED)) {               \
            printf("fixture chatter from %s\n", where);                       \
            fflush(stdout);                                                   \
        }                                                                     \
    } while (0)
__attribute__((constructor)) static void chatty_constructor(void) { CHATTER("the constructor"); }
#else
#define CHATTER(where) ((void)0)
#endif

#if defined(FIXTURE_CTOR_SEGV) || defined(FIXTURE_CTOR_EXIT) || defined(FIXTURE_CTOR_HANG)
/* Runs inside dlopen, before the host sees any symbol. */
__attribute__((constructor)) static void misbehaving_constructor(void) {
#if defined(FIXTURE_CTOR_SEGV)
    volatile uintptr_t nowhere = 16;
    *(volatile int *)nowhere = 1;
#elif defined(FIXTURE_CTOR_EXIT)
    exit(0);
#else
    for (;;) pause();
#endif
}
#endif

#if defined(FIXTURE_INIT_LONG_ERROR) || defined(FIXTURE_WORKER_LONG_ERROR) || defined(FIXTURE_KERNEL_LONG_ERROR)
/* The plugin's bug: a 10 KB message into a buffer promised to hold UK_ERROR_CAPACITY. */
static int long_error(char *error) {
    memset(error, 'E', 10239);
    memcpy(error, "long message ", 13);
    error[10239] = 0;
    return 7;
}
#endif

static int good_sum(void *ctx, const void *input, void *output, size_t begin, size_t end,
                    const uk_params *params, uk_acc *acc, char *error) {
    (void)ctx, (void)output, (void)error;
    CHATTER("the kernel");
    const int32_t *x = input;
    u128 sum = ((u128)acc->hi << 64) | acc->lo;
    for (size_t i = begin; i < end; i++) {
        int64_t d = (int64_t)x[i] - params->center_int;
        sum += (uint64_t)(d < 0 ? -d : d);
    }
    acc->lo = (uint64_t)sum;
    acc->hi = (uint64_t)(sum >> 64);
    return 0;
}

#if defined(FIXTURE_SEGV) || defined(FIXTURE_ABORT) || defined(FIXTURE_LOOP) || defined(FIXTURE_WRONG) \
    || defined(FIXTURE_KERNEL_LONG_ERROR)
#define FIXTURE_BAD 1
static int bad_sum(void *ctx, const void *input, void *output, size_t begin, size_t end,
                   const uk_params *params, uk_acc *acc, char *error) {
#if defined(FIXTURE_KERNEL_LONG_ERROR)
    if (end - begin >= 8) return long_error(error);
#elif defined(FIXTURE_WRONG)
    if (end - begin > 8 && (end - begin) % 8 != 0) end--;
#else
    if (end - begin >= 8) {
#if defined(FIXTURE_SEGV)
        /* An unmapped address that is not NULL, so UBSan's null check does
         * not turn the segfault into a trap. */
        volatile uintptr_t nowhere = 16;
        *(volatile int *)nowhere = 1;
#elif defined(FIXTURE_ABORT)
        abort();
#else
        for (;;) __asm__ volatile("");
#endif
    }
#endif
    return good_sum(ctx, input, output, begin, end, params, acc, error);
}
#endif

#if defined(FIXTURE_KERNEL_ERROR)
static int cursed_sum(void *ctx, const void *input, void *output, size_t begin, size_t end,
                      const uk_params *params, uk_acc *acc, char *error) {
    static _Atomic int calls;
    if (++calls == 3) {
        snprintf(error, UK_ERROR_CAPACITY, "the third call is cursed");
        return 1;
    }
    return good_sum(ctx, input, output, begin, end, params, acc, error);
}
#endif

#if defined(FIXTURE_AFFINITY)
static int affinity_sum(void *ctx, const void *input, void *output, size_t begin, size_t end,
                        const uk_params *params, uk_acc *acc, char *error) {
    (void)ctx, (void)input, (void)output, (void)begin, (void)end;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) {
        snprintf(error, UK_ERROR_CAPACITY, "sched_getaffinity failed");
        return 1;
    }
    uint64_t mask = 0;
    for (int cpu = 0; cpu < 64; cpu++)
        if (CPU_ISSET(cpu, &set)) mask |= (uint64_t)1 << cpu;
    acc->lo |= mask;
    acc->hi |= ~mask & ~((uint64_t)1 << 63);
    if (CPU_COUNT(&set) > 1) acc->hi |= (uint64_t)1 << 63;
    if (params->center_int > 0) usleep((useconds_t)params->center_int);
    return 0;
}

static void combine_or(uk_acc *into, const uk_acc *from) {
    into->lo |= from->lo;
    into->hi |= from->hi;
}
#endif
#if defined(FIXTURE_RACY)
/* The bug: one running sum for every caller. volatile keeps it in memory on
 * every element, as a sum in a global shared with other functions would be. */
static volatile uint64_t running_sum;

static int racy_sum(void *ctx, const void *input, void *output, size_t begin, size_t end,
                    const uk_params *params, uk_acc *acc, char *error) {
    (void)ctx, (void)output, (void)error;
    const int32_t *x = input;
    running_sum = 0;
    for (size_t i = begin; i < end; i++) {
        int64_t d = (int64_t)x[i] - params->center_int;
        running_sum += (uint64_t)(d < 0 ? -d : d);
    }
    u128 sum = (((u128)acc->hi << 64) | acc->lo) + running_sum;
    acc->lo = (uint64_t)sum;
    acc->hi = (uint64_t)(sum >> 64);
    return 0;
}
#endif

static void combine(uk_acc *into, const uk_acc *from) {
    u128 a = ((u128)into->hi << 64) | into->lo, b = ((u128)from->hi << 64) | from->lo;
    a += b;
    into->lo = (uint64_t)a;
    into->hi = (uint64_t)(a >> 64);
}

static const uk_kernel kernels[] = {
    {sizeof(uk_kernel), 0, "good.sum", "sum of |x[i] - c|", UK_DTYPE_I32, UK_DTYPE_I32,
     UK_KIND_REDUCE, UK_ACC_UINT128, good_sum, combine},
#if defined(FIXTURE_BAD)
    {sizeof(uk_kernel), 0, "bad.sum", "misbehaves on purpose", UK_DTYPE_I32, UK_DTYPE_I32,
     UK_KIND_REDUCE, UK_ACC_UINT128, bad_sum, combine},
#endif
#if defined(FIXTURE_KERNEL_ERROR)
    {sizeof(uk_kernel), 0, "cursed.sum", "fails on element 65536", UK_DTYPE_I32, UK_DTYPE_I32,
     UK_KIND_REDUCE, UK_ACC_UINT128, cursed_sum, combine},
#endif
#if defined(FIXTURE_AFFINITY)
    {sizeof(uk_kernel), 0, "affinity.sum", "census of the threads' CPU affinities", UK_DTYPE_I32, UK_DTYPE_I32,
     UK_KIND_REDUCE, UK_ACC_UINT128, affinity_sum, combine_or},
#endif
#if defined(FIXTURE_RACY)
    {sizeof(uk_kernel), 0, "racy.sum", "a running sum in a global", UK_DTYPE_I32, UK_DTYPE_I32,
     UK_KIND_REDUCE, UK_ACC_UINT128, racy_sum, combine},
#endif
#if defined(FIXTURE_NULL_RUN)
    {sizeof(uk_kernel), 0, "null.sum", "run is NULL", UK_DTYPE_I32, UK_DTYPE_I32,
     UK_KIND_REDUCE, UK_ACC_UINT128, NULL, combine},
#endif
#if defined(FIXTURE_DUPLICATE)
    {sizeof(uk_kernel), 0, "good.sum", "again", UK_DTYPE_I32, UK_DTYPE_I32,
     UK_KIND_REDUCE, UK_ACC_UINT128, good_sum, combine},
#endif
#if defined(FIXTURE_NO_COMBINE)
    {sizeof(uk_kernel), 0, "lonely.sum", "no combine", UK_DTYPE_F64, UK_DTYPE_F64,
     UK_KIND_REDUCE, UK_ACC_FLOAT64, good_sum, NULL},
#endif
};

static const uk_kernel *get_kernel(uint32_t index) {
    CHATTER("get_kernel");
#if defined(FIXTURE_ENDLESS)
    (void)index;
    return &kernels[0];
#else
    return index < sizeof kernels / sizeof kernels[0] ? &kernels[index] : NULL;
#endif
}

#if defined(FIXTURE_LIFECYCLE)
static void log_line(const char *line) {
    const char *path = getenv("UNLOCKED_FIXTURE_LOG");
    FILE *file = path ? fopen(path, "a") : NULL;
    if (file) {
        fprintf(file, "%s\n", line);
        fclose(file);
    }
}
static int plugin_init(const uk_host_api *host, void **state, char *error) {
    (void)state, (void)error;
    log_line("init");
    /* A plugin reads no host field beyond the size the host declared. */
    if (host && host->size >= offsetof(uk_host_api, log) + sizeof host->log && host->log)
        host->log("fixture", "initialised through the host api");
    return 0;
}
static void plugin_fini(void *state) {
    (void)state;
    log_line("fini");
}
#elif defined(FIXTURE_INIT_FAILS)
static int plugin_init(const uk_host_api *host, void **state, char *error) {
    (void)host, (void)state;
    snprintf(error, UK_ERROR_CAPACITY, "no licence for this machine");
    return 3;
}
static void plugin_fini(void *state) {
    (void)state;
    abort(); /* must never run after a failed init */
}
#elif defined(FIXTURE_INIT_LONG_ERROR)
static int plugin_init(const uk_host_api *host, void **state, char *error) {
    (void)host, (void)state;
    return long_error(error);
}
static void plugin_fini(void *state) { (void)state; }
#elif defined(FIXTURE_CHATTY)
static int plugin_init(const uk_host_api *host, void **state, char *error) {
    (void)host, (void)state, (void)error;
    CHATTER("init");
    return 0;
}
static void plugin_fini(void *state) { (void)state; }
#elif defined(FIXTURE_FINI_SEGV)
static int plugin_init(const uk_host_api *host, void **state, char *error) {
    (void)host, (void)state, (void)error;
    return 0;
}
static void plugin_fini(void *state) {
    (void)state;
    volatile uintptr_t nowhere = 16;
    *(volatile int *)nowhere = 1;
}
#endif

#if defined(FIXTURE_WORKER_LONG_ERROR)
static int worker_init(void *state, uint32_t worker, void **worker_ctx, char *error) {
    (void)state, (void)worker, (void)worker_ctx;
    return long_error(error);
}
#endif

#if defined(FIXTURE_NO_WORKER_INIT) || defined(FIXTURE_WORKER_LONG_ERROR)
#define CONCURRENCY UK_CONCURRENCY_PER_WORKER
#else
#define CONCURRENCY UK_CONCURRENCY_THREAD_SAFE
#endif

/* A plugin built against a newer minor: a larger descriptor whose extra
 * trailing field this host must ignore. */
static const struct {
    uk_plugin base;
    void *future_field;
} plugin_storage = {
    .base = {
#if defined(FIXTURE_NEWER_MINOR)
        .size = sizeof plugin_storage,
        .abi_minor = 99,
#else
        .size = sizeof(uk_plugin),
        .abi_minor = UK_ABI_MINOR,
#endif
#if defined(FIXTURE_ABI_MAJOR)
        .abi_major = 99,
#else
        .abi_major = UK_ABI_MAJOR,
#endif
        .concurrency = CONCURRENCY,
        .name = "fixture",
        .version = "1.0.0",
        .get_kernel = get_kernel,
#if defined(FIXTURE_LIFECYCLE) || defined(FIXTURE_INIT_FAILS) || defined(FIXTURE_INIT_LONG_ERROR) \
    || defined(FIXTURE_CHATTY) || defined(FIXTURE_FINI_SEGV)
        .init = plugin_init,
        .fini = plugin_fini,
#endif
#if defined(FIXTURE_WORKER_LONG_ERROR)
        .worker_init = worker_init,
#endif
    },
};
#define plugin plugin_storage.base

#if defined(FIXTURE_NO_ENTRY)
UK_EXPORT const uk_plugin *some_other_entry(void) { return &plugin; }
#else
UK_EXPORT const uk_plugin *unlocked_plugin_entry(void) {
    CHATTER("the entry point");
    return &plugin;
}
#endif
