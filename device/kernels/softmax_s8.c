/*
 * SOFTMAX, int8 in and out (TFLM reference Softmax for int8, gemmlowp
 * fixed point). Per row: differences from the row maximum are scaled by
 * beta * input_scale into Q5 (5 integer bits), exponentiated in Q0 and summed
 * in Q12 (12 integer bits leave room for 4096 terms of at most 1). The sum's
 * reciprocal comes back as a Q0 mantissa and a power of two; each output is
 * exp * reciprocal shifted to 8 bits and offset by -128 (scale 1/256).
 * Differences below diff_min would underflow exp in Q5 and give -128.
 * The loader bounds depth by MFL_SOFTMAX_MAX_DEPTH (4096) so the Q12 sum
 * cannot overflow.
 */
#include "mfl/kernels.h"
#include "mfl/quant.h"

static int32_t scaled_diff_q5(const mfl_softmax_params_t *p, int32_t diff)
{
    /* MultiplyByQuantizedMultiplierGreaterThanOne: shift left, then high mul. */
    return mfl_quant_srdhm(mfl_quant_shl_wrap(diff, p->input_left_shift), p->input_multiplier);
}

static void softmax_row(const mfl_softmax_params_t *p, int32_t depth, const int8_t *in, int8_t *out)
{
    int32_t max = -128;
    for (int32_t c = 0; c < depth; c++) {
        max = in[c] > max ? in[c] : max;
    }

    int32_t sum_q12 = 0;
    for (int32_t c = 0; c < depth; c++) {
        const int32_t diff = in[c] - max;
        if (diff >= p->diff_min) {
            const int32_t e = mfl_quant_exp_on_negative_q5(scaled_diff_q5(p, diff));
            sum_q12 = mfl_quant_add_wrap(sum_q12, mfl_quant_rdbpot(e, 12)); /* Q0 -> Q12 */
        }
    }

    int num_bits_over_unit = 0;
    const int32_t reciprocal = mfl_quant_reciprocal_q12(sum_q12, &num_bits_over_unit);
    /* Q0 * Q0 = Q0, then from 31 fractional bits down to 8 (the output scale
     * 1/256), and num_bits_over_unit more for the reciprocal's exponent. */
    const int out_shift = num_bits_over_unit + 31 - 8;

    for (int32_t c = 0; c < depth; c++) {
        const int32_t diff = in[c] - max;
        int32_t q = -128;
        if (diff >= p->diff_min) {
            const int32_t e = mfl_quant_exp_on_negative_q5(scaled_diff_q5(p, diff));
            /* Above 2^31 the rounded quotient of a value below 2^31 is 0;
             * only rows of more than 512 near-maximal entries get there. */
            const int32_t unsat =
                out_shift > 31 ? 0 : mfl_quant_rdbpot(mfl_quant_srdhm(reciprocal, e), out_shift);
            q = mfl_quant_clamp(unsat - 128, -128, 127);
        }
        out[c] = (int8_t)q;
    }
}

void mfl_softmax_s8(const mfl_softmax_params_t *params, int32_t rows, int32_t depth,
                    const int8_t *input, int8_t *output)
{
    for (int32_t r = 0; r < rows; r++) {
        softmax_row(params, depth, input + (size_t)r * (size_t)depth, output + (size_t)r * (size_t)depth);
    }
}
