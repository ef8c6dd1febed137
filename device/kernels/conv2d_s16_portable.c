/*
 * CONV_2D 16x8, portable C: int16 activations (zero point 0), int8 per-channel weights,
 * int64 bias (TFLM reference_integer_ops::ConvPerChannel with an int64
 * accumulator).
 *
 * Accumulator bound: a product is at most 32768 * 128 = 2^22 in magnitude
 * and the loader admits at most MFL_KERNEL_MAX_DEPTH (< 2^16) taps per
 * output, so the taps sum to less than 2^38; with |bias| <= 2^47 the total
 * stays below 2^48, the domain of mfl_quant_mul_by_qm_s64. The sum is
 * exact, so the order of the taps is free (TFLM's is y, x, channel), and
 * a window of at most MFL_S16_ACC32_TAPS taps (< 2^31 in magnitude) is
 * summed in 32 bits before the bias is added in 64: on the Cortex-M4 that
 * is one multiply-accumulate per tap instead of a 64-bit one.
 */
#include "conv_s16.h"

/* Sum of one output's in-bounds taps for output channel oc, accumulated
 * in ACC (int32 when the window has at most MFL_S16_ACC32_TAPS taps). With
 * dilation 1 the in-bounds part of a filter row is one contiguous run of
 * input (columns x channels) against one of weights: a single loop. */
#define CONV_TAPS(name, ACC)                                                                                   \
    static int64_t name(const mfl_conv_params_t *p, const mfl_dims_t *in, const int16_t *batch_in,             \
                        const mfl_dims_t *f, const int8_t *filter_oc, int32_t y0, int32_t x0)                  \
    {                                                                                                          \
        ACC acc = 0;                                                                                           \
        for (int32_t ky = 0; ky < f->h; ky++) {                                                                \
            const int32_t iy = y0 + ky * p->dilation_h;                                                        \
            if (iy < 0 || iy >= in->h) {                                                                       \
                continue;                                                                                      \
            }                                                                                                  \
            const int16_t *row = batch_in + (int64_t)iy * in->w * in->c;                                       \
            const int8_t *frow = filter_oc + (int64_t)ky * f->w * f->c;                                        \
            if (p->dilation_w == 1) {                                                                          \
                const int32_t kx0 = x0 < 0 ? -x0 : 0;                                                          \
                const int32_t kx1 = in->w - x0 < f->w ? in->w - x0 : f->w;                                     \
                if (kx1 <= kx0) { /* beside the input: form no pointer outside it */                           \
                    continue;                                                                                  \
                }                                                                                              \
                const int16_t *x = row + (int64_t)(x0 + kx0) * in->c;                                          \
                const int8_t *w = frow + (int64_t)kx0 * f->c;                                                  \
                const int32_t n = (kx1 - kx0) * in->c;                                                         \
                for (int32_t i = 0; i < n; i++) {                                                              \
                    acc += (int32_t)x[i] * w[i];                                                               \
                }                                                                                              \
                continue;                                                                                      \
            }                                                                                                  \
            for (int32_t kx = 0; kx < f->w; kx++) {                                                            \
                const int32_t ix = x0 + kx * p->dilation_w;                                                    \
                if (ix < 0 || ix >= in->w) {                                                                   \
                    continue;                                                                                  \
                }                                                                                              \
                const int16_t *x = row + (int64_t)ix * in->c;                                                  \
                const int8_t *w = frow + (int64_t)kx * f->c;                                                   \
                for (int32_t c = 0; c < in->c; c++) {                                                          \
                    acc += (int32_t)x[c] * w[c];                                                               \
                }                                                                                              \
            }                                                                                                  \
        }                                                                                                      \
        return acc;                                                                                            \
    }
CONV_TAPS(conv_taps32, int32_t)
CONV_TAPS(conv_taps64, int64_t)

void mfl_conv2d_s16_portable(const mfl_conv_params_t *params, const mfl_requant_t *requant,
                             const mfl_dims_t *input_dims, const int16_t *input, const mfl_dims_t *filter_dims,
                             const int8_t *filter, const int64_t *bias, const mfl_dims_t *output_dims,
                             int16_t *output)
{
    const mfl_dims_t in = *input_dims, f = *filter_dims, out = *output_dims;
    const int64_t filter_stride = (int64_t)f.h * f.w * f.c;
    int64_t (*const taps)(const mfl_conv_params_t *, const mfl_dims_t *, const int16_t *, const mfl_dims_t *,
                          const int8_t *, int32_t, int32_t) =
        filter_stride <= MFL_S16_ACC32_TAPS ? conv_taps32 : conv_taps64;
    for (int32_t b = 0; b < out.n; b++) {
        const int16_t *batch_in = input + (int64_t)b * in.h * in.w * in.c;
        for (int32_t oy = 0; oy < out.h; oy++) {
            const int32_t y0 = oy * params->stride_h - params->pad_h;
            for (int32_t ox = 0; ox < out.w; ox++) {
                const int32_t x0 = ox * params->stride_w - params->pad_w;
                for (int32_t oc = 0; oc < out.c; oc++) {
                    const int64_t acc = taps(params, &in, batch_in, &f, filter + oc * filter_stride, y0, x0);
                    *output++ = mfl_s16_requant(acc, bias, oc, requant, params->act_min, params->act_max);
                }
            }
        }
    }
}
