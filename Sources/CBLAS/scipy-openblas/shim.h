// The CBLAS module over OpenBLAS 0.3.34 from PyPI's scipy-openblas32 wheel, which `make setup` unpacks into
// .cache/scipy-openblas32 (Package.swift picks this folder instead of Sources/CBLAS when the wheel is there).
// The wheel's library and its cblas.h name every function with a `scipy_` prefix (scipy_cblas_sgemm,
// scipy_openblas_get_corename); the Swift code calls the plain names. unprefixed.h, which `make setup` writes
// from the wheel's own cblas.h, gives each name two lines:
//   #pragma redefine_extname cblas_sgemm scipy_cblas_sgemm   (a call to the plain name links the prefixed symbol)
//   #define scipy_cblas_sgemm cblas_sgemm                     (the header then declares the plain name)
// and then includes that cblas.h, so every function of the header is there, not only those called today.
#include "../../../.cache/scipy-openblas32/unprefixed.h"
