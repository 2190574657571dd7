/*
 * capi_test.c — exercises libunlocked through unlocked.h as an embedding
 * program would: results against exact sums computed here, every engine,
 * a plugin, bad arguments, busy runtimes, thread counts, fork, and what the
 * library must leave alone (signal dispositions, descriptors 0-2).
 *
 * Usage: capi_test PLUGIN_SO [--no-fork]
 *   PLUGIN_SO  the sqdist example plugin
 *   --no-fork  leaves out the fork checks, for the thread sanitizer, which
 *              does not support starting threads in a forked child
 * Prints one line per failed check and exits 1 if any failed.
 */
#define _GNU_SOURCE
#include "unlocked.h"

#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef unsigned __int128 u128;
typedef __int128 i128;

static int failures;
static const char *plugin_path;

#define CHECK(cond, ...)                                                \
    do {                                                                \
        if (!(cond)) {                                                  \
            failures++;                                                 \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);        \
            fprintf(stderr, __VA_ARGS__);                               \
            fprintf(stderr, "\n");                                      \
        }                                                               \
    } while (0)

/* A failed call: the status and a non-empty one-line message. */
#define CHECK_FAILS(call, expected, ...)                                                   \
    do {                                                                                   \
        int status_ = (call);                                                              \
        const char *message_ = unlocked_last_error();                                      \
        CHECK(status_ == (expected), "%s: status %d, expected %d (%s)", #call, status_,    \
              (int)(expected), message_);                                                  \
        CHECK(message_ && message_[0] && !strchr(message_, '\n'),                          \
              "%s: message \"%s\" is not one non-empty line", #call, message_ ? message_ : "(null)"); \
    } while (0)

static unlocked_runtime *make_runtime(const char *engine, uint32_t workers, const char *pin) {
    unlocked_options options = {sizeof options, workers, engine, pin, NULL, NULL};
    unlocked_runtime *runtime = NULL;
    int status = unlocked_runtime_create(&options, &runtime);
    CHECK(status == UNLOCKED_OK && runtime, "create %s: %d %s", engine, status, unlocked_last_error());
    return runtime;
}

static u128 value_u128(const unlocked_result *r) { return ((u128)r->hi << 64) | r->lo; }

static void print_u128(const char *label, u128 v) {
    char digits[40];
    int n = 0;
    do digits[n++] = (char)('0' + (int)(v % 10)); while ((v /= 10) != 0);
    fprintf(stderr, "  %s ", label);
    while (n) fputc(digits[--n], stderr);
    fputc('\n', stderr);
}

/* Reference sums, computed the obvious way. */
static u128 absdist_i32(const int32_t *x, size_t n, int64_t c) {
    u128 s = 0;
    for (size_t i = 0; i < n; i++) s += (u128)(x[i] >= c ? (int64_t)x[i] - c : c - (int64_t)x[i]);
    return s;
}
static u128 absdist_i64(const int64_t *x, size_t n, int64_t c) {
    u128 s = 0;
    for (size_t i = 0; i < n; i++) s += x[i] >= c ? (u128)((uint64_t)x[i] - (uint64_t)c) : (u128)((uint64_t)c - (uint64_t)x[i]);
    return s;
}

static int32_t *talk_data(size_t n) {
    int32_t *x = malloc(n * sizeof *x);
    uint64_t state = 42;
    for (size_t i = 0; i < n; i++) {
        state = state * 6364136223846793005u + 1442695040888963407u;
        x[i] = (int32_t)((state >> 33) % 100);
    }
    return x;
}

static void test_version(void) {
    CHECK(unlocked_version() >> 16 == UNLOCKED_API_MAJOR, "major %u", unlocked_version() >> 16);
    CHECK((int)(unlocked_version() & 0xffff) >= UNLOCKED_API_MINOR, "minor %u", unlocked_version() & 0xffff);
    CHECK(unlocked_get_version() && unlocked_get_version()[0], "get_version empty");
    CHECK(unlocked_last_error() && unlocked_last_error()[0] == 0, "last error before any failure: \"%s\"", unlocked_last_error());
}

/* The same exact result from every engine, and map output equal to |x - c|. */
static void test_engines(void) {
    const size_t n = 1000003;
    int32_t *x = talk_data(n);
    x[0] = INT32_MIN, x[1] = INT32_MAX;
    u128 expected = absdist_i32(x, n, 50);
    const char *engines[] = {"sequential", "spawn", "gil", "locked-pool", "lockfree-pool", "tasks", "gcd",
                             "processes-shm", "processes-pipe", "auto"};
    uint32_t *out = malloc(n * sizeof *out);
    for (size_t e = 0; e < sizeof engines / sizeof *engines; e++) {
        unlocked_runtime *runtime = make_runtime(engines[e], 2, NULL);
        if (!runtime) continue;
        unlocked_result r = {sizeof r};
        int status = unlocked_run(runtime, "absdist.sum", UNLOCKED_I32, x, n, 50, 50.0, NULL, 0, 0, &r);
        CHECK(status == UNLOCKED_OK, "%s absdist.sum: %d %s", engines[e], status, unlocked_last_error());
        CHECK(r.value_kind == UNLOCKED_VALUE_UINT128, "%s value kind %d", engines[e], r.value_kind);
        if (value_u128(&r) != expected) {
            CHECK(0, "%s: absdist.sum differs", engines[e]);
            print_u128("got", value_u128(&r));
            print_u128("expected", expected);
        }
        CHECK(r.engine[0] && r.workers >= 1, "%s: result names no engine", engines[e]);
        memset(out, 0xff, n * sizeof *out);
        status = unlocked_run(runtime, "absdist.map", UNLOCKED_I32, x, n, 50, 50.0, out, UNLOCKED_U32, n, NULL);
        CHECK(status == UNLOCKED_OK, "%s absdist.map: %d %s", engines[e], status, unlocked_last_error());
        size_t wrong = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t d = (uint32_t)(x[i] >= 50 ? (int64_t)x[i] - 50 : 50 - (int64_t)x[i]);
            wrong += out[i] != d;
        }
        CHECK(wrong == 0, "%s: %zu map elements differ", engines[e], wrong);
        CHECK(unlocked_runtime_destroy(runtime) == UNLOCKED_OK, "destroy %s", engines[e]);
    }
    free(out);
    free(x);
}

/* Extremes of every type, signed stream sums, floats within their bound. */
static void test_types(void) {
    unlocked_runtime *runtime = make_runtime("lockfree-pool", 2, NULL);
    unlocked_result r = {sizeof r};

    int64_t y[] = {INT64_MIN, INT64_MAX, INT64_MIN, -1, 0, INT64_MAX};
    size_t ny = sizeof y / sizeof *y;
    CHECK(unlocked_run(runtime, "absdist.sum", UNLOCKED_I64, y, ny, INT64_MAX, 0, NULL, 0, 0, &r) == UNLOCKED_OK, "i64 sum: %s", unlocked_last_error());
    CHECK(value_u128(&r) == absdist_i64(y, ny, INT64_MAX), "i64 absdist.sum with extremes differs");
    i128 stream = 0;
    for (size_t i = 0; i < ny; i++) stream += y[i];
    CHECK(unlocked_run(runtime, "stream.sum", UNLOCKED_I64, y, ny, 0, 0, NULL, 0, 0, &r) == UNLOCKED_OK, "i64 stream: %s", unlocked_last_error());
    CHECK(r.value_kind == UNLOCKED_VALUE_INT128 && (i128)value_u128(&r) == stream, "i64 stream.sum differs (kind %d)", r.value_kind);

    double f[] = {1.5, -2.25, 1e300, -1e300, 0.0};
    CHECK(unlocked_run(runtime, "absdist.sum", UNLOCKED_F64, f, 5, 0, 0.5, NULL, 0, 0, &r) == UNLOCKED_OK, "f64: %s", unlocked_last_error());
    CHECK(r.value_kind == UNLOCKED_VALUE_FLOAT64 && r.f == 1.0 + 2.75 + 2e300 + 0.5, "f64 absdist.sum = %g", r.f);
    float g[] = {-3.0f, 4.0f};
    CHECK(unlocked_run(runtime, "absdist.sum", UNLOCKED_F32, g, 2, 0, 1.0, NULL, 0, 0, &r) == UNLOCKED_OK && r.f == 7.0, "f32 absdist.sum = %g", r.f);

    /* An empty job, NULL input allowed. */
    CHECK(unlocked_run(runtime, "absdist.sum", UNLOCKED_I32, NULL, 0, 50, 0, NULL, 0, 0, &r) == UNLOCKED_OK && value_u128(&r) == 0,
          "empty sum: %s", unlocked_last_error());
    unlocked_kernel_info info = {sizeof info};
    CHECK(unlocked_query_kernel(runtime, "absdist.map", UNLOCKED_I64, &info) == UNLOCKED_OK && info.kind == UNLOCKED_KIND_MAP &&
          info.output_dtype == UNLOCKED_U64 && info.value_kind == UNLOCKED_VALUE_NONE, "query absdist.map i64");
    CHECK(unlocked_query_kernel(runtime, "stream.sum", UNLOCKED_F32, &info) == UNLOCKED_OK && info.kind == UNLOCKED_KIND_REDUCE &&
          info.value_kind == UNLOCKED_VALUE_FLOAT64, "query stream.sum f32");
    unlocked_runtime_destroy(runtime);
}

static void test_bad_arguments(void) {
    int32_t x[4] = {1, 2, 3, 4};
    uint32_t out[4];
    unlocked_result r = {sizeof r};
    unlocked_runtime *runtime = NULL;
    unlocked_options options = {sizeof options};

    CHECK_FAILS(unlocked_runtime_create(&options, NULL), UNLOCKED_E_ARGUMENT);
    options.size = 4;
    CHECK_FAILS(unlocked_runtime_create(&options, &runtime), UNLOCKED_E_ARGUMENT);
    CHECK(runtime == NULL, "failed create left a handle");
    options.size = sizeof options;
    options.engine = "threads-please";
    CHECK_FAILS(unlocked_runtime_create(&options, &runtime), UNLOCKED_E_OPTION);
    CHECK(strstr(unlocked_last_error(), "threads-please") && strstr(unlocked_last_error(), "lockfree-pool"),
          "engine message names neither the value nor what is accepted: %s", unlocked_last_error());
    options.engine = NULL;
    options.workers = 5000;
    CHECK_FAILS(unlocked_runtime_create(&options, &runtime), UNLOCKED_E_OPTION);
    options.workers = 0;
    options.pin = "everywhere";
    CHECK_FAILS(unlocked_runtime_create(&options, &runtime), UNLOCKED_E_OPTION);
    CHECK(!strstr(unlocked_last_error(), "--"), "pin message speaks CLI flags: %s", unlocked_last_error());
    options.pin = "compact";
    options.workers = 64;
    CHECK_FAILS(unlocked_runtime_create(&options, &runtime), UNLOCKED_E_OPTION);
    CHECK(strstr(unlocked_last_error(), "pin \"none\""), "oversubscription message: %s", unlocked_last_error());
    options.pin = NULL;
    options.workers = 0;
    options.memory = "on-the-moon";
    CHECK_FAILS(unlocked_runtime_create(&options, &runtime), UNLOCKED_E_OPTION);
    options.memory = NULL;
    options.engine = "processes-shm";
    options.worker_executable = "/nonexistent/unlocked";
    CHECK_FAILS(unlocked_runtime_create(&options, &runtime), UNLOCKED_E_OPTION);
    CHECK(strstr(unlocked_last_error(), "/nonexistent/unlocked"), "executable message: %s", unlocked_last_error());

    runtime = make_runtime("lockfree-pool", 2, NULL);
    CHECK_FAILS(unlocked_run(NULL, "absdist.sum", UNLOCKED_I32, x, 4, 0, 0, NULL, 0, 0, &r), UNLOCKED_E_ARGUMENT);
    CHECK_FAILS(unlocked_run(runtime, NULL, UNLOCKED_I32, x, 4, 0, 0, NULL, 0, 0, &r), UNLOCKED_E_ARGUMENT);
    CHECK_FAILS(unlocked_run(runtime, "absdist.prod", UNLOCKED_I32, x, 4, 0, 0, NULL, 0, 0, &r), UNLOCKED_E_KERNEL);
    CHECK(strstr(unlocked_last_error(), "absdist.prod") && strstr(unlocked_last_error(), "absdist.sum"),
          "kernel message: %s", unlocked_last_error());
    CHECK_FAILS(unlocked_run(runtime, "absdist.sum", 0, x, 4, 0, 0, NULL, 0, 0, &r), UNLOCKED_E_DTYPE);
    CHECK_FAILS(unlocked_run(runtime, "absdist.sum", UNLOCKED_U32, x, 4, 0, 0, NULL, 0, 0, &r), UNLOCKED_E_DTYPE);
    CHECK_FAILS(unlocked_run(runtime, "absdist.sum", 99, x, 4, 0, 0, NULL, 0, 0, &r), UNLOCKED_E_DTYPE);
    CHECK_FAILS(unlocked_run(runtime, "absdist.sum", UNLOCKED_I32, NULL, 4, 0, 0, NULL, 0, 0, &r), UNLOCKED_E_ARGUMENT);
    CHECK_FAILS(unlocked_run(runtime, "absdist.sum", UNLOCKED_I32, x, 4, 0, 0, NULL, 0, 0, NULL), UNLOCKED_E_ARGUMENT);
    CHECK_FAILS(unlocked_run(runtime, "absdist.sum", UNLOCKED_I32, x, 4, 0, 0, out, UNLOCKED_U32, 4, &r), UNLOCKED_E_ARGUMENT);
    CHECK_FAILS(unlocked_run(runtime, "absdist.sum", UNLOCKED_I32, x, UINT64_MAX, 0, 0, NULL, 0, 0, &r), UNLOCKED_E_ARGUMENT);
    CHECK_FAILS(unlocked_run(runtime, "absdist.map", UNLOCKED_I32, x, 4, 0, 0, NULL, UNLOCKED_U32, 4, &r), UNLOCKED_E_ARGUMENT);
    CHECK_FAILS(unlocked_run(runtime, "absdist.map", UNLOCKED_I32, x, 4, 0, 0, out, UNLOCKED_I32, 4, &r), UNLOCKED_E_DTYPE);
    CHECK_FAILS(unlocked_run(runtime, "absdist.map", UNLOCKED_I32, x, 4, 0, 0, out, UNLOCKED_U32, 3, &r), UNLOCKED_E_ARGUMENT);
    unlocked_result small = {8};
    CHECK_FAILS(unlocked_run(runtime, "absdist.sum", UNLOCKED_I32, x, 4, 0, 0, NULL, 0, 0, &small), UNLOCKED_E_ARGUMENT);
    CHECK_FAILS(unlocked_runtime_load_plugin(runtime, "/nonexistent/libnothing.so"), UNLOCKED_E_PLUGIN);
    CHECK_FAILS(unlocked_runtime_load_plugin(runtime, NULL), UNLOCKED_E_ARGUMENT);
    CHECK_FAILS(unlocked_query_kernel(runtime, "absdist.sum", UNLOCKED_I32, NULL), UNLOCKED_E_ARGUMENT);
    CHECK_FAILS(unlocked_set_num_threads(0), UNLOCKED_E_ARGUMENT);
    CHECK_FAILS(unlocked_topology_json(NULL, 0, NULL), UNLOCKED_E_ARGUMENT);
    CHECK(unlocked_runtime_destroy(NULL) == UNLOCKED_OK, "destroy(NULL)");
    /* Still usable after all that. */
    CHECK(unlocked_run(runtime, "absdist.sum", UNLOCKED_I32, x, 4, 0, 0, NULL, 0, 0, &r) == UNLOCKED_OK && value_u128(&r) == 10,
          "runtime unusable after bad calls: %s", unlocked_last_error());
    unlocked_runtime_destroy(runtime);
}

/* Messages are per thread. */
static void *fail_elsewhere(void *arg) {
    (void)arg;
    unlocked_runtime *runtime = NULL;
    unlocked_options options = {sizeof options, 0, "nope", NULL, NULL, NULL};
    unlocked_runtime_create(&options, &runtime);
    return strstr(unlocked_last_error(), "nope") ? (void *)1 : NULL;
}

static void test_thread_local_errors(void) {
    CHECK_FAILS(unlocked_set_num_threads(-3), UNLOCKED_E_ARGUMENT);
    pthread_t thread;
    void *saw = NULL;
    pthread_create(&thread, NULL, fail_elsewhere, NULL);
    pthread_join(thread, &saw);
    CHECK(saw, "the other thread did not see its own message");
    CHECK(strstr(unlocked_last_error(), "-3"), "this thread's message changed: %s", unlocked_last_error());
}

struct busy_job {
    unlocked_runtime *runtime;
    const int32_t *x;
    size_t n;
    atomic_int inside;
    atomic_int done;
    atomic_int finished; /* run_long returned: no busy window can come any more */
};

static void *run_long(void *arg) {
    struct busy_job *job = arg;
    unlocked_result r = {sizeof r};
    for (int i = 0; i < 50 && !atomic_load(&job->done); i++) {
        atomic_store(&job->inside, 1);
        unlocked_run(job->runtime, "absdist.sum", UNLOCKED_I32, job->x, job->n, 50, 0, NULL, 0, 0, &r);
        atomic_store(&job->inside, 0);
    }
    atomic_store(&job->finished, 1);
    return NULL;
}

/* A second call on a busy runtime is refused with UNLOCKED_E_BUSY, not run. */
static void test_busy(void) {
    struct busy_job job = {make_runtime("sequential", 1, NULL), NULL, 64u << 20, 0, 0, 0};
    job.x = calloc(job.n, sizeof(int32_t));
    pthread_t thread;
    pthread_create(&thread, NULL, run_long, &job);
    int busy = 0, other = 0;
    unlocked_result r = {sizeof r};
    int32_t one = 7;
    /* Tried for as long as the other thread makes calls, not a fixed count: a slow
     * thread start (a loaded machine, TSan) must not end the test before it. */
    while (!busy && !atomic_load(&job.finished)) {
        if (!atomic_load(&job.inside)) continue;
        /* `inside` is set just before the other thread's call claims the runtime: calling at
         * once, this thread's one-element call would claim it first and the other's would be
         * the busy one. Its call takes milliseconds; a millisecond's head start is enough. */
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
        int status = unlocked_run(job.runtime, "absdist.sum", UNLOCKED_I32, &one, 1, 0, 0, NULL, 0, 0, &r);
        if (status == UNLOCKED_E_BUSY) busy = 1;
        else if (status != UNLOCKED_OK) other = status;
    }
    atomic_store(&job.done, 1);
    pthread_join(thread, NULL);
    CHECK(busy, "never saw UNLOCKED_E_BUSY while another thread ran a call");
    CHECK(other == 0, "a concurrent call failed with %d: %s", other, unlocked_last_error());
    CHECK(unlocked_runtime_destroy(job.runtime) == UNLOCKED_OK, "destroy after busy");
    free((void *)job.x);
}

/* workers = 0 follows unlocked_set_num_threads, as threadpoolctl expects. */
static void test_num_threads(void) {
    int initial = unlocked_get_num_threads();
    CHECK(initial >= 1, "default num threads %d", initial);
    unlocked_runtime *runtime = make_runtime("lockfree-pool", 0, NULL);
    int32_t x[1000] = {0};
    unlocked_result r = {sizeof r};
    for (int n = 1; n <= 3; n++) {
        CHECK(unlocked_set_num_threads(n) == UNLOCKED_OK && unlocked_get_num_threads() == n, "set_num_threads(%d)", n);
        CHECK(unlocked_run(runtime, "absdist.sum", UNLOCKED_I32, x, 1000, 0, 0, NULL, 0, 0, &r) == UNLOCKED_OK, "run: %s", unlocked_last_error());
        CHECK(r.workers == (uint32_t)n, "after set_num_threads(%d) the runtime ran %u workers", n, r.workers);
    }
    unlocked_set_num_threads(initial);
    unlocked_runtime_destroy(runtime);
}

/* A runtime created before fork() works in the child, and still in the parent. */
static void test_fork(void) {
    const char *engines[] = {"lockfree-pool", "auto", "processes-shm"};
    const size_t n = 1 << 20;
    int32_t *x = talk_data(n);
    u128 expected = absdist_i32(x, n, 50);
    for (size_t e = 0; e < 3; e++) {
        unlocked_runtime *runtime = make_runtime(engines[e], 2, NULL);
        unlocked_result r = {sizeof r};
        unlocked_run(runtime, "absdist.sum", UNLOCKED_I32, x, n, 50, 0, NULL, 0, 0, &r);
        pid_t child = fork();
        if (child == 0) {
            alarm(20);  /* a deadlock ends the child with SIGALRM */
            unlocked_result c = {sizeof c};
            int ok = 1;
            for (int i = 0; i < 3; i++) {
                ok &= unlocked_run(runtime, "absdist.sum", UNLOCKED_I32, x, n, 50, 0, NULL, 0, 0, &c) == UNLOCKED_OK;
                ok &= value_u128(&c) == expected;
            }
            ok &= unlocked_runtime_destroy(runtime) == UNLOCKED_OK;
            _exit(ok ? 0 : 1);
        }
        int status = 0;
        waitpid(child, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: forked child ended with status %#x", engines[e], status);
        CHECK(unlocked_run(runtime, "absdist.sum", UNLOCKED_I32, x, n, 50, 0, NULL, 0, 0, &r) == UNLOCKED_OK &&
              value_u128(&r) == expected, "%s: parent after fork: %s", engines[e], unlocked_last_error());
        unlocked_runtime_destroy(runtime);
    }
    free(x);
}

static void test_plugin(void) {
    unlocked_runtime *runtime = make_runtime("lockfree-pool", 2, NULL);
    int32_t x[5] = {-3, 0, 50, 60, INT32_MAX};
    unlocked_result r = {sizeof r};
    CHECK_FAILS(unlocked_run(runtime, "sqdist.sum", UNLOCKED_I32, x, 5, 50, 0, NULL, 0, 0, &r), UNLOCKED_E_KERNEL);
    CHECK(unlocked_runtime_load_plugin(runtime, plugin_path) == UNLOCKED_OK, "load %s: %s", plugin_path, unlocked_last_error());
    u128 expected = 0;
    for (int i = 0; i < 5; i++) {
        int64_t d = (int64_t)x[i] - 50;
        expected += (u128)((uint64_t)(d < 0 ? -d : d) * (uint64_t)(d < 0 ? -d : d));
    }
    CHECK(unlocked_run(runtime, "sqdist.sum", UNLOCKED_I32, x, 5, 50, 0, NULL, 0, 0, &r) == UNLOCKED_OK &&
          value_u128(&r) == expected, "sqdist.sum: %s", unlocked_last_error());
    uint64_t out[5];
    CHECK(unlocked_run(runtime, "sqdist:sqdist.map", UNLOCKED_I32, x, 5, 50, 0, out, UNLOCKED_U64, 5, NULL) == UNLOCKED_OK &&
          out[0] == 53 * 53 && out[4] == (uint64_t)(INT32_MAX - 50) * (uint64_t)(INT32_MAX - 50), "sqdist.map: %s", unlocked_last_error());
    CHECK_FAILS(unlocked_run(runtime, "sqdist.sum", UNLOCKED_I64, x, 1, 50, 0, NULL, 0, 0, &r), UNLOCKED_E_DTYPE);
    unlocked_runtime_destroy(runtime);
}

/* The one-struct form gives the same results and refuses the same mistakes. */
static void test_call_struct(void) {
    const size_t n = 4099;
    int32_t *x = talk_data(n);
    uint32_t *out = malloc(n * sizeof *out);
    unlocked_call call = {sizeof call, UNLOCKED_I32, "absdist.sum", x, n, 50, 0.0};
    call.runtime = make_runtime("auto", 0, NULL);
    CHECK(unlocked_run_call(&call) == UNLOCKED_OK && value_u128(&call.result) == absdist_i32(x, n, 50) &&
          call.result.size == sizeof call.result, "run_call absdist.sum: %s", unlocked_last_error());
    call.kernel = "absdist.map";
    call.output = out, call.output_capacity = n, call.output_dtype = UNLOCKED_U32;
    CHECK(unlocked_run_call(&call) == UNLOCKED_OK && out[n - 1] == (uint32_t)abs(x[n - 1] - 50), "run_call absdist.map: %s", unlocked_last_error());
    call.output_dtype = UNLOCKED_U64;
    CHECK_FAILS(unlocked_run_call(&call), UNLOCKED_E_DTYPE);
    CHECK_FAILS(unlocked_run_call(NULL), UNLOCKED_E_ARGUMENT);
    call.size = 16;
    CHECK_FAILS(unlocked_run_call(&call), UNLOCKED_E_ARGUMENT);
    unlocked_runtime_destroy(call.runtime);
    free(out);
    free(x);
}

static void test_topology(void) {
    size_t length = 0;
    CHECK(unlocked_topology_json(NULL, 0, &length) == UNLOCKED_E_SPACE && length > 10, "topology length %zu", length);
    char *json = malloc(length + 1);
    CHECK(unlocked_topology_json(json, length + 1, &length) == UNLOCKED_OK && json[0] == '{' && json[length] == 0 &&
          strstr(json, "\"allowed_cpus\""), "topology JSON");
    free(json);
}

/* Everything above ran with stdout and stderr redirected to a file: the
 * library must have written nothing there, and left every signal disposition
 * as it was (process engines used to ignore SIGPIPE process-wide). */
int main(int argc, char **argv) {
    int fork_checks = argc == 2;
    if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "--no-fork") != 0)) {
        fprintf(stderr, "usage: %s PLUGIN_SO [--no-fork]\n", argv[0]);
        return 64;
    }
    plugin_path = argv[1];
    /* Signals glibc reserves for itself (32, 33) refuse sigaction: not compared. */
    struct sigaction before[65];
    int readable[65] = {0};
    for (int s = 1; s < 65; s++) readable[s] = sigaction(s, NULL, &before[s]) == 0;

    char quiet_path[] = "/tmp/unlocked-capi-quiet-XXXXXX";
    int quiet = mkstemp(quiet_path);
    int saved_out = dup(1), saved_err = dup(2);
    fflush(stdout);
    dup2(quiet, 1);
    int report = dup(saved_err);  /* our own messages still reach the terminal */
    dup2(quiet, 2);
    FILE *messages = fdopen(report, "w");
    setvbuf(messages, NULL, _IONBF, 0);
    FILE *real_stderr = stderr;
    stderr = messages;

    test_version();
    test_engines();
    test_types();
    test_bad_arguments();
    test_thread_local_errors();
    test_busy();
    test_num_threads();
    if (fork_checks) test_fork();
    test_plugin();
    test_call_struct();
    test_topology();

    stderr = real_stderr;
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    struct stat written;
    fstat(quiet, &written);
    CHECK(written.st_size == 0, "the library wrote %lld bytes to stdout/stderr", (long long)written.st_size);
    close(quiet);
    unlink(quiet_path);
    for (int s = 1; s < 65; s++) {
        struct sigaction now;
        if (!readable[s] || sigaction(s, NULL, &now) != 0) continue;
        CHECK(now.sa_handler == before[s].sa_handler, "signal %d (%s): disposition changed", s, strsignal(s));
    }
    if (failures) {
        fprintf(stderr, "capi_test: %d checks failed\n", failures);
        return 1;
    }
    printf("capi_test: all checks passed%s\n", fork_checks ? "" : " (fork checks left out)");
    return 0;
}
