// The HDF5 C API. Its type, property-class and flag constants are macros (or *_g globals that Swift 6
// rejects), so each one Swift needs is wrapped in a static inline function here.
#include <hdf5.h>

static inline hid_t td_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t td_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t td_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t td_H5T_NATIVE_UINT8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t td_H5T_NATIVE_INT8(void) { return H5T_NATIVE_INT8; }
static inline hid_t td_H5T_STD_I8LE(void) { return H5T_STD_I8LE; }
static inline hid_t td_H5T_C_S1(void) { return H5T_C_S1; }
static inline hid_t td_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline hid_t td_H5P_LINK_CREATE(void) { return H5P_LINK_CREATE; }
static inline hid_t td_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
static inline unsigned td_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline unsigned td_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned td_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }
static inline size_t td_H5T_VARIABLE(void) { return H5T_VARIABLE; }
static inline hid_t td_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t td_H5E_DEFAULT(void) { return H5E_DEFAULT; }
static inline hid_t td_H5S_ALL(void) { return H5S_ALL; }
static inline hid_t td_H5T_NATIVE_INT32(void) { return H5T_NATIVE_INT32; }
static inline hid_t td_H5T_STD_I32LE(void) { return H5T_STD_I32LE; }
static inline unsigned td_H5F_ACC_RDWR(void) { return H5F_ACC_RDWR; }
static inline hid_t td_H5P_DATASET_ACCESS(void) { return H5P_DATASET_ACCESS; }
static inline hid_t td_H5T_STD_U8LE(void) { return H5T_STD_U8LE; }
static inline hid_t td_H5T_IEEE_F32LE(void) { return H5T_IEEE_F32LE; }
static inline hid_t td_H5T_IEEE_F64LE(void) { return H5T_IEEE_F64LE; }
static inline hid_t td_H5T_STD_I64LE(void) { return H5T_STD_I64LE; }
/* Silences HDF5's automatic printing of its error stack; the caller reports errors itself. Also keeps HDF5 from
   registering its atexit cleanup (H5dont_atexit must come before the library's first use, which this is): after a
   write that failed (a full disk, a file-size limit) that cleanup walks half-closed objects and crashes the exiting
   process. Files are closed explicitly when written; at exit the system reclaims the rest. */
static inline void td_silence_errors(void) { H5dont_atexit(); H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
static inline herr_t td_set_userblock(hid_t fcpl, hsize_t size) { return H5Pset_userblock(fcpl, size); }
static inline hid_t td_H5P_FILE_CREATE(void) { return H5P_FILE_CREATE; }
#include "probe.h"
