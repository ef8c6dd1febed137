/*
 * FULLY_CONNECTED, int8 (TFLM reference FullyConnected, per-tensor or
 * per-channel). Weights are [out_features, in_features], row-major, and are
 * symmetric (zero point 0), so only the input offset enters the products.
 */
#include "kernel_util.h"

void mfl_fully_connected_s8_portable(const mfl_fc_params_t *params, const mfl_requant_t *requant,
                                     int32_t batches, int32_t in_features, const int8_t *input,
                                     int32_t out_features, const int8_t *weights, const int32_t *bias,
                                     int8_t *output)
{
    const int32_t input_offset = params->input_offset; /* a local: int8 accesses may alias the struct */
    for (int32_t b = 0; b < batches; b++) {
        const int8_t *in = input + (size_t)b * (size_t)in_features;
        for (int32_t o = 0; o < out_features; o++) {
            const int8_t *w = weights + (size_t)o * (size_t)in_features;
            /* sum w * (x + offset) as sum w * x + offset * sum w: two int8
             * sums that compilers vectorise with 16-bit multiply-adds. Each
             * part is below 65,535 * 128 * 128 < 2^30 in magnitude (the
             * loader's depth cap), so the int32 total is exact. */
            int32_t dot = 0, weight_sum = 0;
            for (int32_t i = 0; i < in_features; i++) {
                dot += (int32_t)w[i] * (int32_t)in[i];
                weight_sum += w[i];
            }
            const int32_t acc = mfl_quant_add_wrap(dot, input_offset * weight_sum);
            const int32_t q = params->per_channel ? o : 0;
            output[(size_t)b * (size_t)out_features + (size_t)o] =
                mfl_requant_s8(acc, bias, o, requant->multiplier[q], requant->shift[q], params->output_offset,
                               params->act_min, params->act_max);
        }
    }
}
