/*
 * TRANSPOSE_CONV 16x8, portable C: int16 activations (zero point 0), int8 per-channel
 * weights, int64 bias (TFLM reference_integer_ops::TransposeConv for int16).
 *
 * TFLM scatters: input pixel (iy, ix) adds its products through tap (ky,
 * kx) to output (iy * stride_h - pad_h + ky, ix * stride_w - pad_w + kx)
 * of an int64 buffer the size of the output (41 KB for SEANet's decoder
 * layer), then requantizes every element. Here each output gathers the
 * same products instead: ky = oy + pad_h - iy * stride_h must lie in
 * [0, KH), so iy runs over [ceil((oy + pad_h - KH + 1) / stride_h),
 * floor((oy + pad_h) / stride_h)] within the input (likewise x). The sums
 * are exact integers, so the order does not matter and no scratch is
 * needed. Bounds as CONV_2D 16x8 (conv2d_s16.c): fewer than 2^16 taps reach
 * an output (KH * KW * C_in <= MFL_KERNEL_MAX_DEPTH), so |sum| < 2^38.
 */
#include "conv_s16.h"

/* One output's taps: input rows [y_first, y_end) and columns [x_first,
 * x_end), tap (yp - iy * sh, xp - ix * sw) of the output channel's filter. */
typedef struct {
    const int16_t *batch_in;
    const int8_t *filter_oc;
    const mfl_dims_t *in, *f;
    int32_t yp, xp, sh, sw, y_first, y_end, x_first, x_end;
} gather_t;

/* The sum of those products in ACC: int32 when a window has at most
 * MFL_S16_ACC32_TAPS taps (KH x KW x C_in bounds those reaching one output). */
#define GATHER(name, ACC)                                                                                      \
    static int64_t name(const gather_t *g)                                                                     \
    {                                                                                                          \
        ACC acc = 0;                                                                                           \
        for (int32_t iy = g->y_first; iy < g->y_end; iy++) {                                                   \
            const int32_t ky = g->yp - iy * g->sh;                                                             \
            for (int32_t ix = g->x_first; ix < g->x_end; ix++) {                                               \
                const int32_t kx = g->xp - ix * g->sw;                                                         \
                const int16_t *x = g->batch_in + ((int64_t)iy * g->in->w + ix) * g->in->c;                     \
                const int8_t *w = g->filter_oc + ((int64_t)ky * g->f->w + kx) * g->f->c;                       \
                for (int32_t c = 0; c < g->in->c; c++) {                                                       \
                    acc += (int32_t)x[c] * w[c];                                                               \
                }                                                                                              \
            }                                                                                                  \
        }                                                                                                      \
        return acc;                                                                                            \
    }
GATHER(gather32, int32_t)
GATHER(gather64, int64_t)

void mfl_transpose_conv2d_s16_portable(const mfl_conv_params_t *params, const mfl_requant_t *requant,
                                       const mfl_dims_t *input_dims, const int16_t *input,
                                       const mfl_dims_t *filter_dims, const int8_t *filter, const int64_t *bias,
                                       const mfl_dims_t *output_dims, int16_t *output)
{
    const mfl_dims_t in = *input_dims, f = *filter_dims, out = *output_dims;
    const int32_t sh = params->stride_h, sw = params->stride_w;
    const int narrow = (int64_t)f.h * f.w * f.c <= MFL_S16_ACC32_TAPS;
    for (int32_t b = 0; b < out.n; b++) {
        const int16_t *batch_in = input + (int64_t)b * in.h * in.w * in.c;
        for (int32_t oy = 0; oy < out.h; oy++) {
            int32_t y_first, y_end, x_first, x_end;
            mfl_transpose_input_range(oy, params->pad_h, sh, f.h, in.h, &y_first, &y_end);
            for (int32_t ox = 0; ox < out.w; ox++) {
                mfl_transpose_input_range(ox, params->pad_w, sw, f.w, in.w, &x_first, &x_end);
                for (int32_t oc = 0; oc < out.c; oc++) {
                    const int8_t *filter_oc = filter + (int64_t)oc * f.h * f.w * f.c;
                    const gather_t g = {batch_in, filter_oc, &in, &f, oy + params->pad_h, ox + params->pad_w,
                                        sh, sw, y_first, y_end, x_first, x_end};
                    const int64_t acc = narrow ? gather32(&g) : gather64(&g);
                    *output++ = mfl_s16_requant(acc, bias, oc, requant, params->act_min, params->act_max);
                }
            }
        }
    }
}
