/*
 * ADD, int8, element-wise on equal shapes (TFLM reference integer Add).
 * Each input is offset to zero, scaled up by 2^left_shift (20 in TFLite) for
 * headroom, rescaled to a common scale of twice the larger input scale,
 * summed, and rescaled to the output. With |input + offset| <= 255 and
 * left_shift = 20 the shifted values stay below 2^28, so nothing overflows.
 */
#include "mfl/kernels.h"
#include "mfl/quant.h"

void mfl_add_s8(const mfl_add_params_t *params, int32_t size, const int8_t *input1,
                const int8_t *input2, int8_t *output)
{
    /* Locals: the int8 stores may alias the parameter struct, which would
     * make the compiler reload all twelve fields for every element. The
     * branch-free requantization is exact here: the loader admits only
     * multipliers >= 0. */
    const mfl_add_params_t p = *params;
    for (int32_t i = 0; i < size; i++) {
        const int32_t v1 = mfl_quant_shl_wrap(p.input1_offset + input1[i], p.left_shift);
        const int32_t v2 = mfl_quant_shl_wrap(p.input2_offset + input2[i], p.left_shift);
        const int32_t s1 = mfl_quant_mul_by_qm_fast(v1, p.input1_multiplier, p.input1_shift);
        const int32_t s2 = mfl_quant_mul_by_qm_fast(v2, p.input2_multiplier, p.input2_shift);
        int32_t out = mfl_quant_mul_by_qm_fast(mfl_quant_add_wrap(s1, s2), p.output_multiplier, p.output_shift);
        out = mfl_quant_add_wrap(out, p.output_offset);
        output[i] = (int8_t)mfl_quant_clamp(out, p.act_min, p.act_max);
    }
}
