#define _GNU_SOURCE
#include <sys/syscall.h>
#include <unistd.h>

#include "uk_openmp.h"

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UK_TSAN 1
#endif
#endif

int32_t uk_omp_thread_sanitized(void) {
#ifdef UK_TSAN
    return 1;
#else
    return 0;
#endif
}

int32_t uk_omp_thread_id(void) { return (int32_t)syscall(SYS_gettid); }

/* Per thread: which worker and PU an `openmp` engine last bound this thread to. */
static __thread int64_t uk_omp_binding = -1;

int64_t uk_omp_thread_binding(void) { return uk_omp_binding; }

void uk_omp_set_thread_binding(int64_t binding) { uk_omp_binding = binding; }
