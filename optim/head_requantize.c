/*
 * The head between its two forms (include/mfl/head.h): the Q8.24 master
 * from an int8 head, and the int8 head the FULLY_CONNECTED kernel runs
 * requantized from the master, without a division per weight.
 */
#include "head_internal.h"
#include "mfl/error.h"
#include "mfl/quant.h"

void mfl_head_from_quantized(mfl_head_t *h, const mfl_head_q_t *q)
{
    for (uint16_t i = 0; i < h->units; i++) {
        /* W = q * s_w; in Q8.24 that is q * (s_w * 2^24) */
        const mfl_scale_t to_w = {q->scale[i].m, q->scale[i].e + MFL_HEAD_FRAC};
        for (uint16_t j = 0; j < h->features; j++) {
            h->w[(size_t)i * h->features + j] = mfl_head_sat32(mfl_scale_apply(to_w, q->w[(size_t)i * h->features + j]));
        }
        /* b = bias * s_x * s_w */
        mfl_scale_t to_b = mfl_scale_mul(h->feature_scale, q->scale[i]);
        to_b.e += MFL_HEAD_FRAC;
        h->b[i] = mfl_head_sat32(mfl_scale_apply(to_b, q->bias[i]));
    }
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
    uint32_t reciprocal;  /* floor((2^62 - 1) / (M << t)), in [2^31 - 1, 2^32) */
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

static uint32_t row_max_abs(const int32_t *w, int n)
{
    uint32_t max_abs = 0; /* |INT32_MIN| = 2^31 still fits */
    for (int j = 0; j < n; j++) {
        const uint32_t sign = (uint32_t)(w[j] >> 31);
        const uint32_t a = ((uint32_t)w[j] ^ sign) - sign;
        max_abs = a > max_abs ? a : max_abs;
    }
    return max_abs ? max_abs : 1; /* an all-zero row: any scale represents it */
}

typedef struct {
    mfl_scale_t scale;      /* s_w = max|W| / 127 * 2^k */
    mfl_scale_t multiplier; /* s_x s_w / output_scale, within the kernel's shift range */
    int k;                  /* how far the scale was raised (0: the row's own) */
} row_form_t;

/* The bias b (Q8.24) in units of s_x s_w, saturated to int64. */
static int64_t bias_in(const mfl_head_t *h, mfl_scale_t s_w, int32_t b)
{
    const mfl_scale_t to_bias = mfl_scale_div(mfl_scale_from_int(1, MFL_HEAD_FRAC), mfl_scale_mul(h->feature_scale, s_w));
    return mfl_scale_apply(to_bias, b);
}

/* A row's scale and multiplier from max|W| and its bias. The scale is
 * max|W| / 127, raised by the least power of two 2^k that brings the
 * multiplier up into the kernel's range (a row near zero, whose weights
 * would then move the output by under 1/32 of a step) and lets the int32
 * bias hold b (a row whose bias is large against s_x s_w); the weights are
 * then quantized on the raised scale. Returns MFL_ERR_INVALID_ARG for a
 * multiplier above the range. */
static int row_form(const mfl_head_t *h, uint32_t max_abs, int32_t b, row_form_t *f)
{
    f->scale = mfl_scale_div(mfl_scale_from_int(max_abs, MFL_HEAD_FRAC), mfl_scale_from_int(127, 0));
    f->multiplier = mfl_scale_div(mfl_scale_mul(h->feature_scale, f->scale), h->output_scale);
    f->k = f->multiplier.m != 0 && f->multiplier.e < MFL_QUANT_SHIFT_MIN ? MFL_QUANT_SHIFT_MIN - f->multiplier.e : 0;
    for (;;) {
        const mfl_scale_t s_w = {f->scale.m, f->scale.e + f->k};
        const int64_t bias = bias_in(h, s_w, b);
        if ((bias <= INT32_MAX && bias >= INT32_MIN) || f->multiplier.e + f->k > MFL_QUANT_SHIFT_MAX) {
            break;
        }
        f->k++;
    }
    f->scale.e += f->k;
    f->multiplier.e += f->k;
    return f->multiplier.m != 0 && f->multiplier.e > MFL_QUANT_SHIFT_MAX ? MFL_ERR_INVALID_ARG : 0;
}

/* round(127 w / (max_abs 2^k)), ties away from zero, for k >= 1: |w| <=
 * max_abs, so k >= 8 gives 0, and below that one 64-bit division (a rare
 * path: rows raised by row_form). */
static void quantize_row_raised(const int32_t *w, int8_t *q, int n, uint32_t max_abs, int k)
{
    for (int j = 0; j < n; j++) {
        if (k >= 8) {
            q[j] = 0;
            continue;
        }
        const uint64_t a = w[j] < 0 ? (uint64_t)0 - (uint64_t)(int64_t)w[j] : (uint64_t)w[j];
        const uint64_t d = (uint64_t)max_abs << k;
        const int32_t v = (int32_t)((127u * a + d / 2) / d);
        q[j] = (int8_t)(w[j] < 0 ? -v : v);
    }
}

int mfl_head_requantize(const mfl_head_t *h, mfl_head_q_t *q)
{
    row_form_t f;
    for (uint16_t i = 0; i < h->units; i++) { /* all rows in range before anything is written */
        if (row_form(h, row_max_abs(h->w + (size_t)i * h->features, h->features), h->b[i], &f) != 0) {
            return MFL_ERR_INVALID_ARG;
        }
    }
    for (uint16_t i = 0; i < h->units; i++) {
        const int32_t *w = h->w + (size_t)i * h->features;
        int8_t *qw = q->w + (size_t)i * h->features;
        const uint32_t max_abs = row_max_abs(w, h->features);
        (void)row_form(h, max_abs, h->b[i], &f);
        if (f.k == 0) {
            const row_quantizer_t rq = row_quantizer(max_abs);
            quantize_row(&rq, w, qw, h->features);
        } else {
            quantize_row_raised(w, qw, h->features, max_abs, f.k);
        }
        q->scale[i] = f.scale;
        q->bias[i] = mfl_head_sat32(bias_in(h, f.scale, h->b[i])); /* b / 2^24 / (s_x s_w) */
        q->multiplier[i] = f.multiplier.m;
        q->shift[i] = f.multiplier.m ? f.multiplier.e : 0;
    }
    return 0;
}
