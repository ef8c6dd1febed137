/*
 * TRANSPOSE_CONV 16x8 for the Armv7E-M DSP extension: the same outputs as
 * mfl_transpose_conv2d_s16_portable, bit for bit (TFLM reference_integer_ops::
 * TransposeConv for int16, int64 bias and accumulator).
 *
 * The portable kernel's gather (each output sums the products of the input
 * pixels that reach it, no scratch), with every such pixel's C_in channels
 * one run through SMLAD, four output channels at a time sharing the
 * repacked activations (dot_s16_dsp.h, which also proves the int32 partial
 * sums exact). Bias and 64-bit requantization once per output.
 */
#include "dot_s16_dsp.h"

#if MFL_HAVE_DSP

/* The input pixels reaching output (oy, ox): rows [y_first, y_end) and
 * columns [x_first, x_end), through tap (yp - iy * sh, xp - ix * sw). */
typedef struct {
    const mfl_dims_t *in, *f;
    const int16_t *batch_in;
    int32_t yp, xp, sh, sw, y_first, y_end, x_first, x_end;
} gather_t;

/* The sums of `channels` channels from filter_oc on. */
MFL_S16_INLINE void gather_sums(const gather_t *g, const int8_t *filter_oc, int32_t stride, int32_t narrow,
                                int32_t channels, mfl_s16_acc_t *acc)
{
    const int32_t c = g->in->c;
    mfl_s16_acc_init(acc, narrow, channels);
    for (int32_t iy = g->y_first; iy < g->y_end; iy++) {
        const int32_t ky = g->yp - iy * g->sh;
        for (int32_t ix = g->x_first; ix < g->x_end; ix++) {
            const int32_t kx = g->xp - ix * g->sw;
            mfl_s16_acc_run(acc, narrow, channels, stride, g->batch_in + ((int64_t)iy * g->in->w + ix) * c,
                            filter_oc + ((int64_t)ky * g->f->w + kx) * c, c);
        }
    }
}

/* Every output channel of the pixel g gathers; returns the next output. */
MFL_S16_INLINE int16_t *pixel(const gather_t *g, const int8_t *filter, int32_t stride, int32_t narrow,
                              const mfl_conv_params_t *p, const mfl_requant_t *rq, const int64_t *bias,
                              int32_t out_c, int16_t *output)
{
    mfl_s16_acc_t acc;
    int32_t oc = 0;
    for (; oc + MFL_S16_DSP_CHANNELS <= out_c; oc += MFL_S16_DSP_CHANNELS) {
        gather_sums(g, filter + (int64_t)oc * stride, stride, narrow, MFL_S16_DSP_CHANNELS, &acc);
        output =
            mfl_s16_acc_store(&acc, narrow, MFL_S16_DSP_CHANNELS, bias, oc, rq, p->act_min, p->act_max, output);
    }
    for (; oc < out_c; oc++) {
        gather_sums(g, filter + (int64_t)oc * stride, stride, narrow, 1, &acc);
        output = mfl_s16_acc_store(&acc, narrow, 1, bias, oc, rq, p->act_min, p->act_max, output);
    }
    return output;
}

void mfl_transpose_conv2d_s16_dsp(const mfl_conv_params_t *params, const mfl_requant_t *requant,
                                  const mfl_dims_t *input_dims, const int16_t *input,
                                  const mfl_dims_t *filter_dims, const int8_t *filter, const int64_t *bias,
                                  const mfl_dims_t *output_dims, int16_t *output)
{
    const mfl_dims_t in = *input_dims, f = *filter_dims, out = *output_dims;
    const int32_t stride = f.h * f.w * f.c; /* <= MFL_KERNEL_MAX_DEPTH; bounds the taps reaching an output */
    gather_t g = {&in, &f, input, 0, 0, params->stride_h, params->stride_w, 0, 0, 0, 0};
    for (int32_t b = 0; b < out.n; b++) {
        g.batch_in = input + (int64_t)b * in.h * in.w * in.c;
        for (int32_t oy = 0; oy < out.h; oy++) {
            g.yp = oy + params->pad_h;
            mfl_transpose_input_range(oy, params->pad_h, g.sh, f.h, in.h, &g.y_first, &g.y_end);
            for (int32_t ox = 0; ox < out.w; ox++) {
                g.xp = ox + params->pad_w;
                mfl_transpose_input_range(ox, params->pad_w, g.sw, f.w, in.w, &g.x_first, &g.x_end);
                if (stride <= MFL_S16_ACC32_TAPS) {
                    output = pixel(&g, filter, stride, 1, params, requant, bias, out.c, output);
                } else {
                    output = pixel(&g, filter, stride, 0, params, requant, bias, out.c, output);
                }
            }
        }
    }
}

#endif /* MFL_HAVE_DSP */
