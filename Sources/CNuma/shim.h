#ifndef UNLOCKED_CNUMA_SHIM_H
#define UNLOCKED_CNUMA_SHIM_H
#include <numa.h>
#include <numaif.h>
#endif
