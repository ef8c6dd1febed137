/* Internal: shared state and helpers of the .tflite importer. */
#ifndef MFL_TFLITE_IMPORT_INTERNAL_H
#define MFL_TFLITE_IMPORT_INTERNAL_H

#include "mfl/host/model_writer.h"
#include "tflite_reader.h"

typedef struct {
    const tfl_model_t *tm;
    mfl_model_builder_t *b;
    uint16_t *map; /* TFLite tensor index -> microfl tensor index */
    char *msg;
    size_t msg_cap;
    uint32_t op_index;
    int err;
    int s16; /* set while a 16x8 operator is imported: activations may be int16 or int32 */
} importer_t;

/* Records the first error with a message naming the current operator. */
int imp_fail(importer_t *im, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const tfl_tensor_t *imp_tensor(importer_t *im, int32_t index);
int imp_per_tensor_quant(importer_t *im, const tfl_tensor_t *t, float *scale, int32_t *zp);
int imp_check_rank(importer_t *im, const tfl_tensor_t *t, int min, int max);
int imp_map_activation(importer_t *im, int32_t index, uint16_t *out);
int imp_map_const(importer_t *im, int32_t index, int type, int rank, uint16_t *out);
int imp_optional_bias(importer_t *im, const tfl_op_t *op, int32_t channels, uint16_t *out);
int imp_activation_range(importer_t *im, int32_t activation, int32_t out_index, int32_t *lo, int32_t *hi);
int imp_spatial_axis(importer_t *im, int32_t padding, int32_t in, int32_t filter, int32_t stride,
                     int32_t dilation, int32_t out, int32_t *pad);
int imp_requant_words(importer_t *im, const tfl_tensor_t *w, int32_t channels, float in_scale,
                      float out_scale, int32_t *mult, int32_t *shift);

/* One function per supported operator (tflite_import_ops.c). */
int imp_conv(importer_t *im, const tfl_op_t *op, int depthwise);
int imp_fully_connected(importer_t *im, const tfl_op_t *op);
int imp_pool(importer_t *im, const tfl_op_t *op, int opcode);
int imp_add(importer_t *im, const tfl_op_t *op);
int imp_reshape(importer_t *im, const tfl_op_t *op);
int imp_softmax(importer_t *im, const tfl_op_t *op);
int imp_relu(importer_t *im, const tfl_op_t *op);
int imp_relu6(importer_t *im, const tfl_op_t *op);
int imp_leaky_relu(importer_t *im, const tfl_op_t *op);
int imp_logistic(importer_t *im, const tfl_op_t *op);
int imp_tanh(importer_t *im, const tfl_op_t *op);
int imp_hard_swish(importer_t *im, const tfl_op_t *op);
int imp_quantize(importer_t *im, const tfl_op_t *op);
int imp_pad(importer_t *im, const tfl_op_t *op);
int imp_mean(importer_t *im, const tfl_op_t *op);
int imp_strided_slice(importer_t *im, const tfl_op_t *op);
int imp_transpose(importer_t *im, const tfl_op_t *op);
int imp_sub(importer_t *im, const tfl_op_t *op);
int imp_mul(importer_t *im, const tfl_op_t *op);
int imp_maximum_minimum(importer_t *im, const tfl_op_t *op, int opcode);
int imp_concatenation(importer_t *im, const tfl_op_t *op);

/* The 16x8 operators: every op with an int16 output, and TRANSPOSE_CONV
 * (tflite_import_s16.c). */
int imp_is_s16_op(const importer_t *im, const tfl_op_t *op);
int imp_op_s16(importer_t *im, const tfl_op_t *op);

#endif /* MFL_TFLITE_IMPORT_INTERNAL_H */
