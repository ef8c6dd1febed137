/*
 * int8 kernels, bit-exact with TensorFlow Lite Micro's reference kernels.
 *
 * Layout is NHWC throughout. Activations are per-tensor asymmetric int8;
 * convolution and fully-connected weights are symmetric int8, per output
 * channel or per tensor; biases are int32 in units of
 * input_scale * weight_scale. Kernels trust their arguments: the model
 * loader (mfl_model_load) has checked shapes, ranges and the accumulator
 * bound below before any kernel runs. None allocates or needs scratch.
 *
 * Accumulator bound: each int32 accumulator sums K products of
 * (input - zero_point) in [-255, 255] and an int8 weight (|w| <= 128), i.e.
 * |sum| <= K * 32640. The loader requires K <= MFL_KERNEL_MAX_DEPTH so the
 * sum cannot overflow; adding the bias then wraps exactly like TFLM.
 */
#ifndef MFL_KERNELS_H
#define MFL_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 65535 * 32640 = 2,139,062,400 < 2^31: products per output with no overflow. */
#define MFL_KERNEL_MAX_DEPTH 65535

/* Softmax sums up to depth terms of at most 1 in Q12 (< 4096). */
#define MFL_SOFTMAX_MAX_DEPTH 4095

typedef struct {
    int32_t n, h, w, c;
} mfl_dims_t;

/* Per-output-channel requantization: real = multiplier * 2^shift / 2^31. */
typedef struct {
    const int32_t *multiplier;
    const int32_t *shift;
} mfl_requant_t;

typedef struct {
    int32_t stride_w, stride_h;
    int32_t dilation_w, dilation_h;
    int32_t pad_w, pad_h;        /* leading padding (TFLite's floor half) */
    int32_t input_offset;        /* minus the input zero point */
    int32_t output_offset;       /* the output zero point */
    int32_t act_min, act_max;    /* fused activation, within [-128, 127] */
} mfl_conv_params_t;

/* CONV_2D. filter: [C_out, KH, KW, C_in]; bias: [C_out] or NULL;
 * requant: C_out entries. */
void mfl_conv2d_s8(const mfl_conv_params_t *params, const mfl_requant_t *requant,
                   const mfl_dims_t *input_dims, const int8_t *input,
                   const mfl_dims_t *filter_dims, const int8_t *filter, const int32_t *bias,
                   const mfl_dims_t *output_dims, int8_t *output);

/* DEPTHWISE_CONV_2D. filter: [1, KH, KW, C_out] with
 * C_out = C_in * depth_multiplier; output channel c reads input channel
 * c / depth_multiplier. bias: [C_out] or NULL; requant: C_out entries. */
void mfl_depthwise_conv2d_s8(const mfl_conv_params_t *params, const mfl_requant_t *requant,
                             const mfl_dims_t *input_dims, const int8_t *input,
                             const mfl_dims_t *filter_dims, const int8_t *filter,
                             const int32_t *bias, const mfl_dims_t *output_dims, int8_t *output);

typedef struct {
    int32_t input_offset, output_offset;
    int32_t act_min, act_max;
    int32_t per_channel; /* nonzero: requant has one entry per output feature */
} mfl_fc_params_t;

/* FULLY_CONNECTED. input: [batches, in_features]; weights:
 * [out_features, in_features]; bias: [out_features] or NULL;
 * output: [batches, out_features]. */
void mfl_fully_connected_s8(const mfl_fc_params_t *params, const mfl_requant_t *requant,
                            int32_t batches, int32_t in_features, const int8_t *input,
                            int32_t out_features, const int8_t *weights, const int32_t *bias,
                            int8_t *output);

typedef struct {
    int32_t stride_w, stride_h;
    int32_t filter_w, filter_h;
    int32_t pad_w, pad_h;
    int32_t act_min, act_max;
} mfl_pool_params_t;

/* AVERAGE_POOL_2D: mean over the window's in-bounds elements, rounded half
 * away from zero; input and output share scale and zero point. */
void mfl_avg_pool2d_s8(const mfl_pool_params_t *params, const mfl_dims_t *input_dims,
                       const int8_t *input, const mfl_dims_t *output_dims, int8_t *output);

/* MAX_POOL_2D over the window's in-bounds elements. */
void mfl_max_pool2d_s8(const mfl_pool_params_t *params, const mfl_dims_t *input_dims,
                       const int8_t *input, const mfl_dims_t *output_dims, int8_t *output);

typedef struct {
    int32_t input1_offset, input2_offset, output_offset;
    int32_t left_shift; /* inputs are scaled by 2^left_shift before rescaling */
    int32_t input1_multiplier, input1_shift;
    int32_t input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} mfl_add_params_t;

/* ADD of two int8 tensors of `size` elements each (no broadcasting). */
void mfl_add_s8(const mfl_add_params_t *params, int32_t size, const int8_t *input1,
                const int8_t *input2, int8_t *output);

typedef struct {
    int32_t input_multiplier; /* beta * input_scale, see mfl_quant_softmax_params */
    int32_t input_left_shift;
    int32_t diff_min;         /* differences from the row max below this give 0 */
} mfl_softmax_params_t;

/* SOFTMAX over the last dimension (depth) of `rows` rows; output scale is
 * 1/256 with zero point -128. */
void mfl_softmax_s8(const mfl_softmax_params_t *params, int32_t rows, int32_t depth,
                    const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* MFL_KERNELS_H */
