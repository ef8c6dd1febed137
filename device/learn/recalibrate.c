/*
 * Per-channel recalibration of a convolution (mfl/recalibrate.h).
 *
 * Patch moments: a tap is an input value minus its zero point, |p| <= 255
 * (0 where SAME padding reads the zero point), so a product of two taps is
 * below 2^16 and one call's sums stay in int32 up to CHUNK_POSITIONS
 * positions (2^15 x 2^16 = 2^31) before they join the int64 totals; over
 * 2^23 positions a product sum is below 2^39, and a channel's sum of
 * squares w'S2w (weights below 2^7 in magnitude, at most 27 x 27 terms)
 * below 2^62.5: exact in 64 bits.
 *
 * Accumulators' bounds: an accumulator of a layer with D taps per output (KH x
 * KW x input channels; KH x KW for depthwise) is below D x 128 x 255 in
 * magnitude (weights in [-128, 127], input minus zero point in
 * [-255, 255]), i.e. below 2^bits. Squares are summed >> sq_shift with
 * sq_shift = max(0, 2 bits - 40), so each term is below 2^40 and 2^23
 * positions stay below 2^63; sums of accumulators stay below
 * 2^(bits + 23) <= 2^54. Variances come out exact up to the squares'
 * truncation (below 2^sq_shift; exact for first layers).
 */
#include <string.h>

#include "../model/model_validate.h"
#include "mfl/error.h"
#include "mfl/kernels.h"
#include "mfl/quant.h"
#include "mfl/recalibrate.h"

#define SQ_TERM_BITS 40
#define CHUNK_POSITIONS (1u << 15)
#define RATIO_LIMIT 8u       /* a_c stays within [1/8, 8] */
#define RATIO_BITS 24        /* num and den below 2^24 keep the products in 64 bits */

static const mfl_op_rec_t *conv_op(const mfl_model_t *m, uint16_t op)
{
    if (!m || !m->header || op >= m->header->n_ops) {
        return NULL;
    }
    const mfl_op_rec_t *r = &m->ops[op];
    /* int8 convolutions only: a 16x8 one (int16 output) has other statistics */
    return (r->opcode == MFL_OP_CONV_2D || r->opcode == MFL_OP_DEPTHWISE_CONV_2D) &&
                   m->tensors[r->output].type == MFL_TYPE_INT8
               ? r
               : NULL;
}

static uint16_t out_channels(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    return (uint16_t)m->tensors[op->output].dims[3];
}

/* Taps of a CONV_2D small enough for patch moments, else 0. */
static uint16_t patch_taps(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    const mfl_dims_t f = mfl_tensor_dims(&m->tensors[op->inputs[1]]);
    const int32_t taps = f.h * f.w * f.c;
    return op->opcode == MFL_OP_CONV_2D && taps <= MFL_RECAL_MAX_PATCH ? (uint16_t)taps : 0;
}

static size_t triangle(size_t n)
{
    return n * (n + 1) / 2;
}

size_t mfl_recal_stats_mem_size(const mfl_model_t *model, uint16_t op)
{
    const mfl_op_rec_t *r = conv_op(model, op);
    if (!r) {
        return 0;
    }
    const size_t taps = patch_taps(model, r);
    return taps ? 12u * (taps + triangle(taps)) : 16u * out_channels(model, r);
}

static uint8_t square_shift(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    const mfl_dims_t f = mfl_tensor_dims(&m->tensors[op->inputs[1]]);
    const uint64_t taps = (uint64_t)f.h * f.w * (op->opcode == MFL_OP_CONV_2D ? (uint64_t)f.c : 1u);
    const uint64_t bound = taps * 128u * 255u;
    unsigned bits = 0;
    while (bits < 63 && (1ull << bits) <= bound) {
        bits++;
    }
    return (uint8_t)(2 * bits > SQ_TERM_BITS ? 2 * bits - SQ_TERM_BITS : 0);
}

int mfl_recal_stats_init(mfl_recal_stats_t *s, const mfl_model_t *model, uint16_t op, void *mem, size_t mem_size)
{
    if (!s || !model || !model->header || op >= model->header->n_ops || (!mem && mem_size)) {
        return MFL_ERR_INVALID_ARG;
    }
    const mfl_op_rec_t *r = conv_op(model, op);
    if (!r) {
        return MFL_ERR_UNSUPPORTED_OP;
    }
    const size_t need = mfl_recal_stats_mem_size(model, op);
    if (mem_size < need || ((uintptr_t)mem & 7u)) {
        return MFL_ERR_BUFFER_TOO_SMALL;
    }
    memset(mem, 0, need);
    const uint16_t channels = out_channels(model, r), patch = patch_taps(model, r);
    const size_t sums = patch ? patch : channels, squares = patch ? triangle(patch) : channels;
    int64_t *words = mem;
    *s = (mfl_recal_stats_t){model, op, channels, patch, patch ? 0 : square_shift(model, r), 0, words, words + sums,
                             patch ? (int32_t *)(void *)(words + sums + squares) : NULL};
    return 0;
}

/* One output channel's accumulator at one position (bias excluded), by
 * the definition TFLite's reference kernels use. */
typedef struct {
    const mfl_dims_t *in, *f;
    const int8_t *x, *w;
    const mfl_conv_rec_t *p;
    int32_t input_offset;
    int depthwise;
} acc_ctx_t;

static int32_t accumulator(const acc_ctx_t *a, int32_t b, int32_t oy, int32_t ox, int32_t c)
{
    const mfl_dims_t *in = a->in, *f = a->f;
    const int32_t y0 = oy * a->p->stride_h - a->p->pad_h, x0 = ox * a->p->stride_w - a->p->pad_w;
    int32_t acc = 0;
    for (int32_t ky = 0; ky < f->h; ky++) {
        const int32_t iy = y0 + ky * a->p->dilation_h;
        for (int32_t kx = 0; iy >= 0 && iy < in->h && kx < f->w; kx++) {
            const int32_t ix = x0 + kx * a->p->dilation_w;
            if (ix < 0 || ix >= in->w) {
                continue;
            }
            const int8_t *px = a->x + (((size_t)b * in->h + iy) * in->w + ix) * in->c;
            if (a->depthwise) { /* filter [1, KH, KW, C_out], C_out = C_in x multiplier */
                const int32_t ic = c / (f->c / in->c);
                acc += a->w[((size_t)ky * f->w + kx) * f->c + c] * (px[ic] + a->input_offset);
            } else { /* filter [C_out, KH, KW, C_in] */
                const int8_t *wk = a->w + (((size_t)c * f->h + ky) * f->w + kx) * f->c;
                for (int32_t ic = 0; ic < in->c; ic++) {
                    acc += wk[ic] * (px[ic] + a->input_offset);
                }
            }
        }
    }
    return acc;
}

static void observe_accumulators(mfl_recal_stats_t *s, const acc_ctx_t *a, const mfl_dims_t *out)
{
    for (int32_t b = 0; b < out->n; b++) {
        for (int32_t oy = 0; oy < out->h; oy++) {
            for (int32_t ox = 0; ox < out->w; ox++) {
                for (int32_t c = 0; c < out->c; c++) {
                    const int64_t v = accumulator(a, b, oy, ox, c);
                    s->sum[c] += v;
                    s->sum_sq[c] += (int64_t)((uint64_t)(v * v) >> s->sq_shift);
                }
            }
        }
    }
}

/* The patch of output position (b, oy, ox) in the filter's tap order
 * (KH, KW, C_in), input minus zero point, 0 where padding reads. */
static void gather_patch(const acc_ctx_t *a, int32_t b, int32_t oy, int32_t ox, int32_t *p)
{
    const mfl_dims_t *in = a->in, *f = a->f;
    const int32_t y0 = oy * a->p->stride_h - a->p->pad_h, x0 = ox * a->p->stride_w - a->p->pad_w;
    const int32_t dy = a->p->dilation_h, dx = a->p->dilation_w;
    if (y0 >= 0 && x0 >= 0 && y0 + (f->h - 1) * dy < in->h && x0 + (f->w - 1) * dx < in->w) {
        /* inside the image (most positions): rows of taps, no bounds per tap */
        for (int32_t ky = 0; ky < f->h; ky++) {
            const int8_t *px = a->x + (((size_t)b * in->h + y0 + ky * dy) * in->w + x0) * in->c;
            for (int32_t kx = 0; kx < f->w; kx++, px += dx * in->c) {
                for (int32_t ic = 0; ic < in->c; ic++) {
                    *p++ = px[ic] + a->input_offset;
                }
            }
        }
        return;
    }
    for (int32_t ky = 0; ky < f->h; ky++) {
        const int32_t iy = y0 + ky * a->p->dilation_h;
        for (int32_t kx = 0; kx < f->w; kx++) {
            const int32_t ix = x0 + kx * a->p->dilation_w;
            const int inside = iy >= 0 && iy < in->h && ix >= 0 && ix < in->w;
            const int8_t *px = a->x + (((size_t)b * in->h + (inside ? iy : 0)) * in->w + (inside ? ix : 0)) * in->c;
            for (int32_t ic = 0; ic < in->c; ic++) {
                *p++ = inside ? px[ic] + a->input_offset : 0;
            }
        }
    }
}

/* Adds one chunk's int32 sums to the int64 totals and clears them. */
static void flush_chunk(mfl_recal_stats_t *s)
{
    const size_t taps = s->patch, squares = triangle(taps);
    for (size_t k = 0; k < taps + squares; k++) {
        if (k < taps) {
            s->sum[k] += s->chunk[k];
        } else {
            s->sum_sq[k - taps] += s->chunk[k];
        }
        s->chunk[k] = 0;
    }
}

static void observe_patches(mfl_recal_stats_t *s, const acc_ctx_t *a, const mfl_dims_t *out)
{
    const uint16_t taps = s->patch;
    int32_t p[MFL_RECAL_MAX_PATCH];
    uint32_t in_chunk = 0;
    for (int32_t b = 0; b < out->n; b++) {
        for (int32_t oy = 0; oy < out->h; oy++) {
            for (int32_t ox = 0; ox < out->w; ox++) {
                gather_patch(a, b, oy, ox, p);
                int32_t *sum = s->chunk, *prod = s->chunk + taps;
                for (uint16_t d = 0; d < taps; d++) {
                    sum[d] += p[d];
                    for (uint16_t e = d; e < taps; e++) {
                        *prod++ += p[d] * p[e];
                    }
                }
                if (++in_chunk == CHUNK_POSITIONS) {
                    flush_chunk(s);
                    in_chunk = 0;
                }
            }
        }
    }
    flush_chunk(s);
}

int mfl_recal_observe(mfl_recal_stats_t *s, mfl_interp_t *it)
{
    if (!s || !s->model || !it || it->model != s->model) {
        return MFL_ERR_INVALID_ARG;
    }
    const mfl_model_t *m = s->model;
    const mfl_op_rec_t *op = &m->ops[s->op];
    const mfl_dims_t in = mfl_tensor_dims(&m->tensors[op->inputs[0]]);
    const mfl_dims_t f = mfl_tensor_dims(&m->tensors[op->inputs[1]]);
    const mfl_dims_t out = mfl_tensor_dims(&m->tensors[op->output]);
    const uint32_t positions = (uint32_t)(out.n * out.h * out.w);
    if (positions > MFL_RECAL_MAX_POSITIONS - s->positions) {
        return MFL_ERR_RECAL_STATS;
    }
    const int8_t *x = NULL;
    size_t len = 0;
    int err = mfl_interp_invoke_range(it, 0, s->op);
    err = err ? err : mfl_interp_tensor(it, op->inputs[0], &x, &len);
    if (err) {
        return err;
    }
    const acc_ctx_t a = {&in, &f, x, (const int8_t *)(m->data + m->tensors[op->inputs[1]].offset),
                         (const mfl_conv_rec_t *)(const void *)mfl_op_params(m, op),
                         -m->tensors[op->inputs[0]].zero_point, op->opcode == MFL_OP_DEPTHWISE_CONV_2D};
    if (s->patch) {
        observe_patches(s, &a, &out);
    } else {
        observe_accumulators(s, &a, &out);
    }
    s->positions += positions;
    return 0;
}

/* Nearest integer square root: r + 1 when v - r^2 > r, i.e. v > (r + 1/2)^2. */
static uint64_t isqrt_round(uint64_t v)
{
    uint64_t rem;
    const uint64_t r = mfl_quant_isqrt(v, &rem);
    return rem > r ? r + 1 : r;
}

/* mean = q + rem / n; var = E[acc^2] - mean^2, each part in 64 bits
 * (sum_sq >= 0 is the sum of squares >> shift). */
static void channel_moment(int64_t sum, uint64_t sum_sq, uint8_t shift, int64_t n, mfl_recal_moment_t *out)
{
    int64_t q = sum / n, rem = sum % n;
    const uint64_t e2 = ((sum_sq / (uint64_t)n) << shift) + (((sum_sq % (uint64_t)n) << shift) / (uint64_t)n);
    const int64_t cross = 2 * q * rem / n; /* 2 q (rem / n) */
    const int64_t var_signed = (int64_t)e2 - q * q - cross;
    const uint64_t var = var_signed > 0 ? (uint64_t)var_signed : 0;
    const uint64_t std16 = var < (1ull << 55) ? isqrt_round(var << 8) : isqrt_round(var) << 4;
    if (2 * (rem < 0 ? -rem : rem) >= n) { /* round the mean half away from zero */
        q += rem < 0 ? -1 : 1;
    }
    out->mean = (int32_t)q;
    out->std16 = std16 > UINT32_MAX ? UINT32_MAX : (uint32_t)std16;
}

int mfl_recal_moments(const mfl_recal_stats_t *s, mfl_recal_moment_t *out)
{
    if (!s || !s->sum || !s->sum_sq || !out) {
        return MFL_ERR_INVALID_ARG;
    }
    if (s->positions == 0) {
        return MFL_ERR_RECAL_STATS;
    }
    const mfl_op_rec_t *op = &s->model->ops[s->op];
    const int8_t *w = (const int8_t *)(s->model->data + s->model->tensors[op->inputs[1]].offset);
    for (uint16_t c = 0; c < s->channels; c++) {
        if (!s->patch) {
            channel_moment(s->sum[c], (uint64_t)s->sum_sq[c], s->sq_shift, s->positions, &out[c]);
            continue;
        }
        /* acc = w.p: sum = w.S1, sum of squares = w'S2w (S2's upper triangle, off-diagonal twice) */
        const int8_t *wc = w + (size_t)c * s->patch;
        int64_t sum = 0, sq = 0;
        const int64_t *prod = s->sum_sq;
        for (uint16_t d = 0; d < s->patch; d++) {
            sum += wc[d] * s->sum[d];
            for (uint16_t e = d; e < s->patch; e++) {
                sq += (int64_t)(wc[d] * wc[e] * (d == e ? 1 : 2)) * *prod++;
            }
        }
        channel_moment(sum, (uint64_t)sq, 0, s->positions, &out[c]);
    }
    return 0;
}

/* a_c = num / den = std_ref / std_dev within [1/8, 8], both below 2^24. */
static void channel_ratio(const mfl_recal_moment_t *ref, const mfl_recal_moment_t *dev, uint64_t *num, uint64_t *den)
{
    uint64_t n = ref->std16, d = dev->std16;
    if (n > (uint64_t)RATIO_LIMIT * d) {
        n = RATIO_LIMIT, d = 1;
    } else if (n * RATIO_LIMIT < d) {
        n = 1, d = RATIO_LIMIT;
    }
    while (n >= (1u << RATIO_BITS) || d >= (1u << RATIO_BITS)) {
        n = (n + 1) >> 1;
        d = (d + 1) >> 1;
    }
    *num = n;
    *den = d;
}

/* x / d rounded half away from zero, d > 0. */
static int64_t div_round(int64_t x, int64_t d)
{
    return x >= 0 ? (x + d / 2) / d : -((-x + d / 2) / d);
}

/* multiplier x num / den, renormalised to a mantissa in [2^30, 2^31). */
static int scale_multiplier(int32_t m, int32_t e, uint64_t num, uint64_t den, int32_t *m_out, int32_t *e_out)
{
    uint64_t v = ((uint64_t)m * num + den / 2) / den;
    while (v >= (1ull << 31)) {
        v = (v + 1) >> 1;
        e++;
    }
    while (v && v < (1ull << 30)) {
        v <<= 1;
        e--;
    }
    if (e < MFL_QUANT_SHIFT_MIN || e > MFL_QUANT_SHIFT_MAX) {
        return MFL_ERR_RECAL_RANGE;
    }
    *m_out = (int32_t)v;
    *e_out = e; /* a dead channel (multiplier 0) keeps its shift */
    return 0;
}

int mfl_recal_compute(const mfl_model_t *model, uint16_t op, const mfl_recal_moment_t *reference,
                      const mfl_recal_moment_t *device, int32_t *bias, int32_t *multiplier, int32_t *shift,
                      mfl_requant_override_t *ovr)
{
    const mfl_op_rec_t *r = conv_op(model, op);
    if (!r || !reference || !device || !bias || !multiplier || !shift || !ovr) {
        return MFL_ERR_INVALID_ARG;
    }
    const uint16_t channels = out_channels(model, r);
    const int32_t *mult = mfl_op_params(model, r) + sizeof(mfl_conv_rec_t) / 4;
    const int32_t *old_bias = r->inputs[2] == MFL_NONE
                                  ? NULL
                                  : (const int32_t *)(const void *)(model->data + model->tensors[r->inputs[2]].offset);
    for (uint16_t c = 0; c < channels; c++) {
        uint64_t num, den;
        channel_ratio(&reference[c], &device[c], &num, &den);
        const int64_t b = old_bias ? old_bias[c] : 0;
        const int64_t nb = div_round((reference[c].mean + b) * (int64_t)den, (int64_t)num) - device[c].mean;
        if (nb < INT32_MIN || nb > INT32_MAX) {
            return MFL_ERR_RECAL_RANGE;
        }
        bias[c] = (int32_t)nb;
        const int err = scale_multiplier(mult[c], mult[channels + c], num, den, &multiplier[c], &shift[c]);
        if (err) {
            return err;
        }
    }
    *ovr = (mfl_requant_override_t){op, channels, bias, multiplier, shift};
    return 0;
}
