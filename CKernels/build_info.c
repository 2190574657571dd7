#include "include/unlocked_build.h"

#ifndef UK_GIT_COMMIT
#define UK_GIT_COMMIT "unknown"
#endif

const char *uk_build_commit(void) { return UK_GIT_COMMIT; }
