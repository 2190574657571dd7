/*
 * The baseline of issue 3's performance check: the plain C loop, compiled
 * by `gcc -O3 -march=native`, single thread, over the same data as
 * `unlocked run` (DataGenerator: SplitMix64 of seed + i·γ, uniform integers
 * in [0, 100) by Lemire's multiply-shift; seed 42, centre 50).
 *
 * The loop is what a C programmer would write for an exact int32 result:
 * widen to int64, take the absolute value, add into a uint64. It is timed
 * the way `unlocked run` times a kernel: one call over the whole array per
 * repetition, one warm-up, median of the repetitions.
 *
 *   gcc -O3 -march=native -o absdist_loop bench/absdist_loop.c
 *   ./absdist_loop 65536 200
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t generator_bits(uint64_t seed, uint64_t index) {
    uint64_t z = seed + index * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

__attribute__((noinline)) static uint64_t absdist_sum(const int32_t *x, size_t n, int32_t c) {
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        const int64_t d = (int64_t)x[i] - c;
        sum += (uint64_t)(d < 0 ? -d : d);
    }
    return sum;
}

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    const size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 65536;
    const int reps = argc > 2 ? atoi(argv[2]) : 200;
    const uint64_t seed = 42;
    const int32_t center = 50;
    if (n == 0 || reps <= 0) {
        fprintf(stderr, "usage: %s [elements > 0] [reps > 0]\n", argv[0]);
        return 64;
    }
    int32_t *x = aligned_alloc(4096, (n * sizeof *x + 4095) / 4096 * 4096);
    double *samples = malloc((size_t)reps * sizeof *samples);
    if (!x || !samples) {
        fprintf(stderr, "%s: cannot allocate %zu elements\n", argv[0], n);
        return 70;
    }
    for (size_t i = 0; i < n; i++)
        x[i] = (int32_t)(((unsigned __int128)generator_bits(seed, i) * 100) >> 64);

    uint64_t result = absdist_sum(x, n, center); /* warm-up */
    for (int r = 0; r < reps; r++) {
        const double start = now_ns();
        result = absdist_sum(x, n, center);
        samples[r] = now_ns() - start;
        __asm__ volatile("" ::"r"(result) : "memory"); /* keep every repetition */
    }
    qsort(samples, (size_t)reps, sizeof *samples, by_value);
    const double median = samples[reps / 2];
    printf("plain C loop (gcc -O3 -march=native) absdist.sum i32\n");
    printf("size        %zu elements\n", n);
    printf("result      %" PRIu64 "\n", result);
    printf("time        median %.2f us  min %.2f us  (%d reps, 1 warm-up)\n", median / 1e3, samples[0] / 1e3, reps);
    printf("throughput  %.3f G elements/s, %.2f GB/s\n", (double)n / median, (double)n * 4 / median);
    free(samples);
    free(x);
    return 0;
}
