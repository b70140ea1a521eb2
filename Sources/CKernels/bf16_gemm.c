// bf16 products on AVX512-BF16: C = A_bf16 · W_bf16ᵀ (+ bias), fp32 accumulate.
//
// Weights are rounded to bf16 once (round to nearest even) and packed so that
// one 64-byte load is 2 consecutive k of 16 output columns, the operand order
// `vdpbf16ps` wants: it multiplies pairs of bf16 and adds both products into
// one fp32 lane. Activations are rounded per call (`ck_bf16_convert_rows`).
// Same tiling as the int8 kernel (int8_gemm.c).
#include "ckernels.h"
#include "tile_sweep.h"
#include <string.h>

int ck_bf16_packed_size(int n, int k) { return ((n + 15) / 16) * 16 * ((k + 1) / 2) * 2; }

uint16_t ck_bf16_round(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) == 0x7f800000u) return (uint16_t)((u >> 16) | ((u & 0xffffu) ? 0x40u : 0));  // inf, NaN stays NaN
    u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest, ties to even
    return (uint16_t)(u >> 16);
}

void ck_bf16_pack(uint16_t *packed, const float *w, int n, int k, int ldw) {
    int kp = (k + 1) / 2 * 2, blocks = (n + 15) / 16;
    memset(packed, 0, (size_t)blocks * 16 * kp * 2);
    for (int c = 0; c < n; c++) {
        const float *row = w + (size_t)c * ldw;
        uint16_t *dst = packed + (size_t)(c / 16) * 16 * kp + (c % 16) * 2;
        for (int p = 0; p < k; p++) dst[(p / 2) * 32 + p % 2] = ck_bf16_round(row[p]);
    }
}

void ck_bf16_pack_bits(uint16_t *packed, const uint16_t *w, int n, int k, int ldw) {
    int kp = (k + 1) / 2 * 2, blocks = (n + 15) / 16;
    memset(packed, 0, (size_t)blocks * 16 * kp * 2);
    for (int c = 0; c < n; c++) {
        const uint16_t *row = w + (size_t)c * ldw;
        uint16_t *dst = packed + (size_t)(c / 16) * 16 * kp + (c % 16) * 2;
        for (int p = 0; p < k; p++) dst[(p / 2) * 32 + p % 2] = row[p];
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

int ck_has_avx512_bf16(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx512bf16");
}

#define CK_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

CK_BF16 void ck_bf16_convert_rows(uint16_t *q, int ldq, const float *x, int ldx, int rows, int k) {
    int kp = (k + 1) / 2 * 2;
    for (int r = 0; r < rows; r++) {
        const float *row = x + (size_t)r * ldx;
        uint16_t *dst = q + (size_t)r * ldq;
        for (int p = 0; p < k; p += 16) {
            __mmask16 mask = k - p >= 16 ? 0xFFFF : (__mmask16)((1u << (k - p)) - 1);
            __m256bh v = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, row + p));
            _mm256_mask_storeu_epi16(dst + p, mask, (__m256i)v);
        }
        if (kp > k) dst[k] = 0;
    }
}

static inline __attribute__((always_inline)) CK_BF16 void tile_bf16(
    float *c, int ldc, const uint16_t *a, int lda, const uint16_t *w, int kp, const float *bias, int cols,
    int MR, int NB) {
    __m512 s[4][4];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NB; j++) s[i][j] = _mm512_setzero_ps();
    const size_t blockStride = (size_t)16 * kp;
    for (int g = 0; g < kp / 2; g++) {
        __m512bh wv[4];
        for (int j = 0; j < NB; j++) wv[j] = (__m512bh)_mm512_loadu_si512((const void *)(w + j * blockStride + (size_t)g * 32));
        for (int i = 0; i < MR; i++) {
            __m512bh av = (__m512bh)_mm512_set1_epi32(*(const int32_t *)(a + (size_t)i * lda + g * 2));
            for (int j = 0; j < NB; j++) s[i][j] = _mm512_dpbf16_ps(s[i][j], av, wv[j]);
        }
    }
    for (int j = 0; j < NB; j++) {
        int col = j * 16;
        __mmask16 mask = cols - col >= 16 ? 0xFFFF : (__mmask16)((1u << (cols - col)) - 1);
        __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + col) : _mm512_setzero_ps();
        for (int i = 0; i < MR; i++) _mm512_mask_storeu_ps(c + (size_t)i * ldc + col, mask, _mm512_add_ps(s[i][j], b));
    }
}

CK_BF16 void ck_gemm_bf16(float *out, int ldo, const uint16_t *a, int lda, const uint16_t *packed, const float *bias,
                          int rows, int k, int n0, int n1) {
    int kp = (k + 1) / 2 * 2;
#define CK_TILE(r, c0, MR, NB)                                                                                  \
    tile_bf16(out + (size_t)(r) * ldo + ((c0) - n0), ldo, a + (size_t)(r) * lda, lda,                          \
              packed + (size_t)((c0) / 16) * 16 * kp, kp, bias ? bias + ((c0) - n0) : 0, n1 - (c0), MR, NB)
    CK_SWEEP(CK_TILE, rows, n0, n1)
#undef CK_TILE
}

#else
int ck_has_avx512_bf16(void) { return 0; }
void ck_bf16_convert_rows(uint16_t *q, int ldq, const float *x, int ldx, int rows, int k) {}
void ck_gemm_bf16(float *out, int ldo, const uint16_t *a, int lda, const uint16_t *packed, const float *bias,
                  int rows, int k, int n0, int n1) {}
#endif
