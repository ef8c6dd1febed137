/*
 * Host-only builder of microfl model images (.mfl): collects tensors,
 * constant data and operators, plans the arena (planner.h) and lays out the
 * image described in model.h. Used by the .tflite importer and, later, by
 * the post-training quantizer.
 */
#ifndef MFL_MODEL_WRITER_H
#define MFL_MODEL_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "mfl/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mfl_model_builder mfl_model_builder_t;

/* Creates an empty builder. Returns 0 or MFL_ERR_NO_MEMORY. */
int mfl_builder_new(mfl_model_builder_t **builder);
void mfl_builder_free(mfl_model_builder_t *builder);

/* Adds a tensor. dims has `rank` entries (1..4). data is NULL for an
 * activation (planned in the arena) or the constant contents, copied in
 * (int8: one byte per element; int32: four, host order).
 * *index receives the new tensor's index. */
int mfl_builder_add_tensor(mfl_model_builder_t *b, int type, int rank, const int32_t *dims,
                           int32_t zero_point, const void *data, uint16_t *index);

/* Appends an operator with its parameter words (copied). inputs has
 * n_inputs entries, MFL_NONE for an absent optional one. */
int mfl_builder_add_op(mfl_model_builder_t *b, int opcode, int n_inputs, const uint16_t *inputs,
                       uint16_t output, const int32_t *params, size_t n_params);

/* Declares one int8 input and one int8 output whose scales are not
 * recorded, replacing earlier declarations. */
int mfl_builder_set_io(mfl_model_builder_t *b, uint16_t input, uint16_t output);

/* Appends a model input (output), in order: an activation tensor, what the
 * source model exchanged there (MFL_IO_INT8, or MFL_IO_FLOAT32 for an edge
 * whose QUANTIZE / DEQUANTIZE was taken off) and its real scale as TFLite
 * stores it (positive normal; 0 = not recorded, int8 edges only). Returns
 * 0, MFL_ERR_INVALID_ARG, or MFL_ERR_MODEL_LIMITS past MFL_MODEL_MAX_IO. */
int mfl_builder_add_input(mfl_model_builder_t *b, uint16_t tensor, int type, float scale);
int mfl_builder_add_output(mfl_model_builder_t *b, uint16_t tensor, int type, float scale);

/* Marks the trainable head (a FULLY_CONNECTED op; its input tensor becomes
 * the feature vector) with its real scales: feature and output (logits)
 * tensor scales and one weight scale per unit (the head's units). */
int mfl_builder_set_head(mfl_model_builder_t *b, uint16_t head_op, double feature_scale, double output_scale,
                         const double *weight_scales, int units);

/* Number of operators added so far. */
uint16_t mfl_builder_op_count(const mfl_model_builder_t *b);

/* Plans the arena and writes the image into *image (malloc'd, the caller
 * frees it) of *size bytes. The result is checked with mfl_model_load().
 * Returns 0, MFL_ERR_NO_MEMORY, MFL_ERR_MODEL_LIMITS or a load error. */
int mfl_builder_finish(mfl_model_builder_t *b, uint8_t **image, size_t *size);

#ifdef __cplusplus
}
#endif

#endif /* MFL_MODEL_WRITER_H */
