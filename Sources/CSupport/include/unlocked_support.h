/*
 * unlocked_support.h — the few Linux calls the engines need that Swift
 * cannot reach directly: futex, memfd, pipe2, prctl (all variadic, macros or
 * _GNU_SOURCE-only in glibc), plus C11 atomics on plain words whose address
 * we need (a futex waits on an address; Synchronization.Atomic gives none).
 */
#ifndef UNLOCKED_SUPPORT_H
#define UNLOCKED_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/* The calling thread's affinity, as a mask of up to 1024 CPUs. */
typedef struct uk_affinity { unsigned long bits[1024 / (8 * sizeof(unsigned long))]; } uk_affinity;

/* sched_getaffinity/sched_setaffinity of the calling thread (glibc declares
 * them only under _GNU_SOURCE, which a module cannot set). 0, or -1 and errno. */
int uk_get_thread_affinity(uk_affinity *mask);
int uk_set_thread_affinity(const uk_affinity *mask);

/* Which engine last pinned the calling thread (a token of its CallerBinding; 0: none). */
uint64_t uk_caller_pin_owner(void);
void uk_set_caller_pin_owner(uint64_t owner);

/* Closes every descriptor from 3 up but `keep` (close_range). 0, or -1 and errno. */
int uk_close_descriptors_except(int keep);

/* The CPU the calling thread runs on now, or -1 (sched_getcpu). */
int uk_current_cpu(void);

/* The calling thread's kernel id (gettid): where /proc/self/task shows it. */
int32_t uk_thread_id(void);

/* Blocks while *word == expected (FUTEX_WAIT_PRIVATE). Returns 0 when woken
 * or when *word already differed, -1 with errno on other failures. */
int uk_futex_wait(uint32_t *word, uint32_t expected);
/* Wakes up to `count` waiters on word (FUTEX_WAKE_PRIVATE). */
int uk_futex_wake(uint32_t *word, int count);

/* An anonymous shared-memory file (close-on-exec), or -1 with errno. */
int uk_memfd_create(const char *name);
/* pipe2(fds, O_CLOEXEC): neither end leaks into other children. */
int uk_pipe_cloexec(int fds[2]);
/* open(directory, O_TMPFILE | O_RDWR | O_CLOEXEC, mode): an unnamed file in
 * `directory`, linked in later or gone with its last descriptor. -1 and errno
 * where the file system has no O_TMPFILE. */
int uk_open_tmpfile(const char *directory, unsigned mode);
/* dlmopen(LM_ID_NEWLM, path, flags): the library and its dependencies (libc
 * included) loaded into a new link-map namespace, with globals of their own.
 * NULL with dlerror() set on failure; glibc allows at most 16 namespaces,
 * fewer when their copies of libc exhaust the static TLS surplus. */
void *uk_dlmopen_new(const char *path, int flags);
/* pthread_timedjoin_np with a timeout from now: 0 when joined, ETIMEDOUT if
 * the thread still runs. */
int uk_timed_join(unsigned long thread, int milliseconds);  /* thread: a pthread_t */
/* prctl(PR_SET_PDEATHSIG, sig): this process gets `sig` when its parent dies. */
int uk_set_parent_death_signal(int sig);
/* The fork server's calls (ForkServer.swift).
 * uk_fork_sibling: fork(), except that the child's parent is the caller's
 * parent (clone with CLONE_PARENT), so a server forks workers that are the
 * engine's own children: it waits for them, they die with it. Like glibc's
 * fork it records the child's thread id where glibc keeps it (found through
 * the `_thread_db_pthread_tid` descriptor glibc exports for debuggers), and
 * runs no atfork handlers: only a single-threaded process may call it.
 * uk_fork_sibling_ready says whether this C library lets it (1: the
 * descriptor is there and points at the calling thread's id), or not (0).
 * -1 and errno on failure. */
int uk_fork_sibling_ready(void);
int uk_fork_sibling(void);
/* socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC): messages keep their
 * boundaries and can carry descriptors. */
int uk_socketpair_packets(int fds[2]);
/* One message of `count` bytes with `nfds` descriptors (SCM_RIGHTS):
 * the bytes sent, or -1 and errno. */
long uk_send_with_fds(int socket, const void *bytes, size_t count, const int *fds, int nfds);
/* One message into `bytes` and up to `maxfds` descriptors (close-on-exec),
 * their number in *nfds: the bytes received (0 at end of file), or -1 and errno. */
long uk_receive_with_fds(int socket, void *bytes, size_t capacity, int *fds, int maxfds, int *nfds);
/* Names the calling thread (at most 15 characters are kept). */
int uk_set_thread_name(const char *name);

/* Writable bytes of a plugin error buffer: far more than the UK_ERROR_CAPACITY
 * a plugin is promised, so an overlong message lands in memory nobody uses. */
#define UK_ERROR_BUFFER_ROOM (64 * 1024)
/* The calling thread's plugin error buffer: UK_ERROR_BUFFER_ROOM writable
 * bytes followed by an inaccessible guard page, so a plugin writing past the
 * room faults at once instead of smashing the host's stack or heap. Mapped on
 * a thread's first call and kept for its later ones; at thread exit it goes to
 * a pool the next new thread takes it from. NULL with errno if it cannot be
 * mapped. (A thread-local, which Swift cannot declare.) */
char *uk_thread_error_buffer(void);

/* Spin-wait hint (PAUSE on x86, YIELD on Arm). */
static inline void uk_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Sequentially consistent unless the name says otherwise. */
static inline uint32_t uk_load_u32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static inline uint32_t uk_load_acquire_u32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void uk_store_u32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
static inline void uk_store_release_u32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline uint32_t uk_fetch_add_u32(uint32_t *p, uint32_t v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
static inline uint32_t uk_fetch_sub_u32(uint32_t *p, uint32_t v) { return __atomic_fetch_sub(p, v, __ATOMIC_SEQ_CST); }
static inline int64_t uk_fetch_add_relaxed_i64(int64_t *p, int64_t v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
static inline int64_t uk_load_relaxed_i64(const int64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void uk_store_relaxed_i64(int64_t *p, int64_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }

#endif
