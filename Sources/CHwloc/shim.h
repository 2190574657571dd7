#ifndef UNLOCKED_CHWLOC_SHIM_H
#define UNLOCKED_CHWLOC_SHIM_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getcpu, CPU_SET */
#endif
#include <sched.h>
#include <hwloc.h>

/* CPU_SET and friends are macros Swift cannot call. */
static inline int uk_bind_self_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set);
}

/* The CPU the calling thread runs on now, or -1. */
static inline int uk_current_cpu(void) { return sched_getcpu(); }
#endif
