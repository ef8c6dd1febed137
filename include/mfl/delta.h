/*
 * The delta codec: a head delta (rows x cols, Q8.24; the last column of
 * each row is its bias) as int8 values with per-row scales, optionally
 * sparsified to its k largest entries, with error feedback: whatever is not
 * sent (quantization error, dropped entries) stays in the device's residual
 * and is added to the next delta, so nothing is lost.
 *
 * Scales travel as integers: a base scale m * 2^e (m an 8-bit mantissa, in
 * Q8.24 units per int8 step) and per-row power-of-two offsets
 * s_r in [-14, 0] (two per byte on the wire):
 *     value (Q8.24) = q * m * 2^(e + s_r)
 * Each row gets the largest scale step that keeps its entries within
 * +-127 (between 6 and 7 significant bits; the error goes to the residual).
 * Integer only, no malloc: all arrays are the caller's.
 */
#ifndef MFL_DELTA_H
#define MFL_DELTA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MFL_DELTA_MAX_ROWS 256
#define MFL_DELTA_MAX_COLS 4097
#define MFL_DELTA_MIN_SHIFT (-14) /* row offsets travel as nibbles; 15 pads an odd row count */

typedef struct {
    uint16_t rows, cols;
    uint16_t m;       /* base mantissa, in [2^7, 2^8) or 0 for an all-zero delta */
    int16_t e;        /* base exponent */
    int8_t *shift;    /* [rows] per-row offsets s_r in [-14, 0] */
    uint32_t k;       /* values sent: rows * cols (dense) or fewer (sparse) */
    int8_t *values;   /* [k] */
    uint32_t *index;  /* [k] ascending flat indices (row * cols + col); NULL when dense */
} mfl_delta_q_t;

/*
 * Quantizes delta + residual (both rows x cols, Q8.24). k = rows * cols
 * sends every entry (q->index may be NULL); a smaller k sends the k
 * entries of largest magnitude (ties: lowest index first) and needs
 * q->index. residual (may be NULL: no error feedback) becomes what was not
 * sent. q->shift and q->values must hold rows and k entries.
 * Returns 0 or MFL_ERR_INVALID_ARG.
 */
int mfl_delta_quantize(const int32_t *delta, int32_t *residual, uint16_t rows, uint16_t cols, uint32_t k,
                       mfl_delta_q_t *q);

/* The Q8.24 value of entry j of q (row given). */
int32_t mfl_delta_dequant(const mfl_delta_q_t *q, uint16_t row, int8_t value);

/* Dense rows x cols Q8.24 reconstruction (zeros where nothing was sent). */
void mfl_delta_expand(const mfl_delta_q_t *q, int32_t *out);

/* Sparse index coding: ascending indices as LEB128 gaps (the first gap is
 * the first index). encode: writes at most cap bytes, returns the length or
 * 0 if it does not fit. decode: fills index[k], checking ascending order,
 * the count and the bound; returns 0 or MFL_ERR_PROTO_VALUE /
 * MFL_ERR_PROTO_DIMENSION. */
size_t mfl_delta_index_encode(const uint32_t *index, uint32_t k, uint8_t *dst, size_t cap);
int mfl_delta_index_decode(const uint8_t *src, size_t len, uint32_t k, uint32_t bound, uint32_t *index);

#ifdef __cplusplus
}
#endif

#endif /* MFL_DELTA_H */
