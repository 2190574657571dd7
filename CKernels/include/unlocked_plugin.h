/*
 * unlocked_plugin.h — the kernel plugin ABI of Unlocked.
 *
 * A plugin is a shared object that exports exactly one symbol,
 * `unlocked_plugin_entry` (see UK_PLUGIN_ENTRY_SYMBOL), with default
 * visibility. The host calls it once after dlopen and validates the whole
 * descriptor before any kernel runs. The built-in kernels are registered
 * through this same descriptor, so host code has one path for all kernels.
 *
 * Compatibility rules (as in sqlite3ext.h and LV2):
 *   - A host accepts a plugin whose abi_major equals UK_ABI_MAJOR and whose
 *     abi_minor is any value; fields added by newer minors go at the END of
 *     a struct only, and the host reads no field beyond `size` bytes.
 *   - Every struct starts with `size` (= sizeof as the plugin compiled it).
 *     A host refuses a struct smaller than the ABI major's first layout, and a
 *     plugin reads no field of uk_params / uk_host_api beyond their `size`.
 *   - Enum values and field offsets never change within a major version.
 *
 * What the loader refuses (one-line error, exit 65), before any kernel runs:
 * another abi_major; a NULL name, version, get_kernel or kernel `run`; names
 * that are empty, longer than UK_MAX_NAME or not [A-Za-z0-9._-] (versions may
 * also use '+'); a kernel description over 200 bytes; no kernels or
 * more than UK_MAX_KERNELS; a duplicate (name, input_type); unknown dtype,
 * kind, acc_kind or concurrency values; a REDUCE kernel without `combine` or a
 * MAP kernel with one; PER_WORKER without worker_init, or worker hooks on a
 * plugin that is not PER_WORKER.
 *
 * This header is standalone: it needs only <stdint.h> and <stddef.h>.
 */
#ifndef UNLOCKED_PLUGIN_H
#define UNLOCKED_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UK_ABI_MAJOR 1
#define UK_ABI_MINOR 0

/* Name of the single symbol a plugin exports. */
#define UK_PLUGIN_ENTRY_SYMBOL "unlocked_plugin_entry"

#if defined(_WIN32)
#define UK_EXPORT __declspec(dllexport)
#else
#define UK_EXPORT __attribute__((visibility("default")))
#endif

/* Limits the loader enforces (bytes excluding NUL / kernels per plugin). */
#define UK_MAX_NAME 64
#define UK_MAX_KERNELS 1024

/* Element types. Values are part of the ABI and never change. */
typedef enum uk_dtype {
    UK_DTYPE_I32 = 1, /* int32_t  */
    UK_DTYPE_I64 = 2, /* int64_t  */
    UK_DTYPE_F32 = 3, /* float    */
    UK_DTYPE_F64 = 4, /* double   */
    UK_DTYPE_U32 = 5, /* uint32_t (map output of I32 distances) */
    UK_DTYPE_U64 = 6  /* uint64_t (map output of I64 distances) */
} uk_dtype;

/* What a kernel produces. */
typedef enum uk_kind {
    UK_KIND_MAP = 1,    /* writes output[i] for every i in [begin, end)     */
    UK_KIND_REDUCE = 2  /* adds the range's contribution into a uk_acc      */
} uk_kind;

/* What the host may do concurrently with one plugin instance. */
typedef enum uk_concurrency {
    /* Kernels may run on many threads at once with the same context. */
    UK_CONCURRENCY_THREAD_SAFE = 1,
    /* Each worker gets its own context from worker_init; contexts are never
     * shared between threads (the multi-phase-init / sub-interpreter idea). */
    UK_CONCURRENCY_PER_WORKER = 2,
    /* Neither: the host serialises every call through one global lock and
     * says so in the run report (what CPython does with a GIL). */
    UK_CONCURRENCY_SERIAL = 3
} uk_concurrency;

/* Enums are stored in ABI structs, so they must be int-sized: never build a
 * plugin with -fshort-enums. This typedef fails to compile if they are not. */
typedef char uk_enums_are_int_sized[sizeof(uk_dtype) == 4 && sizeof(uk_concurrency) == 4 ? 1 : -1];

/* Reduction accumulator. Integer kernels use (lo, hi) as one 128-bit two's
 * complement integer — signed or unsigned as the kernel documents — so sums
 * never wrap silently; float kernels use `f`. The host zeroes it before a
 * range and merges partials with the kernel's `combine`. */
typedef struct uk_acc {
    uint64_t lo;
    uint64_t hi;
    double f;
    uint64_t reserved; /* zero; keeps the struct 32 bytes for future use */
} uk_acc;

/* Parameters of one call. The host fills every field it knows; a kernel
 * reads no field that ends beyond `size` (a host of an older minor). */
typedef struct uk_params {
    uint32_t size;       /* sizeof(uk_params) as the host compiled it       */
    uint32_t flags;      /* hints; bit 0 = streaming stores (see below)      */
    int64_t center_int;  /* the centre c for integer element types (exact)  */
    double center_float; /* the centre c for float element types            */
} uk_params;

/* uk_params.flags bit: the whole output is larger than the last-level cache,
 * so a MAP kernel should write it with non-temporal (streaming) stores. */
#define UK_FLAG_STREAMING_STORES 1u

/* Size of the error buffer a host passes to calls that may fail (init,
 * worker_init, kernels): a message longer than this is the plugin's bug.
 * Unlocked reads at most UK_ERROR_CAPACITY - 1 bytes of it and gives the
 * buffer more room and a guard page, so the bug cannot corrupt the host. */
#define UK_ERROR_CAPACITY 256

/*
 * One kernel call over the half-open range [begin, end) of `input`.
 *   ctx    — the plugin state (THREAD_SAFE, SERIAL) or this worker's context
 *            (PER_WORKER); may be NULL if the plugin uses none.
 *            Calls may come from any thread: THREAD_SAFE concurrently,
 *            PER_WORKER concurrently but each ctx on one thread at a time,
 *            SERIAL one call at a time process-wide (the host's lock).
 *   begin, end — 0 <= begin <= end <= the array length; begin == end is a
 *            valid empty call; begin need not be aligned to anything.
 *   input  — the whole caller-owned array; the kernel reads only [begin, end).
 *   output — MAP: the whole output array, written only at [begin, end);
 *            REDUCE: NULL.
 *   acc    — REDUCE: the accumulator to add into; MAP: NULL.
 *   error  — on failure write a NUL-terminated one-line message of at most
 *            UK_ERROR_CAPACITY bytes here and return non-zero.
 * Returns 0 on success.
 */
typedef int (*uk_kernel_fn)(void *ctx, const void *input, void *output,
                            size_t begin, size_t end, const uk_params *params,
                            uk_acc *acc, char *error);

/* Merges the partial `from` into `into` (REDUCE kernels only). Must be
 * associative and commutative up to the kernel's documented float bound. */
typedef void (*uk_combine_fn)(uk_acc *into, const uk_acc *from);

/* Meaning of a REDUCE kernel's accumulator, so the host can print it. */
typedef enum uk_acc_kind {
    UK_ACC_NONE = 0,     /* MAP kernels */
    UK_ACC_UINT128 = 1,  /* (lo, hi) unsigned */
    UK_ACC_INT128 = 2,   /* (lo, hi) signed, two's complement */
    UK_ACC_FLOAT64 = 3   /* f */
} uk_acc_kind;

typedef struct uk_kernel {
    uint32_t size;              /* sizeof(uk_kernel) as the plugin compiled it */
    uint32_t reserved;
    const char *name;           /* e.g. "absdist.sum"; (name, input_type) is unique in a plugin */
    const char *description;    /* one line of at most 200 bytes, may be NULL */
    uk_dtype input_type;
    uk_dtype output_type;       /* MAP: element type of output; REDUCE: ignored */
    uk_kind kind;
    uk_acc_kind acc_kind;       /* REDUCE: how to read the accumulator */
    uk_kernel_fn run;           /* required */
    uk_combine_fn combine;      /* required for REDUCE, NULL for MAP */
} uk_kernel;

/* Services the host offers a plugin; passed to init. Append-only. */
typedef struct uk_host_api {
    uint32_t size;        /* sizeof(uk_host_api) as the host compiled it */
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t reserved;
    /* Writes one line to the host's diagnostic stream. Thread-safe. */
    void (*log)(const char *plugin_name, const char *message);
} uk_host_api;

typedef struct uk_plugin {
    uint32_t size;           /* sizeof(uk_plugin) as the plugin compiled it */
    uint32_t abi_major;      /* UK_ABI_MAJOR at the plugin's build          */
    uint32_t abi_minor;      /* UK_ABI_MINOR at the plugin's build          */
    uk_concurrency concurrency;
    const char *name;        /* short identifier, e.g. "sqdist"            */
    const char *version;     /* free text, e.g. "1.0.0"                    */

    /* Called once by the host before any other call; may be NULL. Sets
     * *state (the ctx of THREAD_SAFE and SERIAL kernels, NULL by default).
     * Returns 0, or non-zero with a one-line message in `error`
     * (UK_ERROR_CAPACITY bytes); the host then unloads without fini. The
     * host api pointer stays valid until fini returns. */
    int (*init)(const uk_host_api *host, void **state, char *error);
    /* Called once after the last call, before dlclose; may be NULL. */
    void (*fini)(void *state);

    /* PER_WORKER only (worker_init required there, both NULL otherwise):
     * gives worker `worker` (0-based) a context of its own, released by
     * worker_fini (may be NULL) once that worker has finished and before
     * fini. worker_init returns 0, or non-zero with a message in `error`. */
    int (*worker_init)(void *state, uint32_t worker, void **worker_ctx, char *error);
    void (*worker_fini)(void *state, void *worker_ctx);

    /* Kernels by index, 0, 1, 2, … until it returns NULL. Called before
     * init, possibly many times; must return the same pointers each time,
     * valid until dlclose. */
    const uk_kernel *(*get_kernel)(uint32_t index);
} uk_plugin;

/* The entry point every plugin exports under UK_PLUGIN_ENTRY_SYMBOL:
 *     UK_EXPORT const uk_plugin *unlocked_plugin_entry(void);
 * Returns a pointer to static data valid until dlclose (never NULL). */
typedef const uk_plugin *(*uk_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* UNLOCKED_PLUGIN_H */
