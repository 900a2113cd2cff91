// Reading a checkpoint without a seal (CheckpointSeal: files from before seals, or written by h5py) once in a
// child process first, so that what HDF5 1.10 does on damaged metadata (out-of-bounds reads and writes, use after
// free, loops, gigabyte allocations: found by fuzz-checkpoint, see README "Fuzzing") ends the child and not the
// caller. C, not Swift: after fork() only the forking thread exists, and the child must run nothing that may wait
// on a lock another thread held (Swift runtime, libdispatch); libc and HDF5 are all it calls.
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* How the child that read the file ended. */
typedef struct {
    int started;        /* 0: fork or the shared page failed (errno_value says why) */
    int errno_value;
    int exited;         /* 1: it exited with `code`; 0: a signal (`signal`) ended it */
    int code;           /* 0: read through (HDF5 errors included: the caller meets and names them itself);
                           1: the address sanitizer stopped it (under `make fuzz`); 4: an object needs more memory
                           than the limit */
    int signal;
    char object[512];   /* the object (path, path@attribute) it was reading when it ended */
} td_probe_result;

/* Address sanitizer's hook, present only in sanitized builds: the child turns off libFuzzer's death callback, so a
   memory error in the child is the child's exit status, not a reported crash of the fuzzing process. */
extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

typedef struct {
    char *object;            /* shared page: the current object, for the parent */
    unsigned long long limit; /* bytes one object may need */
} td_probe_state;

static inline void td_probe_mark(td_probe_state *s, const char *path, const char *attribute) {
    size_t n = strlen(path);
    if (n > 400) n = 400;
    memcpy(s->object, path, n);
    if (attribute) {
        size_t m = strlen(attribute);
        if (m > 100) m = 100;
        s->object[n] = '@';
        memcpy(s->object + n + 1, attribute, m);
        n += m + 1;
    }
    s->object[n] = 0;
}

/* Bytes of `count` elements of `size`, or 0 past the limit (the caller then exits with 4). */
static inline size_t td_probe_bytes(td_probe_state *s, hssize_t count, size_t size) {
    if (count < 0 || size == 0) return 0;
    unsigned long long c = (unsigned long long)count;
    if (c != 0 && size > s->limit / c) return 0;
    return (size_t)(c * size) + 1;
}

/* Reads all n values of an attribute (dxpl < 0) or a dataset (through dxpl) of file type ft as the reader does:
   variable-length strings as UTF-8, fixed-length strings and numbers as native; other variable-length types are
   not read (the reader refuses them). */
static inline herr_t td_probe_read(hid_t obj, hid_t dxpl, hid_t type, void *buf) {
    return dxpl < 0 ? H5Aread(obj, type, buf) : H5Dread(obj, type, H5S_ALL, H5S_ALL, dxpl, buf);
}

static inline void td_probe_values(td_probe_state *s, hid_t obj, hid_t dxpl, hid_t ft, hssize_t n) {
    if (H5Tget_class(ft) == H5T_STRING && H5Tis_variable_str(ft) > 0) {
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, H5T_VARIABLE);
        H5Tset_cset(t, H5T_CSET_UTF8);
        size_t bytes = td_probe_bytes(s, n, sizeof(char *));
        if (!bytes) _exit(4);
        char **p = (char **)calloc(1, bytes);
        if (!p) _exit(4);
        if (td_probe_read(obj, dxpl, t, p) >= 0)
            for (hssize_t i = 0; i < n; i++) if (p[i]) H5free_memory(p[i]);
        free(p);
        H5Tclose(t);
    } else if (H5Tdetect_class(ft, H5T_VLEN) <= 0) {
        hid_t t = H5Tget_class(ft) == H5T_STRING ? H5Tcopy(ft) : H5Tget_native_type(ft, H5T_DIR_DEFAULT);
        if (t >= 0) {
            size_t bytes = td_probe_bytes(s, n, H5Tget_size(t));
            if (!bytes) _exit(4);
            void *buf = malloc(bytes);
            if (!buf) _exit(4);
            td_probe_read(obj, dxpl, t, buf);
            free(buf);
            H5Tclose(t);
        }
    }
}

/* Reads one attribute as the reader does: strings as UTF-8 (variable- or fixed-length), numbers as native. */
static inline void td_probe_attribute(td_probe_state *s, hid_t obj, const char *path, const char *name) {
    td_probe_mark(s, path, name);
    if (H5Aexists(obj, name) <= 0) return;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return;
    hid_t ft = H5Aget_type(a), space = H5Aget_space(a);
    hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    if (ft >= 0 && n >= 0) {
        td_probe_values(s, a, -1, ft, n);
        if ((H5Tget_class(ft) == H5T_INTEGER || H5Tget_class(ft) == H5T_FLOAT) && n == 1) {  /* as intAttribute/doubleAttribute */
            long long v[1]; double d[1];
            H5Aread(a, H5T_NATIVE_INT64, v);
            H5Aread(a, H5T_NATIVE_DOUBLE, d);
        }
    }
    if (space >= 0) H5Sclose(space);
    if (ft >= 0) H5Tclose(ft);
    H5Aclose(a);
}

static inline void td_probe_attributes(td_probe_state *s, hid_t obj, const char *path) {
    td_probe_mark(s, path, NULL);
    H5O_info_t info;
    if (H5Oget_info2(obj, &info, H5O_INFO_NUM_ATTRS) < 0) return;
    for (hsize_t i = 0; i < info.num_attrs; i++) {
        td_probe_mark(s, path, NULL);
        ssize_t n = H5Aget_name_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, i, NULL, 0, H5P_DEFAULT);
        if (n < 0 || n > 4096) continue;
        char name[4097];
        if (H5Aget_name_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, (size_t)n + 1, H5P_DEFAULT) < 0) continue;
        td_probe_attribute(s, obj, path, name);
    }
}

/* Reads one dataset as the reader does: shape, type and creation properties; then a dataset stored as one
   Fletcher-32 chunk raw (H5Dread_chunk, all the reader calls for it), any other through HDF5 (H5Dread, checksums
   not verified here: the caller verifies them and names the dataset). */
static inline void td_probe_dataset(td_probe_state *s, hid_t parent, const char *name, const char *path) {
    td_probe_mark(s, path, NULL);
    hid_t ds = H5Dopen2(parent, name, H5P_DEFAULT);
    if (ds < 0) return;
    td_probe_attributes(s, ds, path);
    td_probe_mark(s, path, NULL);
    hid_t space = H5Dget_space(ds), ft = H5Dget_type(ds), dcpl = H5Dget_create_plist(ds);
    hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    int single = 0;
    if (dcpl >= 0 && rank > 0 && rank <= 32 && H5Pget_layout(dcpl) == H5D_CHUNKED) {
        unsigned flags = 0, config = 0; size_t nelmts = 0; char fname[64];
        int nfilters = H5Pget_nfilters(dcpl);
        H5Z_filter_t first = -1;
        for (int i = 0; i < nfilters && i < 32; i++) {
            H5Z_filter_t f = H5Pget_filter2(dcpl, (unsigned)i, &flags, &nelmts, NULL, sizeof fname, fname, &config);
            if (i == 0) first = f;
        }
        hsize_t chunk[32], dims[32], origin[32] = {0};
        if (H5Pget_chunk(dcpl, rank, chunk) == rank && H5Sget_simple_extent_dims(space, dims, NULL) == rank) {
            single = nfilters == 1 && first == H5Z_FILTER_FLETCHER32;
            for (int i = 0; i < rank; i++) if (chunk[i] != dims[i]) single = 0;
            hsize_t stored = 0;
            if (single && H5Dget_chunk_storage_size(ds, origin, &stored) >= 0 && stored > 0) {
                size_t bytes = td_probe_bytes(s, (hssize_t)stored, 1);
                if (!bytes) _exit(4);
                void *buf = malloc(bytes);
                if (!buf) _exit(4);
                uint32_t mask = 0;
                H5Dread_chunk(ds, H5P_DEFAULT, origin, &mask, buf);
                free(buf);
            }
        }
    }
    if (!single && ft >= 0 && n > 0) {
        hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
        H5Pset_edc_check(dxpl, H5Z_DISABLE_EDC);
        td_probe_values(s, ds, dxpl, ft, n);
        H5Pclose(dxpl);
    }
    if (dcpl >= 0) H5Pclose(dcpl);
    if (ft >= 0) H5Tclose(ft);
    if (space >= 0) H5Sclose(space);
    H5Dclose(ds);
}

/* Every link of a group in name order, as CheckpointReader lists them, then each object. */
static inline void td_probe_group(td_probe_state *s, hid_t g, const char *path, int depth) {
    td_probe_attributes(s, g, path);
    if (depth > 64) return;
    td_probe_mark(s, path, NULL);
    H5G_info_t info;
    if (H5Gget_info(g, &info) < 0) return;
    for (hsize_t i = 0; i < info.nlinks; i++) {
        td_probe_mark(s, path, NULL);
        ssize_t n = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, NULL, 0, H5P_DEFAULT);
        if (n < 0 || n > 4096) continue;
        char name[4097];
        if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, (size_t)n + 1, H5P_DEFAULT) < 0) continue;
        char child[1024];
        size_t plen = strlen(path);
        if (plen + strlen(name) + 2 >= sizeof child) continue;
        strcpy(child, path);
        if (plen > 1) strcat(child, "/");
        strcat(child, name);
        td_probe_mark(s, child, NULL);
        if (H5Lexists(g, name, H5P_DEFAULT) <= 0) continue;
        H5O_info_t oinfo;
        if (H5Oget_info_by_name2(g, name, &oinfo, H5O_INFO_BASIC, H5P_DEFAULT) < 0) continue;
        if (oinfo.type == H5O_TYPE_GROUP) {
            hid_t c = H5Gopen2(g, name, H5P_DEFAULT);
            if (c >= 0) { td_probe_group(s, c, child, depth + 1); H5Gclose(c); }
        } else if (oinfo.type == H5O_TYPE_DATASET) {
            td_probe_dataset(s, g, name, child);
        }
    }
}

/* An HDF5 call that failed for want of memory (the limit below; a size the damaged file claims) stops the child
   with 4: the caller would make the same call with no limit. */
static inline herr_t td_probe_error_entry(unsigned n, const H5E_error2_t *e, void *data) {
    (void)n;
    if (e->maj_num == H5E_RESOURCE) *(int *)data = 1;
    return 0;
}

static inline herr_t td_probe_on_error(hid_t stack, void *data) {
    (void)data;
    int resource = 0;
    H5Ewalk2(stack, H5E_WALK_DOWNWARD, td_probe_error_entry, &resource);
    if (resource) _exit(4);
    return 0;
}

/* The child: default signal actions (no handler of the parent's, libFuzzer's included, may run), no output, a
   memory limit above what it already maps, a time limit; then the whole file; then exit. */
static inline void td_probe_child(const char *file, td_probe_state *s, unsigned seconds, unsigned long long memory) {
    int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGALRM, SIGTRAP, SIGSYS};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], SIG_DFL);
    if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(NULL);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) { dup2(null, 1); dup2(null, 2); }
    /* Address space already mapped (the parent's, a sanitizer's shadow) plus `memory`. */
    unsigned long long pages = 0;
    int statm = open("/proc/self/statm", O_RDONLY);
    if (statm >= 0) {
        char text[64] = {0};
        if (read(statm, text, sizeof text - 1) > 0) pages = strtoull(text, NULL, 10);
        close(statm);
    }
    if (pages > 0) {
        struct rlimit r;
        r.rlim_cur = r.rlim_max = pages * (unsigned long long)sysconf(_SC_PAGESIZE) + memory;
        setrlimit(RLIMIT_AS, &r);
    }
    alarm(seconds);
    H5Eset_auto2(H5E_DEFAULT, td_probe_on_error, NULL);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_file_locking(fapl, 0, 1);
    td_probe_mark(s, "/", NULL);
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, fapl);
    if (f >= 0) td_probe_group(s, f, "/", 0);
    _exit(0);
}

typedef struct {
    const char *file;
    unsigned seconds;
    unsigned long long memory;
    td_probe_result *result;
} td_probe_request;

/* Runs inside an HDF5 API call (H5Piterate), which holds HDF5's global lock on this thread: no other thread is
   inside HDF5 at the fork, so the child's copy of the library is in a consistent state. */
static inline herr_t td_probe_fork(hid_t id, const char *name, void *data) {
    (void)id; (void)name;
    td_probe_request *q = (td_probe_request *)data;
    td_probe_result *r = q->result;
    char *page = (char *)mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) { r->errno_value = errno; return 1; }
    memset(page, 0, 4096);
    td_probe_state s = {page, q->memory};
    pid_t pid = fork();
    if (pid == 0) td_probe_child(q->file, &s, q->seconds, q->memory);
    if (pid < 0) { r->errno_value = errno; munmap(page, 4096); return 1; }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    r->started = 1;
    r->exited = WIFEXITED(status);
    r->code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    r->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    memcpy(r->object, page, sizeof r->object - 1);
    r->object[sizeof r->object - 1] = 0;
    munmap(page, 4096);
    return 1;  /* one property is enough: stop iterating */
}

/* Reads `file` completely in a child process limited to `seconds` and `memory` bytes more than it maps at the
   start, and says how the child ended. */
static inline td_probe_result td_probe_file(const char *file, unsigned seconds, unsigned long long memory) {
    td_probe_result r;
    memset(&r, 0, sizeof r);
    td_probe_request q = {file, seconds, memory, &r};
    hid_t plist = H5Pcreate(H5P_FILE_ACCESS);
    int index = 0;
    H5Piterate(plist, &index, td_probe_fork, &q);
    H5Pclose(plist);
    return r;
}
