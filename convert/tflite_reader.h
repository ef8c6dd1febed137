/*
 * Internal: a bounds-checked reader of the parts of the TFLite flatbuffer
 * schema (tensorflow/lite/schema/schema.fbs) that microfl imports.
 * Every offset read from the file is checked against the buffer before use;
 * allocations are bounded by counts already proven to fit in the file.
 */
#ifndef MFL_TFLITE_READER_H
#define MFL_TFLITE_READER_H

#include <stddef.h>
#include <stdint.h>

/* TFLite enum values used by the importer. */
enum {
    TFL_TYPE_FLOAT32 = 0, TFL_TYPE_INT32 = 2, TFL_TYPE_UINT8 = 3, TFL_TYPE_INT8 = 9,
    TFL_TYPE_INT64 = 4, TFL_TYPE_INT16 = 7,
};
enum {
    TFL_OP_ADD = 0, TFL_OP_AVERAGE_POOL_2D = 1, TFL_OP_CONV_2D = 3, TFL_OP_DEPTHWISE_CONV_2D = 4,
    TFL_OP_FULLY_CONNECTED = 9, TFL_OP_MAX_POOL_2D = 17, TFL_OP_RESHAPE = 22, TFL_OP_SOFTMAX = 25,
    TFL_OP_CUSTOM = 32, TFL_OP_LOGISTIC = 14, TFL_OP_RELU = 19, TFL_OP_RELU6 = 21, TFL_OP_TANH = 28,
    TFL_OP_LEAKY_RELU = 98, TFL_OP_HARD_SWISH = 117, TFL_OP_PAD = 34, TFL_OP_TRANSPOSE = 39, TFL_OP_MEAN = 40,
    TFL_OP_SQUEEZE = 43, TFL_OP_STRIDED_SLICE = 45, TFL_OP_PADV2 = 60, TFL_OP_EXPAND_DIMS = 70,
    TFL_OP_QUANTIZE = 114, TFL_OP_CONCATENATION = 2, TFL_OP_MUL = 18, TFL_OP_SUB = 41, TFL_OP_MAXIMUM = 55,
    TFL_OP_MINIMUM = 57,
};
enum { TFL_OP_TRANSPOSE_CONV = 67 };
enum { TFL_PADDING_SAME = 0, TFL_PADDING_VALID = 1 };

#define TFL_MAX_RANK 8
#define TFL_MAX_OP_INPUTS 8
#define TFL_MAX_IO 8 /* model inputs, and outputs (MFL_MODEL_MAX_IO) */

typedef struct {
    int32_t type;
    int32_t rank;
    int32_t dims[TFL_MAX_RANK];
    uint32_t n_scales;
    float *scales;          /* n_scales, malloc'd */
    uint32_t n_zero_points;
    int64_t *zero_points;   /* n_zero_points, malloc'd */
    int32_t quantized_dimension;
    const uint8_t *data;    /* constant contents inside the file, or NULL */
    size_t data_size;
    char name[48];
} tfl_tensor_t;

typedef struct {
    int32_t builtin; /* BuiltinOperator */
    int32_t n_inputs;
    int32_t inputs[TFL_MAX_OP_INPUTS]; /* -1 = absent optional input */
    int32_t n_outputs;
    int32_t output;
    int32_t has_options;
    /* Decoded builtin options (those of the op's own options table). */
    int32_t padding, stride_w, stride_h, dilation_w, dilation_h;
    int32_t filter_w, filter_h, depth_multiplier, activation;
    int32_t weights_format;
    float beta;
    float alpha;       /* LEAKY_RELU */
    int32_t keep_dims; /* MEAN (ReducerOptions) */
    /* STRIDED_SLICE */
    int32_t begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask, offset;
    int32_t axis; /* CONCATENATION */
} tfl_op_t;

typedef struct {
    uint32_t n_tensors;
    tfl_tensor_t *tensors;
    uint32_t n_ops;
    tfl_op_t *ops;
    uint32_t n_inputs, n_outputs; /* 1 .. TFL_MAX_IO each */
    int32_t inputs[TFL_MAX_IO], outputs[TFL_MAX_IO]; /* tensor indices (unchecked) */
} tfl_model_t;

/* Parses buf. On error returns MFL_ERR_TFLITE_* with a sentence in msg. */
int tfl_read(const uint8_t *buf, size_t len, tfl_model_t *model, char *msg, size_t msg_cap);
void tfl_free(tfl_model_t *model);
/* TFLite's name of a builtin operator code ("CONV_2D"), for messages
 * (tflite_op_names.c). */
const char *tfl_op_name(int32_t builtin);

#endif /* MFL_TFLITE_READER_H */
