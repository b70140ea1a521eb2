// int8 products on AVX512-VNNI: C = dequant(A_u8 · W_s8ᵀ) (+ bias).
//
// Weights are quantized once (symmetric, per output channel) and packed so
// that one 64-byte load is 4 consecutive k of 16 output columns, the operand
// order `vpdpbusd` wants: it multiplies 4 unsigned bytes of A by 4 signed
// bytes of W and adds the 4 products into one int32 lane. Activations are
// quantized per row to signed int8 and fed as q + 128 (unsigned); the extra
// 128 · sum_k W[c,k] is subtracted per column in the epilogue (`comp`), so the
// integer product is exact. Loop order: a group of up to 64 columns (its
// weights stay in L1 for k <= 384, in L2 above) is swept by tiles of 4 rows.
//
// Compiled for AVX-512 per function (target attribute) and chosen at run time.
#include "ckernels.h"
#include "tile_sweep.h"
#include <math.h>
#include <string.h>

int ck_s8_packed_size(int n, int k) { return ((n + 15) / 16) * 16 * ((k + 3) / 4) * 4; }

void ck_s8_quantize(int8_t *q, float *scales, const float *w, int n, int k, int ldw) {
    for (int c = 0; c < n; c++) {
        const float *row = w + (size_t)c * ldw;
        float m = 0;
        for (int p = 0; p < k; p++) m = fmaxf(m, fabsf(row[p]));
        float scale = m > 0 ? m / 127.0f : 1.0f, inv = 1.0f / scale;
        int8_t *dst = q + (size_t)c * k;
        for (int p = 0; p < k; p++) {
            float v = nearbyintf(row[p] * inv);
            dst[p] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : (int)v);
        }
        scales[c] = scale;
    }
}

void ck_s8_pack_quantized(int8_t *packed, int32_t *comp, float *packedScales, const int8_t *q, const float *scales,
                          int n, int k, int ldq) {
    int kp = (k + 3) / 4 * 4, blocks = (n + 15) / 16;
    memset(packed, 0, (size_t)blocks * 16 * kp);
    for (int c = 0; c < blocks * 16; c++) {
        if (c >= n) { comp[c] = 0; packedScales[c] = 0; continue; }
        const int8_t *row = q + (size_t)c * ldq;
        int32_t sum = 0;
        int8_t *dst = packed + (size_t)(c / 16) * 16 * kp + (c % 16) * 4;
        for (int p = 0; p < k; p++) {
            dst[(p / 4) * 64 + p % 4] = row[p];
            sum += row[p];
        }
        packedScales[c] = scales[c];
        comp[c] = 128 * sum;
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

int ck_has_avx512_vnni(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx512vnni");
}

#define CK_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))

// x[r, p] · factor[p] when there is a factor (SmoothQuant), else x[r, p].
static inline __attribute__((always_inline)) CK_VNNI __m512 load_smoothed(const float *row, const float *factor, int p,
                                                                          __mmask16 mask) {
    __m512 v = _mm512_maskz_loadu_ps(mask, row + p);
    return factor ? _mm512_mul_ps(v, _mm512_maskz_loadu_ps(mask, factor + p)) : v;
}

CK_VNNI void ck_u8_quantize_rows(uint8_t *q, int ldq, float *scales, const float *x, int ldx, int rows, int k,
                                 const float *factor) {
    int kp = (k + 3) / 4 * 4;
    for (int r = 0; r < rows; r++) {
        const float *row = x + (size_t)r * ldx;
        uint8_t *dst = q + (size_t)r * ldq;
        __m512 m = _mm512_setzero_ps();
        for (int p = 0; p < k; p += 16) {
            __mmask16 mask = k - p >= 16 ? 0xFFFF : (__mmask16)((1u << (k - p)) - 1);
            m = _mm512_max_ps(m, _mm512_abs_ps(load_smoothed(row, factor, p, mask)));
        }
        float mx = _mm512_reduce_max_ps(m);
        float scale = mx > 0 ? mx / 127.0f : 1.0f;
        __m512 inv = _mm512_set1_ps(1.0f / scale);
        __m512i off = _mm512_set1_epi32(128);
        int p;
        for (p = 0; p < k; p += 16) {
            __mmask16 mask = k - p >= 16 ? 0xFFFF : (__mmask16)((1u << (k - p)) - 1);
            __m512 v = load_smoothed(row, factor, p, mask);
            // round to nearest even; |v · inv| <= 127 up to rounding, clamped by the saturating pack
            __m512i i = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v, inv)), off);
            _mm_mask_storeu_epi8(dst + p, mask, _mm512_cvtusepi32_epi8(_mm512_max_epi32(i, _mm512_setzero_si512())));
        }
        for (p = k; p < kp; p++) dst[p] = 128;  // zero; the packed weights are 0 there anyway
        scales[r] = scale;
    }
}

// One MR x (NB·16) tile; MR <= 4, NB <= 4 are constants after inlining.
static inline __attribute__((always_inline)) CK_VNNI void tile_u8s8(
    float *c, int ldc, const uint8_t *a, int lda, const float *rowScale, const int8_t *w, int kp,
    const int32_t *comp, const float *colScale, const float *bias, int cols, int MR, int NB) {
    __m512i s[4][4];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NB; j++) s[i][j] = _mm512_setzero_si512();
    const size_t blockStride = (size_t)16 * kp;
    for (int g = 0; g < kp / 4; g++) {
        __m512i wv[4];
        for (int j = 0; j < NB; j++) wv[j] = _mm512_loadu_si512((const void *)(w + j * blockStride + (size_t)g * 64));
        for (int i = 0; i < MR; i++) {
            __m512i av = _mm512_set1_epi32(*(const int32_t *)(a + (size_t)i * lda + g * 4));
            for (int j = 0; j < NB; j++) s[i][j] = _mm512_dpbusd_epi32(s[i][j], av, wv[j]);
        }
    }
    for (int j = 0; j < NB; j++) {
        int col = j * 16;
        __mmask16 mask = cols - col >= 16 ? 0xFFFF : (__mmask16)((1u << (cols - col)) - 1);
        __m512i cp = _mm512_loadu_si512((const void *)(comp + col));
        __m512 cs = _mm512_loadu_ps(colScale + col);
        __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + col) : _mm512_setzero_ps();
        for (int i = 0; i < MR; i++) {
            __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(s[i][j], cp));
            v = _mm512_fmadd_ps(v, _mm512_mul_ps(cs, _mm512_set1_ps(rowScale[i])), b);
            _mm512_mask_storeu_ps(c + (size_t)i * ldc + col, mask, v);
        }
    }
}

CK_VNNI void ck_gemm_u8s8(float *out, int ldo, const uint8_t *a, int lda, const float *rowScale, const int8_t *packed,
                          const int32_t *comp, const float *colScale, const float *bias, int rows, int k, int n0, int n1) {
    int kp = (k + 3) / 4 * 4;
#define CK_TILE(r, c0, MR, NB)                                                                                   \
    tile_u8s8(out + (size_t)(r) * ldo + ((c0) - n0), ldo, a + (size_t)(r) * lda, lda, rowScale + (r),           \
              packed + (size_t)((c0) / 16) * 16 * kp, kp, comp + (c0), colScale + (c0), bias ? bias + ((c0) - n0) : 0, \
              n1 - (c0), MR, NB)
    CK_SWEEP(CK_TILE, rows, n0, n1)
#undef CK_TILE
}

#else
int ck_has_avx512_vnni(void) { return 0; }
void ck_u8_quantize_rows(uint8_t *q, int ldq, float *scales, const float *x, int ldx, int rows, int k,
                         const float *factor) {}
void ck_gemm_u8s8(float *out, int ldo, const uint8_t *a, int lda, const float *rowScale, const int8_t *packed,
                  const int32_t *comp, const float *colScale, const float *bias, int rows, int k, int n0, int n1) {}
#endif

#if defined(__x86_64__)
// 24 independent vpdpbusd chains: enough in flight to cover the latency on
// every core seen (Zen 5 issues several a cycle), so ops / time is the core's
// int8 peak (bench gemm puts the kernel beside it).
CK_VNNI int ck_vnni_spin(long iterations) {
    __m512i a = _mm512_set1_epi32(0x01010101), b = _mm512_set1_epi32(0x01020304);
    __m512i s[24];
    for (int i = 0; i < 24; i++) s[i] = _mm512_setzero_si512();
    for (long n = 0; n < iterations; n++) {
        for (int i = 0; i < 24; i++) s[i] = _mm512_dpbusd_epi32(s[i], a, b);
        __asm__ volatile("" : "+v"(s[0]), "+v"(s[1]), "+v"(s[2]), "+v"(s[3]), "+v"(s[4]), "+v"(s[5]), "+v"(s[6]),
                         "+v"(s[7]), "+v"(s[8]), "+v"(s[9]), "+v"(s[10]), "+v"(s[11]));
        __asm__ volatile("" : "+v"(s[12]), "+v"(s[13]), "+v"(s[14]), "+v"(s[15]), "+v"(s[16]), "+v"(s[17]),
                         "+v"(s[18]), "+v"(s[19]), "+v"(s[20]), "+v"(s[21]), "+v"(s[22]), "+v"(s[23]));
    }
    __m512i t = s[0];
    for (int i = 1; i < 24; i++) t = _mm512_add_epi32(t, s[i]);
    return _mm512_reduce_add_epi32(t);
}
#else
int ck_vnni_spin(long iterations) { return 0; }
#endif
