/*
 * The `openmp` engine's region, compiled by gcc -fopenmp (libgomp) into the
 * shared object the engine loads; not part of the COpenMP target. The kernel
 * calls stay in Swift (`chunk`), so OpenMP schedules exactly the calls every
 * other engine makes.
 */
#include <omp.h>

#include "uk_openmp.h"

__attribute__((visibility("default"))) int32_t uk_omp_run(const uk_omp_region *region) {
    if (region->size != sizeof(uk_omp_region)) return -1;
    const int64_t chunks = region->chunks;
    const int dynamic = region->schedule == UK_OMP_DYNAMIC;
#pragma omp parallel num_threads(region->threads)
    {
        const int32_t thread = omp_get_thread_num();
        region->begin(region->context, thread, omp_get_num_threads());
        if (dynamic) {
#pragma omp for schedule(dynamic, 1) nowait
            for (int64_t i = 0; i < chunks; i++) region->chunk(region->context, thread, i);
        } else {
#pragma omp for schedule(static) nowait
            for (int64_t i = 0; i < chunks; i++) region->chunk(region->context, thread, i);
        }
        region->end(region->context, thread, omp_get_num_threads());
    }
    return 0;
}
