/*
 * Host-only conversions from real scales to integer kernel parameters,
 * reproducing TensorFlow Lite's quantization_util.cc and kernel_util.cc so
 * that an imported .tflite model gets the very multipliers TFLM computes.
 */
#include <math.h>

#include "mfl/error.h"
#include "mfl/host/quant_host.h"

void mfl_quant_scale_to_fixed(double r, int32_t *m, int32_t *e)
{
    if (r == 0.0) {
        *m = 0;
        *e = 0;
        return;
    }
    int exp = 0;
    const double q = frexp(r, &exp); /* r = q * 2^exp, q in [0.5, 1) */
    int64_t q_fixed = (int64_t)llround(q * (double)(1LL << 31));
    if (q_fixed == (1LL << 31)) { /* rounding carried into the next power */
        q_fixed /= 2;
        ++exp;
    }
    *m = (int32_t)q_fixed;
    *e = exp;
}

void mfl_quant_multiplier_from_real(double real, int32_t *multiplier, int *shift)
{
    int32_t e = 0;
    mfl_quant_scale_to_fixed(real, multiplier, &e);
    if (e < -31) { /* too small for a kernel shift: flush to zero, as TFLite */
        e = 0;
        *multiplier = 0;
    }
    *shift = e;
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

void mfl_quant_choose_activation(float min, float max, float *scale, int32_t *zero_point)
{
    min = min < 0.0f ? min : 0.0f;
    max = max > 0.0f ? max : 0.0f;
    float s = (max - min) / 255.0f;
    if (!(s > 1e-12f)) {
        s = 1e-12f;
    }
    long zp = lroundf(-128.0f - min / s);
    *scale = s;
    *zero_point = (int32_t)(zp < -128 ? -128 : zp > 127 ? 127 : zp);
}

void mfl_quant_weights_per_channel(const float *w, int channels, int n, size_t channel_stride,
                                   size_t elem_stride, int8_t *q, float *scale)
{
    for (int c = 0; c < channels; c++) {
        float max_abs = 0.0f;
        for (int k = 0; k < n; k++) {
            const float v = fabsf(w[(size_t)c * channel_stride + (size_t)k * elem_stride]);
            max_abs = v > max_abs ? v : max_abs;
        }
        scale[c] = max_abs > 0.0f ? max_abs / 127.0f : 1.0f;
        for (int k = 0; k < n; k++) {
            const size_t at = (size_t)c * channel_stride + (size_t)k * elem_stride;
            long v = lroundf(w[at] / scale[c]);
            q[at] = (int8_t)(v < -127 ? -127 : v > 127 ? 127 : v);
        }
    }
}

int32_t mfl_quant_bias(float b, float input_scale, float weight_scale)
{
    const double v = round((double)b / ((double)input_scale * (double)weight_scale));
    return v > 2147483647.0 ? INT32_MAX : v < -2147483648.0 ? INT32_MIN : (int32_t)v;
}

double mfl_quant_scale_from_fixed(int32_t m, int32_t e)
{
    return ldexp((double)m, e - 31);
}
