#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "uk_openmp.h"

/* The thread sanitizer's annotations when it is in the process, found at run time. */
static void (*tsan_acquire)(void *);
static void (*tsan_release)(void *);
static pthread_once_t tsan_once = PTHREAD_ONCE_INIT;

static void find_tsan(void) {
    tsan_acquire = (void (*)(void *))dlsym(RTLD_DEFAULT, "__tsan_acquire");
    tsan_release = (void (*)(void *))dlsym(RTLD_DEFAULT, "__tsan_release");
}

int32_t uk_omp_thread_sanitized(void) {
    pthread_once(&tsan_once, find_tsan);
    return tsan_acquire != NULL;
}

void uk_omp_happens_before(void *address) {
    if (uk_omp_thread_sanitized()) tsan_release(address);
}

void uk_omp_happens_after(void *address) {
    if (uk_omp_thread_sanitized()) tsan_acquire(address);
}

int32_t uk_omp_thread_id(void) { return (int32_t)syscall(SYS_gettid); }

/* Per thread: which worker and PU an `openmp` engine last bound this thread to. */
static __thread int64_t uk_omp_binding = -1;

int64_t uk_omp_thread_binding(void) { return uk_omp_binding; }

void uk_omp_set_thread_binding(int64_t binding) { uk_omp_binding = binding; }
