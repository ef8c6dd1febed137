/*
 * microfl model format (".mfl") and its loader.
 *
 * A model is one little-endian byte image, read in place (from flash on a
 * device): the loader validates it once and never copies weights. Layout
 * (all offsets from the start of the image; docs/model-format.md has the
 * full specification and the reasons for each choice):
 *
 *   header   mfl_model_header_t, 64 bytes
 *   tensors  n_tensors x mfl_tensor_rec_t (32 bytes each)
 *   ops      n_ops x mfl_op_rec_t (20 bytes each), in execution order
 *   data     constant tensors, operator parameters and (format 3) the I/O
 *            table, 16-byte aligned
 *
 * Everything a kernel needs that TFLite derives with floating point
 * (multipliers, shifts, activation ranges, padding) is computed by the host
 * importer and stored as integers, so the device never touches a float.
 * The memory plan (each activation tensor's offset in the arena, and from
 * format 2 each kernel's scratch) is also computed on the host and only
 * checked by the loader.
 *
 * From format 3 the image also records each model input's and output's real
 * scale (mfl_io_rec_t), so that a device can give its int8 codes a meaning
 * and the host can feed real values (mfl/host/model_io.h).
 *
 * The image must be 4-byte aligned in memory (records are read as structs).
 */
#ifndef MFL_MODEL_H
#define MFL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "mfl/common.h"
#include "mfl/scale.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MFL_MODEL_MAGIC 0x4D4C464Du /* "MFLM" as little-endian bytes */
#define MFL_MODEL_FORMAT_VERSION 3     /* written by this version */
#define MFL_MODEL_FORMAT_VERSION_MIN 1 /* oldest the loader reads (1: no scratch; 1, 2: no I/O table) */
#define MFL_MODEL_DATA_ALIGN 16
#define MFL_MODEL_ARENA_ALIGN 4
#define MFL_NONE 0xFFFFu /* absent tensor or op index */

typedef struct {
    uint32_t magic;          /* MFL_MODEL_MAGIC */
    uint16_t format_version; /* MFL_MODEL_FORMAT_VERSION */
    uint16_t header_size;    /* sizeof(mfl_model_header_t) */
    uint32_t file_size;      /* bytes in the whole image */
    uint32_t crc32;          /* CRC-32 of bytes [16, file_size) */
    uint16_t n_tensors;
    uint16_t n_ops;
    uint16_t input;          /* tensor index of the model input (int8); format 3: input 0's */
    uint16_t output;         /* tensor index of the model output (int8); format 3: output 0's */
    uint16_t head_op;        /* index of the trainable head (FULLY_CONNECTED) or MFL_NONE */
    uint16_t feature;        /* tensor feeding the head (the feature vector) or MFL_NONE */
    uint32_t tensors_offset;
    uint32_t ops_offset;
    uint32_t data_offset;
    uint32_t data_size;
    uint32_t arena_size;     /* bytes of arena the memory plan needs */
    uint32_t head_params_offset; /* mfl_head_rec_t in the data section (0 without a head) */
    uint32_t head_params_size;   /* bytes of it (0 without a head) */
    uint32_t io_offset;      /* format 3: the I/O table in the data section (4-aligned) */
    uint8_t n_inputs;        /* format 3: entries of the I/O table for inputs, 1..MFL_MODEL_MAX_IO */
    uint8_t n_outputs;       /* format 3: then as many for outputs, 1..MFL_MODEL_MAX_IO */
    uint16_t reserved;       /* zero (formats 1 and 2: the last 8 bytes are zero and ignored) */
} mfl_model_header_t;

/* Inputs, and outputs, a model may have (each). */
#define MFL_MODEL_MAX_IO 8

/* What the source model exchanged at an input or output. */
enum mfl_io_type {
    MFL_IO_INT8 = 1,    /* the device's own codes: int8, or int16 / int32 for the 16x8 operators (the
                         * tensor's type says which; zero point 0 then) */
    MFL_IO_FLOAT32 = 2, /* float32: the importer took off the model's QUANTIZE (input) or DEQUANTIZE
                         * (output); the host converts with the scale below (mfl/host/model_io.h) */
};

/*
 * One entry of the I/O table (format 3): n_inputs entries in input order,
 * then n_outputs in output order. The scale is the tensor's real scale in
 * two forms that the loader checks to be the same number: as an integer
 * mantissa and exponent for devices (mfl_scale_t: r = m * 2^(e - 31)), and
 * as the IEEE-754 binary32 bits TFLite stores, which the host needs to
 * repeat TFLite's float conversions bit for bit. All three are zero when
 * the model's maker did not know the scale ("not recorded"). The zero point
 * is the tensor's own (mfl_tensor_rec_t).
 */
typedef struct {
    uint16_t tensor;    /* an activation tensor (int8; int16 or int32 in 16x8 models) */
    uint8_t type;       /* enum mfl_io_type */
    uint8_t reserved;   /* zero */
    int32_t scale_m;    /* in [2^30, 2^31), or 0 */
    int32_t scale_e;
    uint32_t scale_f32; /* a positive normal float's bits, or 0 */
} mfl_io_rec_t;

/* Element types. Activations (arena tensors) are int8, int16 (the 16x8
 * operators') or int32 (a model input such as SEANet's int32 sums before
 * their QUANTIZE); constants any of the four (int64: 16x8 biases). int16,
 * int32 and int64 tensors have zero point 0. */
enum mfl_tensor_type { MFL_TYPE_INT8 = 1, MFL_TYPE_INT32 = 2, MFL_TYPE_INT16 = 3, MFL_TYPE_INT64 = 4 };
#define MFL_TENSOR_CONST 0x01u /* data lives in the model's data section */

typedef struct {
    uint8_t type;       /* enum mfl_tensor_type */
    uint8_t rank;       /* 1..4 */
    uint8_t flags;      /* MFL_TENSOR_CONST or 0 */
    uint8_t reserved;
    int32_t dims[4];    /* dims[0..rank-1]; unused entries are 1 */
    int32_t zero_point; /* int8 tensors; per-channel weights are symmetric (0); others 0 */
    uint32_t offset;    /* const: into the data section; else: into the arena */
    uint32_t size;      /* bytes */
} mfl_tensor_rec_t;

enum mfl_opcode {
    MFL_OP_CONV_2D = 1,
    MFL_OP_DEPTHWISE_CONV_2D = 2,
    MFL_OP_FULLY_CONNECTED = 3,
    MFL_OP_AVERAGE_POOL_2D = 4,
    MFL_OP_MAX_POOL_2D = 5,
    MFL_OP_ADD = 6,
    MFL_OP_RESHAPE = 7,
    MFL_OP_SOFTMAX = 8,
    MFL_OP_RELU = 9,
    MFL_OP_RELU6 = 10,
    MFL_OP_LEAKY_RELU = 11,
    MFL_OP_LOGISTIC = 12,
    MFL_OP_TANH = 13,
    MFL_OP_HARD_SWISH = 14,
    MFL_OP_QUANTIZE = 15,
    MFL_OP_PAD = 16,
    MFL_OP_MEAN = 17,
    MFL_OP_STRIDED_SLICE = 18,
    MFL_OP_TRANSPOSE = 19,
    MFL_OP_SUB = 20,
    MFL_OP_MUL = 21,
    MFL_OP_MAXIMUM = 22,
    MFL_OP_MINIMUM = 23,
    MFL_OP_CONCATENATION = 24,
    MFL_OP_TRANSPOSE_CONV = 25,
    MFL_OP_COUNT_ = 26,
};

typedef struct {
    uint8_t opcode;       /* enum mfl_opcode */
    uint8_t n_inputs;     /* used entries of inputs[] */
    uint16_t output;      /* output tensor */
    uint16_t inputs[3];   /* input tensors; MFL_NONE for an absent optional one */
    uint16_t scratch;     /* format 2: an int8 arena tensor the kernel may clobber during this
                           * op only (CONV_2D's DSP columns), or MFL_NONE; format 1: 0, read as
                           * none (use mfl_op_scratch) */
    uint32_t params_offset; /* into the data section, 4-byte aligned */
    uint32_t params_size;   /* bytes */
} mfl_op_rec_t;

/*
 * Operator parameter blocks (int32 words in the data section):
 *  CONV_2D, DEPTHWISE_CONV_2D: mfl_conv_rec_t, then multiplier[C], shift[C]
 *      (C = output channels)
 *  FULLY_CONNECTED: mfl_fc_rec_t, then multiplier[n], shift[n] (n = 1 or C)
 *  AVERAGE_POOL_2D, MAX_POOL_2D: mfl_pool_rec_t
 *  ADD, SUB: mfl_add_rec_t
 *  MUL: mfl_requantize_rec_t (input1_scale x input2_scale / output_scale,
 *      shift in the kernel range, the fused activation's clamp)
 *  MAXIMUM, MINIMUM: none
 *  CONCATENATION: mfl_concat_rec_t
 *  SOFTMAX: mfl_softmax_rec_t
 *  RESHAPE: none
 *  RELU: mfl_requantize_rec_t
 *  RELU6: mfl_clamp_rec_t
 *  LEAKY_RELU: mfl_leaky_relu_rec_t
 *  LOGISTIC, TANH: mfl_sigmoid_rec_t
 *  HARD_SWISH: mfl_hard_swish_rec_t
 *  QUANTIZE (int8 -> int8): mfl_requantize_rec_t
 *  PAD: mfl_pad_rec_t
 *  MEAN (over H and W): mfl_requantize_rec_t (act_min -128, act_max 127)
 *  STRIDED_SLICE: mfl_slice_rec_t
 *  TRANSPOSE: mfl_transpose_rec_t
 *  TRANSPOSE_CONV (16x8 only): as CONV_2D, dilations 1
 * An operator whose output is int16 is a 16x8 one (kernels_s16.h): CONV_2D
 * and TRANSPOSE_CONV with int64 biases, ADD, SUB, LEAKY_RELU, PAD,
 * STRIDED_SLICE on int16, and QUANTIZE from an int32 input; same records.
 * The element-wise operators (RELU .. HARD_SWISH, QUANTIZE) have one int8
 * input and one int8 output of the same shape; kernels.h gives each one's
 * arithmetic. PAD, STRIDED_SLICE and TRANSPOSE work on shapes right-aligned
 * to four dimensions, input and output of the same rank (STRIDED_SLICE's
 * output may drop shrunk axes).
 * ADD, SUB, MUL, MAXIMUM and MINIMUM take two int8 inputs (either may be
 * constant) and broadcast them: shapes right-aligned to four dimensions,
 * on every axis each input has the output's size or 1, and the output has
 * the larger of the two. The shapes are the whole broadcast description:
 * the loader checks them and the kernel derives its strides from them.
 * CONCATENATION joins its one to three int8 inputs (of the output's rank,
 * equal but on the axis, all of the output's zero point) along an axis.
 */
typedef struct {
    int32_t stride_w, stride_h, dilation_w, dilation_h, pad_w, pad_h;
    int32_t act_min, act_max;
} mfl_conv_rec_t;

typedef struct {
    int32_t act_min, act_max;
    int32_t n_multipliers; /* 1 (per-tensor) or output features (per-channel) */
} mfl_fc_rec_t;

typedef struct {
    int32_t stride_w, stride_h, filter_w, filter_h, pad_w, pad_h;
    int32_t act_min, act_max;
} mfl_pool_rec_t;

typedef struct {
    int32_t left_shift;
    int32_t in1_multiplier, in1_shift, in2_multiplier, in2_shift;
    int32_t out_multiplier, out_shift;
    int32_t act_min, act_max;
} mfl_add_rec_t;

typedef struct {
    int32_t multiplier, left_shift, diff_min;
} mfl_softmax_rec_t;

/* input_scale / output_scale (multiplier >= 0, shift in the kernel range)
 * and the output clamp: RELU's is [output zero point, 127]. */
typedef struct {
    int32_t multiplier, shift;
    int32_t act_min, act_max;
} mfl_requantize_rec_t;

/* RELU6's raw clamp: TFLM's input zero point and the code of 6.0 in the
 * input's quantization. */
typedef struct {
    int32_t lo, hi;
} mfl_clamp_rec_t;

typedef struct {
    int32_t identity_multiplier, identity_shift; /* multiplier >= 0 */
    int32_t alpha_multiplier, alpha_shift;       /* any sign (alpha's) */
} mfl_leaky_relu_rec_t;

/* LOGISTIC and TANH: input_scale * 2^27 as multiplier and left shift in
 * [0, 31], and the saturation radius, with radius << left_shift <= 15 << 27. */
typedef struct {
    int32_t multiplier, left_shift, range_radius;
} mfl_sigmoid_rec_t;

typedef struct {
    int32_t before[4], after[4];
    int32_t pad_value;
} mfl_pad_rec_t;

typedef struct {
    int32_t start[4], stride[4], count[4];
} mfl_slice_rec_t;

typedef struct {
    int32_t perm[4];
} mfl_transpose_rec_t;

/* CONCATENATION's axis, counted in the shapes right-aligned to four
 * dimensions (TFLite axis + 4 - rank), in [4 - rank, 3]. */
typedef struct {
    int32_t axis;
} mfl_concat_rec_t;

/* HARD_SWISH: Q15 multipliers in [0, 32767] with exponents, reluish in
 * [-15, 30] and output in [-15, 0]. */
typedef struct {
    int32_t reluish_multiplier, reluish_exponent;
    int32_t output_multiplier, output_exponent;
} mfl_hard_swish_rec_t;

/*
 * Trainable-head parameters, present exactly when head_op != MFL_NONE: the
 * real scales a device needs to retrain the head and requantize it, as
 * integers (r = m * 2^(e - 31), m in [2^30, 2^31)), so that devices never
 * need floating point. Followed by weight_scale_m[units], weight_scale_e[units]
 * (one per output unit: the head's weights are per-channel).
 */
typedef struct {
    int32_t feature_scale_m, feature_scale_e; /* scale of the feature (head input) tensor */
    int32_t output_scale_m, output_scale_e;   /* scale of the head's output (logits) tensor */
} mfl_head_rec_t;

/* The operators a model may use (mfl/op_resolver.h). */
typedef struct mfl_op_resolver mfl_op_resolver_t;

/* A validated model: views into the caller's image, which must outlive it. */
typedef struct {
    const uint8_t *image;
    const mfl_model_header_t *header;
    const mfl_tensor_rec_t *tensors;
    const mfl_op_rec_t *ops;
    const uint8_t *data;
    const mfl_io_rec_t *io; /* the I/O table, or NULL (formats 1 and 2) */
    const mfl_op_resolver_t *resolver; /* what validated its operators and runs them */
} mfl_model_t;

/*
 * Validates a model image and fills *model with views into it.
 *  image: the model bytes, 4-byte aligned, kept alive and unchanged by the
 *         caller for as long as *model is used.
 *  size:  bytes available at image.
 * Returns 0, or MFL_ERR_INVALID_ARG, MFL_ERR_MODEL_* (truncated, magic,
 * version, checksum, alignment, limits, tensor, op, shape, params, graph,
 * plan), MFL_ERR_UNSUPPORTED_OP, MFL_ERR_UNSUPPORTED_TYPE. On error *model
 * is left unchanged, so a device that loads a new model into the struct of
 * its working one keeps the working one. No input can make it read outside
 * [image, image + size).
 * Every operator microfl has is accepted (mfl_ops_all), so every kernel is
 * linked: a firmware that names its operators calls mfl_model_load_ops()
 * (mfl/op_resolver.h) instead.
 */
int mfl_model_load(mfl_model_t *model, const void *image, size_t size);

/* The scratch tensor of an op, or MFL_NONE (always for format 1 images). */
static inline uint16_t mfl_op_scratch(const mfl_model_t *model, const mfl_op_rec_t *op)
{
    return model->header->format_version >= 2 ? op->scratch : MFL_NONE;
}

/* A model input or output as the API reports it. */
typedef struct {
    uint16_t tensor;    /* the activation tensor (its record gives the element type) */
    uint8_t type;       /* enum mfl_io_type (MFL_IO_INT8 for formats 1 and 2) */
    int32_t zero_point;
    uint32_t size;      /* bytes (= elements for int8; 2 or 4 per element for int16, int32) */
    mfl_scale_t scale;  /* the real scale; {0, 0}: not recorded (formats 1 and 2, or by the maker) */
    uint32_t scale_f32; /* the same as binary32 bits (0: not recorded), for the host's float helpers */
} mfl_io_info_t;

/* Number of model inputs, and of outputs (1 for formats 1 and 2). */
unsigned mfl_model_input_count(const mfl_model_t *model);
unsigned mfl_model_output_count(const mfl_model_t *model);

/* Input (output) k of a loaded model: tensor, type at the source model's
 * edge, zero point, size and scale. Returns 0, or MFL_ERR_INVALID_ARG (NULL
 * pointers, k out of range). */
int mfl_model_input_info(const mfl_model_t *model, unsigned k, mfl_io_info_t *info);
int mfl_model_output_info(const mfl_model_t *model, unsigned k, mfl_io_info_t *info);

/* Bytes of arena the model needs (valid after a successful load). */
static inline uint32_t mfl_model_arena_size(const mfl_model_t *model)
{
    return model->header->arena_size;
}

/* Number of elements of a tensor record (the loader bounded it). */
uint32_t mfl_tensor_elements(const mfl_tensor_rec_t *t);

/* Multiply-accumulates of operator `op` (0 for ops without products). */
uint64_t mfl_model_op_macs(const mfl_model_t *model, uint16_t op);

/* Number of constant parameters (weights and biases) in the model. */
uint64_t mfl_model_param_count(const mfl_model_t *model);

/* A lower bound of the arena any planner needs for this model: the most
 * bytes of activation tensors alive at one time (before the first op,
 * during each op, after the last), a RESHAPE output sharing its input's
 * bytes as the planner makes it, a kernel's scratch counted during its op.
 * Alignment and fragmentation are what a plan adds above it. 0 for a NULL
 * or unloaded model. O(ops^2 x tensors): a figure for reports, not a hot
 * path. */
uint32_t mfl_model_arena_lower_bound(const mfl_model_t *model);

/* A readable name of an opcode ("CONV_2D"...), "?" for unknown ones. */
const char *mfl_opcode_name(int opcode);

#ifdef __cplusplus
}
#endif

#endif /* MFL_MODEL_H */
