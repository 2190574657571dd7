/* unlocked_build.h — what the binary was built from. */
#ifndef UNLOCKED_BUILD_H
#define UNLOCKED_BUILD_H

/* The git commit the Makefile passed as -DUK_GIT_COMMIT, or "unknown" for a
 * plain `swift build`. Compiled into C because SwiftPM has no way to define
 * a value for Swift code from the command line. */
const char *uk_build_commit(void);

#endif
