/*
 * LEAKY_RELU, int16 (TFLM reference QuantizeLeakyRelu<int16_t>): inputs >= 0
 * rescaled by input_scale / output_scale, negative ones by alpha *
 * input_scale / output_scale (a multiplier of alpha's sign), each with
 * TFLite's 32-bit MultiplyByQuantizedMultiplier (double rounding), then
 * clamped to [-32768, 32767]. Zero points are 0 (16x8), so no offsets.
 * |x| <= 2^15: a left shift above 16 would wrap, as it does in TFLM; the
 * importer's shifts for real scale ratios are far below that.
 */
#include "mfl/kernels_s16.h"
#include "mfl/quant.h"

void mfl_leaky_relu_s16(const mfl_leaky_relu_params_t *params, int32_t size, const int16_t *input,
                        int16_t *output)
{
    const mfl_leaky_relu_params_t p = *params;
    for (int32_t i = 0; i < size; i++) {
        const int32_t x = input[i];
        const int32_t v = x >= 0 ? mfl_quant_mul_by_qm_fast(x, p.identity_multiplier, p.identity_shift)
                                 : mfl_quant_mul_by_qm(x, p.alpha_multiplier, p.alpha_shift);
        output[i] = (int16_t)mfl_quant_clamp(v, -32768, 32767);
    }
}
