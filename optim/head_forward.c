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
#include "dsp.h" /* device/kernels: SMLAD, SXTAB16, or their C emulation on hosts */
#include "head_internal.h"
#include "mfl/quant.h"

static int32_t sat32(int64_t v)
{
    return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

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

/* round(w / 2^t) for t >= 1, ties up; a saturated master weight near
 * INT32_MAX rounds down instead (QADD saturates). */
static inline int16_t shadow_value(int32_t w, int32_t half, int t)
{
#if MFL_HAVE_DSP
    return (int16_t)(mfl_qadd(w, half) >> t);
#else
    return (int16_t)(((int64_t)w + half) >> t);
#endif
}

void mfl_head_shadow(const mfl_head_t *h, int16_t *w16, mfl_scale_t *scale)
{
    static const uint8_t order[4] = {0, 2, 1, 3};
    const size_t width = mfl_head_shadow_width(h->features);
    const uint16_t groups = h->features / 4;
    for (uint16_t i = 0; i < h->units; i++) {
        const int32_t *w = h->w + (size_t)i * h->features;
        int16_t *s = w16 + (size_t)i * width;
        /* t = bit length - 14, at least 1: |W| <= 2^(14 + t), so |w16| <= 2^14
         * after rounding, 14 to 15 bits relative to the row's largest */
        const uint32_t bits = row_magnitude_bits(w, h->features);
        const int length = bits ? 32 - __builtin_clz(bits) : 0;
        const int t = length > 15 ? length - 14 : 1;
        const int32_t half = 1 << (t - 1);
        for (const int32_t *end = w + 4 * (size_t)groups; w != end; w += 4, s += 4) {
            s[0] = shadow_value(w[0], half, t);
            s[1] = shadow_value(w[2], half, t);
            s[2] = shadow_value(w[1], half, t);
            s[3] = shadow_value(w[3], half, t);
        }
        const uint16_t left = (uint16_t)(h->features - 4 * groups); /* a partial last group, zero-padded */
        for (uint16_t r = 0; left && r < 4; r++) {
            s[r] = order[r] < left ? shadow_value(w[order[r]], half, t) : 0;
        }
        scale[i] = (mfl_scale_t){h->feature_scale.m, h->feature_scale.e + t};
    }
}

/* Offsets x - zp of n features (a multiple of 4; from `valid` on they are
 * 0) in the shadow's order: x0, x2, x1, x3 for each group of four. */
static void feature_offsets(const int8_t *x, uint16_t n, uint16_t valid, int32_t zp, int16_t *xt)
{
    static const uint8_t order[4] = {0, 2, 1, 3};
    uint16_t j = 0;
#if MFL_HAVE_DSP
    const int32_t minus_zp = mfl_dsp_offset_pair(-zp);
    for (; j + 4 <= valid; j += 4) {
        const int32_t v = mfl_read_s8x4(x + j);
        mfl_write_s16x2(xt + j, mfl_sxtab16(minus_zp, v));
        mfl_write_s16x2(xt + j + 2, mfl_sxtab16_ror8(minus_zp, v));
    }
#endif
    for (; j < n; j += 4) {
        for (int r = 0; r < 4; r++) {
            xt[j + r] = (int16_t)(j + order[r] < valid ? x[j + order[r]] - zp : 0);
        }
    }
}

/* acc + a.bottom * b.bottom + a.top * b.top for two int16 pairs in memory. */
static inline int32_t dot_pair(const int16_t *a, int32_t b, int32_t acc)
{
#if MFL_HAVE_DSP
    return mfl_smlad(mfl_read_s16x2(a), b, acc);
#else
    return acc + a[0] * (int16_t)b + a[1] * (b >> 16);
#endif
}

static inline int32_t read_pair(const int16_t *p)
{
    return (int32_t)(((uint32_t)(uint16_t)p[1] << 16) | (uint16_t)p[0]);
}

/* s[r] = row w[r] times xt over n (a multiple of 4) values, r < 4: four
 * values per pass to halve the loop's overhead. */
static void dot_rows4(const int16_t *const *w, const int16_t *xt, uint16_t n, int32_t *s)
{
    const int16_t *w0 = w[0], *w1 = w[1], *w2 = w[2], *w3 = w[3];
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (const int16_t *end = xt + n; xt != end; xt += 4, w0 += 4, w1 += 4, w2 += 4, w3 += 4) {
        const int32_t x = read_pair(xt), y = read_pair(xt + 2);
        a0 = dot_pair(w0, x, a0);
        a1 = dot_pair(w1, x, a1);
        a2 = dot_pair(w2, x, a2);
        a3 = dot_pair(w3, x, a3);
        a0 = dot_pair(w0 + 2, y, a0);
        a1 = dot_pair(w1 + 2, y, a1);
        a2 = dot_pair(w2 + 2, y, a2);
        a3 = dot_pair(w3 + 2, y, a3);
    }
    s[0] = a0;
    s[1] = a1;
    s[2] = a2;
    s[3] = a3;
}

/* s[0..1] = rows w[0] and w[1] times xt over n (a multiple of 4) values:
 * the last pair of a head whose units are 2 more than a multiple of 4. */
static void dot_rows2(const int16_t *const *w, const int16_t *xt, uint16_t n, int32_t *s)
{
    const int16_t *w0 = w[0], *w1 = w[1];
    int32_t a0 = 0, a1 = 0;
    for (const int16_t *end = xt + n; xt != end; xt += 4, w0 += 4, w1 += 4) {
        const int32_t x = read_pair(xt), y = read_pair(xt + 2);
        a0 = dot_pair(w0, x, a0);
        a1 = dot_pair(w1, x, a1);
        a0 = dot_pair(w0 + 2, y, a0);
        a1 = dot_pair(w1 + 2, y, a1);
    }
    s[0] = a0;
    s[1] = a1;
}

/* b + acc * s, saturated, for an int32 sum (rows of up to 256 values):
 * the high word of acc * m, shifted by e + 1 (= 32 - (31 - e)) to Q8.24,
 * which truncates below 2^(e+1-24) of a logit: for every head's scale
 * (s_x 2^t < 2^8) under 2^-16 in real terms, far below the Q0.15 of the
 * probabilities the logits feed. */
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
    return sat32((int64_t)b + v);
#endif
}

/* z[i + r] for the `count` (1..4) rows from i over xt: int32 sums for
 * rows of up to CHUNK values, int64 sums of int32 chunks (and
 * mfl_scale_apply, ties away from zero) for wider ones. */
static void logits_of_rows(const mfl_head_t *h, const int16_t *w16, size_t width, const mfl_scale_t *scale,
                           const int16_t *xt, uint16_t i, int count, int32_t *z)
{
    enum { CHUNK = 256 }; /* values per int32 sum (see the bounds above) */
    const int16_t *rows[4];
    for (int r = 0; r < 4; r++) {
        rows[r] = w16 + (size_t)(i + (r < count ? r : 0)) * width; /* a short group repeats its first row */
    }
    int32_t s[4];
    if (width <= CHUNK) {
        if (count <= 2) {
            dot_rows2(rows, xt, (uint16_t)width, s);
        } else {
            dot_rows4(rows, xt, (uint16_t)width, s);
        }
        for (int r = 0; r < count; r++) {
            z[i + r] = logit32(h->b[i + r], scale[i + r], s[r]);
        }
        return;
    }
    int64_t acc[4] = {0, 0, 0, 0};
    for (size_t j0 = 0; j0 < width; j0 += CHUNK) {
        const uint16_t n = (uint16_t)(width - j0 < CHUNK ? width - j0 : CHUNK);
        dot_rows4(rows, xt + j0, n, s);
        for (int r = 0; r < 4; r++) {
            acc[r] += s[r];
            rows[r] += n;
        }
    }
    for (int r = 0; r < count; r++) {
        z[i + r] = sat32((int64_t)h->b[i + r] + mfl_scale_apply(scale[i + r], acc[r]));
    }
}

void mfl_head_shadow_logits(const mfl_head_t *h, const int16_t *w16, const mfl_scale_t *scale, const int8_t *x,
                            int16_t *xt, int32_t *z)
{
    const size_t width = mfl_head_shadow_width(h->features);
    feature_offsets(x, (uint16_t)width, h->features, h->feature_zp, xt);
    for (uint16_t i = 0; i < h->units; i += 4) {
        const int count = h->units - i < 4 ? h->units - i : 4;
        logits_of_rows(h, w16, width, scale, xt, i, count, z);
    }
}
