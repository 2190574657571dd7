#define _GNU_SOURCE
#include "unlocked_support.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>
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

int uk_timed_join(unsigned long thread, int milliseconds) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += milliseconds / 1000;
    deadline.tv_nsec += (long)(milliseconds % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) { deadline.tv_sec += 1; deadline.tv_nsec -= 1000000000L; }
    return pthread_timedjoin_np((pthread_t)thread, NULL, &deadline);
}

int uk_get_thread_affinity(uk_affinity *mask) {
    memset(mask, 0, sizeof *mask);
    return sched_getaffinity(0, sizeof mask->bits, (cpu_set_t *)mask->bits);
}

int uk_set_thread_affinity(const uk_affinity *mask) {
    return sched_setaffinity(0, sizeof mask->bits, (const cpu_set_t *)mask->bits);
}

int uk_current_cpu(void) { return sched_getcpu(); }
