/*
 * MUL, int8 (TFLM reference integer Mul and BroadcastMul): the product of
 * the two zero-offset inputs, rescaled by input1_scale * input2_scale /
 * output_scale with TFLM's double rounding (MultiplyByQuantizedMultiplier),
 * offset and clamped. |input + offset| <= 255, so |product| <= 65025 <
 * 2^16 and a left shift of up to 15 (the loader's bound) cannot overflow;
 * the multiplier is >= 0, which makes the branch-free requantization exact.
 */
#include "kernel_util.h"

static void mul_run(const void *params, int32_t n, const int8_t *in1, int32_t step1, const int8_t *in2,
                    int32_t step2, int8_t *out)
{
    const mfl_mul_params_t p = *(const mfl_mul_params_t *)params; /* locals: the stores may alias *params */
    for (int32_t i = 0; i < n; i++, in1 += step1, in2 += step2) {
        const int32_t product = (*in1 + p.input1_offset) * (*in2 + p.input2_offset);
        out[i] = mfl_requant_acc_s8(product, p.multiplier, p.shift, p.output_offset, p.act_min, p.act_max);
    }
}

void mfl_mul_s8_broadcast(const mfl_mul_params_t *params, const mfl_broadcast_t *shape, const int8_t *input1,
                          const int8_t *input2, int8_t *output)
{
    mfl_broadcast_walk_s8(mul_run, params, shape, input1, input2, output);
}
