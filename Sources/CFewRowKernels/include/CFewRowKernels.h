// The AVX2 few-row product behind Tensor's fewRowProducts (see Sources/Tensor/Ops/FewRowProduct.swift), in C for
// its 8 x 8 register transposes, which Swift's SIMD types do not express. y (M, N) = x (M, K) W^T, W (N, K) row-major.
//
// Every output is one chain of fused multiply-adds along K from zero: y[i][j] has the bits of
// `s = 0; for c in 0..<k: s = fma(x[i][c], w[j][c], s)`, in every function below and whatever M, N, the tile or the
// thread. So a row's results do not depend on the other rows of the product, and each function can take any M.
#ifndef CFEWROWKERNELS_H
#define CFEWROWKERNELS_H

/// 1 when the package was built for a CPU with AVX2 and FMA (Package.swift passes -march), so that the functions
/// below exist in vector form; 0 otherwise, and then they must not be called.
int td_fewrow_available(void);

/// Floats per column of `td_fewrow_pack`'s layout for m rows: m rounded up to a multiple of 8.
long td_fewrow_lanes(long m);

/// Writes x (m rows of k floats, row stride ldx) column by column for `td_fewrow_rows`: k columns of
/// td_fewrow_lanes(m) floats, column c holding x[0][c], ..., x[m - 1][c], then zeros.
void td_fewrow_pack(long m, long k, const float *x, long ldx, float *packed);

/// Most rows for which the callers take td_fewrow_columns rather than td_fewrow_rows: below 8 rows the lanes would be
/// mostly padding.
#define TD_FEWROW_COLUMN_ROWS 4

/// Outputs per block for m rows, the unit the callers share among threads (any j0, j1 work; block edges make the tiles
/// whole): 8 for td_fewrow_columns (m <= TD_FEWROW_COLUMN_ROWS), else td_fewrow_rows's tile width.
long td_fewrow_block_width(long m);

/// y[i][j] for every row i < m and output j0 <= j < j1, the rows along the vector lanes: 16 rows x 6 outputs per
/// tile (24 rows x 4 where the vectors of rows are odd), one broadcast weight against the vectors of x (`packed`,
/// from td_fewrow_pack). For m above 4.
/// `prefetchDistance` floats ahead of each weight row it reads, it asks for the weights it will read next.
void td_fewrow_rows(long m, long k, const float *packed, const float *w, long ldw, long j0, long j1, float *y,
                    long ldy, long prefetchDistance);

/// The same outputs with the same bits, the outputs along the lanes: 8 weight rows transposed 8 x 8 in registers,
/// each x entry broadcast. For m of a few rows, where td_fewrow_rows's lanes would be mostly padding.
void td_fewrow_columns(long m, long k, const float *x, long ldx, const float *w, long ldw, long j0, long j1, float *y,
                       long ldy, long prefetchDistance);

/// 1 when the package was built for a CPU with AVX-512 (Package.swift passes -march), so that the two functions below
/// exist; 0 otherwise, and then they must not be called.
int td_fewrow_panels_available(void);

/// Writes W (n rows of k floats, row stride ldw) as panels of 16 outputs for `td_fewrow_panels`: panel p holds, for
/// each column c in order, w[16p][c], ..., w[16p + 15][c] (zeros past row n - 1). (n + 15) / 16 * 16 * k floats.
void td_fewrow_pack_panels(long n, long k, const float *w, long ldw, float *panels);

/// y[i][j] for every row i < m and output j of panels p0 ..< p1 (j < n), the outputs along the lanes: each x entry
/// broadcast against three panels' 16 outputs at a time, eight rows at a time. Same bits as the functions above; for
/// weights packed once and used for many products (a decoding loop over weights that stay in cache).
void td_fewrow_panels(long m, long k, const float *x, long ldx, const float *panels, long n, long p0, long p1, float *y,
                      long ldy);

/// Floats per column of `td_fewrow_wide_pack`'s layout for m rows: m rounded up to a multiple of 16.
long td_fewrow_wide_lanes(long m);

/// `td_fewrow_pack` at 16 lanes (td_fewrow_wide_lanes(m) floats a column), for `td_fewrow_wide_rows`.
void td_fewrow_wide_pack(long m, long k, const float *x, long ldx, float *packed);

/// Most rows for which the callers take td_fewrow_wide_columns rather than td_fewrow_wide_rows: below 9 rows the
/// latter's 16 lanes would be mostly padding.
#define TD_FEWROW_WIDE_COLUMN_ROWS 8

/// Outputs per block for m rows with the 16-lane kernels: 16 for td_fewrow_wide_columns (m <= TD_FEWROW_WIDE_COLUMN_ROWS), else
/// td_fewrow_wide_rows's tile width (12 up to 32 rows, 8 up to 48).
long td_fewrow_wide_block_width(long m);

/// td_fewrow_rows's outputs with its bits at 16 lanes (AVX-512 builds; td_fewrow_panels_available says so): each weight
/// broadcast against up to three vectors of x's rows (`packed`, from td_fewrow_wide_pack), 12 weight rows a tile (8
/// with three vectors; more rows take more passes of three), the weights of the tile two on asked for into L2. For m
/// above TD_FEWROW_WIDE_COLUMN_ROWS over weights streamed from memory.
/// With `backward`, the tiles go from j1 down to j0 and ask for the weights two tiles below (the results are the same).
void td_fewrow_wide_rows(long m, long k, const float *packed, const float *w, long ldw, long j0, long j1, float *y,
                         long ldy, int backward);

/// The same outputs and bits for m <= TD_FEWROW_WIDE_COLUMN_ROWS rows (AVX-512 builds): 16 weight rows a tile, eight
/// columns at a time transposed in registers, each x entry broadcast; the tile two on asked for into L2, the tiles
/// from j1 down with `backward`.
void td_fewrow_wide_columns(long m, long k, const float *x, long ldx, const float *w, long ldw, long j0, long j1,
                            float *y, long ldy, int backward);

/// Items 0 ..< count shared by two threads from the two ends (`td_fewrow_claim`), so that each walks its own
/// contiguous run and its prefetches ask for weights it will read itself. `claims` is one 64-bit word (used atomically).
void td_fewrow_claims_init(unsigned long long *claims, long count);

/// Takes up to `step` of the items left from the front (fromBack 0) or the back: returns how many (0 when none is
/// left) and sets *first to the first of them.
long td_fewrow_claim(unsigned long long *claims, int fromBack, long step, long *first);

#endif
