/*
 * FULLY_CONNECTED, int8 (TFLM reference FullyConnected, per-tensor or
 * per-channel). Weights are [out_features, in_features], row-major, and are
 * symmetric (zero point 0), so only the input offset enters the products.
 */
#include "mfl/kernels.h"
#include "mfl/quant.h"

void mfl_fully_connected_s8(const mfl_fc_params_t *params, const mfl_requant_t *requant,
                            int32_t batches, int32_t in_features, const int8_t *input,
                            int32_t out_features, const int8_t *weights, const int32_t *bias,
                            int8_t *output)
{
    for (int32_t b = 0; b < batches; b++) {
        const int8_t *in = input + (size_t)b * (size_t)in_features;
        for (int32_t o = 0; o < out_features; o++) {
            const int8_t *w = weights + (size_t)o * (size_t)in_features;
            int32_t acc = 0;
            for (int32_t i = 0; i < in_features; i++) {
                acc += (int32_t)w[i] * ((int32_t)in[i] + params->input_offset);
            }
            if (bias) {
                acc = mfl_quant_add_wrap(acc, bias[o]);
            }
            const int32_t q = params->per_channel ? o : 0;
            acc = mfl_quant_mul_by_qm(acc, requant->multiplier[q], requant->shift[q]);
            acc = mfl_quant_add_wrap(acc, params->output_offset);
            output[(size_t)b * (size_t)out_features + (size_t)o] =
                (int8_t)mfl_quant_clamp(acc, params->act_min, params->act_max);
        }
    }
}
