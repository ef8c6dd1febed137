/*
 * LOGISTIC, int8 (TFLM reference integer Logistic). The input, offset to
 * zero, is rescaled to a Q4 fixed-point value (4 integer bits: |x| < 16) by
 * input_scale * 2^27 as a quantized multiplier; gemmlowp's fixed-point
 * logistic gives a Q0 result in [0, 1], which is rounded to 8 fractional
 * bits and offset by -128 (scale 1/256, zero point -128). Inputs whose
 * rescaled magnitude would not fit Q4 (at or beyond the radius the importer
 * computed, TFLM's CalculateInputRadius) saturate to -128 or 127 first, so
 * the rescaling never overflows: radius << left_shift <= 15 << 27.
 * TFLM computes each element; a tensor of more than 256 elements is cheaper
 * through a table of the 256 codes, with the same bits.
 */
#include "kernel_util.h"

static int8_t logistic_code(const void *params, int32_t code)
{
    const mfl_sigmoid_params_t *p = params;
    const int32_t x = code + p->input_offset;
    if (x <= -p->input_range_radius) {
        return -128;
    }
    if (x >= p->input_range_radius) {
        return 127;
    }
    const int32_t x_q4 = mfl_quant_mul_by_qm(x, p->input_multiplier, p->input_left_shift);
    const int32_t y_q0 = mfl_quant_logistic(x_q4, 4);
    /* Q0 (31 fractional bits) down to 8: the output code plus 128. */
    return (int8_t)mfl_quant_clamp(mfl_quant_rdbpot(y_q0, 31 - 8) - 128, -128, 127);
}

void mfl_logistic_s8(const mfl_sigmoid_params_t *params, int32_t size, const int8_t *input, int8_t *output)
{
    mfl_map_codes_s8(logistic_code, params, size, input, output);
}
