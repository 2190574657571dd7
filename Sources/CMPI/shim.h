#ifndef UNLOCKED_CMPI_SHIM_H
#define UNLOCKED_CMPI_SHIM_H
#include <mpi.h>

/* MPI's predefined handles are macros over library globals (Open MPI) or casts of
 * integer constants (MPICH); Swift imports neither, so each is returned from here. */
static inline MPI_Comm uk_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Info uk_mpi_info_null(void) { return MPI_INFO_NULL; }
static inline MPI_Errhandler uk_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }

static inline MPI_Datatype uk_mpi_uint64(void) { return MPI_UINT64_T; }
static inline MPI_Datatype uk_mpi_int32(void) { return MPI_INT32_T; }
static inline MPI_Datatype uk_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype uk_mpi_byte(void) { return MPI_BYTE; }

static inline MPI_Op uk_mpi_min(void) { return MPI_MIN; }
static inline MPI_Op uk_mpi_max(void) { return MPI_MAX; }

static inline int uk_mpi_comm_type_shared(void) { return MPI_COMM_TYPE_SHARED; }
static inline int uk_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }

#endif
