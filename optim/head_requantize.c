/*
 * The head between its two forms (include/mfl/head.h): the Q8.24 master
 * from an int8 head, and the int8 head the FULLY_CONNECTED kernel runs
 * requantized from the master, without a division per weight.
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

#define ZERO_ROW_SHIFT (-15) /* a zero row's multiplier: r in [2^-16, 2^-15) */

typedef struct {
    mfl_scale_t scale;      /* s_w */
    mfl_scale_t multiplier; /* s_x s_w / output_scale, within the kernel's shift range */
    int zero;               /* the row's weights quantize to 0 (see below) */
} row_form_t;

/* A row's scale and multiplier from max|W|. A multiplier below the
 * kernel's range (r < 2^-32) would scale a row's largest accumulator
 * (127 * 255 * 4096 < 2^27) to under 1/32 of an output step: the row is
 * then given zero weights and its scale raised until the multiplier is in
 * [2^-16, 2^-15), where the int32 bias holds b to 2^-16 of an output step
 * (saturating only beyond 2^15 steps, where the int8 output is clamped
 * anyway). Returns MFL_ERR_INVALID_ARG for a multiplier above the range. */
static int row_form(const mfl_head_t *h, uint32_t max_abs, row_form_t *f)
{
    /* s_w = max|W| / 2^24 / 127 */
    f->scale = mfl_scale_div(mfl_scale_from_int(max_abs, MFL_HEAD_FRAC), mfl_scale_from_int(127, 0));
    f->multiplier = mfl_scale_div(mfl_scale_mul(h->feature_scale, f->scale), h->output_scale);
    f->zero = f->multiplier.m != 0 && f->multiplier.e < MFL_QUANT_SHIFT_MIN;
    if (f->zero) {
        const int32_t up = ZERO_ROW_SHIFT - f->multiplier.e;
        f->scale.e += up;
        f->multiplier.e += up;
    }
    return f->multiplier.m != 0 && f->multiplier.e > MFL_QUANT_SHIFT_MAX ? MFL_ERR_INVALID_ARG : 0;
}

int mfl_head_requantize(const mfl_head_t *h, mfl_head_q_t *q)
{
    row_form_t f;
    for (uint16_t i = 0; i < h->units; i++) { /* all rows in range before anything is written */
        if (row_form(h, row_max_abs(h->w + (size_t)i * h->features, h->features), &f) != 0) {
            return MFL_ERR_INVALID_ARG;
        }
    }
    for (uint16_t i = 0; i < h->units; i++) {
        const int32_t *w = h->w + (size_t)i * h->features;
        int8_t *qw = q->w + (size_t)i * h->features;
        const uint32_t max_abs = row_max_abs(w, h->features);
        (void)row_form(h, max_abs, &f);
        if (f.zero) {
            for (int j = 0; j < h->features; j++) {
                qw[j] = 0;
            }
        } else {
            const row_quantizer_t rq = row_quantizer(max_abs);
            quantize_row(&rq, w, qw, h->features);
        }
        q->scale[i] = f.scale;
        /* bias = b / 2^24 / (s_x s_w) */
        const mfl_scale_t to_bias =
            mfl_scale_div(mfl_scale_from_int(1, MFL_HEAD_FRAC), mfl_scale_mul(h->feature_scale, f.scale));
        q->bias[i] = sat32(mfl_scale_apply(to_bias, h->b[i]));
        q->multiplier[i] = f.multiplier.m;
        q->shift[i] = f.multiplier.m ? f.multiplier.e : 0;
    }
    return 0;
}
