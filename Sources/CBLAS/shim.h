// OpenBLAS's CBLAS interface plus its runtime queries (core name, thread count), from Debian's libopenblas-dev:
// the build's fallback. scipy-openblas/ is the same module over the scipy-openblas32 wheel (see Package.swift).
#include <cblas.h>
