/*
 * The interpreter's 16x8 operators (an int16 output): records turned into
 * kernels_s16.h calls, one runner per operator (op_resolver.c registers
 * them). model_ops_s16.c validated every record, so only pointers and
 * parameter structs are formed here.
 */
#include "mfl/kernels_s16.h"
#include "model_validate.h"

static const void *data_of(const mfl_run_ctx_t *c, uint16_t t)
{
    const mfl_tensor_rec_t *r = &c->m->tensors[t];
    return (r->flags & MFL_TENSOR_CONST) ? (const void *)(c->m->data + r->offset)
                                         : (const void *)(c->arena + r->offset);
}

static int16_t *out_of(const mfl_run_ctx_t *c, const mfl_op_rec_t *op)
{
    return (int16_t *)(void *)(c->arena + c->m->tensors[op->output].offset);
}

typedef void (*conv16_fn)(const mfl_conv_params_t *, const mfl_requant_t *, const mfl_dims_t *, const int16_t *,
                          const mfl_dims_t *, const int8_t *, const int64_t *, const mfl_dims_t *, int16_t *);

static void run_conv16(const mfl_run_ctx_t *c, const mfl_op_rec_t *op, conv16_fn kernel)
{
    const mfl_model_t *m = c->m;
    const int32_t *words = mfl_op_params(m, op);
    const mfl_conv_rec_t *r = (const mfl_conv_rec_t *)(const void *)words;
    const mfl_dims_t in = mfl_tensor_dims(&m->tensors[op->inputs[0]]);
    const mfl_dims_t f = mfl_tensor_dims(&m->tensors[op->inputs[1]]);
    const mfl_dims_t o = mfl_tensor_dims(&m->tensors[op->output]);
    const mfl_conv_params_t p = {
        .stride_w = r->stride_w, .stride_h = r->stride_h,
        .dilation_w = r->dilation_w, .dilation_h = r->dilation_h,
        .pad_w = r->pad_w, .pad_h = r->pad_h,
        .act_min = r->act_min, .act_max = r->act_max,
    };
    const int32_t *mult = words + sizeof(*r) / 4;
    const mfl_requant_t q = {mult, mult + o.c};
    const int64_t *bias = op->inputs[2] == MFL_NONE ? NULL : data_of(c, op->inputs[2]);
    kernel(&p, &q, &in, data_of(c, op->inputs[0]), &f, data_of(c, op->inputs[1]), bias, &o, out_of(c, op));
}

void mfl_run_conv_2d_s16(const mfl_run_ctx_t *c, const mfl_op_rec_t *op)
{
    run_conv16(c, op, mfl_conv2d_s16);
}

void mfl_run_transpose_conv_s16(const mfl_run_ctx_t *c, const mfl_op_rec_t *op)
{
    run_conv16(c, op, mfl_transpose_conv2d_s16);
}

typedef void (*add16_fn)(const mfl_add_params_t *, const int32_t[4], const int32_t[4], const int16_t *,
                         const int32_t[4], const int16_t *, int16_t *);

static void run_add16(const mfl_run_ctx_t *c, const mfl_op_rec_t *op, add16_fn kernel)
{
    const mfl_model_t *m = c->m;
    const mfl_add_rec_t *r = (const mfl_add_rec_t *)(const void *)mfl_op_params(m, op);
    const mfl_add_params_t p = {
        .left_shift = r->left_shift,
        .input1_multiplier = r->in1_multiplier, .input1_shift = r->in1_shift,
        .input2_multiplier = r->in2_multiplier, .input2_shift = r->in2_shift,
        .output_multiplier = r->out_multiplier, .output_shift = r->out_shift,
        .act_min = r->act_min, .act_max = r->act_max,
    };
    int32_t da[4], db[4], d_out[4];
    mfl_tensor_dims4(&m->tensors[op->inputs[0]], da);
    mfl_tensor_dims4(&m->tensors[op->inputs[1]], db);
    mfl_tensor_dims4(&m->tensors[op->output], d_out);
    kernel(&p, d_out, da, data_of(c, op->inputs[0]), db, data_of(c, op->inputs[1]), out_of(c, op));
}

void mfl_run_add_s16(const mfl_run_ctx_t *c, const mfl_op_rec_t *op)
{
    run_add16(c, op, mfl_add_s16);
}

void mfl_run_sub_s16(const mfl_run_ctx_t *c, const mfl_op_rec_t *op)
{
    run_add16(c, op, mfl_sub_s16);
}

void mfl_run_leaky_relu_s16(const mfl_run_ctx_t *c, const mfl_op_rec_t *op)
{
    const int32_t *w = mfl_op_params(c->m, op);
    const mfl_leaky_relu_params_t p = {0, 0, w[0], w[1], w[2], w[3]};
    mfl_leaky_relu_s16(&p, (int32_t)mfl_tensor_elements(&c->m->tensors[op->output]), data_of(c, op->inputs[0]),
                       out_of(c, op));
}

void mfl_run_quantize_s16(const mfl_run_ctx_t *c, const mfl_op_rec_t *op)
{
    const int32_t *w = mfl_op_params(c->m, op);
    const mfl_requantize_params_t p = {0, 0, w[0], w[1], w[2], w[3]};
    mfl_requantize_s32_s16(&p, (int32_t)mfl_tensor_elements(&c->m->tensors[op->output]),
                           data_of(c, op->inputs[0]), out_of(c, op));
}

void mfl_run_pad_s16(const mfl_run_ctx_t *c, const mfl_op_rec_t *op)
{
    const mfl_pad_params_t p = mfl_pad_params(c->m, op);
    int32_t d[4];
    mfl_tensor_dims4(&c->m->tensors[op->inputs[0]], d);
    mfl_pad_s16(&p, d, data_of(c, op->inputs[0]), out_of(c, op));
}

void mfl_run_strided_slice_s16(const mfl_run_ctx_t *c, const mfl_op_rec_t *op)
{
    const mfl_slice_params_t p = mfl_slice_params(c->m, op);
    int32_t d[4];
    mfl_tensor_dims4(&c->m->tensors[op->inputs[0]], d);
    mfl_strided_slice_s16(&p, d, data_of(c, op->inputs[0]), out_of(c, op));
}
