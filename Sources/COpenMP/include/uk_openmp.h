/*
 * The `openmp` engine's parallel region (region/openmp_region.c), compiled by
 * gcc -fopenmp into a shared object of its own: the Swift toolchain's clang
 * ships no OpenMP runtime. The OpenMPRegion build plugin embeds that object in
 * the engine, which loads it (and through it libgomp) on first use.
 */
#ifndef UK_OPENMP_H
#define UK_OPENMP_H

#include <stdint.h>

/* Called by OpenMP thread `thread` of a team of `team` threads (its
 * omp_get_thread_num() and omp_get_num_threads(), read inside the region). */
typedef void (*uk_omp_thread_fn)(void *context, int32_t thread, int32_t team);
/* Called for each iteration (chunk) `chunk` the thread was scheduled. */
typedef void (*uk_omp_chunk_fn)(void *context, int32_t thread, int64_t chunk);

enum {
    /* schedule(static): one contiguous run of chunks per thread. */
    UK_OMP_STATIC = 0,
    /* schedule(dynamic, 1) over the chunks: schedule(dynamic, chunk) over elements. */
    UK_OMP_DYNAMIC = 1,
};

/* One parallel region. The entry point reads no field beyond `size` bytes. */
typedef struct {
    uint32_t size;       /* sizeof(uk_omp_region) */
    int32_t threads;     /* num_threads of the region */
    int32_t schedule;    /* UK_OMP_STATIC or UK_OMP_DYNAMIC */
    int64_t chunks;      /* iterations of the loop */
    void *context;
    /* Each thread, before its first iteration: binds it (Swift) and reports the team. */
    uk_omp_thread_fn begin;
    uk_omp_chunk_fn chunk;
    /* Each thread, after its last iteration. */
    uk_omp_thread_fn end;
} uk_omp_region;

/* Runs `region`: begin, the thread's share of the loop, end, on every thread of
 * the team. Returns 0, or -1 when `size` is not this object's. */
typedef int32_t (*uk_omp_run_fn)(const uk_omp_region *region);
#define UK_OMP_RUN_SYMBOL "uk_omp_run"

/* 1 when the thread sanitizer runs in this process. It cannot see the
 * synchronisation inside libgomp (not instrumented), so the engine tells it
 * what OpenMP guarantees, as LLVM's Archer does for libomp: the region's fork
 * orders the master's writes before every thread's start (happens_before on
 * the master, happens_after in each thread), its join every thread's writes
 * before the master goes on. No-ops without the sanitizer. */
int32_t uk_omp_thread_sanitized(void);
void uk_omp_happens_before(void *address);
void uk_omp_happens_after(void *address);

/* The calling thread's kernel id (gettid): where /proc/self/task shows it. */
int32_t uk_omp_thread_id(void);

/* The calling thread's binding as the engine last set it, -1 before any:
 * libgomp's threads serve every region, and only the engine binds them, so a
 * thread whose binding is the plan's needs no system call. */
int64_t uk_omp_thread_binding(void);
void uk_omp_set_thread_binding(int64_t binding);

#endif
