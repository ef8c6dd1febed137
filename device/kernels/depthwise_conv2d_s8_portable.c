/*
 * DEPTHWISE_CONV_2D, int8, per-channel weights (TFLM reference
 * DepthwiseConvPerChannel). Output channel oc = ic * depth_multiplier + m
 * convolves input channel ic with filter channel oc; the filter is
 * [1, KH, KW, C_out]. Requantization as in CONV_2D.
 *
 * Channels are processed in blocks of DW_BLOCK accumulators kept on the
 * stack, so that the inner loop walks contiguous channels of one tap
 * instead of recomputing tap addresses for every channel.
 */
#include "kernel_util.h"

#define DW_BLOCK 16

void mfl_depthwise_conv2d_s8_portable(const mfl_conv_params_t *params, const mfl_requant_t *requant,
                                      const mfl_dims_t *input_dims, const int8_t *input,
                                      const mfl_dims_t *filter_dims, const int8_t *filter,
                                      const int32_t *bias, const mfl_dims_t *output_dims, int8_t *output)
{
    const size_t in_batch_size = (size_t)input_dims->h * (size_t)input_dims->w * (size_t)input_dims->c;
    const int32_t out_c = output_dims->c;
    const int32_t depth_multiplier = out_c / input_dims->c;
    const int32_t input_offset = params->input_offset; /* a local: int8 accesses may alias the struct */
    int8_t *out = output;

    for (int32_t b = 0; b < output_dims->n; b++) {
        const int8_t *in_batch = input + (size_t)b * in_batch_size;
        for (int32_t oy = 0; oy < output_dims->h; oy++) {
            const int32_t in_y0 = oy * params->stride_h - params->pad_h;
            int32_t y0, y1;
            mfl_tap_range(in_y0, params->dilation_h, filter_dims->h, input_dims->h, &y0, &y1);
            for (int32_t ox = 0; ox < output_dims->w; ox++) {
                const int32_t in_x0 = ox * params->stride_w - params->pad_w;
                int32_t x0, x1;
                mfl_tap_range(in_x0, params->dilation_w, filter_dims->w, input_dims->w, &x0, &x1);
                for (int32_t c0 = 0; c0 < out_c; c0 += DW_BLOCK) {
                    const int32_t n = out_c - c0 < DW_BLOCK ? out_c - c0 : DW_BLOCK;
                    int32_t acc[DW_BLOCK] = {0};
                    for (int32_t fy = y0; fy < y1; fy++) {
                        const int32_t in_y = in_y0 + params->dilation_h * fy;
                        for (int32_t fx = x0; fx < x1; fx++) {
                            const int32_t in_x = in_x0 + params->dilation_w * fx;
                            const int8_t *ip =
                                in_batch + ((size_t)in_y * (size_t)input_dims->w + (size_t)in_x) * (size_t)input_dims->c;
                            const int8_t *fp =
                                filter + ((size_t)fy * (size_t)filter_dims->w + (size_t)fx) * (size_t)out_c + (size_t)c0;
                            if (depth_multiplier == 1) {
                                for (int32_t k = 0; k < n; k++) {
                                    acc[k] += (int32_t)fp[k] * ((int32_t)ip[c0 + k] + input_offset);
                                }
                            } else {
                                for (int32_t k = 0; k < n; k++) {
                                    const int32_t ic = (c0 + k) / depth_multiplier;
                                    acc[k] += (int32_t)fp[k] * ((int32_t)ip[ic] + input_offset);
                                }
                            }
                        }
                    }
                    for (int32_t k = 0; k < n; k++) {
                        const int32_t oc = c0 + k;
                        *out++ = mfl_requant_s8(acc[k], bias, oc, requant->multiplier[oc], requant->shift[oc],
                                                params->output_offset, params->act_min, params->act_max);
                    }
                }
            }
        }
    }
}
