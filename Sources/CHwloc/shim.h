#ifndef UNLOCKED_CHWLOC_SHIM_H
#define UNLOCKED_CHWLOC_SHIM_H
#include <hwloc.h>
#include <stddef.h>
#include <string.h>

/* Thread affinity (uk_affinity, uk_get/set_thread_affinity, uk_current_cpu)
 * lives in CSupport: threads are bound without hwloc. */

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
