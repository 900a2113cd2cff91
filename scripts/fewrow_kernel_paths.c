// The compile-time paths of Sources/CFewRowKernels/FewRowKernels.c (AVX2 with FMA, plain C; AVX-512 adds the panels)
// against one fmaf chain per output, every function (rows along the lanes, outputs along the lanes, packed panels),
// at shapes with partial tiles and vectors, K and N tails and strided rows, each product cut in two column ranges as
// two threads would; run by scripts/check_kernel_paths.sh. td_fewrow_available says which path was built.
#include "CFewRowKernels.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static unsigned long long s = 88172645463325252ULL;
static float rnd(void) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return (float)(s % 2000001) / 1000000.0f - 1.0f; }
int main(void) {
    int shapes[][3] = {{1,1,1},{1,579,45},{3,7,8},{4,64,17},{5,576,13},{8,33,6},{9,100,25},{16,576,48},{17,579,45},
                       {24,130,20},{33,9,14},{40,576,31},{48,1539,12},
                       {64,70,30},{80,20,19},
                       {16,128,128},{32,64,23},{48,70,21},{16,9,11},{96,40,27}};
    long bad = 0, total = 0;
    for (int t = 0; t < (int)(sizeof shapes / sizeof shapes[0]); t++) {
        int m = shapes[t][0], k = shapes[t][1], n = shapes[t][2], ldx = k + 3, ldw = k + 1, ldy = n + 2;
        float *x = malloc(4 * m * ldx), *w = malloc(4 * n * ldw), *y = malloc(4 * m * ldy);
        float *packed = malloc(4 * td_fewrow_lanes(m) * k), *panels = malloc(4 * ((n + 15) / 16 * 16) * k + 4);
        for (int i = 0; i < m * ldx; i++) x[i] = rnd();
        for (int i = 0; i < n * ldw; i++) w[i] = rnd();
        // rows, columns, and where the build has AVX-512, panels (each cut in two as two threads would)
        for (int f = 0; f < (td_fewrow_panels_available() ? 3 : 2); f++) {
            long width = td_fewrow_block_width(m), half = (n / width / 2) * width;
            memset(y, 0xff, 4 * m * ldy);  // NaN
            if (f == 2) {
                long count = (n + 15) / 16;
                td_fewrow_pack_panels(n, k, w, ldw, panels);
                td_fewrow_panels(m, k, x, ldx, panels, n, 0, count / 2, y, ldy);
                td_fewrow_panels(m, k, x, ldx, panels, n, count / 2, count, y, ldy);
            } else if (f == 0) {
                td_fewrow_pack(m, k, x, ldx, packed);
                td_fewrow_rows(m, k, packed, w, ldw, 0, half, y, ldy, 64);
                td_fewrow_rows(m, k, packed, w, ldw, half, n, y, ldy, 64);
            } else {
                td_fewrow_columns(m, k, x, ldx, w, ldw, 0, half, y, ldy, 64);
                td_fewrow_columns(m, k, x, ldx, w, ldw, half, n, y, ldy, 64);
            }
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    float e = 0;
                    for (int c = 0; c < k; c++) e = fmaf(x[i * ldx + c], w[j * ldw + c], e);
                    total++;
                    if (memcmp(&e, &y[i * ldy + j], 4) != 0) {
                        if (bad < 5) printf("%s m %d k %d n %d: y[%d,%d] %g vs %g\n", f == 2 ? "panels" : f ? "columns" : "rows", m, k, n, i, j, y[i * ldy + j], e);
                        bad++;
                    }
                }
                for (int j = n; j < ldy; j++)
                    if (!isnan(y[i * ldy + j])) { if (bad < 5) printf("m %d n %d: y[%d,%d] past n written\n", m, n, i, j); bad++; }
            }
        }
        free(x); free(w); free(y); free(packed); free(panels);
    }
#if defined(__AVX512F__)
    const char *path = "AVX2 with the AVX-512 panels";
#else
    const char *path = td_fewrow_available() ? "AVX2" : "plain C";
#endif
    printf("%s path: %ld of %ld differ\n", path, bad, total);
    return bad != 0;
}
