/*
 * The 1.0 layout of the C API's structs, frozen: a field moved, resized or
 * inserted fails the build here instead of breaking callers compiled against
 * an older header. Appending a field (a new minor) updates only the size.
 * Offsets are those of LP64 platforms (Linux and macOS on x86-64 and arm64).
 */
#include "unlocked.h"

#include <stddef.h>

#if UINTPTR_MAX == 0xffffffffffffffffu
#define AT(type, field, offset) _Static_assert(offsetof(type, field) == (offset), #type "." #field " moved")
#define SIZE(type, bytes) _Static_assert(sizeof(type) == (bytes), #type " changed size")

AT(unlocked_options, workers, 4);
AT(unlocked_options, engine, 8);
AT(unlocked_options, pin, 16);
AT(unlocked_options, memory, 24);
AT(unlocked_options, worker_executable, 32);
SIZE(unlocked_options, 40);

AT(unlocked_result, value_kind, 4);
AT(unlocked_result, lo, 8);
AT(unlocked_result, hi, 16);
AT(unlocked_result, f, 24);
AT(unlocked_result, started_ns, 32);
AT(unlocked_result, nanoseconds, 40);
AT(unlocked_result, workers, 48);
AT(unlocked_result, engine, 52);
SIZE(unlocked_result, 72);

AT(unlocked_kernel_info, kind, 4);
AT(unlocked_kernel_info, input_dtype, 8);
AT(unlocked_kernel_info, output_dtype, 12);
AT(unlocked_kernel_info, value_kind, 16);
SIZE(unlocked_kernel_info, 20);

AT(unlocked_call, dtype, 4);
AT(unlocked_call, kernel, 8);
AT(unlocked_call, input, 16);
AT(unlocked_call, count, 24);
AT(unlocked_call, center_int, 32);
AT(unlocked_call, center_float, 40);
AT(unlocked_call, output, 48);
AT(unlocked_call, output_capacity, 56);
AT(unlocked_call, output_dtype, 64);
AT(unlocked_call, runtime, 72);
AT(unlocked_call, result, 80);
SIZE(unlocked_call, 152);
#endif

/* Enums are stored as int32_t in these structs and passed as int. */
_Static_assert(sizeof(unlocked_status) == 4 && sizeof(unlocked_dtype) == 4, "enums are not int-sized (-fshort-enums?)");
