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
#include <signal.h>
#include <sys/socket.h>
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

static _Thread_local uint64_t caller_pin_owner;
uint64_t uk_caller_pin_owner(void) { return caller_pin_owner; }
void uk_set_caller_pin_owner(uint64_t owner) { caller_pin_owner = owner; }

int uk_close_descriptors_except(int keep) {
    if (keep > 3 && close_range(3, (unsigned)keep - 1, 0) != 0) return -1;
    return close_range(keep >= 3 ? (unsigned)keep + 1 : 3, ~0U, 0);
}

int uk_current_cpu(void) { return sched_getcpu(); }

int32_t uk_thread_id(void) { return (int32_t)syscall(SYS_gettid); }

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

/* Where glibc keeps the calling thread's id, or NULL: the descriptor glibc
 * exports for libthread_db is { bits, count, offset into struct pthread }. */
static pid_t *thread_id_field(void) {
    const uint32_t *descriptor = dlsym(RTLD_DEFAULT, "_thread_db_pthread_tid");
    if (descriptor == NULL || descriptor[0] != 8 * sizeof(pid_t) || descriptor[1] != 1) return NULL;
    pid_t *field = (pid_t *)((char *)pthread_self() + descriptor[2]);
    return *field == (pid_t)syscall(SYS_gettid) ? field : NULL;
}

int uk_fork_sibling_ready(void) { return thread_id_field() != NULL; }

int uk_fork_sibling(void) {
    pid_t *thread_id = thread_id_field();
    if (thread_id == NULL) { errno = ENOSYS; return -1; }
    const unsigned long flags = CLONE_PARENT | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
    /* clone3's first version of struct clone_args (Linux 5.3). No exit signal: with
     * CLONE_PARENT the child inherits the caller's (SIGCHLD), and clone3 refuses another. */
    struct { uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls; } args = {
        .flags = flags, .child_tid = (uint64_t)(uintptr_t)thread_id,
    };
    long pid = syscall(SYS_clone3, &args, sizeof args);
    /* Container seccomp profiles often answer clone3 with ENOSYS: clone's argument order is per architecture. */
    if (pid == -1 && errno == ENOSYS) {
#if defined(__x86_64__)
        pid = syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, thread_id, 0UL);
#else
        pid = syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, 0UL, thread_id);
#endif
    }
    return (int)pid;
}

int uk_socketpair_packets(int fds[2]) { return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds); }

long uk_send_with_fds(int socket, const void *bytes, size_t count, const int *fds, int nfds) {
    struct iovec data = { .iov_base = (void *)bytes, .iov_len = count };
    union { struct cmsghdr header; char room[CMSG_SPACE(4 * sizeof(int))]; } control;
    struct msghdr message = { .msg_iov = &data, .msg_iovlen = 1 };
    if (nfds < 0 || nfds > 4) { errno = EINVAL; return -1; }
    if (nfds > 0) {
        memset(&control, 0, sizeof control);
        message.msg_control = control.room;
        message.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(header), fds, nfds * sizeof(int));
    }
    long sent;
    do { sent = sendmsg(socket, &message, MSG_NOSIGNAL); } while (sent == -1 && errno == EINTR);
    return sent;
}

long uk_receive_with_fds(int socket, void *bytes, size_t capacity, int *fds, int maxfds, int *nfds) {
    struct iovec data = { .iov_base = bytes, .iov_len = capacity };
    union { struct cmsghdr header; char room[CMSG_SPACE(4 * sizeof(int))]; } control;
    struct msghdr message = { .msg_iov = &data, .msg_iovlen = 1, .msg_control = control.room, .msg_controllen = sizeof control.room };
    long received;
    do { received = recvmsg(socket, &message, MSG_CMSG_CLOEXEC); } while (received == -1 && errno == EINTR);
    *nfds = 0;
    if (received < 0) return received;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header != NULL; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
        int count = (int)((header->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int *passed = (int *)CMSG_DATA(header);
        for (int i = 0; i < count; i++) {
            if (*nfds < maxfds) fds[(*nfds)++] = passed[i]; else close(passed[i]);  /* never leak extras */
        }
    }
    return received;
}
