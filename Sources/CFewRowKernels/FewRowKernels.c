// Few-row products with one fused multiply-add chain per output (see CFewRowKernels.h). The vector path is chosen at
// compile time from the CPU the package is built for (Package.swift passes -march): AVX2 with FMA, else plain C with
// fmaf, which gives the same bits (slowly: it is there so that the functions are correct everywhere). The packed-panel
// kernel exists only where the build has AVX-512 (td_fewrow_panels_available says so; elsewhere it is an empty stub).
#include "CFewRowKernels.h"
#include <math.h>
#include <stdatomic.h>
#include <string.h>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

long td_fewrow_lanes(long m) { return (m + 7) / 8 * 8; }

// The span still unclaimed, [front, back), as back << 32 | front in one atomic word.
void td_fewrow_claims_init(unsigned long long *claims, long count) {
    atomic_store((_Atomic unsigned long long *)claims, (unsigned long long)count << 32);
}

long td_fewrow_claim(unsigned long long *claims, int fromBack, long step, long *first) {
    _Atomic unsigned long long *word = (_Atomic unsigned long long *)claims;
    unsigned long long old = atomic_load(word), new;
    long front, back, take;
    do {
        front = (long)(old & 0xffffffffu), back = (long)(old >> 32);
        take = back - front < step ? back - front : step;
        if (take <= 0) return 0;
        if (fromBack) back -= take; else front += take;
        new = (unsigned long long)back << 32 | (unsigned long long)front;
    } while (!atomic_compare_exchange_weak(word, &old, new));
    *first = fromBack ? back : front - take;
    return take;
}

// x's k columns of `lanes` floats each: x[0][c], ..., x[m - 1][c], then zeros.
static void pack_columns(long m, long k, const float *x, long ldx, float *packed, long lanes) {
    for (long c = 0; c < k; c++) {
        float *column = packed + c * lanes;
        for (long i = 0; i < m; i++) column[i] = x[i * ldx + c];
        for (long i = m; i < lanes; i++) column[i] = 0;
    }
}

void td_fewrow_pack(long m, long k, const float *x, long ldx, float *packed) {
    pack_columns(m, k, x, ldx, packed, td_fewrow_lanes(m));
}

long td_fewrow_wide_lanes(long m) { return (m + 15) / 16 * 16; }

void td_fewrow_wide_pack(long m, long k, const float *x, long ldx, float *packed) {
    pack_columns(m, k, x, ldx, packed, td_fewrow_wide_lanes(m));
}

// td_fewrow_rows's outputs per tile: 6 against 2 vectors of rows at a time (1 for a single one), or where the vectors
// are odd, 4 against 3 vectors, then 2 at a time.
static long rows_width(long m) {
    long vectors = td_fewrow_lanes(m) / 8;
    return vectors % 2 == 1 && vectors > 1 ? 4 : 6;
}

long td_fewrow_block_width(long m) { return m <= TD_FEWROW_COLUMN_ROWS ? 8 : rows_width(m); }

// One output's chain, for the tails the tiles leave.
static float chain(long k, const float *x, long xStride, const float *w) {
    float s = 0;
    for (long c = 0; c < k; c++) s = fmaf(x[c * xStride], w[c], s);
    return s;
}

#if defined(__AVX2__) && defined(__FMA__)

int td_fewrow_available(void) { return 1; }

#define TD_ALWAYS static inline __attribute__((always_inline))

// Rows along the lanes: V vectors of x rows (`lanes` floats a column of packed, from `x0` on) times R weight rows
// from w, each weight broadcast against the V vectors; out[v * R + r] gets output r for the 8 rows of vector v. With
// `prefetch`, every 16 columns (one cache line of each weight row) it asks for the lines `distance` floats on.
// V x R accumulators plus V vectors of x and a broadcast fit AVX2's 16 registers for 2 x 6, 3 x 4, 1 x 6 and 2 x 4.
TD_ALWAYS void rows_tile(const int V, const int R, long k, const float *x0, long lanes, const float *w, long ldw,
                         __m256 *out, int prefetch, long distance) {
    __m256 acc[3][6];
    for (int v = 0; v < V; v++)
        for (int r = 0; r < R; r++) acc[v][r] = _mm256_setzero_ps();
    const float *xp = x0;
    for (long c = 0; c < k; c++, xp += lanes) {
        if (prefetch && (c & 15) == 0)
            for (int r = 0; r < R; r++) _mm_prefetch((const char *)(w + r * ldw + c + distance), _MM_HINT_T0);
        __m256 a[3];
        for (int v = 0; v < V; v++) a[v] = _mm256_loadu_ps(xp + 8 * v);
        for (int r = 0; r < R; r++) {
            __m256 b = _mm256_broadcast_ss(w + r * ldw + c);
            for (int v = 0; v < V; v++) acc[v][r] = _mm256_fmadd_ps(a[v], b, acc[v][r]);
        }
    }
    for (int v = 0; v < V; v++)
        for (int r = 0; r < R; r++) out[v * R + r] = acc[v][r];
}

void td_fewrow_rows(long m, long k, const float *packed, const float *w, long ldw, long j0, long j1, float *y,
                    long ldy, long prefetchDistance) {
    long lanes = td_fewrow_lanes(m), vectors = lanes / 8, j = j0;
    const long width = rows_width(m);
    for (; j + width <= j1; j += width) {
        const float *wj = w + j * ldw;
        for (long v = 0; v < vectors;) {
            long left = vectors - v;
            int take = width == 4 && left == 3 ? 3 : left >= 2 ? 2 : 1;
            __m256 acc[12];
            float t[12][8] __attribute__((aligned(32)));
            const float *xv = packed + v * 8;
            // the weights are asked for once, on the first pass over them; later passes find them in cache
            int prefetch = v == 0;
            if (width == 6 && take == 2) rows_tile(2, 6, k, xv, lanes, wj, ldw, acc, prefetch, prefetchDistance);
            else if (width == 6) rows_tile(1, 6, k, xv, lanes, wj, ldw, acc, prefetch, prefetchDistance);
            else if (take == 3) rows_tile(3, 4, k, xv, lanes, wj, ldw, acc, prefetch, prefetchDistance);
            else rows_tile(2, 4, k, xv, lanes, wj, ldw, acc, prefetch, prefetchDistance);
            for (int a = 0; a < take * width; a++) _mm256_store_ps(t[a], acc[a]);
            for (int a = 0; a < take; a++)
                for (int lane = 0; lane < 8 && (v + a) * 8 + lane < m; lane++) {
                    float *row = y + ((v + a) * 8 + lane) * ldy + j;
                    for (int r = 0; r < width; r++) row[r] = t[a * width + r][lane];
                }
            v += take;
        }
    }
    for (; j < j1; j++)  // fewer than a block's outputs left
        for (long i = 0; i < m; i++) y[i * ldy + j] = chain(k, packed + i, lanes, w + j * ldw);
}

// r[q] becomes the column q of the 8 x 8 block r (r[q][l] = old r[l][q]).
TD_ALWAYS void transpose8(__m256 *r) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)), s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)), s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0)), s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0)), s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20); r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20); r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31); r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31); r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// Rows x0 .. x0 + rows - 1 (rows <= 4) against the 8 weight rows from w: acc[i] holds the 8 outputs of row i.
TD_ALWAYS void columns_tile(int rows, long k, const float *x, long ldx, const float *w, long ldw, __m256 *acc,
                            int prefetch, long distance) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    const float *x1 = x + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx;
    long c = 0;
    for (; c + 8 <= k; c += 8) {
        if (prefetch && (c & 15) == 0)
            for (int r = 0; r < 8; r++) _mm_prefetch((const char *)(w + r * ldw + c + distance), _MM_HINT_T0);
        __m256 col[8];
        for (int r = 0; r < 8; r++) col[r] = _mm256_loadu_ps(w + r * ldw + c);
        transpose8(col);
        for (int q = 0; q < 8; q++) {
            a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(x + c + q), col[q], a0);
            if (rows > 1) a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(x1 + c + q), col[q], a1);
            if (rows > 2) a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(x2 + c + q), col[q], a2);
            if (rows > 3) a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(x3 + c + q), col[q], a3);
        }
    }
    for (; c < k; c++) {  // the last k % 8 columns, gathered
        __m256 col = _mm256_setr_ps(w[c], w[ldw + c], w[2 * ldw + c], w[3 * ldw + c], w[4 * ldw + c], w[5 * ldw + c],
                                    w[6 * ldw + c], w[7 * ldw + c]);
        a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(x + c), col, a0);
        if (rows > 1) a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(x1 + c), col, a1);
        if (rows > 2) a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(x2 + c), col, a2);
        if (rows > 3) a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(x3 + c), col, a3);
    }
    acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3;
}

void td_fewrow_columns(long m, long k, const float *x, long ldx, const float *w, long ldw, long j0, long j1, float *y,
                       long ldy, long prefetchDistance) {
    long j = j0;
    for (; j + 8 <= j1; j += 8) {
        const float *wj = w + j * ldw;
        for (long i = 0; i < m; i += 4) {
            __m256 acc[4];
            const float *xi = x + i * ldx;
            int prefetch = i == 0;
            switch (m - i >= 4 ? 4 : m - i) {
            case 1: columns_tile(1, k, xi, ldx, wj, ldw, acc, prefetch, prefetchDistance); break;
            case 2: columns_tile(2, k, xi, ldx, wj, ldw, acc, prefetch, prefetchDistance); break;
            case 3: columns_tile(3, k, xi, ldx, wj, ldw, acc, prefetch, prefetchDistance); break;
            default: columns_tile(4, k, xi, ldx, wj, ldw, acc, prefetch, prefetchDistance); break;
            }
            for (long r = 0; r < 4 && i + r < m; r++) _mm256_storeu_ps(y + (i + r) * ldy + j, acc[r]);
        }
    }
    for (; j < j1; j++)  // fewer than 8 outputs left
        for (long i = 0; i < m; i++) y[i * ldy + j] = chain(k, x + i * ldx, 1, w + j * ldw);
}

#else

int td_fewrow_available(void) { return 0; }

void td_fewrow_rows(long m, long k, const float *packed, const float *w, long ldw, long j0, long j1, float *y,
                    long ldy, long prefetchDistance) {
    (void)prefetchDistance;
    long lanes = td_fewrow_lanes(m);
    for (long j = j0; j < j1; j++)
        for (long i = 0; i < m; i++) y[i * ldy + j] = chain(k, packed + i, lanes, w + j * ldw);
}

void td_fewrow_columns(long m, long k, const float *x, long ldx, const float *w, long ldw, long j0, long j1, float *y,
                       long ldy, long prefetchDistance) {
    (void)prefetchDistance;
    for (long j = j0; j < j1; j++)
        for (long i = 0; i < m; i++) y[i * ldy + j] = chain(k, x + i * ldx, 1, w + j * ldw);
}

#endif

// The packed-panel kernel: AVX-512 builds only (which have AVX2 and FMA, so TD_ALWAYS and immintrin.h above);
// elsewhere stubs that must not be called (td_fewrow_panels_available says which).
#if defined(__AVX512F__)

int td_fewrow_panels_available(void) { return 1; }

// Column c of x's rows against column c of P panels: acc[r][p] += x[r][c] * the panel's 16 weights.
TD_ALWAYS void panel_column(const int ROWS, const int P, long k, const float *x, long ldx, const float *panel, long c,
                            __m512 acc[8][3]) {
    __m512 b[3];
#pragma unroll
    for (int p = 0; p < P; p++) b[p] = _mm512_loadu_ps(panel + ((long)p * k + c) * 16);
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
        __m512 a = _mm512_set1_ps(x[r * ldx + c]);
#pragma unroll
        for (int p = 0; p < P; p++) acc[r][p] = _mm512_fmadd_ps(a, b[p], acc[r][p]);
    }
}

// Rows i0 .. i0 + ROWS - 1 of x against P panels (16 outputs each) from `panel`: acc[r][p] holds the 16 outputs of
// panel p for row r, each lane one chain of fused multiply-adds along k. Four columns a pass, so that the rows'
// addresses serve four columns as offsets.
TD_ALWAYS void panel_tile(const int ROWS, const int P, long k, const float *x, long ldx, const float *panel, __m512 acc[8][3]) {
#pragma unroll
    for (int r = 0; r < ROWS; r++)
#pragma unroll
        for (int p = 0; p < P; p++) acc[r][p] = _mm512_setzero_ps();
    long c = 0;
    for (; c + 4 <= k; c += 4) {
#pragma unroll
        for (int q = 0; q < 4; q++) panel_column(ROWS, P, k, x, ldx, panel, c + q, acc);
    }
    for (; c < k; c++) panel_column(ROWS, P, k, x, ldx, panel, c, acc);
}

void td_fewrow_pack_panels(long n, long k, const float *w, long ldw, float *panels) {
    for (long p = 0; p < (n + 15) / 16; p++)
        for (long c = 0; c < k; c++) {
            float *out = panels + (p * k + c) * 16;
            for (long l = 0; l < 16; l++) out[l] = p * 16 + l < n ? w[(p * 16 + l) * ldw + c] : 0;
        }
}

void td_fewrow_panels(long m, long k, const float *x, long ldx, const float *panels, long n, long p0, long p1, float *y,
                      long ldy) {
    for (long p = p0; p < p1;) {
        int take = p1 - p >= 3 ? 3 : (int)(p1 - p);
        const float *panel = panels + p * k * 16;
        for (long i = 0; i < m; i += 8) {
            __m512 acc[8][3];
            int rows = m - i >= 8 ? 8 : (int)(m - i);
            const float *xi = x + i * ldx;
#define TD_PANELS(RR)                                                                     \
    switch (take) {                                                                       \
    case 1: panel_tile(RR, 1, k, xi, ldx, panel, acc); break;                             \
    case 2: panel_tile(RR, 2, k, xi, ldx, panel, acc); break;                             \
    default: panel_tile(RR, 3, k, xi, ldx, panel, acc); break;                            \
    }
            switch (rows) {
            case 1: TD_PANELS(1); break;
            case 2: TD_PANELS(2); break;
            case 3: TD_PANELS(3); break;
            case 4: TD_PANELS(4); break;
            case 5: TD_PANELS(5); break;
            case 6: TD_PANELS(6); break;
            case 7: TD_PANELS(7); break;
            default: TD_PANELS(8); break;
            }
#undef TD_PANELS
            for (int r = 0; r < rows; r++)
                for (int q = 0; q < take; q++) {
                    long j = (p + q) * 16, left = n - j;
                    __mmask16 mask = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
                    _mm512_mask_storeu_ps(y + (i + r) * ldy + j, mask, acc[r][q]);
                }
        }
        p += take;
    }
}

// The 16-lane chains kernel: td_fewrow_rows's layout on AVX-512's 32 registers, for weights streamed from memory.

// Weight rows per tile: 12 against one or two vectors of rows, 8 against three (V x R accumulators, V vectors of x).
static long wide_rows_width(long m) { return td_fewrow_wide_lanes(m) / 16 <= 2 ? 12 : 8; }

long td_fewrow_wide_block_width(long m) { return m <= TD_FEWROW_WIDE_COLUMN_ROWS ? 16 : wide_rows_width(m); }

// V vectors of x rows (`lanes` floats a column of packed) times R weight rows from w, each weight broadcast from
// memory against the V vectors; each lane is one output's chain. Every 16 columns it asks for the lines `distance`
// floats on in each weight row (into L2: a tile two on, which the hardware prefetcher alone brought too late, the
// arithmetic and the weight reads then taking turns). Rows i < rows of the tile are stored to y.
TD_ALWAYS void wide_tile(const int V, const int R, long k, const float *x0, long lanes, const float *w, long ldw,
                         float *y, long ldy, long rows, long distance) {
    __m512 acc[3][12];
#pragma unroll
    for (int v = 0; v < V; v++)
#pragma unroll
        for (int r = 0; r < R; r++) acc[v][r] = _mm512_setzero_ps();
    const float *wr[12];
#pragma unroll
    for (int r = 0; r < R; r++) wr[r] = w + r * ldw;
    const float *xp = x0;
    for (long c = 0; c < k; c++, xp += lanes) {
        if ((c & 15) == 0)
#pragma unroll
            for (int r = 0; r < R; r++) _mm_prefetch((const char *)(wr[r] + c + distance), _MM_HINT_T1);
        __m512 a[3];
#pragma unroll
        for (int v = 0; v < V; v++) a[v] = _mm512_loadu_ps(xp + 16 * v);
#pragma unroll
        for (int r = 0; r < R; r++) {
            __m512 b = _mm512_set1_ps(wr[r][c]);
#pragma unroll
            for (int v = 0; v < V; v++) acc[v][r] = _mm512_fmadd_ps(a[v], b, acc[v][r]);
        }
    }
    float t[12][16] __attribute__((aligned(64)));
    for (int v = 0; v < V; v++) {
#pragma unroll
        for (int r = 0; r < R; r++) _mm512_store_ps(t[r], acc[v][r]);
        for (long lane = 0; lane < 16 && v * 16 + lane < rows; lane++) {
            float *row = y + (v * 16 + lane) * ldy;
            for (int r = 0; r < R; r++) row[r] = t[r][lane];
        }
    }
}

// One tile of `take` (< R) weight rows: the tail of a product whose N the tile width does not divide.
#define TD_WIDE_TAIL(V)                                                                                                \
    switch (take) {                                                                                                    \
    case 1: wide_tile(V, 1, k, xv, lanes, wj, ldw, yv, ldy, rows, distance); break;                                    \
    case 2: wide_tile(V, 2, k, xv, lanes, wj, ldw, yv, ldy, rows, distance); break;                                    \
    case 3: wide_tile(V, 3, k, xv, lanes, wj, ldw, yv, ldy, rows, distance); break;                                    \
    case 4: wide_tile(V, 4, k, xv, lanes, wj, ldw, yv, ldy, rows, distance); break;                                    \
    case 5: wide_tile(V, 5, k, xv, lanes, wj, ldw, yv, ldy, rows, distance); break;                                    \
    case 6: wide_tile(V, 6, k, xv, lanes, wj, ldw, yv, ldy, rows, distance); break;                                    \
    case 7: wide_tile(V, 7, k, xv, lanes, wj, ldw, yv, ldy, rows, distance); break;                                    \
    case 8: wide_tile(V, 8, k, xv, lanes, wj, ldw, yv, ldy, rows, distance); break;                                    \
    case 9: wide_tile(V, 9, k, xv, lanes, wj, ldw, yv, ldy, rows, distance); break;                                    \
    case 10: wide_tile(V, 10, k, xv, lanes, wj, ldw, yv, ldy, rows, distance); break;                                  \
    default: wide_tile(V, 11, k, xv, lanes, wj, ldw, yv, ldy, rows, distance); break;                                  \
    }

void td_fewrow_wide_rows(long m, long k, const float *packed, const float *w, long ldw, long j0, long j1, float *y,
                         long ldy, int backward) {
    long lanes = td_fewrow_wide_lanes(m), vectors = lanes / 16;
    const long width = wide_rows_width(m), tiles = (j1 - j0 + width - 1) / width;
    const long distance = (backward ? -2 : 2) * width * ldw;  // two tiles on, the way the tiles go
    for (long q = 0; q < tiles; q++) {
        long j = j0 + (backward ? tiles - 1 - q : q) * width;
        long take = j1 - j < width ? j1 - j : width;
        const float *wj = w + j * ldw;
        // three vectors of rows at a time (a product of more than 48 rows takes more passes over the tile's weights)
        for (long v0 = 0; v0 < vectors; v0 += 3) {
            long group = vectors - v0 < 3 ? vectors - v0 : 3, rows = m - v0 * 16;
            const float *xv = packed + v0 * 16;
            float *yv = y + v0 * 16 * ldy + j;
            if (take == width && width == 12) {
                if (group == 1) wide_tile(1, 12, k, xv, lanes, wj, ldw, yv, ldy, rows, distance);
                else wide_tile(2, 12, k, xv, lanes, wj, ldw, yv, ldy, rows, distance);
            } else if (take == width) {
                if (group == 1) wide_tile(1, 8, k, xv, lanes, wj, ldw, yv, ldy, rows, distance);
                else if (group == 2) wide_tile(2, 8, k, xv, lanes, wj, ldw, yv, ldy, rows, distance);
                else wide_tile(3, 8, k, xv, lanes, wj, ldw, yv, ldy, rows, distance);
            } else if (group == 1) {
                TD_WIDE_TAIL(1)
            } else if (group == 2) {
                TD_WIDE_TAIL(2)
            } else {
                TD_WIDE_TAIL(3)
            }
        }
    }
}

#undef TD_WIDE_TAIL

// Rows x0 .. x0 + ROWS - 1 (ROWS <= 8) against 16 weight rows (row pointers wr, all indexed by the column): eight
// columns a step, the 16 x 8 block loaded as two rows a vector and transposed in registers, so that vector q holds
// column c + q of the 16 rows (lane l: weight row l); each x entry broadcast against it. Lane l of acc[i] is output
// l of row i, one chain of fused multiply-adds along k.
TD_ALWAYS void wide_columns_tile(const int ROWS, long k, const float *x, long ldx, const float *const *wr,
                                 __m512 *acc, long distance) {
    const __m512i low = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
    const __m512i high = _mm512_setr_epi32(4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
#pragma unroll
    for (int i = 0; i < ROWS; i++) acc[i] = _mm512_setzero_ps();
    long c = 0;
    for (; c + 8 <= k; c += 8) {
        if ((c & 15) == 0)
#pragma unroll
            for (int r = 0; r < 16; r++) _mm_prefetch((const char *)(wr[r] + c + distance), _MM_HINT_T1);
        __m512 v[8];
#pragma unroll
        for (int r = 0; r < 8; r++)
            v[r] = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(wr[r] + c)), _mm256_loadu_ps(wr[r + 8] + c), 1);
        // the 8 x 8 transpose of transpose8 in each 256-bit half
        __m512 t0 = _mm512_unpacklo_ps(v[0], v[1]), t1 = _mm512_unpackhi_ps(v[0], v[1]);
        __m512 t2 = _mm512_unpacklo_ps(v[2], v[3]), t3 = _mm512_unpackhi_ps(v[2], v[3]);
        __m512 t4 = _mm512_unpacklo_ps(v[4], v[5]), t5 = _mm512_unpackhi_ps(v[4], v[5]);
        __m512 t6 = _mm512_unpacklo_ps(v[6], v[7]), t7 = _mm512_unpackhi_ps(v[6], v[7]);
        __m512 s0 = _mm512_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)), s1 = _mm512_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
        __m512 s2 = _mm512_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)), s3 = _mm512_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
        __m512 s4 = _mm512_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0)), s5 = _mm512_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
        __m512 s6 = _mm512_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0)), s7 = _mm512_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
        v[0] = _mm512_permutex2var_ps(s0, low, s4); v[1] = _mm512_permutex2var_ps(s1, low, s5);
        v[2] = _mm512_permutex2var_ps(s2, low, s6); v[3] = _mm512_permutex2var_ps(s3, low, s7);
        v[4] = _mm512_permutex2var_ps(s0, high, s4); v[5] = _mm512_permutex2var_ps(s1, high, s5);
        v[6] = _mm512_permutex2var_ps(s2, high, s6); v[7] = _mm512_permutex2var_ps(s3, high, s7);
#pragma unroll
        for (int q = 0; q < 8; q++)
#pragma unroll
            for (int i = 0; i < ROWS; i++) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(x[i * ldx + c + q]), v[q], acc[i]);
    }
    for (; c < k; c++) {  // the last k % 8 columns, gathered
        __m512 col = _mm512_setr_ps(wr[0][c], wr[1][c], wr[2][c], wr[3][c], wr[4][c], wr[5][c], wr[6][c], wr[7][c], wr[8][c],
                                    wr[9][c], wr[10][c], wr[11][c], wr[12][c], wr[13][c], wr[14][c], wr[15][c]);
#pragma unroll
        for (int i = 0; i < ROWS; i++) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(x[i * ldx + c]), col, acc[i]);
    }
}

void td_fewrow_wide_columns(long m, long k, const float *x, long ldx, const float *w, long ldw, long j0, long j1,
                            float *y, long ldy, int backward) {
    const long tiles = (j1 - j0 + 15) / 16, distance = (backward ? -32 : 32) * ldw;  // two tiles on
    for (long q = 0; q < tiles; q++) {
        long j = j0 + (backward ? tiles - 1 - q : q) * 16, take = j1 - j < 16 ? j1 - j : 16;
        // a tile past the product's end repeats its last weight row; those lanes are not stored
        const float *wr[16];
        for (long r = 0; r < 16; r++) wr[r] = w + (j + (r < take ? r : take - 1)) * ldw;
        __mmask16 mask = take == 16 ? (__mmask16)0xffff : (__mmask16)((1u << take) - 1);
        for (long i = 0; i < m; i += 8) {
            __m512 acc[8];
            const float *xi = x + i * ldx;
            switch (m - i >= 8 ? 8 : m - i) {
            case 1: wide_columns_tile(1, k, xi, ldx, wr, acc, distance); break;
            case 2: wide_columns_tile(2, k, xi, ldx, wr, acc, distance); break;
            case 3: wide_columns_tile(3, k, xi, ldx, wr, acc, distance); break;
            case 4: wide_columns_tile(4, k, xi, ldx, wr, acc, distance); break;
            case 5: wide_columns_tile(5, k, xi, ldx, wr, acc, distance); break;
            case 6: wide_columns_tile(6, k, xi, ldx, wr, acc, distance); break;
            case 7: wide_columns_tile(7, k, xi, ldx, wr, acc, distance); break;
            default: wide_columns_tile(8, k, xi, ldx, wr, acc, distance); break;
            }
            for (long r = 0; r < 8 && i + r < m; r++) _mm512_mask_storeu_ps(y + (i + r) * ldy + j, mask, acc[r]);
        }
    }
}

#else

int td_fewrow_panels_available(void) { return 0; }
void td_fewrow_pack_panels(long n, long k, const float *w, long ldw, float *panels) {
    (void)n; (void)k; (void)w; (void)ldw; (void)panels;
}
void td_fewrow_panels(long m, long k, const float *x, long ldx, const float *panels, long n, long p0, long p1, float *y,
                      long ldy) {
    (void)m; (void)k; (void)x; (void)ldx; (void)panels; (void)n; (void)p0; (void)p1; (void)y; (void)ldy;
}
long td_fewrow_wide_block_width(long m) { return m <= TD_FEWROW_WIDE_COLUMN_ROWS ? 16 : 12; }
void td_fewrow_wide_columns(long m, long k, const float *x, long ldx, const float *w, long ldw, long j0, long j1,
                            float *y, long ldy, int backward) {
    (void)m; (void)k; (void)x; (void)ldx; (void)w; (void)ldw; (void)j0; (void)j1; (void)y; (void)ldy; (void)backward;
}
void td_fewrow_wide_rows(long m, long k, const float *packed, const float *w, long ldw, long j0, long j1, float *y,
                         long ldy, int backward) {
    (void)m; (void)k; (void)packed; (void)w; (void)ldw; (void)j0; (void)j1; (void)y; (void)ldy; (void)backward;
}

#endif
