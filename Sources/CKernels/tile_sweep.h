// The sweep the packed int8 and bf16 kernels share (not a public header).
#ifndef OFFRAMP_TILE_SWEEP_H
#define OFFRAMP_TILE_SWEEP_H

// For each group of up to 64 output columns c0 in [n0, n1) (4 blocks of 16),
// tiles of 4 rows, then the 1-3 rows left: TILE(r, c0, MR, NB) runs one tile
// of MR rows from row r and NB blocks from column c0, with MR and NB
// constants so the compiler unrolls the tile and keeps it in registers.
#define CK_SWEEP_TILE_NB(TILE, r, c0, MR, nb)        \
    switch (nb) {                                    \
    case 4: TILE(r, c0, MR, 4); break;               \
    case 3: TILE(r, c0, MR, 3); break;               \
    case 2: TILE(r, c0, MR, 2); break;               \
    default: TILE(r, c0, MR, 1); break;              \
    }
#define CK_SWEEP(TILE, rows, n0, n1)                                              \
    for (int c0 = (n0); c0 < (n1); c0 += 64) {                                    \
        int nb = ((n1) - c0 + 15) / 16;                                           \
        if (nb > 4) nb = 4;                                                       \
        int r = 0;                                                                \
        for (; r + 4 <= (rows); r += 4) { CK_SWEEP_TILE_NB(TILE, r, c0, 4, nb) }  \
        switch ((rows) - r) {                                                     \
        case 3: CK_SWEEP_TILE_NB(TILE, r, c0, 3, nb) break;                       \
        case 2: CK_SWEEP_TILE_NB(TILE, r, c0, 2, nb) break;                       \
        case 1: CK_SWEEP_TILE_NB(TILE, r, c0, 1, nb) break;                       \
        default: break;                                                           \
        }                                                                         \
    }

#endif
