// Small-M matrix product C = A · Wᵀ with AVX-512, weights read in place.
//
// BLAS copies ("packs") the weight matrix into panels on every call; with a
// handful of rows (batch-1 inference) that copy costs as much as the product.
// Here each 4x4 block of C is 16 dot products along k, accumulated in 16
// vector registers and reduced at the end. Loop order: a block of 4 weight
// rows stays in L1 while every block of 4 input rows passes over it, so the
// weights stream from memory exactly once per call.
//
// Compiled for AVX-512 per function (target attribute) and chosen at run
// time, so the package needs no special flags and runs on any x86-64.
#include "ckernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

int ck_has_avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
}

#define CK_TARGET __attribute__((target("avx512f,avx512vl,avx512dq,fma")))

// One MR x NR block (MR, NR <= 4, compile-time constants after inlining).
// `next` is the next block's first weight row: its lines are prefetched while
// this block computes, so the weight stream from memory overlaps the FMAs.
static inline __attribute__((always_inline)) CK_TARGET void block(
    float *c, int ldc, const float *a, int lda, const float *w, int ldw, const float *next, int k, int MR, int NR,
    int accumulate, float alpha) {
    __m512 s[4][4];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) s[i][j] = _mm512_setzero_ps();
    int p = 0;
    for (; p + 16 <= k; p += 16) {
        __m512 av[4], wv[4];
        for (int i = 0; i < MR; i++) av[i] = _mm512_loadu_ps(a + i * lda + p);
        for (int j = 0; j < NR; j++) wv[j] = _mm512_loadu_ps(w + j * ldw + p);
        for (int j = 0; j < NR; j++) _mm_prefetch((const char *)(next + j * ldw + p), _MM_HINT_T0);
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++) s[i][j] = _mm512_fmadd_ps(av[i], wv[j], s[i][j]);
    }
    if (p < k) {
        __mmask16 m = (__mmask16)((1u << (k - p)) - 1);
        __m512 av[4], wv[4];
        for (int i = 0; i < MR; i++) av[i] = _mm512_maskz_loadu_ps(m, a + i * lda + p);
        for (int j = 0; j < NR; j++) wv[j] = _mm512_maskz_loadu_ps(m, w + j * ldw + p);
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++) s[i][j] = _mm512_fmadd_ps(av[i], wv[j], s[i][j]);
    }
    if (MR == 4 && NR == 4) {
        // All 16 sums at once: add pairs while transposing (unpack, then
        // 4-float shuffles, then 128-bit lane shuffles), ~45 instructions
        // instead of 16 separate horizontal reductions (~130): at k = 384
        // that was a sixth of the block's work.
        __m512 v[4];
        for (int i = 0; i < 4; i++) {
            // Per 128-bit lane: (c0, c1, c0, c1) and (c2, c3, c2, c3) partial sums ...
            __m512 t01 = _mm512_add_ps(_mm512_unpacklo_ps(s[i][0], s[i][1]), _mm512_unpackhi_ps(s[i][0], s[i][1]));
            __m512 t23 = _mm512_add_ps(_mm512_unpacklo_ps(s[i][2], s[i][3]), _mm512_unpackhi_ps(s[i][2], s[i][3]));
            // ... then (c0, c1, c2, c3) per lane: row i's four sums, split over 4 lanes.
            v[i] = _mm512_add_ps(_mm512_shuffle_ps(t01, t23, 0x44), _mm512_shuffle_ps(t01, t23, 0xEE));
        }
        __m512 x01 = _mm512_add_ps(_mm512_shuffle_f32x4(v[0], v[1], 0x44), _mm512_shuffle_f32x4(v[0], v[1], 0xEE));
        __m512 x23 = _mm512_add_ps(_mm512_shuffle_f32x4(v[2], v[3], 0x44), _mm512_shuffle_f32x4(v[2], v[3], 0xEE));
        // Lane i of r: row i's four sums.
        __m512 r = _mm512_add_ps(_mm512_shuffle_f32x4(x01, x23, 0x88), _mm512_shuffle_f32x4(x01, x23, 0xDD));
        r = _mm512_mul_ps(r, _mm512_set1_ps(alpha));
        __m128 rows[4] = {_mm512_extractf32x4_ps(r, 0), _mm512_extractf32x4_ps(r, 1), _mm512_extractf32x4_ps(r, 2),
                          _mm512_extractf32x4_ps(r, 3)};
        for (int i = 0; i < 4; i++) {
            __m128 out = accumulate ? _mm_add_ps(_mm_loadu_ps(c + i * ldc), rows[i]) : rows[i];
            _mm_storeu_ps(c + i * ldc, out);
        }
        return;
    }
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) {
            float v = alpha * _mm512_reduce_add_ps(s[i][j]);
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + v : v;
        }
}

#define CK_BLOCK(MR, NR) \
    static CK_TARGET void block_##MR##x##NR(float *c, int ldc, const float *a, int lda, const float *w, int ldw, const float *next, \
                                            int k, int acc, float alpha) { \
        block(c, ldc, a, lda, w, ldw, next, k, MR, NR, acc, alpha); \
    }
CK_BLOCK(4, 4) CK_BLOCK(4, 3) CK_BLOCK(4, 2) CK_BLOCK(4, 1)
CK_BLOCK(3, 4) CK_BLOCK(3, 3) CK_BLOCK(3, 2) CK_BLOCK(3, 1)
CK_BLOCK(2, 4) CK_BLOCK(2, 3) CK_BLOCK(2, 2) CK_BLOCK(2, 1)
CK_BLOCK(1, 4) CK_BLOCK(1, 3) CK_BLOCK(1, 2) CK_BLOCK(1, 1)

typedef void (*block_fn)(float *, int, const float *, int, const float *, int, const float *, int, int, float);
static const block_fn blocks[4][4] = {
    {block_1x1, block_1x2, block_1x3, block_1x4},
    {block_2x1, block_2x2, block_2x3, block_2x4},
    {block_3x1, block_3x2, block_3x3, block_3x4},
    {block_4x1, block_4x2, block_4x3, block_4x4},
};

CK_TARGET void ck_sgemm_nt_small(float *out, const float *inp, const float *w, int rows, int k, int n0, int n1,
                                 int ldi, int ldw, int ldo, int accumulate, float alpha) {
    for (int n = n0; n < n1; n += 4) {
        int nr = n1 - n < 4 ? n1 - n : 4;
        // Prefetch the next block's rows when it is a full block of 4 (NR rows
        // are prefetched, NR <= 4); for the last blocks, this block's own rows
        // again: never a row past the end of the weights.
        const float *next = w + (n + 8 <= n1 ? n + 4 : n) * ldw;
        for (int m = 0; m < rows; m += 4) {
            int mr = rows - m < 4 ? rows - m : 4;
            blocks[mr - 1][nr - 1](out + m * ldo + n, ldo, inp + m * ldi, ldi, w + n * ldw, ldw, next, k, accumulate, alpha);
        }
    }
}

#else
int ck_has_avx512(void) { return 0; }
void ck_sgemm_nt_small(float *out, const float *inp, const float *w, int rows, int k, int n0, int n1,
                       int ldi, int ldw, int ldo, int accumulate, float alpha) {
    (void)out; (void)inp; (void)w; (void)rows; (void)k; (void)n0; (void)n1; (void)ldi; (void)ldw; (void)ldo; (void)accumulate; (void)alpha;
}
#endif
