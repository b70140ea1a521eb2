#ifndef OFFRAMP_CKERNELS_H
#define OFFRAMP_CKERNELS_H

/// 1 when this CPU runs the AVX-512 kernels below (F, VL, DQ), else 0.
int ck_has_avx512(void);

/// Small-M product without packing, for few rows against a large weight:
/// out[m*ldo + n] = alpha * sum_k inp[m*ldi + k] * w[n*ldw + k]  (+ out when accumulate)
/// for 0 <= m < rows and n0 <= n < n1. Weights are read in place (PyTorch's
/// (out, in) layout), once per call, instead of being copied into panels as
/// BLAS does on every call. Needs ck_has_avx512().
void ck_sgemm_nt_small(float *out, const float *inp, const float *w, int rows, int k, int n0, int n1,
                       int ldi, int ldw, int ldo, int accumulate, float alpha);

#endif
