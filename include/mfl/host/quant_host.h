/*
 * Host-only quantization helpers: turning real scales into the integer
 * parameters the device kernels use. They use double precision exactly as
 * TensorFlow Lite does, so that imported models give bit-identical
 * multipliers. Never compiled for the device.
 */
#ifndef MFL_QUANT_HOST_H
#define MFL_QUANT_HOST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* real = m * 2^shift / 2^31 with m in [2^30, 2^31) (TFLite QuantizeMultiplier).
 * real = 0 gives m = 0, shift = 0; shifts below -31 flush to zero. */
void mfl_quant_multiplier_from_real(double real, int32_t *multiplier, int *shift);

/* TFLite's QuantizeMultiplierSmallerThanOneExp and ...GreaterThanOne are the
 * same computation with an assertion on the sign of the shift: use this. */

/* Fused activation codes, as in TFLite's ActivationFunctionType. */
enum mfl_activation { MFL_ACT_NONE = 0, MFL_ACT_RELU = 1, MFL_ACT_RELU_N1_TO_1 = 2, MFL_ACT_RELU6 = 3 };

/* The int8 range [*act_min, *act_max] that a fused activation leaves for an
 * output with this scale and zero point (TFLite CalculateActivationRangeQuantized).
 * Returns 0, or MFL_ERR_INVALID_ARG for an activation it cannot express. */
int mfl_quant_activation_range(int activation, float scale, int32_t zero_point,
                               int32_t *act_min, int32_t *act_max);

/* Softmax parameters for an int8 input of this scale (TFLite
 * PreprocessSoftmaxScaling with 5 integer bits, CalculateInputRadius). */
void mfl_quant_softmax_params(double beta, double input_scale, int32_t *multiplier,
                              int *left_shift, int32_t *diff_min);

/*
 * Post-training quantization (TFLite's scheme).
 */

/* Asymmetric int8 parameters covering [min, max], widened to contain 0 so
 * that zero is exact: scale = (max - min) / 255 and the zero point that
 * maps min to -128, rounded and clamped ("nudged"). A degenerate range gets
 * a tiny positive scale. */
void mfl_quant_choose_activation(float min, float max, float *scale, int32_t *zero_point);

/* Symmetric per-channel int8 weights: channel c holds n values at
 * w[c * channel_stride + k * elem_stride], k < n; scale[c] = max|w| / 127
 * (a zero channel gets scale 1), q = round(w / scale) in [-127, 127],
 * written to q in the same layout. */
void mfl_quant_weights_per_channel(const float *w, int channels, int n, size_t channel_stride,
                                   size_t elem_stride, int8_t *q, float *scale);

/* int32 bias = round(b / (input_scale * weight_scale)), saturated. */
int32_t mfl_quant_bias(float b, float input_scale, float weight_scale);

/* A positive real as microfl carries scales to devices: r = m * 2^(e - 31)
 * with m in [2^30, 2^31). Zero gives m = 0, e = 0. */
void mfl_quant_scale_to_fixed(double r, int32_t *m, int32_t *e);
double mfl_quant_scale_from_fixed(int32_t m, int32_t e);

#ifdef __cplusplus
}
#endif

#endif /* MFL_QUANT_HOST_H */
