/*
 * 16x8 kernels: int16 activations with int8 weights, TFLite's scheme for
 * audio models (TFLM's reference kernels for int16 tensors, bit-exact).
 *
 * Every int16 tensor has zero point 0 (TFLite requires it of 16x8
 * operators), so no kernel here takes an input or output offset. Weights
 * are int8, per-channel symmetric; convolution biases are int64 and the
 * accumulators 64-bit. Shapes and ranges below are what the model loader
 * guarantees; called directly, the caller owns them.
 */
#ifndef MFL_KERNELS_S16_H
#define MFL_KERNELS_S16_H

#include <stdint.h>

#include "mfl/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Up to this many int16 x int8 products (each within 2^22 in magnitude)
 * sum within int32: the kernels accumulate a window of at most this many
 * taps in 32 bits (one multiply-accumulate each on the Cortex-M4) and add
 * it to the int64 bias once; deeper windows accumulate in 64 bits. */
#define MFL_S16_ACC32_TAPS 511

/* |bias| of a 16x8 convolution: TFLite's 64-bit requantization assumes an
 * accumulator within 2^47, and bias + taps (at most 65535 x 2^22 = 2^38)
 * then stays below 2^48, whose product with a Q15 multiplier fits int64. */
#define MFL_S16_MAX_BIAS ((int64_t)1 << 47)

/* Output shift range of the 64-bit requantization (TFLite's assertion:
 * -31 <= shift < 8, so that the rounding shift 15 - shift is in [8, 46]). */
#define MFL_S16_SHIFT_MAX 7

/*
 * CONV_2D 16x8 (TFLM reference_integer_ops::ConvPerChannel, int16 input,
 * int64 bias). input: [N, H, W, C_in] int16; filter: [C_out, KH, KW, C_in]
 * int8; bias: [C_out] int64 (|bias| <= MFL_S16_MAX_BIAS) or NULL; requant:
 * C_out multipliers >= 0 with shifts in [-31, MFL_S16_SHIFT_MAX]; output
 * [N, OH, OW, C_out] int16. Each output is the 64-bit sum of its in-bounds
 * taps plus the bias, requantized by mfl_quant_mul_by_qm_s64 and clamped to
 * [act_min, act_max] (within [-32768, 32767]). params' offsets are unused
 * (zero points are 0); KH * KW * C_in <= MFL_KERNEL_MAX_DEPTH.
 */
void mfl_conv2d_s16(const mfl_conv_params_t *params, const mfl_requant_t *requant, const mfl_dims_t *input_dims,
                    const int16_t *input, const mfl_dims_t *filter_dims, const int8_t *filter, const int64_t *bias,
                    const mfl_dims_t *output_dims, int16_t *output);

/* The two implementations behind mfl_conv2d_s16 (and
 * mfl_transpose_conv2d_s16 below), for tests and benchmarks: the same
 * outputs, bit for bit. The DSP ones (SMLAD on int16 pairs, two MACs an
 * instruction) exist only where mfl_kernels_select(MFL_KERNELS_DSP)
 * succeeds; neither needs scratch. */
void mfl_conv2d_s16_portable(const mfl_conv_params_t *params, const mfl_requant_t *requant,
                             const mfl_dims_t *input_dims, const int16_t *input, const mfl_dims_t *filter_dims,
                             const int8_t *filter, const int64_t *bias, const mfl_dims_t *output_dims,
                             int16_t *output);
void mfl_conv2d_s16_dsp(const mfl_conv_params_t *params, const mfl_requant_t *requant,
                        const mfl_dims_t *input_dims, const int16_t *input, const mfl_dims_t *filter_dims,
                        const int8_t *filter, const int64_t *bias, const mfl_dims_t *output_dims, int16_t *output);

/*
 * TRANSPOSE_CONV 16x8 (TFLM reference_integer_ops::TransposeConv, int16
 * input, int64 bias). input: [N, H, W, C_in] int16; filter: [C_out, KH, KW,
 * C_in] int8; bias as CONV_2D's; output [N, OH, OW, C_out] int16. Input
 * pixel (y, x) reaches output (y * stride_h - pad_h + ky, x * stride_w -
 * pad_w + kx) through tap (ky, kx); TFLM scatters those products into an
 * int64 buffer of the output's size, this kernel gathers them per output
 * (no scratch): integer sums, so the same bits. Dilation is 1, pads >= 0.
 */
void mfl_transpose_conv2d_s16(const mfl_conv_params_t *params, const mfl_requant_t *requant,
                              const mfl_dims_t *input_dims, const int16_t *input, const mfl_dims_t *filter_dims,
                              const int8_t *filter, const int64_t *bias, const mfl_dims_t *output_dims,
                              int16_t *output);

void mfl_transpose_conv2d_s16_portable(const mfl_conv_params_t *params, const mfl_requant_t *requant,
                                       const mfl_dims_t *input_dims, const int16_t *input,
                                       const mfl_dims_t *filter_dims, const int8_t *filter, const int64_t *bias,
                                       const mfl_dims_t *output_dims, int16_t *output);
void mfl_transpose_conv2d_s16_dsp(const mfl_conv_params_t *params, const mfl_requant_t *requant,
                                  const mfl_dims_t *input_dims, const int16_t *input, const mfl_dims_t *filter_dims,
                                  const int8_t *filter, const int64_t *bias, const mfl_dims_t *output_dims,
                                  int16_t *output);

/*
 * ADD and SUB, int16 (TFLM reference AddElementwise / BroadcastAdd6DSlow,
 * SubElementwise / BroadcastQuantSubSlow on int16): each input shifted left
 * by left_shift (15, TFLM's for int16: |x| << 15 <= 2^30), rescaled by its
 * multiplier (shift <= 0), summed (or subtracted), rescaled to the output
 * (shift <= 0) and clamped to [act_min, act_max]. Offsets in params must be
 * 0. Shapes right-aligned to four dimensions: on every axis each input has
 * the output's size or 1 (then its one element serves the whole axis).
 */
void mfl_add_s16(const mfl_add_params_t *params, const int32_t out_dims[4], const int32_t in1_dims[4],
                 const int16_t *input1, const int32_t in2_dims[4], const int16_t *input2, int16_t *output);
void mfl_sub_s16(const mfl_add_params_t *params, const int32_t out_dims[4], const int32_t in1_dims[4],
                 const int16_t *input1, const int32_t in2_dims[4], const int16_t *input2, int16_t *output);

/* LEAKY_RELU, int16 (TFLM reference QuantizeLeakyRelu<int16_t>): inputs >= 0
 * rescaled by the identity multiplier, negative ones by alpha's, clamped to
 * [-32768, 32767]. Offsets in params must be 0. */
void mfl_leaky_relu_s16(const mfl_leaky_relu_params_t *params, int32_t size, const int16_t *input,
                        int16_t *output);

/* QUANTIZE int32 -> int16 (TFLM reference Requantize<int32_t, int16_t>):
 * out = clamp(MultiplyByQuantizedMultiplier(in, multiplier, shift),
 * act_min, act_max), the 32-bit double-rounding form (a left shift wraps as
 * on TFLM's targets). Offsets in params must be 0. */
void mfl_requantize_s32_s16(const mfl_requantize_params_t *params, int32_t size, const int32_t *input,
                            int16_t *output);

/* PAD / PADV2 on int16 codes (TFLM reference Pad): as mfl_pad_s8, pad_value
 * an int16 code. */
void mfl_pad_s16(const mfl_pad_params_t *params, const int32_t input_dims[4], const int16_t *input,
                 int16_t *output);

/* STRIDED_SLICE on int16 codes (TFLM reference StridedSlice): as
 * mfl_strided_slice_s8. */
void mfl_strided_slice_s16(const mfl_slice_params_t *params, const int32_t input_dims[4], const int16_t *input,
                           int16_t *output);

#ifdef __cplusplus
}
#endif

#endif /* MFL_KERNELS_S16_H */
