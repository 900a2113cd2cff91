// Times row-major sgemm C(m,n) = A(m,k) B(k,n) through one OpenBLAS library loaded with dlopen, so one binary
// measures Debian's libopenblas and the scipy-openblas32 wheel's prefixed library (scripts/compare_openblas.py runs it).
// usage: openblas_sgemm LIB PREFIX THREADS [split] -> one JSON line: core, config, median GFLOP/s per shape.
// THREADS: OpenBLAS's own threads; split: OpenBLAS single-threaded and C's rows cut in two halves computed on two
// threads at once, as Tensor's sgemm does by default (what `distill bench` measures).
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
typedef void (*sgemm_t)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
static void *sym(void *h, const char *prefix, const char *name) {
    char full[256]; snprintf(full, sizeof full, "%s%s", prefix, name);
    void *p = dlsym(h, full); if (!p) { fprintf(stderr, "missing %s\n", full); exit(2); } return p;
}
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
// split mode: OpenBLAS single-threaded, C cut in two halves along the larger of M and N (blocks a multiple of 16),
// computed on two threads at once, as Tensor's sgemm does
static sgemm_t g_sgemm; static int g_m, g_n, g_k; static float *g_a, *g_b, *g_c;
static void *half(void *arg) {
    long i = (long)arg; int rows = g_m >= g_n, extent = rows ? g_m : g_n;
    int block = ((extent + 1) / 2 + 15) / 16 * 16, lo = i * block, len = extent - lo < block ? extent - lo : block;
    if (len <= 0) return 0;
    if (rows) g_sgemm(101, 111, 111, len, g_n, g_k, 1.0f, g_a + (long)lo * g_k, g_k, g_b, g_n, 0.0f, g_c + (long)lo * g_n, g_n);
    else g_sgemm(101, 111, 111, g_m, len, g_k, 1.0f, g_a, g_k, g_b + lo, g_n, 0.0f, g_c + lo, g_n);
    return 0;
}
static void product(int split, int m, int n, int k, float *a, float *b, float *c) {
    // Tensor's sgemm leaves products with max(M, N) < 64 whole
    if (!split || (m > n ? m : n) < 64) { g_sgemm(101, 111, 111, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n); return; }
    g_m = m; g_n = n; g_k = k; g_a = a; g_b = b; g_c = c;
    pthread_t t; pthread_create(&t, 0, half, (void *)1L); half(0); pthread_join(t, 0);
}
static int cmp(const void *a, const void *b) { double x = *(double *)a, y = *(double *)b; return x < y ? -1 : x > y; }
int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s LIB PREFIX THREADS\n", argv[0]); return 2; }
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL); if (!h) { fprintf(stderr, "%s\n", dlerror()); return 2; }
    const char *pre = argv[2];
    sgemm_t sgemm = (sgemm_t)sym(h, pre, "cblas_sgemm");
    void (*setThreads)(int) = (void (*)(int))sym(h, pre, "openblas_set_num_threads");
    char *(*corename)(void) = (char *(*)(void))sym(h, pre, "openblas_get_corename");
    char *(*config)(void) = (char *(*)(void))sym(h, pre, "openblas_get_config");
    int split = argc > 4 && !strcmp(argv[4], "split"); g_sgemm = sgemm;
    setThreads(split ? 1 : atoi(argv[3]));
    int shapes[][3] = {{2048, 256, 768}, {2048, 576, 1536}, {16, 576, 1536}, {2048, 576, 49152}};
    printf("{\"split\": %d, \"lib\": \"%s\", \"core\": \"%s\", \"config\": \"%s\"", split, argv[1], corename(), config());
    for (int s = 0; s < 4; s++) {
        int m = shapes[s][0], k = shapes[s][1], n = shapes[s][2];
        float *a = aligned_alloc(64, sizeof(float) * m * k), *b = aligned_alloc(64, sizeof(float) * k * n),
              *c = aligned_alloc(64, sizeof(float) * m * n);
        for (long i = 0; i < (long)m * k; i++) a[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
        for (long i = 0; i < (long)k * n; i++) b[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
        double flop = 2.0 * m * n * k;
        // repetitions: about 0.6 s of products per shape, at least 5
        int reps = (int)(0.6 / (flop / 200e9)); if (reps < 5) reps = 5; if (reps > 2000) reps = 2000;
        double *t = malloc(sizeof(double) * reps);
        for (int w = 0; w < (reps < 20 ? 2 : 10); w++) product(split, m, n, k, a, b, c);
        for (int r = 0; r < reps; r++) {
            double t0 = now(); product(split, m, n, k, a, b, c); t[r] = now() - t0;
        }
        qsort(t, reps, sizeof(double), cmp);
        printf(", \"%dx%dx%d\": %.1f", m, k, n, flop / t[reps / 2] / 1e9);
        free(a); free(b); free(c); free(t);
    }
    printf("}\n");
    return 0;
}
