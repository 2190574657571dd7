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
