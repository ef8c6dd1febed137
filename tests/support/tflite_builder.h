/*
 * A small writer of .tflite flatbuffers for tests: builds models with
 * exactly the tensors, operators and options a test needs, so that the
 * importer's errors can be provoked one at a time. Objects are laid out
 * parents first (flatbuffer offsets only point forward), each vtable just
 * before its table.
 */
#ifndef MFL_TFLITE_BUILDER_H
#define MFL_TFLITE_BUILDER_H

#include <stddef.h>
#include <stdint.h>

enum { TB_NONE = 0, TB_U8, TB_I32, TB_F32 };

typedef struct {
    int kind;      /* TB_NONE (absent), TB_U8, TB_I32 or TB_F32 */
    int32_t i;
    float f;
} tb_field_t;

typedef struct {
    int32_t type;            /* TFLite TensorType (9 = int8, 2 = int32, 0 = float32) */
    int rank;
    int32_t dims[4];
    int n_scales;            /* 0: no quantization table */
    float scales[8];
    int64_t zero_points[8];  /* n_scales entries */
    int32_t quantized_dimension;
    const void *data;        /* constant contents or NULL */
    size_t data_size;
} tb_tensor_t;

typedef struct {
    int32_t builtin;
    int n_inputs;
    int32_t inputs[4];
    int32_t output;
    uint8_t options_type;    /* BuiltinOptions union type, 0 = none */
    int n_options;
    tb_field_t options[8];   /* the options table's fields in schema order */
} tb_op_t;

typedef struct {
    uint32_t schema_version; /* 3 */
    int n_subgraphs;         /* 1 (more are written as copies) */
    const tb_tensor_t *tensors;
    int n_tensors;
    const tb_op_t *ops;
    int n_ops;
    int32_t input, output;
} tb_model_t;

/* Writes the model into *out (malloc'd) of *len bytes. */
void tb_build(const tb_model_t *model, uint8_t **out, size_t *len);

#endif
