/*
 * unlocked.h — the C API of Unlocked: run its kernels over your own arrays on
 * a pool of workers that stays warm between calls. C, C++, Rust (bindgen) and
 * Python (ctypes) all call the library through this header.
 *
 * The library is libunlocked.so (built by `swift build -c release --product
 * UnlockedCAPI` as libUnlockedCAPI.so; `pip install ./python` installs it
 * under the name libunlocked.so). This header is standalone C99: it needs
 * only <stdint.h> and <stddef.h>.
 *
 * Versions. UNLOCKED_API_MAJOR/MINOR below are what this header describes;
 * unlocked_version() is what the loaded library implements. A program works
 * with any library of the same major whose minor is at least the minor it
 * was built against. Within a major, functions, enum values and struct
 * fields are only appended, never changed or removed; structs the caller
 * passes start with `size` (= sizeof as the caller compiled it), and the
 * library reads and writes no field beyond it.
 *
 * Errors. Every function that can fail returns an unlocked_status; 0 is
 * success. On failure unlocked_last_error() gives a one-line message naming
 * the bad value and what is accepted. No argument — NULL pointers, an unknown
 * engine or kernel, a wrong element type, zero or too many workers — makes
 * the library abort; it never exits the process either.
 *
 * Threads. Any thread may call any function. A runtime runs one call at a
 * time: a call that finds another thread inside a call on the same runtime
 * returns UNLOCKED_E_BUSY at once (it does not wait). Use one runtime per
 * thread for concurrent calls; runtimes share nothing. With a pin policy the
 * calling thread runs as worker 0 and is bound to worker 0's CPU until the
 * runtime is destroyed on that thread; with the default pin "none" no thread's
 * affinity is touched.
 *
 * fork(). A runtime created before fork() stays usable in the child: its
 * workers (threads or processes) belong to the parent, so on its first call in
 * the child the runtime starts a fresh set (the parent's are left alone and
 * never touched by the child). Registered with pthread_atfork on first use of
 * the library.
 *
 * As embedded, the library installs no signal handlers and changes no signal
 * disposition, and never reads or writes file descriptors 0-2 (plugins'
 * log lines are dropped). Worker processes (engines processes-shm and
 * processes-pipe) run the `unlocked` executable found next to libunlocked.so,
 * or unlocked_options.worker_executable; they inherit the caller's stderr.
 * Worker processes die with the thread that created their runtime
 * (PR_SET_PDEATHSIG): create process runtimes on a thread that outlives them.
 */
#ifndef UNLOCKED_H
#define UNLOCKED_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UNLOCKED_API_MAJOR 1
#define UNLOCKED_API_MINOR 0

/* Status codes. Values never change. */
typedef enum unlocked_status {
    UNLOCKED_OK = 0,
    /* A NULL pointer where one is required, a count or capacity out of
     * range, or a struct whose `size` is smaller than its 1.0 layout. */
    UNLOCKED_E_ARGUMENT = 1,
    /* An element type the kernel does not take, or an output buffer of
     * another type than the kernel writes. */
    UNLOCKED_E_DTYPE = 2,
    /* No kernel of that name is loaded in the runtime. */
    UNLOCKED_E_KERNEL = 3,
    /* An engine, worker count, pin or memory policy not accepted here. */
    UNLOCKED_E_OPTION = 4,
    /* Another thread is inside a call on this runtime. */
    UNLOCKED_E_BUSY = 5,
    /* A plugin file could not be loaded or was refused. */
    UNLOCKED_E_PLUGIN = 6,
    /* A kernel reported an error, or a worker process died. */
    UNLOCKED_E_FAILED = 7,
    /* Threads, processes or memory could not be had; or the ISA selection
     * (UNLOCKED_ISA) was refused. */
    UNLOCKED_E_INTERNAL = 8,
    /* The caller's buffer is too small (the needed length is returned). */
    UNLOCKED_E_SPACE = 9
} unlocked_status;

/* Element types; the same values as the plugin ABI's uk_dtype. */
typedef enum unlocked_dtype {
    UNLOCKED_I32 = 1, /* int32_t  */
    UNLOCKED_I64 = 2, /* int64_t  */
    UNLOCKED_F32 = 3, /* float    */
    UNLOCKED_F64 = 4, /* double   */
    UNLOCKED_U32 = 5, /* uint32_t: absdist.map output of I32 */
    UNLOCKED_U64 = 6  /* uint64_t: absdist.map output of I64 */
} unlocked_dtype;

/* How a reduction's value is read from unlocked_result. */
typedef enum unlocked_value_kind {
    UNLOCKED_VALUE_NONE = 0,    /* map kernels: the output buffer is the result */
    UNLOCKED_VALUE_UINT128 = 1, /* lo + hi * 2^64, unsigned */
    UNLOCKED_VALUE_INT128 = 2,  /* lo + hi * 2^64, two's complement */
    UNLOCKED_VALUE_FLOAT64 = 3  /* f */
} unlocked_value_kind;

typedef enum unlocked_kernel_kind {
    UNLOCKED_KIND_MAP = 1,    /* writes output[i] for every input element */
    UNLOCKED_KIND_REDUCE = 2  /* produces one value */
} unlocked_kernel_kind;

/* A pool of workers with its engine, placement and loaded plugins. */
typedef struct unlocked_runtime unlocked_runtime;

/* What unlocked_runtime_create builds. Zero every field you do not set
 * (`unlocked_options o = { sizeof o };`): zero and NULL mean the default. */
typedef struct unlocked_options {
    uint32_t size;    /* sizeof(unlocked_options) */
    /* Worker count; 0 follows unlocked_get_num_threads(), also when it
     * changes later (the runtime restarts its workers on its next call). */
    uint32_t workers;
    /* sequential, spawn, gil, locked-pool, lockfree-pool, tasks, gcd,
     * processes-shm, processes-pipe or auto (the default: one call on the
     * calling thread or the lock-free pool, whichever a calibration says is
     * faster for the job's size). */
    const char *engine;
    /* none (the default: nothing bound), compact, spread, numa:K, an OS CPU
     * list such as 0-3,8, or a domain such as S0:0-3. More workers than the
     * policy's CPUs is refused; "none" accepts any count. */
    const char *pin;
    /* Where memory the runtime allocates lives (process engines' shared
     * copies of your arrays): first-touch (the default), interleave,
     * node:K or none. Your own arrays are never moved. */
    const char *memory;
    /* The `unlocked` executable process engines start; NULL looks for it in
     * the directory of libunlocked.so. */
    const char *worker_executable;
} unlocked_options;

/* The outcome of unlocked_run. Set `size` before the call. */
typedef struct unlocked_result {
    uint32_t size;       /* sizeof(unlocked_result) */
    int32_t value_kind;  /* an unlocked_value_kind */
    uint64_t lo;         /* UINT128 / INT128: the value's low 64 bits */
    uint64_t hi;         /*                   and its high 64 bits */
    double f;            /* FLOAT64: the value */
    uint64_t started_ns; /* CLOCK_MONOTONIC when the job began (after argument checks) */
    uint64_t nanoseconds; /* from then until the result was ready */
    uint32_t workers;    /* workers of the engine that ran it */
    char engine[20];     /* the engine that ran it (auto names its choice), NUL-terminated */
} unlocked_result;

/* What a kernel takes and produces (unlocked_query_kernel). */
typedef struct unlocked_kernel_info {
    uint32_t size;        /* sizeof(unlocked_kernel_info) */
    int32_t kind;         /* an unlocked_kernel_kind */
    int32_t input_dtype;  /* an unlocked_dtype */
    int32_t output_dtype; /* map kernels: the output's unlocked_dtype; 0 for reductions */
    int32_t value_kind;   /* reductions: an unlocked_value_kind; 0 for maps */
} unlocked_kernel_info;

/* (UNLOCKED_API_MAJOR << 16) | UNLOCKED_API_MINOR of the loaded library. */
uint32_t unlocked_version(void);

/* The library's release, e.g. "0.1.0" (static storage). */
const char *unlocked_get_version(void);

/* The message of the calling thread's last failed call: one line, no
 * newline, "" if none failed yet. Valid until this thread's next call. */
const char *unlocked_last_error(void);

/* The default worker count of runtimes created with workers = 0: initially
 * the allowed cores (affinity, cgroup cpuset and CPU quota honoured). The
 * threadpoolctl protocol (as OpenBLAS's openblas_get/set_num_threads). */
int unlocked_get_num_threads(void);
/* Sets it for the whole process; n from 1 to 4096, else UNLOCKED_E_ARGUMENT. */
int unlocked_set_num_threads(int n);

/* Creates a runtime and starts its workers. `options` may be NULL (every
 * default). On success *runtime is the new handle; on failure it is NULL. */
int unlocked_runtime_create(const unlocked_options *options, unlocked_runtime **runtime);

/* Stops the workers and frees the runtime. NULL is accepted and does
 * nothing; a runtime another thread is inside a call of is left alone and
 * UNLOCKED_E_BUSY returned. The handle must not be used afterwards. */
int unlocked_runtime_destroy(unlocked_runtime *runtime);

/* Loads a kernel plugin (see unlocked_plugin.h) into this runtime. Its
 * kernels are then named like built-in ones; a built-in kernel wins a name
 * clash, and "plugin:kernel" names one plugin's kernel. */
int unlocked_runtime_load_plugin(unlocked_runtime *runtime, const char *path);

/* What kernel `kernel` takes and produces for elements of `dtype`. */
int unlocked_query_kernel(unlocked_runtime *runtime, const char *kernel, int dtype, unlocked_kernel_info *info);

/*
 * Runs kernel `kernel` (absdist.sum, absdist.map, stream.sum, or a loaded
 * plugin's) over `count` elements of `dtype` at `input`, with centre
 * `center_int` (integer types, exact) or `center_float` (float types).
 *   - Reductions: `output` must be NULL; the value goes to *result.
 *   - Maps: `output` holds `output_capacity` elements of `output_dtype`,
 *     which must be the kernel's output type; elements [0, count) are
 *     written. `result` may be NULL.
 * Arrays may have any alignment and are read and written in place (process
 * engines copy them through shared memory or pipes, and say so in time).
 * `input` may be NULL when `count` is 0.
 */
int unlocked_run(unlocked_runtime *runtime, const char *kernel, int dtype,
                 const void *input, uint64_t count, int64_t center_int, double center_float,
                 void *output, int output_dtype, uint64_t output_capacity,
                 unlocked_result *result);

/*
 * unlocked_run with its arguments and result in one struct, which a caller
 * can keep and refill between calls. For callers to whom each argument
 * costs: Python's ctypes converts every argument, and filling memory and
 * passing one pointer is several times cheaper than eleven arguments. The
 * per-call fields come first and are contiguous. The library sets
 * result.size itself.
 */
typedef struct unlocked_call {
    uint32_t size;             /* sizeof(unlocked_call) */
    int32_t dtype;
    const char *kernel;
    const void *input;
    uint64_t count;
    int64_t center_int;
    double center_float;
    void *output;
    uint64_t output_capacity;
    int32_t output_dtype;
    int32_t reserved;          /* zero */
    unlocked_runtime *runtime;
    unlocked_result result;
} unlocked_call;

int unlocked_run_call(unlocked_call *call);

/* This machine's topology and the CPUs this process may use, as the JSON
 * object `unlocked topo --json` prints. Like snprintf: *length receives the
 * length without the NUL; if `capacity` is not more than that, nothing is
 * written and UNLOCKED_E_SPACE returned (`buffer` may then be NULL). */
int unlocked_topology_json(char *buffer, size_t capacity, size_t *length);

#ifdef __cplusplus
}
#endif

#endif /* UNLOCKED_H */
