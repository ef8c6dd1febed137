/*
 * The forward pass of a learning step (optim/head_internal.h): logits from
 * a 16-bit shadow of the Q8.24 master, two features per dual 16-bit
 * multiply-add (SMLAD on Armv7E-M) with int32 sums, four units per pass so
 * that each pair of feature offsets is loaded once for four rows. A step
 * needs its logits only to the precision of its Q0.15 probabilities, which
 * 15 bits per weight relative to its row's largest give; a 32x32->64
 * multiply-add per master weight costs about three times the instructions
 * on a Cortex-M4, more than making the shadow once per step.
 *
 * Bounds: |w16| <= 2^14 and |x~| <= 255, so a sum over 256 features stays
 * below 2^14 * 255 * 256 < 2^31; wider rows add int32 sums of 256
 * features into an int64.
 */
#include "head_internal.h"
#include "mfl/quant.h"

/* The OR of the ones' complement magnitudes (w ^ (w >> 31)) of a row: its
 * bit length is that of max|W| - 1 or max|W|, all the shift needs. */
static uint32_t row_magnitude_bits(const int32_t *w, uint16_t n)
{
    uint32_t bits = 0;
    const int32_t *end4 = w + (n & ~3u), *end = w + n;
    for (; w != end4; w += 4) { /* four per pass: the loop's own cost is most of the rest */
        bits |= (uint32_t)(w[0] ^ (w[0] >> 31)) | (uint32_t)(w[1] ^ (w[1] >> 31)) |
                (uint32_t)(w[2] ^ (w[2] >> 31)) | (uint32_t)(w[3] ^ (w[3] >> 31));
    }
    for (; w != end; w++) {
        bits |= (uint32_t)(*w ^ (*w >> 31));
    }
    return bits;
}

/* round(w / 2^t) for t >= 1, ties up, as floor((floor(w / 2^(t-1)) + 1) / 2):
 * no intermediate can overflow, even for a saturated master weight. */
static inline int32_t shadow_value(int32_t w, int t)
{
    return ((w >> (t - 1)) + 1) >> 1;
}

void mfl_head_shadow(const mfl_head_t *h, uint32_t *w16, mfl_scale_t *scale)
{
    static const uint8_t order[4] = {0, 2, 1, 3};
    const uint16_t groups = h->features / 4;
    const size_t pairs = mfl_head_shadow_width(h->features) / 2;
    const uint16_t rows = (uint16_t)mfl_head_shadow_rows(h->units);
    for (uint16_t i = 0; i < rows; i++) {
        /* row i's pair p is word (i / 4 * pairs + p) * 4 + i % 4 */
        uint32_t *s = w16 + (size_t)(i / 4u) * pairs * 4u + i % 4u;
        if (i >= h->units) { /* the padding rows of the last group */
            for (size_t p = 0; p < pairs; p++, s += 4) {
                *s = 0;
            }
            continue;
        }
        const int32_t *w = h->w + (size_t)i * h->features;
        /* t = bit length - 14, at least 1: |W| <= 2^(14 + t), so |w16| <= 2^14
         * after rounding, 14 to 15 bits relative to the row's largest */
        const uint32_t bits = row_magnitude_bits(w, h->features);
        const int length = bits ? 32 - __builtin_clz(bits) : 0;
        const int t = length > 15 ? length - 14 : 1;
        for (const int32_t *end = w + 4 * (size_t)groups; w != end; w += 4, s += 8) {
            s[0] = mfl_head_pair(shadow_value(w[0], t), shadow_value(w[2], t));
            s[4] = mfl_head_pair(shadow_value(w[1], t), shadow_value(w[3], t));
        }
        const uint16_t left = (uint16_t)(h->features - 4 * groups); /* a partial last group, zero-padded */
        if (left) {
            int32_t v[4];
            for (int r = 0; r < 4; r++) {
                v[r] = order[r] < left ? shadow_value(w[order[r]], t) : 0;
            }
            s[0] = mfl_head_pair(v[0], v[1]);
            s[4] = mfl_head_pair(v[2], v[3]);
        }
        scale[i] = (mfl_scale_t){h->feature_scale.m, h->feature_scale.e + t};
    }
}

/* Offsets x - zp of the features (zero-padded to the shadow's width) as
 * pairs in the shadow's order: (x0, x2), (x1, x3) for each group of four. */
static void feature_offsets(const int8_t *x, uint16_t features, int32_t zp, uint32_t *xp)
{
    static const uint8_t order[4] = {0, 2, 1, 3};
    uint16_t j = 0;
#if MFL_HAVE_DSP
    const uint16_t full = features & (uint16_t)~3u;
    const int32_t minus_zp = mfl_dsp_offset_pair(-zp);
    for (; j < full; j += 4) {
        const int32_t v = mfl_read_s8x4(x + j);
        *xp++ = (uint32_t)mfl_sxtab16(minus_zp, v);
        *xp++ = (uint32_t)mfl_sxtab16_ror8(minus_zp, v);
    }
#endif
    for (; j < features; j += 4) {
        int32_t v[4];
        for (int r = 0; r < 4; r++) {
            v[r] = j + order[r] < features ? x[j + order[r]] - zp : 0;
        }
        *xp++ = mfl_head_pair(v[0], v[1]);
        *xp++ = mfl_head_pair(v[2], v[3]);
    }
}

/* s[r] = row r of a group of four interleaved rows w (pair p of row r at
 * w[4p + r]) times xp over n (even) pairs: each pair of feature offsets is
 * loaded once for the four rows, and one pointer walks all four. */
static void dot_group(const uint32_t *w, const uint32_t *xp, uint16_t n, int32_t *s)
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (const uint32_t *end = xp + n; xp != end;) {
        uint32_t x, y, u, v;
        mfl_head_load2(&xp, &x, &y);
        mfl_head_load2(&w, &u, &v);
        a0 = mfl_head_smlad(u, x, a0);
        a1 = mfl_head_smlad(v, x, a1);
        mfl_head_load2(&w, &u, &v);
        a2 = mfl_head_smlad(u, x, a2);
        a3 = mfl_head_smlad(v, x, a3);
        mfl_head_load2(&w, &u, &v);
        a0 = mfl_head_smlad(u, y, a0);
        a1 = mfl_head_smlad(v, y, a1);
        mfl_head_load2(&w, &u, &v);
        a2 = mfl_head_smlad(u, y, a2);
        a3 = mfl_head_smlad(v, y, a3);
    }
    s[0] = a0;
    s[1] = a1;
    s[2] = a2;
    s[3] = a3;
}

/* b + acc * s, saturated, for an int32 sum (rows of up to 256 values):
 * the high word of acc * m, shifted by e + 1 (= 32 - (31 - e)) to Q8.24,
 * which truncates below 2^(e+1) Q8.24 units (under 4 s_x 2^t, as s =
 * s_x 2^t >= 2^(e-1)): no more than the shadow's rounding of the weights
 * (up to 2^(t-1) each) costs over eight feature steps, and below 2^-16 of
 * a logit whenever s_x 2^t < 2^7. */
static inline int32_t logit32(int32_t b, mfl_scale_t s, int32_t acc)
{
    const int32_t hi = (int32_t)(((int64_t)acc * s.m) >> 32);
    const int lshift = s.e + 1;
    int32_t v;
    if (lshift >= 31) {
        v = hi > 0 ? INT32_MAX : hi < 0 ? INT32_MIN : 0;
    } else if (lshift >= 0) {
        const int32_t limit = INT32_MAX >> lshift;
        v = hi > limit ? INT32_MAX : hi < -limit - 1 ? INT32_MIN : (int32_t)((uint32_t)hi << lshift);
    } else {
        v = hi >> (-lshift < 31 ? -lshift : 31);
    }
#if MFL_HAVE_DSP
    return mfl_qadd(b, v);
#else
    return mfl_head_sat32((int64_t)b + v);
#endif
}

/* z[i + r] for the `count` (1..4) units of the group from unit i (w: the
 * group's interleaved rows): int32 sums for rows of up to CHUNK pairs,
 * int64 sums of int32 chunks (and mfl_scale_apply, ties away from zero)
 * for wider ones. */
static void logits_of_group(const mfl_head_t *h, const uint32_t *w, size_t pairs, const mfl_scale_t *scale,
                            const uint32_t *xp, uint16_t i, int count, int32_t *z)
{
    enum { CHUNK = 128 }; /* pairs per int32 sum (see the bounds above) */
    int32_t s[4];
    if (pairs <= CHUNK) {
        dot_group(w, xp, (uint16_t)pairs, s);
        for (int r = 0; r < count; r++) {
            z[i + r] = logit32(h->b[i + r], scale[i + r], s[r]);
        }
        return;
    }
    int64_t acc[4] = {0, 0, 0, 0};
    for (size_t p0 = 0; p0 < pairs; p0 += CHUNK) {
        const uint16_t n = (uint16_t)(pairs - p0 < CHUNK ? pairs - p0 : CHUNK);
        dot_group(w + 4 * p0, xp + p0, n, s);
        for (int r = 0; r < 4; r++) {
            acc[r] += s[r];
        }
    }
    for (int r = 0; r < count; r++) {
        z[i + r] = mfl_head_sat32((int64_t)h->b[i + r] + mfl_scale_apply(scale[i + r], acc[r]));
    }
}

void mfl_head_shadow_logits(const mfl_head_t *h, const uint32_t *w16, const mfl_scale_t *scale, const int8_t *x,
                            uint32_t *xp, int32_t *z)
{
    const size_t pairs = mfl_head_shadow_width(h->features) / 2;
    feature_offsets(x, h->features, h->feature_zp, xp);
    for (uint16_t i = 0; i < h->units; i += 4) {
        const int count = h->units - i < 4 ? h->units - i : 4;
        logits_of_group(h, w16 + (size_t)i * pairs, pairs, scale, xp, i, count, z);
    }
}
