/* Internal: per-operator validation used by mfl_model_load (model.c). */
#ifndef MFL_MODEL_VALIDATE_H
#define MFL_MODEL_VALIDATE_H

#include "mfl/kernels.h"
#include "mfl/model.h"

/* Limits that keep every index computation of the kernels inside int32. */
#define MFL_MAX_DIM 65535
#define MFL_MAX_STRIDE 255
#define MFL_MAX_PAD 65535

/* Checks one operator record against its tensors and parameters. */
int mfl_validate_op(const mfl_model_t *m, const mfl_op_rec_t *op);

/* The same for an operator whose output is an int16 tensor: the 16x8
 * operators (model_ops_s16.c). */
int mfl_validate_op_s16(const mfl_model_t *m, const mfl_op_rec_t *op);

/* Runs a validated 16x8 operator over the arena (interpreter_s16.c). */
void mfl_run_op_s16(const mfl_model_t *m, uint8_t *arena, const mfl_op_rec_t *op);

/* NHWC view of a tensor of rank 1..4: leading missing dims are 1, i.e.
 * rank 2 [n, c] is n x 1 x 1 x c. */
mfl_dims_t mfl_tensor_dims(const mfl_tensor_rec_t *t);

/* Pointer to an op's int32 parameter words (the loader checked the range). */
static inline const int32_t *mfl_op_params(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    return (const int32_t *)(const void *)(m->data + op->params_offset);
}

#endif /* MFL_MODEL_VALIDATE_H */
