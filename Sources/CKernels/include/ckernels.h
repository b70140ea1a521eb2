#ifndef OFFRAMP_CKERNELS_H
#define OFFRAMP_CKERNELS_H

#include <stdint.h>

/// 1 when this CPU runs the AVX-512 kernels below (F, VL, DQ), else 0.
int ck_has_avx512(void);

/// Small-M product without packing, for few rows against a large weight:
/// out[m*ldo + n] = alpha * sum_k inp[m*ldi + k] * w[n*ldw + k]  (+ out when accumulate)
/// for 0 <= m < rows and n0 <= n < n1. Weights are read in place (PyTorch's
/// (out, in) layout), once per call, instead of being copied into panels as
/// BLAS does on every call. Needs ck_has_avx512().
void ck_sgemm_nt_small(float *out, const float *inp, const float *w, int rows, int k, int n0, int n1,
                       int ldi, int ldw, int ldo, int accumulate, float alpha);

// MARK: int8 (int8_gemm.c). Layout: W (n, k) packed in blocks of 16 output
// columns, 4 consecutive k of a column adjacent; k padded to a multiple of 4
// and n to one of 16 with zeros.

/// 1 when this CPU runs the int8 kernels (AVX-512 F, BW, VL and VNNI), else 0.
int ck_has_avx512_vnni(void);
/// Bytes of W (n, k) packed as int8 (ck_s8_pack_quantized).
int ck_s8_packed_size(int n, int k);
/// Quantizes W (n, k; row stride ldw) symmetrically per output channel:
/// scales[c] = max|W[c,:]| / 127 (1 for a zero row), q[c,p] = round(W / scale)
/// in [-127, 127], q row-major (n, k). Plain C: runs anywhere.
void ck_s8_quantize(int8_t *q, float *scales, const float *w, int n, int k, int ldw);
/// Packs already-quantized q (n, k; row stride ldq) with its scales (n):
/// packedScales[c] = scales[c] and comp[c] = 128 · Σ_k q[c,k] (the u8
/// offset's share); comp and packedScales hold n rounded up to 16 entries
/// (zero past n). ck_s8_quantize then this packs a float W. Plain C.
void ck_s8_pack_quantized(int8_t *packed, int32_t *comp, float *packedScales, const int8_t *q, const float *scales,
                          int n, int k, int ldq);
/// Quantizes each row of y = x · diag(factor) (x: rows, k; stride ldx; no
/// factor: y = x) symmetrically: scales[r] = max|y[r,:]| / 127, q[r,p] =
/// round(y / scale) + 128 as u8 (stride ldq >= k rounded up to 4; the padding
/// is 128, i.e. zero). factor: SmoothQuant's 1/s_j. Needs ck_has_avx512_vnni().
void ck_u8_quantize_rows(uint8_t *q, int ldq, float *scales, const float *x, int ldx, int rows, int k,
                         const float *factor);
/// Output columns n0 <= c < n1 of W (n0 a multiple of 16), for 0 <= r < rows:
/// out[r*ldo + c − n0] = (Σ_k a[r,k] · q[c,k] − comp[c]) · rowScale[r] · colScale[c] (+ bias[c − n0]).
/// out and bias point at column n0's; a: ck_u8_quantize_rows's output (stride
/// lda). Needs ck_has_avx512_vnni().
void ck_gemm_u8s8(float *out, int ldo, const uint8_t *a, int lda, const float *rowScale, const int8_t *packed,
                  const int32_t *comp, const float *colScale, const float *bias, int rows, int k, int n0, int n1);
/// Runs 24 · iterations independent vpdpbusd (2 · 64 int8 ops each): the
/// core's int8 peak, for bench gemm. Needs ck_has_avx512_vnni().
int ck_vnni_spin(long iterations);

// MARK: bf16 (bf16_gemm.c). Layout: as int8, with 2 consecutive k adjacent
// and k padded to a multiple of 2.

/// 1 when this CPU runs the bf16 kernels (AVX-512 F, BW, VL and BF16), else 0.
int ck_has_avx512_bf16(void);
/// 16-bit elements of W (n, k) packed as bf16 (ck_bf16_pack).
int ck_bf16_packed_size(int n, int k);
/// x rounded to bf16, to nearest, ties to even (NaN stays NaN).
uint16_t ck_bf16_round(float x);
/// Rounds W (n, k; row stride ldw) to bf16 and packs it. Plain C: runs anywhere.
void ck_bf16_pack(uint16_t *packed, const float *w, int n, int k, int ldw);
/// Packs W already in bf16 (n, k; row stride ldw), as ck_bf16_pack packs its rounding. Plain C.
void ck_bf16_pack_bits(uint16_t *packed, const uint16_t *w, int n, int k, int ldw);
/// Rounds each row of x (rows, k; stride ldx) to bf16 into q (stride ldq >= k
/// rounded up to 2; the padding is 0). Needs ck_has_avx512_bf16().
void ck_bf16_convert_rows(uint16_t *q, int ldq, const float *x, int ldx, int rows, int k);
/// Output columns n0 <= c < n1 of W (n0 a multiple of 16), for 0 <= r < rows:
/// out[r*ldo + c − n0] = Σ_k a[r,k] · w[c,k] (+ bias[c − n0]), in fp32; out and
/// bias point at column n0's. Needs ck_has_avx512_bf16().
void ck_gemm_bf16(float *out, int ldo, const uint16_t *a, int lda, const uint16_t *packed, const float *bias,
                  int rows, int k, int n0, int n1);

// MARK: fp32 with packed weights (f32_gemm.c). Layout: W (n, k) in blocks of
// 16 output columns, one row of 16 per k; n padded to 16 with zeros.

/// Floats of W (n, k) packed (ck_f32_pack).
int ck_f32_packed_size(int n, int k);
/// Packs W (n, k; row stride ldw). Plain C: runs anywhere.
void ck_f32_pack(float *packed, const float *w, int n, int k, int ldw);
/// Output columns n0 <= c < n1 of W (n0 a multiple of 16), for 0 <= r < rows:
/// out[r*ldo + c − n0] = Σ_k a[r*lda + k] · W[c,k] (+ bias[c − n0]); out and
/// bias point at column n0's. Needs ck_has_avx512().
void ck_gemm_f32_packed(float *out, int ldo, const float *a, int lda, const float *packed, const float *bias,
                        int rows, int k, int n0, int n1);

#endif
