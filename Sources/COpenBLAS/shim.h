// CBLAS (OpenBLAS) and LAPACKE, from Debian's libopenblas-dev and liblapacke-dev.
// blasint and lapack_int are 32-bit (Int32 in Swift).
#ifndef ZCNAS_COPENBLAS_SHIM_H
#define ZCNAS_COPENBLAS_SHIM_H
#include <cblas.h>
#include <lapacke.h>
#if defined(__linux__)
#include <malloc.h>  // mallopt: keep large tensor buffers in the heap
#endif
#endif
