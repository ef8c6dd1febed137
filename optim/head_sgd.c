/*
 * Integer-only SGD of the head (see include/mfl/head.h, docs/learning.md).
 *
 * Formats and bounds:
 *  - master W, b: Q8.24 int32 (|real| < 128, resolution 6e-8);
 *  - feature offsets x~ = q - zp: |x~| <= 255;
 *  - logit accumulator sum_j W x~: |.| < 2^31 * 255 * 4096 < 2^51, int64;
 *    scaled by s_x with an exact 96-bit product (mfl_scale_apply);
 *  - probabilities and gradients g = p - y: Q2.30, |g| <= 2^30;
 *  - batch gradient sum_k g x~: |.| <= 64 * 2^30 * 255 < 2^44, int64;
 *  - the step lr * s_x / B * 2^(24 - 30) is one mfl_scale_t applied to it.
 */
#include "mfl/error.h"
#include "mfl/head.h"
#include "mfl/quant.h"

static int32_t sat32(int64_t v)
{
    return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

void mfl_head_from_quantized(mfl_head_t *h, const mfl_head_q_t *q)
{
    for (uint16_t i = 0; i < h->units; i++) {
        /* W = q * s_w; in Q8.24 that is q * (s_w * 2^24) */
        const mfl_scale_t to_w = {q->scale[i].m, q->scale[i].e + MFL_HEAD_FRAC};
        for (uint16_t j = 0; j < h->features; j++) {
            h->w[(size_t)i * h->features + j] = sat32(mfl_scale_apply(to_w, q->w[(size_t)i * h->features + j]));
        }
        /* b = bias * s_x * s_w */
        mfl_scale_t to_b = mfl_scale_mul(h->feature_scale, q->scale[i]);
        to_b.e += MFL_HEAD_FRAC;
        h->b[i] = sat32(mfl_scale_apply(to_b, q->bias[i]));
    }
}

/* acc[0..1] += rows w0 and w1 times xt over n features: each feature
 * offset loaded once for two rows. */
static inline void dot_rows2(const int32_t *w0, const int32_t *w1, const int32_t *xt, int n, int64_t *acc)
{
    int64_t a0 = acc[0], a1 = acc[1];
    for (int j = 0; j < n; j++) {
        const int32_t x = xt[j];
        a0 += (int64_t)w0[j] * x;
        a1 += (int64_t)w1[j] * x;
    }
    acc[0] = a0;
    acc[1] = a1;
}

void mfl_head_logits(const mfl_head_t *h, const int8_t *x, int32_t *z)
{
    /* The feature offsets once (a chunk at a time, to keep the stack
     * small), then one 32x32->64 multiply-add per weight (SMLAL on
     * Cortex-M), two units per pass. Heads of up to CHUNK features convert
     * once; wider ones convert each chunk again for every pair of units. */
    enum { CHUNK = 128 };
    int32_t xt[CHUNK];
    const int several = h->features > CHUNK;
    for (uint16_t i = 0; i < h->units; i += 2) {
        const uint16_t i1 = i + 1 < h->units ? (uint16_t)(i + 1) : i; /* an odd last unit is done twice */
        const int32_t *w0 = h->w + (size_t)i * h->features, *w1 = h->w + (size_t)i1 * h->features;
        int64_t acc[2] = {0, 0};
        for (uint16_t j0 = 0; j0 < h->features; j0 += CHUNK) {
            const uint16_t n = h->features - j0 < CHUNK ? (uint16_t)(h->features - j0) : (uint16_t)CHUNK;
            if (i == 0 || several) {
                for (uint16_t j = 0; j < n; j++) {
                    xt[j] = x[j0 + j] - h->feature_zp;
                }
            }
            dot_rows2(w0 + j0, w1 + j0, xt, n, acc);
        }
        z[i] = sat32((int64_t)h->b[i] + mfl_scale_apply(h->feature_scale, acc[0]));
        z[i1] = sat32((int64_t)h->b[i1] + mfl_scale_apply(h->feature_scale, acc[1]));
    }
}

/* floor(n / d) for n = e * 2^30 + floor(d / 2), e < 2^31, d in
 * [2^31 - 1, 2^40): an estimate from the reciprocal of d's top bits
 * (reciprocal ~ 2^(62 + k) / d), then the remainder puts it right, with no
 * 64-bit division per element (a library call of hundreds of instructions
 * on Cortex-M). */
static uint32_t divide_rounded(uint64_t n, uint64_t d, uint32_t e, uint32_t reciprocal, int k)
{
    uint64_t q = ((uint64_t)e * reciprocal) >> (32 + k); /* ~ e * 2^30 / d; the product is < 2^63 */
    uint64_t qd = q * d;
    while (qd > n) {
        q--;
        qd -= d;
    }
    while (n - qd >= d) {
        q++;
        qd += d;
    }
    return (uint32_t)q;
}

void mfl_head_softmax(const int32_t *z, int units, int32_t *p)
{
    int32_t max = z[0];
    for (int i = 1; i < units; i++) {
        max = z[i] > max ? z[i] : max;
    }
    /* exp in Q0 of (z - max) in Q5 (26 fractional bits): Q8.24 * 4, and
     * anything below -32 (exp < 1.3e-14) is 0 */
    int64_t sum = 0;
    for (int i = 0; i < units; i++) {
        const int64_t d = (int64_t)z[i] - max;
        const int64_t d26 = d * 4;
        p[i] = d26 <= INT32_MIN ? 0 : mfl_quant_exp_on_negative_q5((int32_t)d26);
        sum += p[i];
    }
    /* sum >= exp(0) = 2^31 - 1 > 0; p = round(e * 2^30 / sum) */
    const uint64_t d = (uint64_t)sum;
    /* the reciprocal of d's top 31 bits: 2^(62 + k) / d, within a few units */
    int k = 0;
    while ((d >> k) >= (1u << 31)) {
        k++;
    }
    const uint32_t reciprocal = mfl_div_u64_u32(((uint64_t)1 << 62) - 1, (uint32_t)(d >> k));
    for (int i = 0; i < units; i++) {
        p[i] = (int32_t)divide_rounded(((uint64_t)p[i] << MFL_HEAD_PROB_FRAC) + d / 2, d, (uint32_t)p[i],
                                       reciprocal, k);
    }
}

/* W0[i][j] in Q8.24 from the global int8 head. */
static int32_t global_weight(const int8_t *w0, const mfl_scale_t *w0_scale, uint16_t i, uint16_t features,
                             uint16_t j)
{
    const mfl_scale_t to_w = {w0_scale[i].m, w0_scale[i].e + MFL_HEAD_FRAC};
    return sat32(mfl_scale_apply(to_w, w0[(size_t)i * features + j]));
}

/* sum_k g_k (x_kj - zp) for the `batch` gradients g of one unit and one
 * feature column xt (batch feature offsets, contiguous). */
static inline int64_t column_dot(const int32_t *g, const int16_t *xt, int batch)
{
    int64_t acc = 0;
    int k = 0;
    for (; k + 2 <= batch; k += 2) {
        acc += (int64_t)g[k] * xt[k];
        acc += (int64_t)g[k + 1] * xt[k + 1];
    }
    if (k < batch) {
        acc += (int64_t)g[k] * xt[k];
    }
    return acc;
}

int mfl_head_sgd_step(mfl_head_t *h, const int8_t *const *x, const uint8_t *y, int batch, mfl_scale_t lr,
                      int32_t *g, const int8_t *w0, const mfl_scale_t *w0_scale, int32_t drift)
{
    if (batch < 1 || batch > MFL_HEAD_MAX_BATCH || h->units > MFL_HEAD_MAX_UNITS) {
        return MFL_ERR_INVALID_ARG;
    }
    int32_t z[MFL_HEAD_MAX_UNITS];
    for (int k = 0; k < batch; k++) {
        if (y[k] >= h->units) {
            return MFL_ERR_INVALID_ARG;
        }
    }
    /* g: [unit][sample], so that each unit's gradients are contiguous */
    for (int k = 0; k < batch; k++) {
        mfl_head_logits(h, x[k], z);
        mfl_head_softmax(z, h->units, z); /* in place: each z[i] is read before p[i] is written */
        z[y[k]] -= 1 << MFL_HEAD_PROB_FRAC;
        for (uint16_t i = 0; i < h->units; i++) {
            g[(size_t)i * (size_t)batch + (size_t)k] = z[i];
        }
    }
    /* step scales: lr / B * 2^(24 - 30), and times s_x for the weights */
    mfl_scale_t step_b = mfl_scale_div(lr, mfl_scale_from_int((uint64_t)batch, 0));
    step_b.e += MFL_HEAD_FRAC - MFL_HEAD_PROB_FRAC;
    const mfl_scale_t step_w = mfl_scale_mul(step_b, h->feature_scale);
    const int below_half = step_w.m != 0 && 31 - step_w.e > 32 && 31 - step_w.e < 96; /* the usual case */

    for (uint16_t i = 0; i < h->units; i++) {
        const int32_t *gi = g + (size_t)i * (size_t)batch;
        int64_t gb = 0;
        for (int k = 0; k < batch; k++) {
            gb += gi[k];
        }
        h->b[i] = sat32((int64_t)h->b[i] - mfl_scale_apply(step_b, gb));
    }
    /* the weights, a chunk of features at a time: the batch's feature
     * offsets transposed (each feature's column contiguous), then every
     * unit's row over the chunk */
    enum { CHUNK_VALUES = 512 };
    int16_t xt[CHUNK_VALUES];
    const uint16_t chunk = (uint16_t)(CHUNK_VALUES / batch);
    for (uint16_t j0 = 0; j0 < h->features; j0 += chunk) {
        const uint16_t n = h->features - j0 < chunk ? (uint16_t)(h->features - j0) : chunk;
        for (int k = 0; k < batch; k++) {
            for (uint16_t j = 0; j < n; j++) {
                xt[(size_t)j * (size_t)batch + (size_t)k] = (int16_t)(x[k][j0 + j] - h->feature_zp);
            }
        }
        for (uint16_t i = 0; i < h->units; i++) {
            const int32_t *gi = g + (size_t)i * (size_t)batch;
            int32_t *w = h->w + (size_t)i * h->features + j0;
            for (uint16_t j = 0; j < n; j++) {
                const int64_t gw = column_dot(gi, xt + (size_t)j * (size_t)batch, batch);
                const int64_t step = below_half ? mfl_scale_apply_below_half(step_w, gw) : mfl_scale_apply(step_w, gw);
                int64_t v = (int64_t)w[j] - step;
                if (drift > 0 && w0) {
                    const int64_t c = global_weight(w0, w0_scale, i, h->features, (uint16_t)(j0 + j));
                    v = v > c + drift ? c + drift : v < c - drift ? c - drift : v;
                }
                w[j] = sat32(v);
            }
        }
    }
    return 0;
}

/* round(127 w / max_abs), ties away from zero, for |w| <= max_abs <= 2^31:
 * q = floor(n / M) with n = 127 |w| + floor(M / 2), in [0, 127]. Both |w|
 * and M are first scaled by the same power of two so that M lies in
 * [2^30, 2^31] (n and M scale together, the quotient does not change, and
 * floor(M / 2) is taken before scaling so n stays exact). A reciprocal of M
 * then estimates q from the top 32 bits of n with an error below one, and
 * one comparison of the exact 64-bit n with (q + 1) M settles it: about 20
 * instructions per weight, no division. */
typedef struct {
    uint32_t m;           /* M << t, in [2^30, 2^31] (2^31: a row holding INT32_MIN) */
    uint32_t half;        /* floor(M / 2) << t */
    uint32_t reciprocal;  /* floor((2^62 - 1) / (M << t)), in [2^31, 2^32) */
    int t;
} row_quantizer_t;

static row_quantizer_t row_quantizer(uint32_t max_abs)
{
    row_quantizer_t r;
    r.t = 0;
    while ((max_abs << r.t) < (1u << 30)) {
        r.t++;
    }
    r.m = max_abs << r.t;
    r.half = (max_abs >> 1) << r.t;
    r.reciprocal = mfl_div_u64_u32(((uint64_t)1 << 62) - 1, r.m); /* < 2^32 as m >= 2^30 */
    return r;
}

static void quantize_row(const row_quantizer_t *r, const int32_t *w, int8_t *q, int n)
{
    const uint32_t m = r->m, reciprocal = r->reciprocal, half = r->half;
    const int t = r->t;
    for (int j = 0; j < n; j++) {
        const int32_t sign = w[j] >> 31; /* 0 or -1: branch-free magnitude and sign */
        const uint32_t a = ((uint32_t)w[j] ^ (uint32_t)sign) - (uint32_t)sign;
        const uint64_t num = (uint64_t)(a << t) * 127u + half; /* a << t <= M << t < 2^31; num < 2^38 */
        /* num / m ~ (num / 2^6) * (2^62 / m) / 2^56; both truncations lower it by < 1 */
        uint32_t v = (uint32_t)(((uint64_t)(uint32_t)(num >> 6) * reciprocal) >> 56);
        v += (uint64_t)(v + 1) * m <= num; /* 32x32 -> 64 */
        q[j] = (int8_t)(((int32_t)v ^ sign) - sign);
    }
}

int mfl_head_requantize(const mfl_head_t *h, mfl_head_q_t *q)
{
    const mfl_scale_t one_127 = mfl_scale_from_int(127, 0);
    for (uint16_t i = 0; i < h->units; i++) {
        const int32_t *w = h->w + (size_t)i * h->features;
        uint32_t max_abs = 0; /* |INT32_MIN| = 2^31 still fits */
        for (int j = 0; j < h->features; j++) {
            const uint32_t sign = (uint32_t)(w[j] >> 31);
            const uint32_t a = ((uint32_t)w[j] ^ sign) - sign;
            max_abs = a > max_abs ? a : max_abs;
        }
        if (max_abs == 0) {
            max_abs = 1; /* an all-zero row: any scale represents it */
        }
        const row_quantizer_t rq = row_quantizer((uint32_t)max_abs);
        quantize_row(&rq, w, q->w + (size_t)i * h->features, h->features);
        /* s_w = max|W| / 2^24 / 127 */
        q->scale[i] = mfl_scale_div(mfl_scale_from_int((uint64_t)max_abs, MFL_HEAD_FRAC), one_127);
        const mfl_scale_t bias_unit = mfl_scale_mul(h->feature_scale, q->scale[i]); /* s_x s_w */
        /* bias = b / 2^24 / (s_x s_w) */
        mfl_scale_t to_bias = mfl_scale_div(mfl_scale_from_int(1, MFL_HEAD_FRAC), bias_unit);
        q->bias[i] = sat32(mfl_scale_apply(to_bias, h->b[i]));
        const mfl_scale_t m = mfl_scale_div(bias_unit, h->output_scale);
        if (mfl_scale_to_multiplier(m, &q->multiplier[i], &q->shift[i]) != 0) {
            return MFL_ERR_INVALID_ARG;
        }
    }
    return 0;
}
