/*
 * CONV_2D, int8, per-channel weights (TFLM reference ConvPerChannel).
 *
 * For each output element: acc = sum over the in-bounds window of
 * filter * (input + input_offset), plus bias (wrapping, as TFLM), then
 * requantized with the channel's multiplier, offset by the output zero point
 * and clamped to the fused activation range. Out-of-bounds window positions
 * (the padding) contribute nothing, which is TFLite's zero-point padding.
 * The in-bounds tap range is computed once per output position. Given
 * scratch (ctx, at least KH * KW * C_in int16), the window is first copied
 * into one column (see im2col_plain); without, the window is summed in
 * place. Both give the same bits.
 */
#include <string.h>

#include "kernel_util.h"

typedef struct {
    int32_t y0, y1, x0, x1; /* in-bounds filter taps [y0, y1) x [x0, x1) */
    int32_t in_y0, in_x0;   /* input coordinate of tap (0, 0) */
} taps_t;

static int32_t conv_window_sum(const mfl_conv_params_t *p, const mfl_dims_t *in_dims, const int8_t *in_batch,
                               const mfl_dims_t *f_dims, const int8_t *filter_oc, const taps_t *t)
{
    /* Locals, not p->...: int8 stores and loads may alias anything, so the
     * compiler would otherwise reload the struct fields every iteration. */
    const int32_t in_c = in_dims->c;
    const int32_t input_offset = p->input_offset;
    int32_t acc = 0;
    for (int32_t fy = t->y0; fy < t->y1; fy++) {
        const int32_t in_y = t->in_y0 + p->dilation_h * fy;
        for (int32_t fx = t->x0; fx < t->x1; fx++) {
            const int32_t in_x = t->in_x0 + p->dilation_w * fx;
            const int8_t *ip = in_batch + ((size_t)in_y * (size_t)in_dims->w + (size_t)in_x) * (size_t)in_c;
            const int8_t *fp = filter_oc + ((size_t)fy * (size_t)f_dims->w + (size_t)fx) * (size_t)in_c;
            for (int32_t ic = 0; ic < in_c; ic++) {
                acc += (int32_t)fp[ic] * ((int32_t)ip[ic] + input_offset);
            }
        }
    }
    return acc;
}

/* With scratch: the window of each output pixel is first copied as one
 * int16 column with the offset added (padding taps 0), so that every output
 * channel is a single dot product over KH * KW * C_in contiguous values,
 * with no window loops; compilers vectorise it (x86-64: ~0.5 instructions
 * per multiply-add at -O3). */
static void im2col_plain(const mfl_conv_params_t *p, const mfl_dims_t *in_dims, const int8_t *in_batch,
                         const mfl_dims_t *f_dims, int32_t oy, int32_t ox, int16_t *col)
{
    const int32_t in_c = in_dims->c, offset = p->input_offset;
    const int32_t in_y0 = oy * p->stride_h - p->pad_h, in_x0 = ox * p->stride_w - p->pad_w;
    for (int32_t fy = 0; fy < f_dims->h; fy++) {
        const int32_t in_y = in_y0 + fy * p->dilation_h;
        for (int32_t fx = 0; fx < f_dims->w; fx++, col += in_c) {
            const int32_t in_x = in_x0 + fx * p->dilation_w;
            if (in_y < 0 || in_y >= in_dims->h || in_x < 0 || in_x >= in_dims->w) {
                memset(col, 0, (size_t)in_c * sizeof(*col));
                continue;
            }
            const int8_t *src = in_batch + ((size_t)in_y * (size_t)in_dims->w + (size_t)in_x) * (size_t)in_c;
            for (int32_t k = 0; k < in_c; k++) {
                col[k] = (int16_t)(src[k] + offset);
            }
        }
    }
}

static int32_t dot_column(const int8_t *w, const int16_t *col, int32_t depth)
{
    int32_t acc = 0;
    for (int32_t k = 0; k < depth; k++) {
        acc += w[k] * col[k];
    }
    return acc;
}

void mfl_conv2d_s8_portable(const mfl_kernel_ctx_t *ctx, const mfl_conv_params_t *params,
                            const mfl_requant_t *requant, const mfl_dims_t *input_dims, const int8_t *input,
                            const mfl_dims_t *filter_dims, const int8_t *filter, const int32_t *bias,
                            const mfl_dims_t *output_dims, int8_t *output)
{
    const size_t in_batch_size = (size_t)input_dims->h * (size_t)input_dims->w * (size_t)input_dims->c;
    const size_t filter_oc_size = (size_t)filter_dims->h * (size_t)filter_dims->w * (size_t)filter_dims->c;
    const int32_t depth = (int32_t)filter_oc_size;
    int16_t *col = ctx && ctx->buf && ctx->size >= (size_t)depth * sizeof(int16_t) ? (int16_t *)ctx->buf : NULL;
    int8_t *out = output;

    for (int32_t b = 0; b < output_dims->n; b++) {
        const int8_t *in_batch = input + (size_t)b * in_batch_size;
        for (int32_t oy = 0; oy < output_dims->h; oy++) {
            taps_t t;
            t.in_y0 = oy * params->stride_h - params->pad_h;
            mfl_tap_range(t.in_y0, params->dilation_h, filter_dims->h, input_dims->h, &t.y0, &t.y1);
            for (int32_t ox = 0; ox < output_dims->w; ox++) {
                t.in_x0 = ox * params->stride_w - params->pad_w;
                mfl_tap_range(t.in_x0, params->dilation_w, filter_dims->w, input_dims->w, &t.x0, &t.x1);
                if (col) {
                    im2col_plain(params, input_dims, in_batch, filter_dims, oy, ox, col);
                }
                for (int32_t oc = 0; oc < output_dims->c; oc++) {
                    const int8_t *f = filter + (size_t)oc * filter_oc_size;
                    const int32_t acc = col ? dot_column(f, col, depth)
                                            : conv_window_sum(params, input_dims, in_batch, filter_dims, f, &t);
                    *out++ = mfl_requant_s8(acc, bias, oc, requant->multiplier[oc], requant->shift[oc],
                                            params->output_offset, params->act_min, params->act_max);
                }
            }
        }
    }
}
