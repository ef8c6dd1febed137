/*
 * QUANTIZE int32 -> int16 (TFLM reference Requantize<int32_t, int16_t>, as
 * SEANet's models use it after an int32 sum): out = clamp(
 * MultiplyByQuantizedMultiplier(in, multiplier, shift), act_min, act_max)
 * with TFLite's 32-bit double rounding. Zero points are 0 (the loader
 * requires it of int32 activations and int16 tensors), so the input needs
 * no offset that could overflow. A positive shift multiplies the int32 input
 * by 2^shift with wrap-around, as TFLM's int32 product wraps on its
 * targets; the importer only writes the shifts of real scale ratios.
 */
#include "mfl/kernels_s16.h"
#include "mfl/quant.h"

void mfl_requantize_s32_s16(const mfl_requantize_params_t *params, int32_t size, const int32_t *input,
                            int16_t *output)
{
    const mfl_requantize_params_t p = *params;
    for (int32_t i = 0; i < size; i++) {
        const int32_t v = mfl_quant_mul_by_qm_fast(input[i], p.multiplier, p.shift);
        output[i] = (int16_t)mfl_quant_clamp(v, p.act_min, p.act_max);
    }
}
