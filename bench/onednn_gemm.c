// oneDNN's int8 GEMM at MiniLM's shapes, to put beside `offramp bench gemm`
// (bench/README.md#precision says why Offramp's int8 products are its own).
//
//   gcc -O2 bench/onednn_gemm.c -ldnnl -o /tmp/onednn_gemm   # apt: libdnnl-dev (scripts/setup)
//   OMP_NUM_THREADS=2 /tmp/onednn_gemm
//
// Times C (M, N) = A (M, K) · Wᵀ, A u8 and W (N, K) s8, int32 out: the product
// alone (no quantizing of A, no dequantizing of C, unlike Offramp's kernel,
// whose figures include both). Best of repeated calls over 0.2 s, GOP/s.
#include <oneapi/dnnl/dnnl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void) {
    const int shapes[][2] = {{384, 1152}, {384, 384}, {384, 1536}, {1536, 384}};  // (in, out)
    const int rows[] = {1, 16, 64, 128, 384};
    printf("| rows |");
    for (int s = 0; s < 4; s++) printf(" %d→%d oneDNN u8s8s32 |", shapes[s][0], shapes[s][1]);
    printf("\n|---:|---:|---:|---:|---:|\n");
    for (int ri = 0; ri < 5; ri++) {
        int m = rows[ri];
        printf("| %d |", m);
        for (int s = 0; s < 4; s++) {
            int k = shapes[s][0], n = shapes[s][1];
            uint8_t *a = malloc((size_t)m * k);
            int8_t *w = malloc((size_t)k * n);
            int32_t *c = malloc(sizeof(int32_t) * m * n), offset = 0;
            for (int i = 0; i < m * k; i++) a[i] = (uint8_t)rand();
            for (int i = 0; i < k * n; i++) w[i] = (int8_t)rand();
            double best = 1e9, start = now();
            do {
                double t0 = now();
                dnnl_gemm_u8s8s32('N', 'T', 'F', m, n, k, 1.0f, a, k, 0, w, k, 0, 0.0f, c, n, &offset);
                double t = now() - t0;
                if (t < best) best = t;
            } while (now() - start < 0.2);
            printf(" %.0f |", 2.0 * m * n * k / best / 1e9);
            free(a); free(w); free(c);
        }
        printf("\n");
    }
    return 0;
}
