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

void mfl_head_logits(const mfl_head_t *h, const int8_t *x, int32_t *z)
{
    /* The feature offsets once (in chunks, to keep the stack small), then
     * one 32x32->64 multiply-add per weight: SMLAL on Cortex-M. */
    enum { CHUNK = 64 };
    int32_t xt[CHUNK];
    int64_t acc[MFL_HEAD_MAX_UNITS];
    for (uint16_t i = 0; i < h->units; i++) {
        acc[i] = 0;
    }
    for (uint16_t j0 = 0; j0 < h->features; j0 += CHUNK) {
        const uint16_t n = h->features - j0 < CHUNK ? (uint16_t)(h->features - j0) : (uint16_t)CHUNK;
        for (uint16_t j = 0; j < n; j++) {
            xt[j] = x[j0 + j] - h->feature_zp;
        }
        for (uint16_t i = 0; i < h->units; i++) {
            const int32_t *w = h->w + (size_t)i * h->features + j0;
            int64_t a = acc[i];
            for (uint16_t j = 0; j < n; j++) {
                a += (int64_t)w[j] * xt[j];
            }
            acc[i] = a;
        }
    }
    for (uint16_t i = 0; i < h->units; i++) {
        z[i] = sat32((int64_t)h->b[i] + mfl_scale_apply(h->feature_scale, acc[i]));
    }
}

/* floor(n / d) for n = e * 2^30 + floor(d / 2), e < 2^31, d in
 * [2^31 - 1, 2^40): an estimate from reciprocal = floor(2^62 / d), then the
 * remainder puts it right (the estimate is within 2 of the quotient), with
 * no 64-bit division per element (a library call of ~100 instructions on
 * Cortex-M). */
static uint32_t divide_rounded(uint64_t n, uint64_t d, uint32_t e, uint64_t reciprocal)
{
    uint64_t q = ((uint64_t)e * reciprocal) >> 32; /* ~ e * 2^30 / d; e * reciprocal < 2^63 */
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
    const uint64_t reciprocal = ((uint64_t)1 << 62) / d; /* <= 2^31 + 1: the one division */
    for (int i = 0; i < units; i++) {
        p[i] = (int32_t)divide_rounded(((uint64_t)p[i] << MFL_HEAD_PROB_FRAC) + d / 2, d, (uint32_t)p[i],
                                       reciprocal);
    }
}

/* W0[i][j] in Q8.24 from the global int8 head. */
static int32_t global_weight(const int8_t *w0, const mfl_scale_t *w0_scale, uint16_t i, uint16_t features,
                             uint16_t j)
{
    const mfl_scale_t to_w = {w0_scale[i].m, w0_scale[i].e + MFL_HEAD_FRAC};
    return sat32(mfl_scale_apply(to_w, w0[(size_t)i * features + j]));
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
        int32_t *gk = g + (size_t)k * h->units;
        mfl_head_logits(h, x[k], z);
        mfl_head_softmax(z, h->units, gk);
        gk[y[k]] -= 1 << MFL_HEAD_PROB_FRAC;
    }
    /* step scales: lr / B * 2^(24 - 30), and times s_x for the weights */
    mfl_scale_t step_b = mfl_scale_div(lr, mfl_scale_from_int((uint64_t)batch, 0));
    step_b.e += MFL_HEAD_FRAC - MFL_HEAD_PROB_FRAC;
    const mfl_scale_t step_w = mfl_scale_mul(step_b, h->feature_scale);

    for (uint16_t i = 0; i < h->units; i++) {
        int64_t gb = 0;
        for (int k = 0; k < batch; k++) {
            gb += g[(size_t)k * h->units + i];
        }
        h->b[i] = sat32((int64_t)h->b[i] - mfl_scale_apply(step_b, gb));
        int32_t *w = h->w + (size_t)i * h->features;
        for (uint16_t j = 0; j < h->features; j++) {
            int64_t gw = 0;
            for (int k = 0; k < batch; k++) {
                gw += (int64_t)g[(size_t)k * h->units + i] * (x[k][j] - h->feature_zp);
            }
            int64_t v = (int64_t)w[j] - mfl_scale_apply(step_w, gw);
            if (drift > 0 && w0) {
                const int64_t c = global_weight(w0, w0_scale, i, h->features, j);
                v = v > c + drift ? c + drift : v < c - drift ? c - drift : v;
            }
            w[j] = sat32(v);
        }
    }
    return 0;
}

/* round(127 w / max_abs), ties away from zero, for |w| <= max_abs < 2^31:
 * n = 127 |w| + floor(max_abs / 2), q = floor(n / max_abs) in [0, 127].
 * A 32-bit division (one instruction on Cortex-M3/M4) of both operands
 * shifted right by `s` estimates q within one; the exact remainder in 64
 * bits corrects it. No 64-bit division per weight. */
typedef struct {
    uint32_t max_abs, half, small_max, small_half;
    int s;
} row_quantizer_t;

static row_quantizer_t row_quantizer(uint32_t max_abs)
{
    row_quantizer_t r = {max_abs, max_abs >> 1, 0, 0, 0};
    while ((max_abs >> r.s) >= (1u << 24)) {
        r.s++;
    }
    r.small_max = max_abs >> r.s;
    r.small_half = r.half >> r.s;
    return r;
}

static int8_t quantize_weight(const row_quantizer_t *r, int32_t w)
{
    const uint32_t a = w < 0 ? (uint32_t)0 - (uint32_t)w : (uint32_t)w;
    const uint64_t n = (uint64_t)a * 127u + r->half;
    uint32_t q = (127u * (a >> r->s) + r->small_half) / r->small_max; /* < 2^31 / 1: no overflow */
    uint64_t qd = (uint64_t)q * r->max_abs;
    while (qd > n) {
        q--;
        qd -= r->max_abs;
    }
    while (n - qd >= r->max_abs) {
        q++;
        qd += r->max_abs;
    }
    return (int8_t)(w < 0 ? -(int32_t)q : (int32_t)q);
}

int mfl_head_requantize(const mfl_head_t *h, mfl_head_q_t *q)
{
    const mfl_scale_t one_127 = mfl_scale_from_int(127, 0);
    for (uint16_t i = 0; i < h->units; i++) {
        const int32_t *w = h->w + (size_t)i * h->features;
        int64_t max_abs = 0;
        for (uint16_t j = 0; j < h->features; j++) {
            const int64_t a = w[j] < 0 ? -(int64_t)w[j] : w[j];
            max_abs = a > max_abs ? a : max_abs;
        }
        if (max_abs == 0) {
            max_abs = 1; /* an all-zero row: any scale represents it */
        }
        const row_quantizer_t rq = row_quantizer((uint32_t)max_abs);
        for (uint16_t j = 0; j < h->features; j++) {
            q->w[(size_t)i * h->features + j] = quantize_weight(&rq, w[j]);
        }
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
