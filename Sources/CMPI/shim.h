// Open MPI's C API for the Distributed target. The predefined handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...)
// are macros over globals that do not import into Swift: each is wrapped in a static inline function.
#include <mpi.h>

static inline MPI_Comm td_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype td_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype td_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype td_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype td_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Op td_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op td_mpi_max(void) { return MPI_MAX; }
static inline void *td_mpi_in_place(void) { return MPI_IN_PLACE; }
