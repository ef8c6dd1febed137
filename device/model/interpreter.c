/*
 * The interpreter: turns each validated operator record into a kernel call,
 * through the registration (op_resolver.c) the model was loaded with. All
 * checks happened in mfl_model_load_ops(); here only pointers are formed.
 * One runner per operator and output type, each naming its own kernel only,
 * so that a firmware links the kernels of the operators it registers.
 */
#include <string.h>

#include "mfl/interpreter.h"
#include "mfl/kernels.h"
#include "mfl/quant.h"
#include "model_validate.h"

typedef mfl_run_ctx_t run_ctx_t;

static const mfl_tensor_rec_t *rec(const run_ctx_t *c, uint16_t t)
{
    return &c->m->tensors[t];
}

static const void *tensor_data(const run_ctx_t *c, uint16_t t)
{
    const mfl_tensor_rec_t *r = rec(c, t);
    return (r->flags & MFL_TENSOR_CONST) ? (const void *)(c->m->data + r->offset)
                                         : (const void *)(c->arena + r->offset);
}

static int8_t *tensor_out(const run_ctx_t *c, uint16_t t)
{
    return (int8_t *)(c->arena + rec(c, t)->offset);
}

static const int32_t *optional_bias(const run_ctx_t *c, uint16_t t)
{
    return t == MFL_NONE ? NULL : (const int32_t *)tensor_data(c, t);
}

static void run_conv(const run_ctx_t *c, const mfl_op_rec_t *op, int depthwise)
{
    const mfl_conv_rec_t *r = (const mfl_conv_rec_t *)(const void *)mfl_op_params(c->m, op);
    const int32_t *mult = mfl_op_params(c->m, op) + sizeof(*r) / 4;
    const mfl_dims_t in = mfl_tensor_dims(rec(c, op->inputs[0]));
    const mfl_dims_t f = mfl_tensor_dims(rec(c, op->inputs[1]));
    const mfl_dims_t out = mfl_tensor_dims(rec(c, op->output));
    const mfl_conv_params_t p = {
        .stride_w = r->stride_w, .stride_h = r->stride_h,
        .dilation_w = r->dilation_w, .dilation_h = r->dilation_h,
        .pad_w = r->pad_w, .pad_h = r->pad_h,
        .input_offset = -rec(c, op->inputs[0])->zero_point,
        .output_offset = rec(c, op->output)->zero_point,
        .act_min = r->act_min, .act_max = r->act_max,
    };
    const mfl_requant_override_t *o = c->override;
    const int replaced = o && &c->m->ops[o->op] == op;
    const mfl_requant_t q = replaced ? (mfl_requant_t){o->multiplier, o->shift} : (mfl_requant_t){mult, mult + out.c};
    const int32_t *bias = replaced ? o->bias : optional_bias(c, op->inputs[2]);
    if (depthwise) {
        mfl_depthwise_conv2d_s8(&p, &q, &in, tensor_data(c, op->inputs[0]), &f, tensor_data(c, op->inputs[1]), bias,
                                &out, tensor_out(c, op->output));
    } else {
        const uint16_t s = mfl_op_scratch(c->m, op);
        const mfl_kernel_ctx_t ctx = {s == MFL_NONE ? NULL : c->arena + rec(c, s)->offset,
                                      s == MFL_NONE ? 0 : rec(c, s)->size};
        mfl_conv2d_s8(&ctx, &p, &q, &in, tensor_data(c, op->inputs[0]), &f, tensor_data(c, op->inputs[1]), bias,
                      &out, tensor_out(c, op->output));
    }
}

void mfl_run_conv_2d_s8(const run_ctx_t *c, const mfl_op_rec_t *op)
{
    run_conv(c, op, 0);
}

void mfl_run_depthwise_conv_2d_s8(const run_ctx_t *c, const mfl_op_rec_t *op)
{
    run_conv(c, op, 1);
}

void mfl_run_fully_connected_s8(const run_ctx_t *c, const mfl_op_rec_t *op)
{
    const mfl_fc_rec_t *r = (const mfl_fc_rec_t *)(const void *)mfl_op_params(c->m, op);
    const int32_t *mult = mfl_op_params(c->m, op) + sizeof(*r) / 4;
    const mfl_tensor_rec_t *w = rec(c, op->inputs[1]);
    const int32_t units = w->dims[0];
    const int32_t features = w->dims[1];
    const int32_t batches = (int32_t)(mfl_tensor_elements(rec(c, op->inputs[0])) / (uint32_t)features);
    const mfl_fc_params_t p = {
        .input_offset = -rec(c, op->inputs[0])->zero_point,
        .output_offset = rec(c, op->output)->zero_point,
        .act_min = r->act_min, .act_max = r->act_max,
        .per_channel = r->n_multipliers > 1,
    };
    const mfl_requant_t q = {mult, mult + r->n_multipliers};
    mfl_fully_connected_s8(&p, &q, batches, features, tensor_data(c, op->inputs[0]), units,
                           tensor_data(c, op->inputs[1]), optional_bias(c, op->inputs[2]),
                           tensor_out(c, op->output));
}

static mfl_pool_params_t pool_params(const run_ctx_t *c, const mfl_op_rec_t *op)
{
    const mfl_pool_rec_t *r = (const mfl_pool_rec_t *)(const void *)mfl_op_params(c->m, op);
    const mfl_pool_params_t p = {r->stride_w, r->stride_h, r->filter_w, r->filter_h,
                                 r->pad_w, r->pad_h, r->act_min, r->act_max};
    return p;
}

void mfl_run_average_pool_2d_s8(const run_ctx_t *c, const mfl_op_rec_t *op)
{
    const mfl_pool_params_t p = pool_params(c, op);
    const mfl_dims_t in = mfl_tensor_dims(rec(c, op->inputs[0]));
    const mfl_dims_t out = mfl_tensor_dims(rec(c, op->output));
    mfl_avg_pool2d_s8(&p, &in, tensor_data(c, op->inputs[0]), &out, tensor_out(c, op->output));
}

void mfl_run_max_pool_2d_s8(const run_ctx_t *c, const mfl_op_rec_t *op)
{
    const mfl_pool_params_t p = pool_params(c, op);
    const mfl_dims_t in = mfl_tensor_dims(rec(c, op->inputs[0]));
    const mfl_dims_t out = mfl_tensor_dims(rec(c, op->output));
    mfl_max_pool2d_s8(&p, &in, tensor_data(c, op->inputs[0]), &out, tensor_out(c, op->output));
}

/* ADD, SUB, MUL, MAXIMUM, MINIMUM: the broadcast is the three shapes the
 * loader checked. */
typedef struct {
    mfl_broadcast_t shape;
    const int8_t *in1, *in2;
    int8_t *out;
    int32_t offset1, offset2, out_offset;
} binary_t;

static binary_t binary_args(const run_ctx_t *c, const mfl_op_rec_t *op)
{
    binary_t b;
    mfl_tensor_dims4(rec(c, op->inputs[0]), b.shape.in1);
    mfl_tensor_dims4(rec(c, op->inputs[1]), b.shape.in2);
    mfl_tensor_dims4(rec(c, op->output), b.shape.out);
    b.in1 = tensor_data(c, op->inputs[0]);
    b.in2 = tensor_data(c, op->inputs[1]);
    b.out = tensor_out(c, op->output);
    b.offset1 = -rec(c, op->inputs[0])->zero_point;
    b.offset2 = -rec(c, op->inputs[1])->zero_point;
    b.out_offset = rec(c, op->output)->zero_point;
    return b;
}

static mfl_add_params_t add_params(const run_ctx_t *c, const mfl_op_rec_t *op, const binary_t *b)
{
    const mfl_add_rec_t *r = (const mfl_add_rec_t *)(const void *)mfl_op_params(c->m, op);
    const mfl_add_params_t p = {
        .input1_offset = b->offset1, .input2_offset = b->offset2, .output_offset = b->out_offset,
        .left_shift = r->left_shift,
        .input1_multiplier = r->in1_multiplier, .input1_shift = r->in1_shift,
        .input2_multiplier = r->in2_multiplier, .input2_shift = r->in2_shift,
        .output_multiplier = r->out_multiplier, .output_shift = r->out_shift,
        .act_min = r->act_min, .act_max = r->act_max,
    };
    return p;
}

void mfl_run_add_s8(const run_ctx_t *c, const mfl_op_rec_t *op)
{
    const binary_t b = binary_args(c, op);
    const mfl_add_params_t p = add_params(c, op, &b);
    mfl_add_s8_broadcast(&p, &b.shape, b.in1, b.in2, b.out);
}

void mfl_run_sub_s8(const run_ctx_t *c, const mfl_op_rec_t *op)
{
    const binary_t b = binary_args(c, op);
    const mfl_add_params_t p = add_params(c, op, &b);
    mfl_sub_s8_broadcast(&p, &b.shape, b.in1, b.in2, b.out);
}

void mfl_run_mul_s8(const run_ctx_t *c, const mfl_op_rec_t *op)
{
    const binary_t b = binary_args(c, op);
    const mfl_requantize_rec_t *r = (const mfl_requantize_rec_t *)(const void *)mfl_op_params(c->m, op);
    const mfl_mul_params_t p = {b.offset1, b.offset2, b.out_offset, r->multiplier, r->shift, r->act_min, r->act_max};
    mfl_mul_s8_broadcast(&p, &b.shape, b.in1, b.in2, b.out);
}

void mfl_run_maximum_s8(const run_ctx_t *c, const mfl_op_rec_t *op)
{
    const binary_t b = binary_args(c, op);
    mfl_maximum_s8(&b.shape, b.in1, b.in2, b.out);
}

void mfl_run_minimum_s8(const run_ctx_t *c, const mfl_op_rec_t *op)
{
    const binary_t b = binary_args(c, op);
    mfl_minimum_s8(&b.shape, b.in1, b.in2, b.out);
}

void mfl_run_concatenation_s8(const run_ctx_t *c, const mfl_op_rec_t *op)
{
    int32_t dims[3][4];
    const int8_t *inputs[3];
    for (int k = 0; k < op->n_inputs; k++) {
        mfl_tensor_dims4(rec(c, op->inputs[k]), dims[k]);
        inputs[k] = tensor_data(c, op->inputs[k]);
    }
    const mfl_concat_rec_t *r = (const mfl_concat_rec_t *)(const void *)mfl_op_params(c->m, op);
    mfl_concatenation_s8(r->axis, op->n_inputs, (const int32_t(*)[4])dims, inputs, tensor_out(c, op->output));
}

void mfl_run_softmax_s8(const run_ctx_t *c, const mfl_op_rec_t *op)
{
    const mfl_softmax_rec_t *r = (const mfl_softmax_rec_t *)(const void *)mfl_op_params(c->m, op);
    const mfl_softmax_params_t p = {r->multiplier, r->left_shift, r->diff_min};
    const mfl_tensor_rec_t *in = rec(c, op->inputs[0]);
    const int32_t depth = in->dims[in->rank - 1];
    const int32_t rows = (int32_t)(mfl_tensor_elements(in) / (uint32_t)depth);
    mfl_softmax_s8(&p, rows, depth, tensor_data(c, op->inputs[0]), tensor_out(c, op->output));
}

void mfl_run_reshape_s8(const run_ctx_t *c, const mfl_op_rec_t *op)
{
    const void *src = tensor_data(c, op->inputs[0]);
    int8_t *dst = tensor_out(c, op->output);
    if ((const void *)dst != src) { /* the planner normally aliases them */
        memmove(dst, src, rec(c, op->output)->size);
    }
}

/* Element-wise ops of one input (kernels.h): a flat loop over the output. */
typedef struct {
    const int32_t *w; /* the parameter words */
    int32_t in_offset, out_offset, n;
    const int8_t *in;
    int8_t *out;
} unary_t;

static unary_t unary_args(const run_ctx_t *c, const mfl_op_rec_t *op)
{
    const unary_t u = {
        .w = mfl_op_params(c->m, op),
        .in_offset = -rec(c, op->inputs[0])->zero_point,
        .out_offset = rec(c, op->output)->zero_point,
        .n = (int32_t)mfl_tensor_elements(rec(c, op->output)),
        .in = tensor_data(c, op->inputs[0]),
        .out = tensor_out(c, op->output),
    };
    return u;
}

void mfl_run_requantize_s8(const run_ctx_t *c, const mfl_op_rec_t *op)
{
    const unary_t u = unary_args(c, op);
    const mfl_requantize_params_t p = {u.in_offset, u.out_offset, u.w[0], u.w[1], u.w[2], u.w[3]};
    mfl_requantize_s8(&p, u.n, u.in, u.out);
}

void mfl_run_relu6_s8(const run_ctx_t *c, const mfl_op_rec_t *op)
{
    const unary_t u = unary_args(c, op);
    mfl_relu6_s8(u.w[0], u.w[1], u.n, u.in, u.out);
}

void mfl_run_leaky_relu_s8(const run_ctx_t *c, const mfl_op_rec_t *op)
{
    const unary_t u = unary_args(c, op);
    const mfl_leaky_relu_params_t p = {u.in_offset, u.out_offset, u.w[0], u.w[1], u.w[2], u.w[3]};
    mfl_leaky_relu_s8(&p, u.n, u.in, u.out);
}

void mfl_run_logistic_s8(const run_ctx_t *c, const mfl_op_rec_t *op)
{
    const unary_t u = unary_args(c, op);
    const mfl_sigmoid_params_t p = {u.in_offset, u.w[0], u.w[1], u.w[2]};
    mfl_logistic_s8(&p, u.n, u.in, u.out);
}

void mfl_run_tanh_s8(const run_ctx_t *c, const mfl_op_rec_t *op)
{
    const unary_t u = unary_args(c, op);
    const mfl_sigmoid_params_t p = {u.in_offset, u.w[0], u.w[1], u.w[2]};
    mfl_tanh_s8(&p, u.n, u.in, u.out);
}

void mfl_run_hard_swish_s8(const run_ctx_t *c, const mfl_op_rec_t *op)
{
    const unary_t u = unary_args(c, op);
    const mfl_hard_swish_params_t p = {u.in_offset, u.out_offset, u.w[0], u.w[1], u.w[2], u.w[3]};
    mfl_hard_swish_s8(&p, u.n, u.in, u.out);
}

/* PAD, STRIDED_SLICE, TRANSPOSE and MEAN: shapes and parameter words as the
 * loader checked them. */
void mfl_run_pad_s8(const run_ctx_t *c, const mfl_op_rec_t *op)
{
    const mfl_pad_params_t p = mfl_pad_params(c->m, op);
    int32_t d[4];
    mfl_tensor_dims4(rec(c, op->inputs[0]), d);
    mfl_pad_s8(&p, d, tensor_data(c, op->inputs[0]), tensor_out(c, op->output));
}

void mfl_run_strided_slice_s8(const run_ctx_t *c, const mfl_op_rec_t *op)
{
    const mfl_slice_params_t p = mfl_slice_params(c->m, op);
    int32_t d[4];
    mfl_tensor_dims4(rec(c, op->inputs[0]), d);
    mfl_strided_slice_s8(&p, d, tensor_data(c, op->inputs[0]), tensor_out(c, op->output));
}

void mfl_run_transpose_s8(const run_ctx_t *c, const mfl_op_rec_t *op)
{
    const mfl_transpose_rec_t *r = (const mfl_transpose_rec_t *)(const void *)mfl_op_params(c->m, op);
    int32_t d[4];
    mfl_tensor_dims4(rec(c, op->inputs[0]), d);
    mfl_transpose_s8(r->perm, d, tensor_data(c, op->inputs[0]), tensor_out(c, op->output));
}

void mfl_run_mean_s8(const run_ctx_t *c, const mfl_op_rec_t *op)
{
    const mfl_requantize_rec_t *r = (const mfl_requantize_rec_t *)(const void *)mfl_op_params(c->m, op);
    const mfl_mean_params_t p = {-rec(c, op->inputs[0])->zero_point, rec(c, op->output)->zero_point,
                                 r->multiplier, r->shift};
    const mfl_dims_t in_dims = mfl_tensor_dims(rec(c, op->inputs[0]));
    mfl_mean_hw_s8(&p, &in_dims, tensor_data(c, op->inputs[0]), tensor_out(c, op->output));
}

int mfl_interp_init(mfl_interp_t *it, const mfl_model_t *model, void *arena, size_t arena_size)
{
    if (!it || !model || !model->header || !model->resolver || (!arena && arena_size > 0)) {
        return MFL_ERR_INVALID_ARG;
    }
    if (arena_size < mfl_model_arena_size(model)) {
        return MFL_ERR_ARENA_TOO_SMALL;
    }
    it->model = model;
    it->arena = arena;
    it->arena_size = arena_size;
    it->override = NULL;
    return 0;
}

static int valid_override(const mfl_model_t *m, const mfl_requant_override_t *o)
{
    if (o->op >= m->header->n_ops || !o->bias || !o->multiplier || !o->shift) {
        return 0;
    }
    const mfl_op_rec_t *op = &m->ops[o->op];
    if ((op->opcode != MFL_OP_CONV_2D && op->opcode != MFL_OP_DEPTHWISE_CONV_2D) ||
        m->tensors[op->output].type != MFL_TYPE_INT8 || m->tensors[op->output].dims[3] != (int32_t)o->channels) {
        return 0;
    }
    for (uint16_t c = 0; c < o->channels; c++) {
        if (o->multiplier[c] < 0 || o->shift[c] < MFL_QUANT_SHIFT_MIN || o->shift[c] > MFL_QUANT_SHIFT_MAX) {
            return 0;
        }
    }
    return 1;
}

int mfl_interp_set_override(mfl_interp_t *it, const mfl_requant_override_t *ovr)
{
    if (!it || !it->model || (ovr && !valid_override(it->model, ovr))) {
        return MFL_ERR_INVALID_ARG;
    }
    it->override = ovr;
    return 0;
}

/* The arena bytes of activation tensor `index`. */
static int activation_bytes(const mfl_interp_t *it, uint16_t index, int8_t **data, size_t *len)
{
    if (!it || !it->model || !data || !len || index >= it->model->header->n_tensors) {
        return MFL_ERR_INVALID_ARG;
    }
    const mfl_tensor_rec_t *t = &it->model->tensors[index];
    if (t->flags & MFL_TENSOR_CONST) {
        return MFL_ERR_INVALID_ARG;
    }
    *data = (int8_t *)(it->arena + t->offset);
    *len = t->size;
    return 0;
}

int mfl_interp_tensor(const mfl_interp_t *it, uint16_t index, const int8_t **data, size_t *len)
{
    int8_t *p = NULL;
    if (!data) {
        return MFL_ERR_INVALID_ARG;
    }
    int err = activation_bytes(it, index, &p, len);
    if (!err) {
        *data = p;
    }
    return err;
}

int mfl_interp_input(const mfl_interp_t *it, int8_t **data, size_t *len)
{
    return it && it->model ? activation_bytes(it, it->model->header->input, data, len) : MFL_ERR_INVALID_ARG;
}

int mfl_interp_output(const mfl_interp_t *it, const int8_t **data, size_t *len)
{
    return it && it->model ? mfl_interp_tensor(it, it->model->header->output, data, len) : MFL_ERR_INVALID_ARG;
}

int mfl_interp_input_at(const mfl_interp_t *it, unsigned k, int8_t **data, size_t *len)
{
    mfl_io_info_t io;
    if (!it || !it->model || mfl_model_input_info(it->model, k, &io) != 0) {
        return MFL_ERR_INVALID_ARG;
    }
    return activation_bytes(it, io.tensor, data, len);
}

int mfl_interp_output_at(const mfl_interp_t *it, unsigned k, const int8_t **data, size_t *len)
{
    mfl_io_info_t io;
    if (!it || !it->model || mfl_model_output_info(it->model, k, &io) != 0) {
        return MFL_ERR_INVALID_ARG;
    }
    return mfl_interp_tensor(it, io.tensor, data, len);
}

int mfl_interp_invoke_range(mfl_interp_t *it, uint16_t first, uint16_t last)
{
    if (!it || !it->model || first > last || last > it->model->header->n_ops) {
        return MFL_ERR_INVALID_ARG;
    }
    const run_ctx_t c = {it->model, it->arena, it->override};
    for (uint16_t i = first; i < last; i++) {
        const mfl_op_rec_t *op = &it->model->ops[i];
        /* found: the loader checked this op through the same resolver */
        mfl_op_find(it->model->resolver, op->opcode, it->model->tensors[op->output].type)->run(&c, op);
    }
    return 0;
}

int mfl_interp_invoke(mfl_interp_t *it)
{
    if (!it || !it->model) {
        return MFL_ERR_INVALID_ARG;
    }
    return mfl_interp_invoke_range(it, 0, it->model->header->n_ops);
}
