/*
 * LEAKY_RELU, int8 (TFLM reference QuantizeLeakyRelu): two rescalings of
 * (input - zero point), by input_scale / output_scale where it is >= 0 and
 * by alpha * input_scale / output_scale below, then the output zero point
 * and a clamp to [-128, 127]. The alpha multiplier carries alpha's sign (a
 * negative alpha is legal TFLite), so it goes through the exact
 * MultiplyByQuantizedMultiplier with gemmlowp's single saturating case
 * rather than the branch-free form that assumes a non-negative multiplier.
 */
#include "mfl/kernels.h"
#include "mfl/quant.h"

void mfl_leaky_relu_s8(const mfl_leaky_relu_params_t *params, int32_t size, const int8_t *input, int8_t *output)
{
    const mfl_leaky_relu_params_t p = *params;
    for (int32_t i = 0; i < size; i++) {
        const int32_t x = input[i] + p.input_offset;
        int32_t v = x >= 0 ? mfl_quant_mul_by_qm_fast(x, p.identity_multiplier, p.identity_shift)
                           : mfl_quant_mul_by_qm(x, p.alpha_multiplier, p.alpha_shift);
        v = mfl_quant_add_wrap(v, p.output_offset);
        output[i] = (int8_t)mfl_quant_clamp(v, -128, 127);
    }
}
