/*
 * QUANTIZE int8 -> int8 and RELU, int8 (TFLM reference Requantize and
 * ReluQuantized): both rescale (input - zero point) by input_scale /
 * output_scale with TFLM's double rounding and add the output zero point;
 * QUANTIZE clamps to [-128, 127], RELU from the output zero point up.
 * |input + offset| <= 255 and the shift is at most 30, so the left shift of
 * MultiplyByQuantizedMultiplier may wrap as TFLM's does (computed without
 * undefined behaviour); the loader admits only multipliers >= 0, which makes
 * the branch-free form exact.
 */
#include "mfl/kernels.h"
#include "mfl/quant.h"

void mfl_requantize_s8(const mfl_requantize_params_t *params, int32_t size, const int8_t *input, int8_t *output)
{
    const mfl_requantize_params_t p = *params; /* locals: the int8 stores may alias *params */
    for (int32_t i = 0; i < size; i++) {
        int32_t v = mfl_quant_mul_by_qm_fast(input[i] + p.input_offset, p.multiplier, p.shift);
        v = mfl_quant_add_wrap(v, p.output_offset);
        output[i] = (int8_t)mfl_quant_clamp(v, p.act_min, p.act_max);
    }
}
