/*
 * Host-only conversions from real scales to integer kernel parameters,
 * reproducing TensorFlow Lite's quantization_util.cc and kernel_util.cc so
 * that an imported .tflite model gets the very multipliers TFLM computes.
 */
#include <math.h>

#include "mfl/error.h"
#include "mfl/quant_host.h"

void mfl_quant_multiplier_from_real(double real, int32_t *multiplier, int *shift)
{
    if (real == 0.0) {
        *multiplier = 0;
        *shift = 0;
        return;
    }
    int exp = 0;
    const double q = frexp(real, &exp); /* real = q * 2^exp, q in [0.5, 1) */
    int64_t q_fixed = (int64_t)llround(q * (double)(1LL << 31));
    if (q_fixed == (1LL << 31)) { /* rounding carried into the next power */
        q_fixed /= 2;
        ++exp;
    }
    if (exp < -31) { /* too small to represent: flush to zero */
        exp = 0;
        q_fixed = 0;
    }
    *multiplier = (int32_t)q_fixed;
    *shift = exp;
}

static int32_t quantize_real(float value, float scale, int32_t zero_point)
{
    return zero_point + (int32_t)roundf(value / scale);
}

int mfl_quant_activation_range(int activation, float scale, int32_t zero_point,
                               int32_t *act_min, int32_t *act_max)
{
    const int32_t qmin = -128;
    const int32_t qmax = 127;
    int32_t lo = qmin;
    int32_t hi = qmax;
    switch (activation) {
    case MFL_ACT_NONE:
        break;
    case MFL_ACT_RELU:
        lo = quantize_real(0.0f, scale, zero_point);
        break;
    case MFL_ACT_RELU6:
        lo = quantize_real(0.0f, scale, zero_point);
        hi = quantize_real(6.0f, scale, zero_point);
        break;
    case MFL_ACT_RELU_N1_TO_1:
        lo = quantize_real(-1.0f, scale, zero_point);
        hi = quantize_real(1.0f, scale, zero_point);
        break;
    default:
        return MFL_ERR_INVALID_ARG;
    }
    *act_min = lo > qmin ? lo : qmin;
    *act_max = hi < qmax ? hi : qmax;
    return 0;
}

void mfl_quant_softmax_params(double beta, double input_scale, int32_t *multiplier,
                              int *left_shift, int32_t *diff_min)
{
    const int integer_bits = 5;
    double real = beta * input_scale * (double)(1 << (31 - integer_bits));
    const double cap = (double)(1LL << 31) - 1.0;
    if (real > cap) {
        real = cap;
    }
    mfl_quant_multiplier_from_real(real, multiplier, left_shift);
    /* The most negative input difference whose exp still registers. */
    const double max_input_rescaled = 1.0 * ((1 << integer_bits) - 1) *
                                      (double)(1LL << (31 - integer_bits)) /
                                      (double)(1LL << *left_shift);
    *diff_min = -(int32_t)floor(max_input_rescaled);
}
