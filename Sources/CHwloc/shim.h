#ifndef UNLOCKED_CHWLOC_SHIM_H
#define UNLOCKED_CHWLOC_SHIM_H
#include <hwloc.h>
#endif
