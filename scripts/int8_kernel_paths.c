// The three compile-time paths of Sources/CInt8Kernels/Int8Kernels.c (AVX-512BW, AVX2, plain C) against an int64 reference
// with the same float epilogue, at shapes with partial tiles, and td_int8_round against a scalar rounding over ties,
// clamps, infinities, NaN and ordinary values at lengths that leave vector tails; run by scripts/check_kernel_paths.sh.
#pragma clang fp contract(off)
#include "CInt8Kernels.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static unsigned long long s = 88172645463325252ULL;
static int rnd(int lo, int hi) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return lo + (int)(s % (unsigned long long)(hi - lo + 1)); }
int main(void) {
    int shapes[][3] = {{1,1,1},{3,63,17},{7,65,15},{8,64,172},{13,129,33},{16,172,64},{2,576,49},{9,4099,18},{5,1,40}};
    long bad = 0, total = 0;
    for (int t = 0; t < 9; t++) {
        int m = shapes[t][0], k = shapes[t][1], n = shapes[t][2], kp = (k + 1) & ~1;
        int8_t *w = malloc(n * k); int16_t *x = calloc(m * kp, 2); float *xs = malloc(4*m), *ws = malloc(4*n), *b = malloc(4*n), *y = malloc(4*m*n);
        for (int i = 0; i < n * k; i++) w[i] = (int8_t)(t == 7 ? (i % 2 ? 127 : -127) : rnd(-127, 127));
        for (int i = 0; i < m; i++) for (int c = 0; c < k; c++) x[i * kp + c] = (int16_t)(t == 7 ? -127 : rnd(-127, 127));
        for (int i = 0; i < m; i++) xs[i] = rnd(1, 1000) / 7777.0f;
        for (int j = 0; j < n; j++) { ws[j] = rnd(1, 1000) / 3333.0f; b[j] = rnd(-1000, 1000) / 100.0f; }
        int8_t *p = malloc(td_int8_packed_count(n, k));
        td_int8_pack(w, n, k, p);
        for (int withBias = 0; withBias < 2; withBias++) {
            long blocks = (n + 15) / 16;
            td_int8_linear(x, m, kp, p, n, 0, blocks / 2, xs, ws, withBias ? b : NULL, y);
            td_int8_linear(x, m, kp, p, n, blocks / 2, blocks, xs, ws, withBias ? b : NULL, y);
            for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) {
                long long sum = 0;
                for (int c = 0; c < k; c++) sum += (long long)x[i * kp + c] * w[j * k + c];
                float scale = ws[j] * xs[i];
                float e = (float)sum * scale;
                e = e + (withBias ? b[j] : 0.0f);
                total++;
                if (memcmp(&e, &y[i * n + j], 4) != 0) { if (bad < 5) printf("shape %d y[%d,%d] %g vs %g\n", t, i, j, y[i*n+j], e); bad++; }
            }
        }
    }
    // rounding: q = round(clamp(x * inverse, -127, 127)), ties to even, NaN to 0
    float special[] = {0.5f, 1.5f, 2.5f, -0.5f, -2.5f, 126.5f, 127.5f, -127.5f, 300.0f, -1e30f, INFINITY, -INFINITY, NAN,
                       -0.0f, 0.49999997f, 3.5000002f};
    for (long count = 1; count <= 70; count += 3) {
        float x[70];
        int16_t q[70];
        for (long i = 0; i < count; i++) x[i] = i % 3 == 0 ? special[(i / 3) % 16] : (float)rnd(-40000, 40000) / 100.0f;
        for (int pass = 0; pass < 2; pass++) {
            float inverse = pass == 0 ? 1.0f : 0.37f;
            td_int8_round(x, count, inverse, q);
            for (long i = 0; i < count; i++) {
                float v = x[i] * inverse;
                v = isnan(v) ? 0.0f : v < -127.0f ? -127.0f : v > 127.0f ? 127.0f : v;
                int16_t e = (int16_t)rintf(v);
                total++;
                if (q[i] != e) { if (bad < 5) printf("round count %ld x[%ld] %g: %d vs %d\n", count, i, x[i], q[i], e); bad++; }
            }
        }
    }
    printf("%ld of %ld differ\n", bad, total);
    return bad != 0;
}
