/*
 * DEPTHWISE_CONV_2D, int8, per-channel weights (TFLM reference
 * DepthwiseConvPerChannel). Output channel oc = ic * depth_multiplier + m
 * convolves input channel ic with filter channel oc; the filter is
 * [1, KH, KW, C_out]. Requantization as in CONV_2D.
 */
#include "mfl/kernels.h"
#include "mfl/quant.h"

static int32_t depthwise_window_sum(const mfl_conv_params_t *p, const mfl_dims_t *in_dims,
                                    const int8_t *in_batch, const mfl_dims_t *f_dims,
                                    const int8_t *filter, int32_t ic, int32_t oc,
                                    int32_t in_y0, int32_t in_x0)
{
    int32_t acc = 0;
    for (int32_t fy = 0; fy < f_dims->h; fy++) {
        const int32_t in_y = in_y0 + p->dilation_h * fy;
        if (in_y < 0 || in_y >= in_dims->h) {
            continue;
        }
        for (int32_t fx = 0; fx < f_dims->w; fx++) {
            const int32_t in_x = in_x0 + p->dilation_w * fx;
            if (in_x < 0 || in_x >= in_dims->w) {
                continue;
            }
            const int32_t in_val =
                in_batch[((size_t)in_y * (size_t)in_dims->w + (size_t)in_x) * (size_t)in_dims->c + (size_t)ic];
            const int32_t f_val =
                filter[((size_t)fy * (size_t)f_dims->w + (size_t)fx) * (size_t)f_dims->c + (size_t)oc];
            acc += f_val * (in_val + p->input_offset);
        }
    }
    return acc;
}

void mfl_depthwise_conv2d_s8(const mfl_conv_params_t *params, const mfl_requant_t *requant,
                             const mfl_dims_t *input_dims, const int8_t *input,
                             const mfl_dims_t *filter_dims, const int8_t *filter,
                             const int32_t *bias, const mfl_dims_t *output_dims, int8_t *output)
{
    const size_t in_batch_size = (size_t)input_dims->h * (size_t)input_dims->w * (size_t)input_dims->c;
    const int32_t depth_multiplier = output_dims->c / input_dims->c;
    int8_t *out = output;

    for (int32_t b = 0; b < output_dims->n; b++) {
        const int8_t *in_batch = input + (size_t)b * in_batch_size;
        for (int32_t oy = 0; oy < output_dims->h; oy++) {
            const int32_t in_y0 = oy * params->stride_h - params->pad_h;
            for (int32_t ox = 0; ox < output_dims->w; ox++) {
                const int32_t in_x0 = ox * params->stride_w - params->pad_w;
                for (int32_t oc = 0; oc < output_dims->c; oc++) {
                    const int32_t ic = oc / depth_multiplier;
                    int32_t acc = depthwise_window_sum(params, input_dims, in_batch, filter_dims,
                                                       filter, ic, oc, in_y0, in_x0);
                    if (bias) {
                        acc = mfl_quant_add_wrap(acc, bias[oc]);
                    }
                    acc = mfl_quant_mul_by_qm(acc, requant->multiplier[oc], requant->shift[oc]);
                    acc = mfl_quant_add_wrap(acc, params->output_offset);
                    *out++ = (int8_t)mfl_quant_clamp(acc, params->act_min, params->act_max);
                }
            }
        }
    }
}
