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

/* mbind(2) on [start, start+len) with a one-word node mask (nodes 0-63);
 * returns 0, or -1 with errno set. */
static inline long uk_mbind(void *start, unsigned long len, int mode, unsigned long mask) {
    unsigned long nodes[1] = { mask };
    return mbind(start, len, mode, mode == MPOL_DEFAULT ? NULL : nodes,
                 mode == MPOL_DEFAULT ? 0 : 8 * sizeof(unsigned long) + 1, 0);
}
#endif
