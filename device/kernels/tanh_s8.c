/*
 * TANH, int8 (TFLM reference integer Tanh). The same Q4 input rescaling and
 * saturation radius as LOGISTIC (see logistic_s8.c); gemmlowp's fixed-point
 * tanh gives a Q0 result in [-1, 1], rounded to 7 fractional bits: the
 * output is in scale 1/128 with zero point 0, whatever the output tensor
 * says (TFLM does not check it). A tensor of more than 256 elements goes
 * through a table of the 256 codes, with the same bits.
 */
#include "kernel_util.h"

static int8_t tanh_code(const void *params, int32_t code)
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
    const int32_t y_q0 = mfl_quant_tanh(x_q4, 4);
    return (int8_t)mfl_quant_clamp(mfl_quant_rdbpot(y_q0, 31 - 7), -128, 127);
}

void mfl_tanh_s8(const mfl_sigmoid_params_t *params, int32_t size, const int8_t *input, int8_t *output)
{
    mfl_map_codes_s8(tanh_code, params, size, input, output);
}
