/*
 * int8 kernels, bit-exact with TensorFlow Lite Micro's reference kernels.
 *
 * Layout is NHWC throughout. Activations are per-tensor asymmetric int8;
 * convolution and fully-connected weights are symmetric int8, per output
 * channel or per tensor; biases are int32 in units of
 * input_scale * weight_scale. Kernels trust their arguments: the model
 * loader (mfl_model_load) has checked shapes, ranges and the accumulator
 * bound below before any kernel runs. None allocates; only CONV_2D takes
 * scratch memory (below).
 *
 * Accumulator bound: each int32 accumulator sums K products of
 * (input - zero_point) in [-255, 255] and an int8 weight (|w| <= 128), i.e.
 * |sum| <= K * 32640. The loader requires K <= MFL_KERNEL_MAX_DEPTH so the
 * sum cannot overflow; adding the bias then wraps exactly like TFLM.
 *
 * Two implementations give the same bits: the portable C kernels (any CPU,
 * and the reference) and kernels for the Armv7E-M DSP extension (Cortex-M4,
 * M7, M33), chosen by mfl_kernels_select(). The public entry points
 * (mfl_conv2d_s8, ...) run the selected path; the DSP path of CONV_2D needs
 * scratch memory, passed in a mfl_kernel_ctx_t of at least
 * mfl_conv2d_s8_get_buffer_size() bytes (the model's memory plan reserves
 * it; with less, the portable kernel runs). docs/numerics.md explains the
 * blocking and the overflow bounds of both paths.
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

/* Scratch memory for one kernel call: buf is 4-byte aligned, owned by the
 * caller (normally a slice of the arena that the memory plan gives this
 * operator only) and clobbered by the call; size in bytes. */
typedef struct {
    void *buf;
    size_t size;
} mfl_kernel_ctx_t;

typedef enum {
    MFL_KERNELS_PORTABLE = 0, /* C kernels, any CPU */
    MFL_KERNELS_DSP = 1,      /* Armv7E-M DSP extension (or its C emulation on a host) */
} mfl_kernel_path_t;

/* Selects the implementation the public kernels run from now on (a process-
 * wide setting). The default is MFL_KERNELS_DSP when the target has the DSP
 * extension (__ARM_FEATURE_DSP), else MFL_KERNELS_PORTABLE; host builds
 * also carry the DSP path through a C emulation of its instructions, so
 * that the tests can prove both paths bit-identical. Returns 0, or
 * MFL_ERR_KERNEL_PATH when this build has no such path (a Cortex-M0/M3
 * build has no DSP path); the selection is then unchanged. */
int mfl_kernels_select(mfl_kernel_path_t path);

/* The path the public kernels run. */
mfl_kernel_path_t mfl_kernels_selected(void);

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

/* CONV_2D (TFLite CONV_2D, TFLM reference ConvPerChannel). input:
 * [N, H, W, C_in]; filter: [C_out, KH, KW, C_in]; bias: [C_out] or NULL;
 * requant: C_out entries; output: [N, OH, OW, C_out]. ctx: scratch for the
 * DSP path (NULL or too small: the portable kernel runs). */
void mfl_conv2d_s8(const mfl_kernel_ctx_t *ctx, const mfl_conv_params_t *params, const mfl_requant_t *requant,
                   const mfl_dims_t *input_dims, const int8_t *input,
                   const mfl_dims_t *filter_dims, const int8_t *filter, const int32_t *bias,
                   const mfl_dims_t *output_dims, int8_t *output);

/* Bytes of scratch the DSP path of CONV_2D needs for these shapes: two
 * int16 columns of KH * KW * C_in entries (rounded up to even). The same on
 * every build, so that a model planned on a host serves both paths. */
uint32_t mfl_conv2d_s8_get_buffer_size(const mfl_dims_t *input_dims, const mfl_dims_t *filter_dims);

/* The two implementations behind mfl_conv2d_s8, for tests and benchmarks.
 * The DSP one exists only where mfl_kernels_select(MFL_KERNELS_DSP)
 * succeeds and needs ctx->size >= mfl_conv2d_s8_get_buffer_size(). The
 * portable one uses ctx when it holds KH * KW * C_in int16 (one column,
 * vectorisable on hosts) and works without (ctx NULL). */
void mfl_conv2d_s8_portable(const mfl_kernel_ctx_t *ctx, const mfl_conv_params_t *params,
                            const mfl_requant_t *requant,
                            const mfl_dims_t *input_dims, const int8_t *input,
                            const mfl_dims_t *filter_dims, const int8_t *filter, const int32_t *bias,
                            const mfl_dims_t *output_dims, int8_t *output);
void mfl_conv2d_s8_dsp(const mfl_kernel_ctx_t *ctx, const mfl_conv_params_t *params, const mfl_requant_t *requant,
                       const mfl_dims_t *input_dims, const int8_t *input, const mfl_dims_t *filter_dims,
                       const int8_t *filter, const int32_t *bias, const mfl_dims_t *output_dims, int8_t *output);

/* DEPTHWISE_CONV_2D (TFLM reference DepthwiseConvPerChannel). filter: [1, KH, KW, C_out] with
 * C_out = C_in * depth_multiplier; output channel c reads input channel
 * c / depth_multiplier. bias: [C_out] or NULL; requant: C_out entries. */
void mfl_depthwise_conv2d_s8(const mfl_conv_params_t *params, const mfl_requant_t *requant,
                             const mfl_dims_t *input_dims, const int8_t *input,
                             const mfl_dims_t *filter_dims, const int8_t *filter,
                             const int32_t *bias, const mfl_dims_t *output_dims, int8_t *output);

/* The implementations behind mfl_depthwise_conv2d_s8. The DSP one needs
 * depth multiplier 1 and needs no scratch. */
void mfl_depthwise_conv2d_s8_portable(const mfl_conv_params_t *params, const mfl_requant_t *requant,
                                      const mfl_dims_t *input_dims, const int8_t *input,
                                      const mfl_dims_t *filter_dims, const int8_t *filter,
                                      const int32_t *bias, const mfl_dims_t *output_dims, int8_t *output);
void mfl_depthwise_conv2d_s8_dsp(const mfl_conv_params_t *params, const mfl_requant_t *requant,
                                 const mfl_dims_t *input_dims, const int8_t *input, const mfl_dims_t *filter_dims,
                                 const int8_t *filter, const int32_t *bias, const mfl_dims_t *output_dims,
                                 int8_t *output);

typedef struct {
    int32_t input_offset, output_offset;
    int32_t act_min, act_max;
    int32_t per_channel; /* nonzero: requant has one entry per output feature */
} mfl_fc_params_t;

/* FULLY_CONNECTED (TFLM reference FullyConnected). input: [batches, in_features]; weights:
 * [out_features, in_features]; bias: [out_features] or NULL;
 * output: [batches, out_features]. */
void mfl_fully_connected_s8(const mfl_fc_params_t *params, const mfl_requant_t *requant,
                            int32_t batches, int32_t in_features, const int8_t *input,
                            int32_t out_features, const int8_t *weights, const int32_t *bias,
                            int8_t *output);

/* The implementations behind mfl_fully_connected_s8 (no scratch). */
void mfl_fully_connected_s8_portable(const mfl_fc_params_t *params, const mfl_requant_t *requant,
                                     int32_t batches, int32_t in_features, const int8_t *input,
                                     int32_t out_features, const int8_t *weights, const int32_t *bias,
                                     int8_t *output);
void mfl_fully_connected_s8_dsp(const mfl_fc_params_t *params, const mfl_requant_t *requant, int32_t batches,
                                int32_t in_features, const int8_t *input, int32_t out_features,
                                const int8_t *weights, const int32_t *bias, int8_t *output);

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

/*
 * Binary element-wise operators (ADD, SUB, MUL, MAXIMUM, MINIMUM) with
 * TFLite's broadcasting. Shapes are right-aligned to four dimensions (a
 * rank-2 [a, b] is [1, 1, a, b]); on every axis each input has the
 * output's size or 1, and then its one element serves the whole axis; the
 * output has the larger size. The kernels merge neighbouring axes that
 * broadcast alike, so that equal shapes run as one flat loop and a
 * per-channel operand ([1,1,1,C] against [N,H,W,C]) as N*H*W loops of C.
 * Outputs never alias an input.
 */
typedef struct {
    int32_t out[4]; /* output dims, each >= 1 */
    int32_t in1[4]; /* in1[i] == out[i] or 1 */
    int32_t in2[4]; /* in2[i] == out[i] or 1; max(in1[i], in2[i]) == out[i] */
} mfl_broadcast_t;

/* ADD (TFLM reference integer Add and BroadcastAdd): each input is offset
 * to zero, shifted left by left_shift (20) for headroom, rescaled to twice
 * the larger input scale (multipliers >= 0, shifts <= 0), summed, rescaled
 * to the output, offset and clamped. mfl_add_s8 takes `size` elements of
 * equal shapes; mfl_add_s8_broadcast any broadcast. From 512 outputs on
 * (ADD and SUB) the inputs' rescaled codes are tabulated: 2 KB of stack. */
void mfl_add_s8(const mfl_add_params_t *params, int32_t size, const int8_t *input1,
                const int8_t *input2, int8_t *output);
void mfl_add_s8_broadcast(const mfl_add_params_t *params, const mfl_broadcast_t *shape, const int8_t *input1,
                          const int8_t *input2, int8_t *output);

/* SUB (TFLM reference Sub / BroadcastQuantSubSlow): as ADD with the second
 * rescaled input subtracted; same parameters and bounds. */
void mfl_sub_s8_broadcast(const mfl_add_params_t *params, const mfl_broadcast_t *shape, const int8_t *input1,
                          const int8_t *input2, int8_t *output);

/* MUL's largest left shift: |product| <= 255 * 255 < 2^16. */
#define MFL_MUL_MAX_SHIFT 15

typedef struct {
    int32_t input1_offset, input2_offset; /* minus the inputs' zero points */
    int32_t output_offset;                /* the output zero point */
    int32_t multiplier, shift;            /* in1_scale * in2_scale / out_scale: multiplier >= 0, shift in
                                           * [MFL_QUANT_SHIFT_MIN, MFL_MUL_MAX_SHIFT] */
    int32_t act_min, act_max;
} mfl_mul_params_t;

/* MUL (TFLM reference integer Mul / BroadcastMul): out = clamp(output_offset
 * + MultiplyByQuantizedMultiplier((in1 + offset1) * (in2 + offset2),
 * multiplier, shift)). The product is at most 255 * 255 < 2^16 in
 * magnitude, so a shift up to 15 cannot overflow. */
void mfl_mul_s8_broadcast(const mfl_mul_params_t *params, const mfl_broadcast_t *shape, const int8_t *input1,
                          const int8_t *input2, int8_t *output);

/* MAXIMUM and MINIMUM (TFLM MaximumMinimumBroadcastSlow): the larger
 * (smaller) raw code of each pair. TFLM compares codes and checks no
 * quantization; converters give both inputs and the output the same. */
void mfl_maximum_s8(const mfl_broadcast_t *shape, const int8_t *input1, const int8_t *input2, int8_t *output);
void mfl_minimum_s8(const mfl_broadcast_t *shape, const int8_t *input1, const int8_t *input2, int8_t *output);

/* CONCATENATION (TFLM reference Concatenation, int8: a copy, every input
 * in the output's quantization): n_inputs (1..3) tensors of dims[k][4]
 * (right-aligned), equal but on `axis` (0..3), joined along it into the
 * output (whose dims are theirs with the axis summed). */
void mfl_concatenation_s8(int32_t axis, int32_t n_inputs, const int32_t (*dims)[4], const int8_t *const *inputs,
                          int8_t *output);

typedef struct {
    int32_t input_multiplier; /* beta * input_scale, see mfl_quant_softmax_params */
    int32_t input_left_shift;
    int32_t diff_min;         /* differences from the row max below this give 0 */
} mfl_softmax_params_t;

/* SOFTMAX over the last dimension (depth) of `rows` rows; output scale is
 * 1/256 with zero point -128. */
void mfl_softmax_s8(const mfl_softmax_params_t *params, int32_t rows, int32_t depth,
                    const int8_t *input, int8_t *output);

/*
 * Element-wise int8 operators of one input. Each maps `size` input codes to
 * `size` output codes (any shape: they are flat loops); input and output may
 * be the same buffer. Parameters come from the model's importer, which
 * computes them as TFLM's Prepare does; the loader bounds them as stated.
 */

typedef struct {
    int32_t input_offset;   /* minus the input zero point */
    int32_t output_offset;  /* the output zero point */
    int32_t multiplier;     /* input_scale / output_scale as a Q31 multiplier >= 0 ... */
    int32_t shift;          /* ... and shift in [MFL_QUANT_SHIFT_MIN, MFL_QUANT_SHIFT_MAX] */
    int32_t act_min, act_max; /* output clamp, within [-128, 127] */
} mfl_requantize_params_t;

/* QUANTIZE int8 -> int8 (TFLM reference Requantize) and RELU (TFLM
 * ReluQuantized, which is the same rescaling clamped below at the output
 * zero point): out = clamp(output_offset + MultiplyByQuantizedMultiplier(
 * in + input_offset, multiplier, shift), act_min, act_max). */
void mfl_requantize_s8(const mfl_requantize_params_t *params, int32_t size, const int8_t *input, int8_t *output);

/* RELU6 (TFLM Relu6Quantized): clamps the raw input codes to [lo, hi] and
 * writes them unchanged; TFLM takes lo = input zero point and hi = the code
 * of 6.0 in the *input* quantization and ignores the output's (TFLite's
 * mobile kernel requantizes instead). Requires -128 <= lo <= hi <= 127. */
void mfl_relu6_s8(int32_t lo, int32_t hi, int32_t size, const int8_t *input, int8_t *output);

typedef struct {
    int32_t input_offset, output_offset;
    int32_t identity_multiplier, identity_shift; /* input_scale / output_scale, multiplier >= 0 */
    int32_t alpha_multiplier, alpha_shift;       /* alpha * input_scale / output_scale; any sign */
} mfl_leaky_relu_params_t;

/* LEAKY_RELU (TFLM reference QuantizeLeakyRelu): inputs at or above the
 * zero point are rescaled by the identity multiplier, those below by the
 * alpha multiplier; then the output offset and a clamp to [-128, 127]. */
void mfl_leaky_relu_s8(const mfl_leaky_relu_params_t *params, int32_t size, const int8_t *input, int8_t *output);

typedef struct {
    int32_t input_offset;      /* minus the input zero point */
    int32_t input_multiplier;  /* input_scale * 2^27 = m * 2^left_shift / 2^31, m >= 0 */
    int32_t input_left_shift;  /* [0, 31] */
    int32_t input_range_radius; /* |in + offset| >= radius saturates; radius << left_shift <= 15 << 27 */
} mfl_sigmoid_params_t;

/* LOGISTIC (TFLM reference integer Logistic, gemmlowp fixed point with 4
 * integer bits): the output is in scale 1/256 with zero point -128 whatever
 * the output tensor says (TFLM checks only the zero point). Inputs at or
 * beyond the radius give -128 or 127. */
void mfl_logistic_s8(const mfl_sigmoid_params_t *params, int32_t size, const int8_t *input, int8_t *output);

/* TANH (TFLM reference integer Tanh): the same input scaling; the output is
 * in scale 1/128 with zero point 0 whatever the output tensor says. */
void mfl_tanh_s8(const mfl_sigmoid_params_t *params, int32_t size, const int8_t *input, int8_t *output);

typedef struct {
    int32_t input_offset, output_offset;
    int32_t reluish_multiplier; /* Q15 in [0, 32767]: input_scale / 128 / (3 / 32768) ... */
    int32_t reluish_exponent;   /* ... times 2^exponent, exponent in [-15, 30] */
    int32_t output_multiplier;  /* Q15 in [0, 32767]: input_scale / 128 / output_scale ... */
    int32_t output_exponent;    /* ... times 2^exponent, exponent in [-15, 0] */
} mfl_hard_swish_params_t;

/* HARD_SWISH (TFLM reference HardSwish, int16 fixed point): x * relu6(x + 3)
 * / 6 with the input rescaled by 2^7, a "reluish" factor in [0, 1] and a
 * truncating final product, as TFLM computes it. */
void mfl_hard_swish_s8(const mfl_hard_swish_params_t *params, int32_t size, const int8_t *input, int8_t *output);

/*
 * Data movement and reductions. Shapes of up to four dimensions are given
 * right-aligned as dims[4] (a rank-2 [a, b] is [1, 1, a, b]).
 */

typedef struct {
    int32_t before[4], after[4]; /* >= 0; output dims = before + input + after */
    int32_t pad_value;           /* int8 code */
} mfl_pad_params_t;

/* PAD / PADV2 (TFLM reference Pad): copies the input codes into the middle
 * of the output and fills the rest with pad_value (the output zero point,
 * or PADV2's constant). */
void mfl_pad_s8(const mfl_pad_params_t *params, const int32_t input_dims[4], const int8_t *input, int8_t *output);

typedef struct {
    int32_t input_offset, output_offset;
    int32_t multiplier, shift; /* input_scale / output_scale / (H * W), see mean_s8.c; multiplier >= 0 */
} mfl_mean_params_t;

/* MEAN over H and W of an NHWC tensor (TFLM reference QuantizedMeanOrSum):
 * output [N, 1, 1, C] (or [N, C]); H * W <= MFL_MEAN_MAX_COUNT. */
#define MFL_MEAN_MAX_COUNT (1 << 23)
void mfl_mean_hw_s8(const mfl_mean_params_t *params, const mfl_dims_t *input_dims, const int8_t *input,
                    int8_t *output);

typedef struct {
    int32_t start[4], stride[4], count[4]; /* stride != 0; every index visited lies inside the input */
} mfl_slice_params_t;

/* STRIDED_SLICE (TFLM reference StridedSlice), masks and shrinking resolved
 * on the host: output element (a, b, c, d) is input element (start[i] + x_i
 * * stride[i])_i, in order. */
void mfl_strided_slice_s8(const mfl_slice_params_t *params, const int32_t input_dims[4], const int8_t *input,
                          int8_t *output);

/* TRANSPOSE (TFLM reference Transpose): output dims[i] = input dims[perm[i]],
 * perm a permutation of 0..3. */
void mfl_transpose_s8(const int32_t perm[4], const int32_t input_dims[4], const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* MFL_KERNELS_H */
