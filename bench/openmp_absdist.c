/*
 * openmp_absdist.c — the OpenMP baselines Unlocked's lockfree-pool is held to.
 *
 *   gcc -O3 -march=native -fopenmp bench/openmp_absdist.c -o bench/out/openmp_absdist
 *   OMP_NUM_THREADS=2 OMP_PROC_BIND=close OMP_PLACES=cores bench/out/openmp_absdist [elements]
 *
 * Prints two measurements (median of repetitions):
 *   1. the round trip of an empty `parallel for` (one iteration per thread, no
 *      work): what OpenMP pays to fork and join a team, as EPCC's syncbench;
 *   2. `parallel for simd reduction(+:sum)` of |x[i] - 50| over int32 data
 *      (default 256Mi elements), each thread first-touching the part it sums,
 *      with the same 64-bit lanes as Unlocked's absdist.sum. The data are the
 *      same SplitMix64 values as `unlocked run --seed 42`, so the sums match.
 */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, n, sizeof *v, compare);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* DataGenerator of Unlocked: SplitMix64 of seed + i·γ, Lemire's range [0, 100). */
static inline int32_t element(uint64_t seed, uint64_t i) {
    uint64_t z = seed + i * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (int32_t)(((unsigned __int128)z * 100) >> 64);
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : (size_t)256 << 20;
    int threads = omp_get_max_threads();

    /* 1. Empty parallel-for round trip. */
    enum { batches = 51, per_batch = 2000 };
    double rt[batches];
    for (int b = 0; b < batches; b++) {
        double t0 = now_ns();
        for (int r = 0; r < per_batch; r++) {
#pragma omp parallel for schedule(static)
            for (int i = 0; i < threads; i++) __asm__ __volatile__("" ::: "memory");
        }
        rt[b] = (now_ns() - t0) / per_batch;
    }
    printf("threads %d\n", threads);
    printf("empty parallel for: median %.1f ns per round trip (%d batches of %d)\n", median(rt, batches), batches, per_batch);

    /* 2. absdist sum with first-touch initialisation. */
    int32_t *x = aligned_alloc(4096, (n * sizeof *x + 4095) / 4096 * 4096);
    if (!x) { fprintf(stderr, "cannot allocate %zu elements\n", n); return 70; }
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) x[i] = element(42, i);

    enum { reps = 11 };
    double t[reps];
    uint64_t sum = 0;
    for (int r = 0; r < reps + 1; r++) {
        uint64_t s = 0;
        double t0 = now_ns();
#pragma omp parallel for simd schedule(static) reduction(+ : s)
        for (size_t i = 0; i < n; i++) {
            int32_t d = x[i] - 50;
            s += (uint32_t)(d < 0 ? -d : d);
        }
        double dt = now_ns() - t0;
        if (r > 0) t[r - 1] = dt; /* the first is a warm-up */
        sum = s;
    }
    double m = median(t, reps);
    printf("parallel for simd reduction absdist: %zu int32, sum %llu, median %.3f ms, %.2f GB/s, %.2f G elements/s\n",
           n, (unsigned long long)sum, m / 1e6, n * 4.0 / m, n / m);
    free(x);
    return 0;
}
