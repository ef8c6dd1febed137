/*
 * CONV_2D, int8, for the Armv7E-M DSP extension (the technique of CMSIS-NN's
 * arm_convolve_s8; this code is our own). Same results as the portable
 * mfl_conv2d_s8_portable, bit for bit.
 *
 * Per pair of output pixels, the two input windows are copied into the
 * scratch buffer as int16 columns with the input offset already added
 * ("im2col": (x + offset) is in [-255, 255], padding taps are 0). Then each
 * pair of output channels is a 2x2 block of dot products: every filter word
 * loaded serves two pixels and every column word two channels, and one SMLAD
 * does two 16x16 multiply-adds. The accumulator starts at the bias (adding
 * it first or last gives the same bits: int32 addition wraps either way),
 * and requantization runs once per output, outside the dot product.
 *
 * Column order: SXTB16 on a filter word (w0 w1 w2 w3) gives the pairs
 * (w0, w2) and, rotated by 8, (w1, w3). The columns therefore hold each
 * group of four taps in the order x0 x2 x1 x3, so two SMLADs over a group
 * sum exactly w0*x0 + w1*x1 + w2*x2 + w3*x3. A depth that is not a multiple
 * of four ends with up to three taps in plain order, done one by one.
 *
 * Overflow: each product is at most 255 * 128 = 32,640 in magnitude; the
 * loader bounds the depth by MFL_KERNEL_MAX_DEPTH (docs/numerics.md).
 */
#include "dsp.h"
#include "kernel_util.h"

#if MFL_HAVE_DSP

typedef struct {
    const mfl_conv_params_t *p;
    const mfl_dims_t *in_dims, *f_dims;
    const int8_t *in_batch;
    int32_t depth;        /* KH * KW * C_in: taps per output */
    int32_t col_stride;   /* int16 entries between the two columns (depth, rounded up to even) */
    int32_t offset_pair;  /* the input offset in both lanes */
} im2col_t;

/* One tap of an input depth that is a multiple of four (so the tap starts
 * a group of four in the column): two SXTAB16 per four bytes give the
 * reordered pairs, offset included. */
static void widen_tap4(const int8_t *src, int16_t *col, int32_t in_c, int32_t offset_pair)
{
    for (int32_t k = 0; k < in_c; k += 4) {
        const int32_t x = mfl_read_s8x4(src + k);
        mfl_write_s16x2(col + k, mfl_sxtab16(offset_pair, x));
        mfl_write_s16x2(col + k + 2, mfl_sxtab16_ror8(offset_pair, x));
    }
}

/* Input depth a multiple of four: every tap fills whole groups. Padding
 * taps are zeros (TFLite pads with the zero point, where x + offset = 0). */
static void im2col_by_tap(const im2col_t *g, int32_t in_y0, int32_t in_x0, int16_t *col)
{
    const mfl_conv_params_t *p = g->p;
    const int32_t in_c = g->in_dims->c;
    for (int32_t fy = 0; fy < g->f_dims->h; fy++) {
        const int32_t in_y = in_y0 + fy * p->dilation_h;
        for (int32_t fx = 0; fx < g->f_dims->w; fx++, col += in_c) {
            const int32_t in_x = in_x0 + fx * p->dilation_w;
            if (in_y < 0 || in_y >= g->in_dims->h || in_x < 0 || in_x >= g->in_dims->w) {
                memset(col, 0, (size_t)in_c * sizeof(*col));
            } else {
                const size_t at = ((size_t)in_y * (size_t)g->in_dims->w + (size_t)in_x) * (size_t)in_c;
                widen_tap4(g->in_batch + at, col, in_c, g->offset_pair);
            }
        }
    }
}

/* Any other depth (the first layer of most models: 1 or 3 channels): each
 * window row is copied in tap order, the in-bounds taps of a row being one
 * run of input bytes when the dilation is 1; then every whole group of four
 * is put in the x0 x2 x1 x3 order by two PKHBT/PKHTB-like moves. */
static void im2col_by_row(const im2col_t *g, int32_t in_y0, int32_t in_x0, int16_t *col)
{
    const mfl_conv_params_t *p = g->p;
    const int32_t in_c = g->in_dims->c, kw = g->f_dims->w, offset = p->input_offset;
    const int32_t row_len = kw * in_c;
    int32_t x0, x1;
    mfl_tap_range(in_x0, p->dilation_w, kw, g->in_dims->w, &x0, &x1);
    int16_t *row = col;
    for (int32_t fy = 0; fy < g->f_dims->h; fy++, row += row_len) {
        const int32_t in_y = in_y0 + fy * p->dilation_h;
        if (in_y < 0 || in_y >= g->in_dims->h || x0 >= x1) {
            memset(row, 0, (size_t)row_len * sizeof(*row));
            continue;
        }
        memset(row, 0, (size_t)(x0 * in_c) * sizeof(*row));
        memset(row + x1 * in_c, 0, (size_t)((kw - x1) * in_c) * sizeof(*row));
        const int8_t *src_row = g->in_batch + (size_t)in_y * (size_t)g->in_dims->w * (size_t)in_c;
        for (int32_t fx = x0; fx < x1; fx++) {
            const int8_t *src = src_row + (size_t)(in_x0 + fx * p->dilation_w) * (size_t)in_c;
            int16_t *dst = row + fx * in_c;
            for (int32_t k = 0; k < in_c; k++) {
                dst[k] = (int16_t)(src[k] + offset);
            }
        }
    }
    for (int32_t k = 0; k + 4 <= g->depth; k += 4) {
        const uint32_t lo = (uint32_t)mfl_read_s16x2(col + k), hi = (uint32_t)mfl_read_s16x2(col + k + 2);
        mfl_write_s16x2(col + k, (int32_t)((lo & 0xFFFFu) | (hi << 16)));     /* x0 x2 */
        mfl_write_s16x2(col + k + 2, (int32_t)((lo >> 16) | (hi & 0xFFFF0000u))); /* x1 x3 */
    }
}

/* The window of output pixel (oy, ox) as one column. */
static void im2col(const im2col_t *g, int32_t oy, int32_t ox, int16_t *col)
{
    const int32_t in_y0 = oy * g->p->stride_h - g->p->pad_h;
    const int32_t in_x0 = ox * g->p->stride_w - g->p->pad_w;
    if ((g->in_dims->c & 3) == 0) {
        im2col_by_tap(g, in_y0, in_x0, col);
    } else {
        im2col_by_row(g, in_y0, in_x0, col);
    }
}

/* acc[2*i + j] += dot(filter row i, column j) for i, j in {0, 1}. Both
 * filter words are widened first and each column pair is then used at once,
 * so that at most five values are in flight beside the four accumulators
 * and four pointers: the loop fits the Cortex-M4's registers. */
static inline __attribute__((always_inline)) void dot_2x2(const int8_t *w0, const int8_t *w1, const int16_t *c0,
                                                         const int16_t *c1, int32_t depth,
                                                         int32_t *acc)
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    for (int32_t n = depth >> 2; n > 0; n--) {
        int32_t w = mfl_read_s8x4(w0);
        w0 += 4;
        const int32_t we0 = mfl_sxtb16(w), wo0 = mfl_sxtb16_ror8(w);
        w = mfl_read_s8x4(w1);
        w1 += 4;
        const int32_t we1 = mfl_sxtb16(w), wo1 = mfl_sxtb16_ror8(w);
        int32_t c = mfl_read_s16x2(c0);
        a00 = mfl_smlad(we0, c, a00);
        a10 = mfl_smlad(we1, c, a10);
        c = mfl_read_s16x2(c0 + 2);
        c0 += 4;
        a00 = mfl_smlad(wo0, c, a00);
        a10 = mfl_smlad(wo1, c, a10);
        c = mfl_read_s16x2(c1);
        a01 = mfl_smlad(we0, c, a01);
        a11 = mfl_smlad(we1, c, a11);
        c = mfl_read_s16x2(c1 + 2);
        c1 += 4;
        a01 = mfl_smlad(wo0, c, a01);
        a11 = mfl_smlad(wo1, c, a11);
    }
    for (int32_t k = 0; k < (depth & 3); k++) { /* wrapping: the sums started at the bias */
        a00 = mfl_quant_add_wrap(a00, w0[k] * c0[k]);
        a01 = mfl_quant_add_wrap(a01, w0[k] * c1[k]);
        a10 = mfl_quant_add_wrap(a10, w1[k] * c0[k]);
        a11 = mfl_quant_add_wrap(a11, w1[k] * c1[k]);
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

/* All output channels of the pixels whose columns are c0 and c1 (out1 NULL:
 * only one pixel is wanted, and c1 is a copy of c0's address). `mode` is a
 * constant at each call, so each caller gets one requantization inlined. */
static inline __attribute__((always_inline)) void
conv_pixels(const mfl_conv_params_t *p, const mfl_requant_t *rq, const int8_t *filter, const int32_t *bias,
            int32_t out_c, int32_t depth, const int16_t *c0, const int16_t *c1, int8_t *out0, int8_t *out1, int mode)
{
    /* locals: the int8 stores below may alias the parameter structs */
    const int32_t output_offset = p->output_offset, act_min = p->act_min, act_max = p->act_max;
    const int32_t *multiplier = rq->multiplier, *shift = rq->shift;
    for (int32_t oc = 0; oc < out_c; oc += 2) {
        const int32_t oc1 = oc + 1 < out_c ? oc + 1 : oc; /* an odd last channel is computed twice */
        const int32_t b0 = bias ? bias[oc] : 0, b1 = bias ? bias[oc1] : 0;
        int32_t acc[4] = {b0, b0, b1, b1};
        dot_2x2(filter + (size_t)oc * (size_t)depth, filter + (size_t)oc1 * (size_t)depth, c0, c1, depth, acc);
        for (int32_t i = 0; i < 2 && oc + i < out_c; i++) {
            const int32_t m = multiplier[oc + i], s = shift[oc + i];
            out0[oc + i] = mfl_dsp_requant_s8(acc[2 * i], m, s, mode, output_offset, act_min, act_max);
            if (out1) {
                out1[oc + i] = mfl_dsp_requant_s8(acc[2 * i + 1], m, s, mode, output_offset, act_min, act_max);
            }
        }
    }
}

#define CONV_PIXELS_IN_MODE(name, mode)                                                                      \
    static void name(const mfl_conv_params_t *p, const mfl_requant_t *rq, const int8_t *filter,                 \
                     const int32_t *bias, int32_t out_c, int32_t depth, const int16_t *c0, const int16_t *c1,   \
                     int8_t *out0, int8_t *out1)                                                                \
    {                                                                                                          \
        conv_pixels(p, rq, filter, bias, out_c, depth, c0, c1, out0, out1, mode);                               \
    }
CONV_PIXELS_IN_MODE(conv_pixels_any, MFL_DSP_REQUANT_ANY)
CONV_PIXELS_IN_MODE(conv_pixels_short, MFL_DSP_REQUANT_SHORT)
CONV_PIXELS_IN_MODE(conv_pixels_short_full, MFL_DSP_REQUANT_SHORT_FULL)

void mfl_conv2d_s8_dsp(const mfl_kernel_ctx_t *ctx, const mfl_conv_params_t *params, const mfl_requant_t *requant,
                       const mfl_dims_t *input_dims, const int8_t *input, const mfl_dims_t *filter_dims,
                       const int8_t *filter, const int32_t *bias, const mfl_dims_t *output_dims, int8_t *output)
{
    im2col_t g = {params, input_dims, filter_dims, NULL, 0, 0, mfl_dsp_offset_pair(params->input_offset)};
    g.depth = filter_dims->h * filter_dims->w * input_dims->c;
    g.col_stride = (g.depth + 1) & ~1;
    int16_t *col0 = (int16_t *)ctx->buf;
    int16_t *col1 = col0 + g.col_stride;
    const size_t in_batch_size = (size_t)input_dims->h * (size_t)input_dims->w * (size_t)input_dims->c;
    const int32_t pixels = output_dims->h * output_dims->w;
    const int32_t out_c = output_dims->c;
    const int mode = mfl_dsp_requant_mode(requant->shift, out_c, params->act_min, params->act_max);
    void (*const run)(const mfl_conv_params_t *, const mfl_requant_t *, const int8_t *, const int32_t *, int32_t,
                      int32_t, const int16_t *, const int16_t *, int8_t *, int8_t *) =
        mode == MFL_DSP_REQUANT_SHORT_FULL ? conv_pixels_short_full
        : mode == MFL_DSP_REQUANT_SHORT    ? conv_pixels_short
                                           : conv_pixels_any;

    for (int32_t b = 0; b < output_dims->n; b++) {
        g.in_batch = input + (size_t)b * in_batch_size;
        int8_t *out = output + (size_t)b * (size_t)pixels * (size_t)out_c;
        for (int32_t px = 0; px < pixels; px += 2) {
            im2col(&g, px / output_dims->w, px % output_dims->w, col0);
            if (px + 1 < pixels) {
                im2col(&g, (px + 1) / output_dims->w, (px + 1) % output_dims->w, col1);
                run(params, requant, filter, bias, out_c, g.depth, col0, col1, out, out + out_c);
            } else {
                run(params, requant, filter, bias, out_c, g.depth, col0, col0, out, NULL);
            }
            out += 2 * (size_t)out_c;
        }
    }
}

#else
typedef int mfl_conv2d_s8_dsp_unavailable; /* no DSP extension: the portable kernel runs */
#endif /* MFL_HAVE_DSP */
