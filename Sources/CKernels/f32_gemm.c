// fp32 products against a weight packed once: C = A · Wᵀ (+ bias), AVX-512.
//
// OpenBLAS copies both operands into panels on every call; for inference the
// weight never changes, so here it is packed once at load, in blocks of 16
// output columns with one 64-byte row per k (packed[blk][p][0..15] =
// W[16·blk + 0..15][p]). A tile is 6 rows x 4 blocks: 24 zmm accumulators,
// 4 weight loads and 6 broadcasts of A per k, so the FMAs dominate. The bias
// is added as the tile is stored (no second pass over C).
//
// Loop order: rows in slabs sized so that a slab of A (about 256 KB) and one
// group's weight panel (64 columns x k) stay in L2 together; within a slab,
// each 64-column group passes over all of its rows.
#include "ckernels.h"
#include <string.h>

int ck_f32_packed_size(int n, int k) { return ((n + 15) / 16) * 16 * k; }

void ck_f32_pack(float *packed, const float *w, int n, int k, int ldw) {
    int blocks = (n + 15) / 16;
    memset(packed, 0, (size_t)blocks * 16 * k * sizeof(float));
    for (int c = 0; c < n; c++) {
        const float *row = w + (size_t)c * ldw;
        float *dst = packed + (size_t)(c / 16) * 16 * k + c % 16;
        for (int p = 0; p < k; p++) dst[(size_t)p * 16] = row[p];
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

#define CK_F32 __attribute__((target("avx512f,avx512vl,avx512dq,fma")))

// One tile: MR (<= 6) rows from `a`, NB (<= 4) blocks of 16 columns from `w`
// (the first block's packed panel), `cols` columns left from this tile's first.
static inline __attribute__((always_inline)) CK_F32 void tile_f32(
    float *c, int ldc, const float *a, int lda, const float *w, int k, const float *bias, int cols, int MR, int NB) {
    __m512 s[6][4];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NB; j++) s[i][j] = _mm512_setzero_ps();
    const size_t blockStride = (size_t)16 * k;
    for (int p = 0; p < k; p++) {
        __m512 wv[4];
        for (int j = 0; j < NB; j++) wv[j] = _mm512_loadu_ps(w + j * blockStride + (size_t)p * 16);
        for (int i = 0; i < MR; i++) {
            __m512 av = _mm512_set1_ps(a[(size_t)i * lda + p]);
            for (int j = 0; j < NB; j++) s[i][j] = _mm512_fmadd_ps(av, wv[j], s[i][j]);
        }
    }
    for (int j = 0; j < NB; j++) {
        int col = j * 16;
        __mmask16 mask = cols - col >= 16 ? 0xFFFF : (__mmask16)((1u << (cols - col)) - 1);
        __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + col) : _mm512_setzero_ps();
        for (int i = 0; i < MR; i++) _mm512_mask_storeu_ps(c + (size_t)i * ldc + col, mask, _mm512_add_ps(s[i][j], b));
    }
}

#define CK_F32_TILE(MR, NB)                                                                                       \
    static CK_F32 void tile_##MR##x##NB(float *c, int ldc, const float *a, int lda, const float *w, int k,       \
                                        const float *bias, int cols) {                                           \
        tile_f32(c, ldc, a, lda, w, k, bias, cols, MR, NB);                                                      \
    }
#define CK_F32_ROW(MR) CK_F32_TILE(MR, 1) CK_F32_TILE(MR, 2) CK_F32_TILE(MR, 3) CK_F32_TILE(MR, 4)
CK_F32_ROW(1) CK_F32_ROW(2) CK_F32_ROW(3) CK_F32_ROW(4) CK_F32_ROW(5) CK_F32_ROW(6)

typedef void (*tile_fn)(float *, int, const float *, int, const float *, int, const float *, int);
static const tile_fn tiles[6][4] = {
    {tile_1x1, tile_1x2, tile_1x3, tile_1x4}, {tile_2x1, tile_2x2, tile_2x3, tile_2x4},
    {tile_3x1, tile_3x2, tile_3x3, tile_3x4}, {tile_4x1, tile_4x2, tile_4x3, tile_4x4},
    {tile_5x1, tile_5x2, tile_5x3, tile_5x4}, {tile_6x1, tile_6x2, tile_6x3, tile_6x4},
};

CK_F32 void ck_gemm_f32_packed(float *out, int ldo, const float *a, int lda, const float *packed, const float *bias,
                               int rows, int k, int n0, int n1) {
    // A slab of ~256 KB of A, a whole number of 6-row tiles.
    int slab = (65536 / (k > 0 ? k : 1)) / 6 * 6;
    if (slab < 6) slab = 6;
    for (int r0 = 0; r0 < rows; r0 += slab) {
        int r1 = r0 + slab < rows ? r0 + slab : rows;
        for (int c0 = n0; c0 < n1; c0 += 64) {
            int nb = (n1 - c0 + 15) / 16;
            if (nb > 4) nb = 4;
            const float *w = packed + (size_t)(c0 / 16) * 16 * k;
            float *o = out + (c0 - n0);
            const float *b = bias ? bias + (c0 - n0) : 0;
            for (int r = r0; r < r1; r += 6) {
                int mr = r1 - r < 6 ? r1 - r : 6;
                tiles[mr - 1][nb - 1](o + (size_t)r * ldo, ldo, a + (size_t)r * lda, lda, w, k, b, n1 - c0);
            }
        }
    }
}

#else
void ck_gemm_f32_packed(float *out, int ldo, const float *a, int lda, const float *packed, const float *bias,
                        int rows, int k, int n0, int n1) {
    (void)out; (void)ldo; (void)a; (void)lda; (void)packed; (void)bias; (void)rows; (void)k; (void)n0; (void)n1;
}
#endif
