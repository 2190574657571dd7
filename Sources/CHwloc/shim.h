#ifndef UNLOCKED_CHWLOC_SHIM_H
#define UNLOCKED_CHWLOC_SHIM_H
#include <hwloc.h>
#include <stddef.h>
#include <string.h>

/* glibc declares this only under _GNU_SOURCE, which a module cannot set
 * without clashing with Glibc's own view of the system headers. */
extern int sched_getcpu(void);
extern int sched_getaffinity(int pid, size_t size, void *mask);
extern int sched_setaffinity(int pid, size_t size, const void *mask);

/* The calling thread's affinity, as a mask of up to 1024 CPUs. */
typedef struct uk_affinity { unsigned long bits[1024 / (8 * sizeof(unsigned long))]; } uk_affinity;

static inline int uk_get_thread_affinity(uk_affinity *mask) {
    memset(mask, 0, sizeof *mask);
    return sched_getaffinity(0, sizeof mask->bits, mask->bits);
}

static inline int uk_set_thread_affinity(const uk_affinity *mask) {
    return sched_setaffinity(0, sizeof mask->bits, mask->bits);
}

/* The CPU the calling thread runs on now, or -1. */
static inline int uk_current_cpu(void) { return sched_getcpu(); }

/* HWLOC_UNKNOWN_INDEX is a cast macro Swift does not import. */
static inline unsigned uk_hwloc_unknown_index(void) { return HWLOC_UNKNOWN_INDEX; }

/* Bytes of a cache object, 0 for anything else (attr is a union). */
static inline unsigned long long uk_hwloc_cache_size(const struct hwloc_obj *obj) {
    return hwloc_obj_type_is_cache(obj->type) && obj->attr ? obj->attr->cache.size : 0;
}

/* Local memory of a NUMA node object, 0 for anything else. */
static inline unsigned long long uk_hwloc_numa_memory(const struct hwloc_obj *obj) {
    return obj->type == HWLOC_OBJ_NUMANODE && obj->attr ? obj->attr->numanode.local_memory : 0;
}

#endif
