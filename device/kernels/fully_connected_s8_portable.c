/*
 * FULLY_CONNECTED, int8 (TFLM reference FullyConnected, per-tensor or
 * per-channel). Weights are [out_features, in_features], row-major, and are
 * symmetric (zero point 0), so only the input offset enters the products.
 */
#include "fully_connected_acc.h"
#include "kernel_util.h"

/* sum w * (x + offset) as sum w * x + offset * sum w: two int8 sums that
 * compilers vectorise with 16-bit multiply-adds. Each part is below
 * 65,535 * 128 * 128 < 2^30 in magnitude (the loader's depth cap), so the
 * int32 total is exact. */
static inline int32_t row_acc(const int8_t *in, const int8_t *w, int32_t n, int32_t input_offset)
{
    int32_t dot = 0, weight_sum = 0;
    for (int32_t i = 0; i < n; i++) {
        dot += (int32_t)w[i] * (int32_t)in[i];
        weight_sum += w[i];
    }
    return mfl_quant_add_wrap(dot, input_offset * weight_sum);
}

void mfl_fully_connected_s8_portable(const mfl_fc_params_t *params, const mfl_requant_t *requant,
                                     int32_t batches, int32_t in_features, const int8_t *input,
                                     int32_t out_features, const int8_t *weights, const int32_t *bias,
                                     int8_t *output)
{
    const int32_t input_offset = params->input_offset; /* a local: int8 accesses may alias the struct */
    for (int32_t b = 0; b < batches; b++) {
        const int8_t *in = input + (size_t)b * (size_t)in_features;
        for (int32_t o = 0; o < out_features; o++) {
            const int32_t acc = row_acc(in, weights + (size_t)o * (size_t)in_features, in_features, input_offset);
            const int32_t q = params->per_channel ? o : 0;
            output[(size_t)b * (size_t)out_features + (size_t)o] =
                mfl_requant_s8(acc, bias, o, requant->multiplier[q], requant->shift[q], params->output_offset,
                               params->act_min, params->act_max);
        }
    }
}

void mfl_fully_connected_acc_s8_portable(int32_t in_features, const int8_t *input, int32_t input_offset,
                                         int32_t out_features, const int8_t *weights, int32_t *acc)
{
    for (int32_t o = 0; o < out_features; o++) {
        acc[o] = row_acc(input, weights + (size_t)o * (size_t)in_features, in_features, input_offset);
    }
}
