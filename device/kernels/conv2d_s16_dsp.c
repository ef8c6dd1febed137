/*
 * CONV_2D 16x8 for the Armv7E-M DSP extension: the same outputs as
 * mfl_conv2d_s16_portable, bit for bit (TFLM reference_integer_ops::
 * ConvPerChannel with int16 input, int64 bias and accumulator).
 *
 * The activations are int16 already, so no im2col and no scratch: within
 * one filter row the in-bounds taps of an output (dilation 1) are one
 * contiguous run of input (columns x channels) against one run of weights,
 * and each run goes through SMLAD four taps at a time, four output channels
 * sharing every repacked activation word (dot_s16_dsp.h, which also proves
 * the int32 partial sums exact). With a dilation the runs are one pixel's
 * channels. Bias and 64-bit requantization once per output, as portable.
 */
#include "dot_s16_dsp.h"

#if MFL_HAVE_DSP

/* The window of one output pixel: rows [ky0, ky1) and columns [kx0, kx1)
 * of the filter are inside the input, at input origin (y0, x0). */
typedef struct {
    const mfl_conv_params_t *p;
    const mfl_dims_t *in, *f;
    const int16_t *batch_in;
    int32_t y0, x0, ky0, ky1, kx0, kx1;
} window_t;

/* The window sums of `channels` channels from filter_oc on. */
MFL_S16_INLINE void window_sums(const window_t *g, const int8_t *filter_oc, int32_t stride, int32_t narrow,
                                int32_t channels, mfl_s16_acc_t *acc)
{
    const int32_t c = g->in->c, kw = g->f->w;
    const int32_t ky1 = g->kx0 < g->kx1 ? g->ky1 : g->ky0; /* beside the input: form no pointer outside it */
    mfl_s16_acc_init(acc, narrow, channels);
    for (int32_t ky = g->ky0; ky < ky1; ky++) {
        const int32_t iy = g->y0 + ky * g->p->dilation_h;
        const int16_t *row = g->batch_in + (int64_t)iy * g->in->w * c;
        const int8_t *frow = filter_oc + (int64_t)ky * kw * c;
        if (g->p->dilation_w == 1) {
            mfl_s16_acc_run(acc, narrow, channels, stride, row + (int64_t)(g->x0 + g->kx0) * c,
                            frow + (int64_t)g->kx0 * c, (g->kx1 - g->kx0) * c);
            continue;
        }
        for (int32_t kx = g->kx0; kx < g->kx1; kx++) {
            const int32_t ix = g->x0 + kx * g->p->dilation_w;
            mfl_s16_acc_run(acc, narrow, channels, stride, row + (int64_t)ix * c, frow + (int64_t)kx * c, c);
        }
    }
}

/* Every output channel of the pixel at g's window; returns the next output. */
MFL_S16_INLINE int16_t *pixel(const window_t *g, const int8_t *filter, int32_t stride, int32_t narrow,
                              const mfl_requant_t *rq, const int64_t *bias, int32_t out_c, int16_t *output)
{
    const int32_t act_min = g->p->act_min, act_max = g->p->act_max;
    mfl_s16_acc_t acc;
    int32_t oc = 0;
    for (; oc + MFL_S16_DSP_CHANNELS <= out_c; oc += MFL_S16_DSP_CHANNELS) {
        window_sums(g, filter + (int64_t)oc * stride, stride, narrow, MFL_S16_DSP_CHANNELS, &acc);
        output = mfl_s16_acc_store(&acc, narrow, MFL_S16_DSP_CHANNELS, bias, oc, rq, act_min, act_max, output);
    }
    for (; oc < out_c; oc++) {
        window_sums(g, filter + (int64_t)oc * stride, stride, narrow, 1, &acc);
        output = mfl_s16_acc_store(&acc, narrow, 1, bias, oc, rq, act_min, act_max, output);
    }
    return output;
}

void mfl_conv2d_s16_dsp(const mfl_conv_params_t *params, const mfl_requant_t *requant,
                        const mfl_dims_t *input_dims, const int16_t *input, const mfl_dims_t *filter_dims,
                        const int8_t *filter, const int64_t *bias, const mfl_dims_t *output_dims,
                        int16_t *output)
{
    const mfl_dims_t in = *input_dims, f = *filter_dims, out = *output_dims;
    const int32_t stride = f.h * f.w * f.c; /* <= MFL_KERNEL_MAX_DEPTH */
    window_t g = {params, &in, &f, input, 0, 0, 0, 0, 0, 0};
    for (int32_t b = 0; b < out.n; b++) {
        g.batch_in = input + (int64_t)b * in.h * in.w * in.c;
        for (int32_t oy = 0; oy < out.h; oy++) {
            g.y0 = oy * params->stride_h - params->pad_h;
            mfl_tap_range(g.y0, params->dilation_h, f.h, in.h, &g.ky0, &g.ky1);
            for (int32_t ox = 0; ox < out.w; ox++) {
                g.x0 = ox * params->stride_w - params->pad_w;
                mfl_tap_range(g.x0, params->dilation_w, f.w, in.w, &g.kx0, &g.kx1);
                if (stride <= MFL_S16_ACC32_TAPS) {
                    output = pixel(&g, filter, stride, 1, requant, bias, out.c, output);
                } else {
                    output = pixel(&g, filter, stride, 0, requant, bias, out.c, output);
                }
            }
        }
    }
}

#endif /* MFL_HAVE_DSP */
