// Register-blocked int8 product (see CInt8Kernels.h). The weight is packed in blocks of 16 outputs x input pairs, so
// one widening multiply-add (vpmaddwd: int16 pairs -> int32) of a broadcast input pair against one packed vector adds
// two terms to 16 outputs at once; R rows share each weight load. There is no horizontal sum, which at K = 64 cost
// more than the products in a dot product per (row, output) pair. Sums are exact: |x|, |w| <= 127, so a pair is at
// most 32,258 and K up to 133,000 fits in int32.
//
// The path is chosen at compile time from the CPU the package is built for (Package.swift passes -march): AVX-512BW,
// else AVX2, else plain C. All three give the same bits: the same int32 sums and the same float epilogue,
// (float)sum * (ws[j] * xs[i]) + b[j], computed in that order without fused multiply-adds, as Swift computed it.
#pragma clang fp contract(off)

#include "CInt8Kernels.h"
#include <math.h>
#include <string.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

long td_int8_packed_count(long n, long k) {
    long blocks = (n + TD_INT8_BLOCK - 1) / TD_INT8_BLOCK, pairs = (k + 1) / 2;
    return blocks * pairs * TD_INT8_BLOCK * 2;
}

void td_int8_pack(const int8_t *w, long n, long k, int8_t *packed) {
    long blocks = (n + TD_INT8_BLOCK - 1) / TD_INT8_BLOCK, pairs = (k + 1) / 2;
    memset(packed, 0, (size_t)td_int8_packed_count(n, k));
    for (long b = 0; b < blocks; b++)
        for (long p = 0; p < pairs; p++) {
            int8_t *dst = packed + (b * pairs + p) * TD_INT8_BLOCK * 2;
            for (long o = 0; o < TD_INT8_BLOCK; o++) {
                long j = b * TD_INT8_BLOCK + o;
                if (j >= n) break;
                dst[2 * o] = w[j * k + 2 * p];
                if (2 * p + 1 < k) dst[2 * o + 1] = w[j * k + 2 * p + 1];
            }
        }
}

// The input pair x[2p], x[2p + 1] (int16 each) as one int32, to broadcast.
static inline int32_t pair_at(const int16_t *x, long p) {
    int32_t v;
    memcpy(&v, x + 2 * p, sizeof v);
    return v;
}

#if defined(__AVX512BW__)

// R rows (i0..i0+R-1) x one block of 16 outputs (j0..): sums over all pairs, then the epilogue; `valid` outputs are
// stored (the rest of the block is padding).
static inline __attribute__((always_inline)) void tile(int R, const int16_t *x, long i0, long kp, const int8_t *wb,
                                                         long j0, long n, int valid, const float *rowScales,
                                                         const float *weightScales, const float *bias, float *y) {
    long pairs = kp / 2;
    __m512i acc[8];
    for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_si512();
    for (long p = 0; p < pairs; p++) {
        __m512i w = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(wb + p * 32)));  // 16 outputs x pair
        for (int r = 0; r < R; r++)
            acc[r] = _mm512_add_epi32(acc[r], _mm512_madd_epi16(_mm512_set1_epi32(pair_at(x + (i0 + r) * kp, p)), w));
    }
    __mmask16 mask = (__mmask16)((1u << valid) - 1);
    __m512 ws = _mm512_maskz_loadu_ps(mask, weightScales + j0);
    __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + j0) : _mm512_setzero_ps();
    for (int r = 0; r < R; r++) {
        __m512 scale = _mm512_mul_ps(ws, _mm512_set1_ps(rowScales[i0 + r]));
        __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc[r]), scale), b);
        _mm512_mask_storeu_ps(y + (i0 + r) * n + j0, mask, v);
    }
}
#define TD_ROWS 8

#elif defined(__AVX2__)

static inline __attribute__((always_inline)) void tile(int R, const int16_t *x, long i0, long kp, const int8_t *wb,
                                                         long j0, long n, int valid, const float *rowScales,
                                                         const float *weightScales, const float *bias, float *y) {
    long pairs = kp / 2;
    __m256i lo[4], hi[4];  // outputs 0..7 and 8..15 of the block
    for (int r = 0; r < R; r++) lo[r] = hi[r] = _mm256_setzero_si256();
    for (long p = 0; p < pairs; p++) {
        __m256i wl = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wb + p * 32)));
        __m256i wh = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wb + p * 32 + 16)));
        for (int r = 0; r < R; r++) {
            __m256i xv = _mm256_set1_epi32(pair_at(x + (i0 + r) * kp, p));
            lo[r] = _mm256_add_epi32(lo[r], _mm256_madd_epi16(xv, wl));
            hi[r] = _mm256_add_epi32(hi[r], _mm256_madd_epi16(xv, wh));
        }
    }
    const __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i ml = _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), index);
    __m256i mh = _mm256_cmpgt_epi32(_mm256_set1_epi32(valid - 8), index);
    __m256 wsl = _mm256_maskload_ps(weightScales + j0, ml), wsh = _mm256_maskload_ps(weightScales + j0 + 8, mh);
    __m256 bl = bias ? _mm256_maskload_ps(bias + j0, ml) : _mm256_setzero_ps();
    __m256 bh = bias ? _mm256_maskload_ps(bias + j0 + 8, mh) : _mm256_setzero_ps();
    for (int r = 0; r < R; r++) {
        __m256 xs = _mm256_set1_ps(rowScales[i0 + r]);
        float *out = y + (i0 + r) * n + j0;
        _mm256_maskstore_ps(out, ml, _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(lo[r]), _mm256_mul_ps(wsl, xs)), bl));
        _mm256_maskstore_ps(out + 8, mh, _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(hi[r]), _mm256_mul_ps(wsh, xs)), bh));
    }
}
#define TD_ROWS 4

#else

static inline void tile(int R, const int16_t *x, long i0, long kp, const int8_t *wb, long j0, long n, int valid,
                        const float *rowScales, const float *weightScales, const float *bias, float *y) {
    long pairs = kp / 2;
    for (int r = 0; r < R; r++) {
        const int16_t *row = x + (i0 + r) * kp;
        for (int o = 0; o < valid; o++) {
            int32_t sum = 0;
            for (long p = 0; p < pairs; p++)
                sum += (int32_t)row[2 * p] * wb[p * 32 + 2 * o] + (int32_t)row[2 * p + 1] * wb[p * 32 + 2 * o + 1];
            float scale = weightScales[j0 + o] * rowScales[i0 + r];
            float v = (float)sum * scale;
            y[(i0 + r) * n + j0 + o] = v + (bias ? bias[j0 + o] : 0.0f);
        }
    }
}
#define TD_ROWS 4

#endif

void td_int8_linear(const int16_t *x, long m, long kp, const int8_t *packed, long n, long blockLo, long blockHi,
                    const float *rowScales, const float *weightScales, const float *bias, float *y) {
    long pairs = kp / 2;
    // Block outer, rows inner: a block's weights (16 x K bytes) stay in L1 while every row chunk passes over them.
    for (long b = blockLo; b < blockHi; b++) {
        const int8_t *wb = packed + b * pairs * TD_INT8_BLOCK * 2;
        long j0 = b * TD_INT8_BLOCK;
        int valid = (int)(n - j0 < TD_INT8_BLOCK ? n - j0 : TD_INT8_BLOCK);
        long i = 0;
        for (; i + TD_ROWS <= m; i += TD_ROWS) tile(TD_ROWS, x, i, kp, wb, j0, n, valid, rowScales, weightScales, bias, y);
#if TD_ROWS == 8
        if (i + 4 <= m) { tile(4, x, i, kp, wb, j0, n, valid, rowScales, weightScales, bias, y); i += 4; }
#endif
        if (i + 2 <= m) { tile(2, x, i, kp, wb, j0, n, valid, rowScales, weightScales, bias, y); i += 2; }
        if (i < m) tile(1, x, i, kp, wb, j0, n, valid, rowScales, weightScales, bias, y);
    }
}

void td_int8_round(const float *x, long count, float inverse, int16_t *q) {
    long i = 0;
#if defined(__AVX512F__)
    const __m512 scale = _mm512_set1_ps(inverse), lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
    for (; i + 16 <= count; i += 16) {
        __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), scale);
        v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v);  // NaN to 0
        v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
        // the default rounding mode (MXCSR), to nearest with ties to even
        _mm256_storeu_si256((__m256i *)(q + i), _mm512_cvtepi32_epi16(_mm512_cvtps_epi32(v)));
    }
#elif defined(__AVX2__)
    const __m256 scale = _mm256_set1_ps(inverse), lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
    for (; i + 8 <= count; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), scale);
        v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));  // NaN to 0
        v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
        __m256i r = _mm256_cvtps_epi32(v);
        _mm_storeu_si128((__m128i *)(q + i), _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1)));
    }
#endif
    for (; i < count; i++) {
        float v = x[i] * inverse;
        v = v != v ? 0.0f : v < -127.0f ? -127.0f : v > 127.0f ? 127.0f : v;
        q[i] = (int16_t)nearbyintf(v);
    }
}
