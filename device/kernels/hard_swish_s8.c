/*
 * HARD_SWISH, int8 (TFLM reference HardSwish): x * relu6(x + 3) / 6 in
 * int16 fixed point, step for step as TFLM does it:
 *   1. x = input - zero point (|x| <= 255), on a "high-resolution" scale
 *      input_scale / 128: x * 128, which fits int16.
 *   2. That value rescaled towards the output scale by a Q15 multiplier
 *      (rounding doubling high multiply), before the output shift.
 *   3. The "reluish" factor: x rescaled so that 3.0 is 32768 (saturating at
 *      +-32767), i.e. into [-1, 1], then mapped to [0, 1] as (v + 2^15) / 2.
 *      A left-shifting exponent is applied as exponent - 1 saturating bits
 *      before the multiply and the last bit after it, so any saturation is
 *      decided by the final bit, as TFLM's comments explain.
 *   4. The product of 2 and 3 with a *truncating* doubling high multiply
 *      (TFLM keeps it to cancel the bias of the rounding ones), then the
 *      output shift (rounding) and zero point, clamped to int8.
 * Every int16 intermediate is kept in int16 range exactly as TFLM's int16
 * arithmetic does; exponents are bounded by the loader (reluish in
 * [-15, 30], output in [-15, 0]) so every shift is defined. The function of
 * the 256 input codes is tabulated for tensors larger than 256 elements.
 */
#include "kernel_util.h"

/* gemmlowp's int16 SaturatingRoundingDoublingHighMul: round(a * b / 2^15),
 * ties toward +infinity (the floor of the nudged product, see
 * mfl_quant_srdhm); the single overflow a = b = -2^15 saturates. */
static int32_t srdhm16(int32_t a, int32_t b)
{
    if (a == INT16_MIN && b == INT16_MIN) {
        return INT16_MAX;
    }
    return (a * b + (1 << 14)) >> 15;
}

/* TFLM's SaturatingDoublingHighMul: a * b / 2^15 truncated toward zero. */
static int32_t sdhm16(int32_t a, int32_t b)
{
    if (a == INT16_MIN && b == INT16_MIN) {
        return INT16_MAX;
    }
    return (a * b) / (1 << 15);
}

/* TFLM's SaturatingLeftShift on int16, amount in [0, 29]. */
static int32_t saturating_shl16(int32_t v, int32_t amount)
{
    const int64_t r = (int64_t)v * ((int64_t)1 << amount);
    return (int32_t)(r > INT16_MAX ? INT16_MAX : r < INT16_MIN ? INT16_MIN : r);
}

static int8_t hard_swish_code(const void *params, int32_t code)
{
    const mfl_hard_swish_params_t *p = params;
    const int32_t hires = (code + p->input_offset) * 128;
    const int32_t preshift_output = srdhm16(hires, p->output_multiplier);
    int32_t reluish = hires;
    if (p->reluish_exponent > 0) {
        reluish = saturating_shl16(reluish, p->reluish_exponent - 1);
    }
    reluish = srdhm16(reluish, p->reluish_multiplier);
    if (p->reluish_exponent > 0) {
        reluish = saturating_shl16(reluish, 1);
    }
    if (p->reluish_exponent < 0) {
        reluish = mfl_quant_rdbpot(reluish, -p->reluish_exponent);
    }
    reluish = (reluish + (1 << 15)) >> 1; /* [-1, 1] -> [0, 1] in Q15 */
    const int32_t preshift = sdhm16(reluish, preshift_output);
    const int32_t out = mfl_quant_rdbpot(preshift, -p->output_exponent) + p->output_offset;
    return (int8_t)mfl_quant_clamp(out, -128, 127);
}

void mfl_hard_swish_s8(const mfl_hard_swish_params_t *params, int32_t size, const int8_t *input, int8_t *output)
{
    mfl_map_codes_s8(hard_swish_code, params, size, input, output);
}
