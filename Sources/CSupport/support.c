#define _GNU_SOURCE
#include "unlocked_support.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int uk_futex_wait(uint32_t *word, uint32_t expected) {
    long rc = syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
    return rc == 0 || errno == EAGAIN || errno == EINTR ? 0 : -1;
}

int uk_futex_wake(uint32_t *word, int count) {
    return (int)syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, count, NULL, NULL, 0);
}

int uk_memfd_create(const char *name) { return memfd_create(name, MFD_CLOEXEC); }

int uk_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int uk_set_parent_death_signal(int sig) { return prctl(PR_SET_PDEATHSIG, (unsigned long)sig, 0, 0, 0); }

int uk_set_thread_name(const char *name) { return prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0); }

int uk_open_tmpfile(const char *directory, unsigned mode) {
    return open(directory, O_TMPFILE | O_RDWR | O_CLOEXEC, (mode_t)mode);
}

void *uk_dlmopen_new(const char *path, int flags) {
    return dlmopen(LM_ID_NEWLM, path, flags);
}
