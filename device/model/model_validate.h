/* Internal: per-operator validation used by mfl_model_load (model.c), and
 * the checks and runners the operator registrations (op_resolver.c) name. */
#ifndef MFL_MODEL_VALIDATE_H
#define MFL_MODEL_VALIDATE_H

#include "mfl/error.h"
#include "mfl/interpreter.h"
#include "mfl/kernels.h"
#include "mfl/model.h"
#include "mfl/op_resolver.h"

/* Limits that keep every index computation of the kernels inside int32. */
#define MFL_MAX_DIM 65535
#define MFL_MAX_STRIDE 255
#define MFL_MAX_PAD 65535

/* What a runner sees: the model, the arena, and the requantization
 * override of mfl_interp_set_override (or NULL). */
typedef struct {
    const mfl_model_t *m;
    uint8_t *arena;
    const mfl_requant_override_t *override;
} mfl_run_ctx_t;

/* Checks one operator record against its tensors and parameters; returns
 * 0 or MFL_ERR_MODEL_OP/SHAPE/PARAMS. */
typedef int (*mfl_op_check_fn)(const mfl_model_t *m, const mfl_op_rec_t *op);
/* Runs one operator its check accepted over the arena. */
typedef void (*mfl_op_run_fn)(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);

/* One operator for one output type (public and opaque: mfl/op_resolver.h;
 * the registrations are op_resolver.c). type is MFL_TYPE_INT16 for the
 * 16x8 operators and MFL_TYPE_INT8 for every other output type (whose
 * checks refuse what is not int8). */
struct mfl_op_reg {
    uint8_t opcode;
    uint8_t type;
    mfl_op_check_fn check;
    mfl_op_run_fn run;
};

/* The registration of `opcode` with an output of `out_type` in r, or NULL. */
const mfl_op_reg_t *mfl_op_find(const mfl_op_resolver_t *r, int opcode, int out_type);

/* Checks one operator record through the resolver: the record's indices
 * and parameter range, then the registration's check, then its scratch.
 * Returns 0, MFL_ERR_MODEL_OP/SHAPE/PARAMS, MFL_ERR_UNSUPPORTED_OP or
 * MFL_ERR_OP_NOT_REGISTERED (model_ops.c). */
int mfl_validate_op(const mfl_model_t *m, const mfl_op_rec_t *op, const mfl_op_resolver_t *r);

/* The int8 checks (model_ops.c) and runners (interpreter.c). */
int mfl_check_conv_2d_s8(const mfl_model_t *m, const mfl_op_rec_t *op);
int mfl_check_depthwise_conv_2d_s8(const mfl_model_t *m, const mfl_op_rec_t *op);
int mfl_check_fully_connected_s8(const mfl_model_t *m, const mfl_op_rec_t *op);
int mfl_check_pool_2d_s8(const mfl_model_t *m, const mfl_op_rec_t *op);
int mfl_check_add_s8(const mfl_model_t *m, const mfl_op_rec_t *op); /* ADD and SUB */
int mfl_check_mul_s8(const mfl_model_t *m, const mfl_op_rec_t *op);
int mfl_check_maximum_minimum_s8(const mfl_model_t *m, const mfl_op_rec_t *op);
int mfl_check_concatenation_s8(const mfl_model_t *m, const mfl_op_rec_t *op);
int mfl_check_reshape_s8(const mfl_model_t *m, const mfl_op_rec_t *op);
int mfl_check_softmax_s8(const mfl_model_t *m, const mfl_op_rec_t *op);
int mfl_check_requantize_s8(const mfl_model_t *m, const mfl_op_rec_t *op); /* RELU and QUANTIZE */
int mfl_check_relu6_s8(const mfl_model_t *m, const mfl_op_rec_t *op);
int mfl_check_leaky_relu_s8(const mfl_model_t *m, const mfl_op_rec_t *op);
int mfl_check_sigmoid_s8(const mfl_model_t *m, const mfl_op_rec_t *op); /* LOGISTIC and TANH */
int mfl_check_hard_swish_s8(const mfl_model_t *m, const mfl_op_rec_t *op);
int mfl_check_pad_s8(const mfl_model_t *m, const mfl_op_rec_t *op);
int mfl_check_mean_s8(const mfl_model_t *m, const mfl_op_rec_t *op);
int mfl_check_strided_slice_s8(const mfl_model_t *m, const mfl_op_rec_t *op);
int mfl_check_transpose_s8(const mfl_model_t *m, const mfl_op_rec_t *op);

void mfl_run_conv_2d_s8(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_depthwise_conv_2d_s8(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_fully_connected_s8(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_average_pool_2d_s8(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_max_pool_2d_s8(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_add_s8(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_sub_s8(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_mul_s8(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_maximum_s8(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_minimum_s8(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_concatenation_s8(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_reshape_s8(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_softmax_s8(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_requantize_s8(const mfl_run_ctx_t *c, const mfl_op_rec_t *op); /* RELU and QUANTIZE */
void mfl_run_relu6_s8(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_leaky_relu_s8(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_logistic_s8(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_tanh_s8(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_hard_swish_s8(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_pad_s8(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_mean_s8(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_strided_slice_s8(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_transpose_s8(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);

/* The 16x8 checks (model_ops_s16.c: each also checks the int16 output and
 * that there is no scratch) and runners (interpreter_s16.c). */
int mfl_check_conv_2d_s16(const mfl_model_t *m, const mfl_op_rec_t *op);
int mfl_check_transpose_conv_s16(const mfl_model_t *m, const mfl_op_rec_t *op);
int mfl_check_add_s16(const mfl_model_t *m, const mfl_op_rec_t *op); /* ADD and SUB */
int mfl_check_leaky_relu_s16(const mfl_model_t *m, const mfl_op_rec_t *op);
int mfl_check_quantize_s16(const mfl_model_t *m, const mfl_op_rec_t *op);
int mfl_check_pad_s16(const mfl_model_t *m, const mfl_op_rec_t *op);
int mfl_check_strided_slice_s16(const mfl_model_t *m, const mfl_op_rec_t *op);

void mfl_run_conv_2d_s16(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_transpose_conv_s16(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_add_s16(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_sub_s16(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_leaky_relu_s16(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_quantize_s16(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_pad_s16(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);
void mfl_run_strided_slice_s16(const mfl_run_ctx_t *c, const mfl_op_rec_t *op);

/* STRIDED_SLICE of either element type: on every axis the first and the
 * last index visited lie inside the input, and the output holds exactly
 * the elements visited (model_ops.c). Returns 0 or MFL_ERR_MODEL_PARAMS /
 * MFL_ERR_MODEL_SHAPE; the caller checked the tensors and the block size. */
int mfl_check_slice_window(const mfl_model_t *m, const mfl_op_rec_t *op);

/* PAD of either element type: input and output of one rank, amounts >= 0
 * adding up to the output's shape, the pad value within [lo, hi]
 * (model_ops.c). Returns 0 or MFL_ERR_MODEL_PARAMS / MFL_ERR_MODEL_SHAPE;
 * the caller checked the tensors and the block size. */
int mfl_check_pad_window(const mfl_model_t *m, const mfl_op_rec_t *op, int32_t lo, int32_t hi);

/* A tensor's shape right-aligned to four dimensions (leading ones): the
 * broadcast and shape operators' view (model.c). */
void mfl_tensor_dims4(const mfl_tensor_rec_t *t, int32_t d[4]);

/* NHWC view of a tensor of rank 1..4: leading missing dims are 1, i.e.
 * rank 2 [n, c] is n x 1 x 1 x c. */
mfl_dims_t mfl_tensor_dims(const mfl_tensor_rec_t *t);

/* Pointer to an op's int32 parameter words (the loader checked the range). */
static inline const int32_t *mfl_op_params(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    return (const int32_t *)(const void *)(m->data + op->params_offset);
}

/* PAD's and STRIDED_SLICE's parameter words as the kernels take them, for
 * either element type. */
static inline mfl_pad_params_t mfl_pad_params(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    const mfl_pad_rec_t *r = (const mfl_pad_rec_t *)(const void *)mfl_op_params(m, op);
    mfl_pad_params_t p;
    for (int i = 0; i < 4; i++) {
        p.before[i] = r->before[i];
        p.after[i] = r->after[i];
    }
    p.pad_value = r->pad_value;
    return p;
}

static inline mfl_slice_params_t mfl_slice_params(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    const mfl_slice_rec_t *r = (const mfl_slice_rec_t *)(const void *)mfl_op_params(m, op);
    mfl_slice_params_t p;
    for (int i = 0; i < 4; i++) {
        p.start[i] = r->start[i];
        p.stride[i] = r->stride[i];
        p.count[i] = r->count[i];
    }
    return p;
}

#endif /* MFL_MODEL_VALIDATE_H */
