// The int8 matrix product behind Tensor's int8Linear, in C for its widening multiply-add intrinsics (vpmaddwd):
// Swift neither exposes them nor gets them from its SIMD types. Shapes as in Int8Linear.swift: x (M, K) -> y (M, N).
#ifndef CINT8KERNELS_H
#define CINT8KERNELS_H

#include <stdint.h>

/// Outputs per packed block: the int32 lanes of one AVX-512 register, two AVX2 registers.
#define TD_INT8_BLOCK 16

/// Bytes of `td_int8_pack`'s layout for an (n, k) weight: ceil(n / 16) blocks of ceil(k / 2) pairs x 16 outputs x 2.
long td_int8_packed_count(long n, long k);

/// Rearranges the row-major int8 weight w (n, k) into blocks of 16 outputs: block b, input pair p holds
/// w[16b + o][2p], w[16b + o][2p + 1] for o = 0..15, so one load gives 16 outputs' pair and the product needs no
/// horizontal sum. Outputs past n and the input past k (k odd) are zeros.
void td_int8_pack(const int8_t *w, long n, long k, int8_t *packed);

/// y[i, j] = (float)(sum_c x[i, c] * w[j, c]) * (weightScales[j] * rowScales[i]) + bias[j] (0 when bias is NULL),
/// the sum exact in int32, for the outputs of blocks blockLo..<blockHi and every row i < m. x is int16 holding int8
/// values (-127...127), row stride kp = k rounded up to even (the padding column zero); y is (m, n) row-major.
void td_int8_linear(const int16_t *x, long m, long kp, const int8_t *packed, long n, long blockLo, long blockHi,
                    const float *rowScales, const float *weightScales, const float *bias, float *y);

/// q[i] = round(clamp(x[i] * inverse, -127, 127)), ties to even, NaN to 0, as int16: the rows `td_int8_linear` takes,
/// and (narrowed to int8 by Swift's `quantizeToInt8`) the weights; 16 or 8 at a time where the build has AVX-512 or AVX2.
void td_int8_round(const float *x, long count, float inverse, int16_t *q);

#endif
