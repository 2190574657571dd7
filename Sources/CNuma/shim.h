#ifndef UNLOCKED_CNUMA_SHIM_H
#define UNLOCKED_CNUMA_SHIM_H
#include <numa.h>
#include <numaif.h>
#include <errno.h>

/* Where each page lives now: numa_move_pages with no target nodes only queries.
 * status[i] is a node number or a negative errno (-ENOENT: not yet touched). */
static inline int uk_query_page_nodes(unsigned long count, void **pages, int *status) {
    return numa_move_pages(0, count, pages, NULL, status, 0);
}

/* mbind(2) on [start, start+len) to the nodes set in `mask`, `bits` bits
 * wide (any multiple of the word size, so nodes above 63 work). The kernel
 * reads maxnode - 1 bits, hence bits + 1, as libnuma passes size + 1.
 * Returns 0, or -1 with errno set. */
static inline long uk_mbind(void *start, unsigned long len, int mode, const unsigned long *mask, unsigned long bits) {
    return mbind(start, len, mode, mode == MPOL_DEFAULT ? NULL : mask, mode == MPOL_DEFAULT ? 0 : bits + 1, 0);
}
#endif
