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
#include <pthread.h>
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

/* Error buffers of exited threads, reused by new ones so that engines that
 * start threads per job (spawn) do not map and unmap one per thread. */
#define ERROR_POOL_MAX 256
static pthread_mutex_t error_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static char *error_pool[ERROR_POOL_MAX]; /* protected by error_pool_lock */
static int error_pool_count;             /* protected by error_pool_lock */
static pthread_key_t error_key;
static pthread_once_t error_key_once = PTHREAD_ONCE_INIT;
static _Thread_local char *thread_error_buffer;

static size_t error_mapping_size(void) { return UK_ERROR_BUFFER_ROOM + (size_t)sysconf(_SC_PAGESIZE); }

/* pthread key destructor: runs when a thread that used its buffer exits. */
static void error_buffer_release(void *buffer) {
    thread_error_buffer = NULL;
    pthread_mutex_lock(&error_pool_lock);
    if (error_pool_count < ERROR_POOL_MAX) {
        error_pool[error_pool_count++] = buffer;
        buffer = NULL;
    }
    pthread_mutex_unlock(&error_pool_lock);
    if (buffer) munmap(buffer, error_mapping_size());
}

static void error_key_create(void) { pthread_key_create(&error_key, error_buffer_release); }

char *uk_thread_error_buffer(void) {
    if (thread_error_buffer) return thread_error_buffer;
    pthread_once(&error_key_once, error_key_create);
    char *buffer = NULL;
    pthread_mutex_lock(&error_pool_lock);
    if (error_pool_count > 0) buffer = error_pool[--error_pool_count];
    pthread_mutex_unlock(&error_pool_lock);
    if (!buffer) {
        void *mapped = mmap(NULL, error_mapping_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mapped == MAP_FAILED) return NULL;
        if (mprotect((char *)mapped + UK_ERROR_BUFFER_ROOM, error_mapping_size() - UK_ERROR_BUFFER_ROOM, PROT_NONE) != 0) {
            int saved = errno;
            munmap(mapped, error_mapping_size());
            errno = saved;
            return NULL;
        }
        buffer = mapped;
    }
    pthread_setspecific(error_key, buffer);
    thread_error_buffer = buffer;
    return buffer;
}
