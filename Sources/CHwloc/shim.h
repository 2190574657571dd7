#ifndef UNLOCKED_CHWLOC_SHIM_H
#define UNLOCKED_CHWLOC_SHIM_H
#include <hwloc.h>
#include <stddef.h>
#include <string.h>

/* glibc declares these only under _GNU_SOURCE, which a module cannot set
 * without clashing with Glibc's own view of the system headers. */
extern int sched_setaffinity(int pid, size_t size, const void *mask);
extern int sched_getcpu(void);

/* Binds the calling thread to one OS CPU (CPU_SET is a macro Swift cannot call). */
static inline int uk_bind_self_to_cpu(int cpu) {
    unsigned long mask[1024 / (8 * sizeof(unsigned long))];
    if (cpu < 0 || (size_t)cpu >= 8 * sizeof mask) return -1;
    memset(mask, 0, sizeof mask);
    mask[cpu / (8 * sizeof(unsigned long))] |= 1UL << (cpu % (8 * sizeof(unsigned long)));
    return sched_setaffinity(0, sizeof mask, mask);
}

/* The CPU the calling thread runs on now, or -1. */
static inline int uk_current_cpu(void) { return sched_getcpu(); }
#endif
