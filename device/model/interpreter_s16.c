/*
 * The interpreter's 16x8 operators (an int16 output): records turned into
 * kernels_s16.h calls. model_ops_s16.c validated every record, so only
 * pointers and parameter structs are formed here.
 */
#include "mfl/kernels_s16.h"
#include "model_validate.h"

static const void *data_of(const mfl_model_t *m, uint8_t *arena, uint16_t t)
{
    const mfl_tensor_rec_t *r = &m->tensors[t];
    return (r->flags & MFL_TENSOR_CONST) ? (const void *)(m->data + r->offset) : (const void *)(arena + r->offset);
}

static void dims4(const mfl_tensor_rec_t *t, int32_t d[4])
{
    for (int i = 0; i < 4; i++) {
        d[i] = i < 4 - t->rank ? 1 : t->dims[i - (4 - t->rank)];
    }
}

static void run_conv16(const mfl_model_t *m, uint8_t *arena, const mfl_op_rec_t *op, int16_t *out)
{
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
    const int64_t *bias = op->inputs[2] == MFL_NONE ? NULL : data_of(m, arena, op->inputs[2]);
    (op->opcode == MFL_OP_CONV_2D ? mfl_conv2d_s16 : mfl_transpose_conv2d_s16)(
        &p, &q, &in, data_of(m, arena, op->inputs[0]), &f, data_of(m, arena, op->inputs[1]), bias, &o, out);
}

static void run_add16(const mfl_model_t *m, uint8_t *arena, const mfl_op_rec_t *op, int16_t *out)
{
    const mfl_add_rec_t *r = (const mfl_add_rec_t *)(const void *)mfl_op_params(m, op);
    const mfl_add_params_t p = {
        .left_shift = r->left_shift,
        .input1_multiplier = r->in1_multiplier, .input1_shift = r->in1_shift,
        .input2_multiplier = r->in2_multiplier, .input2_shift = r->in2_shift,
        .output_multiplier = r->out_multiplier, .output_shift = r->out_shift,
        .act_min = r->act_min, .act_max = r->act_max,
    };
    int32_t da[4], db[4], d_out[4];
    dims4(&m->tensors[op->inputs[0]], da);
    dims4(&m->tensors[op->inputs[1]], db);
    dims4(&m->tensors[op->output], d_out);
    (op->opcode == MFL_OP_ADD ? mfl_add_s16 : mfl_sub_s16)(&p, d_out, da, data_of(m, arena, op->inputs[0]), db,
                                                         data_of(m, arena, op->inputs[1]), out);
}

void mfl_run_op_s16(const mfl_model_t *m, uint8_t *arena, const mfl_op_rec_t *op)
{
    int16_t *out = (int16_t *)(void *)(arena + m->tensors[op->output].offset);
    const int32_t *w = mfl_op_params(m, op);
    const void *in = data_of(m, arena, op->inputs[0]);
    const int32_t n = (int32_t)mfl_tensor_elements(&m->tensors[op->output]);
    int32_t d[4];
    dims4(&m->tensors[op->inputs[0]], d);
    switch (op->opcode) {
    case MFL_OP_CONV_2D:
    case MFL_OP_TRANSPOSE_CONV: run_conv16(m, arena, op, out); break;
    case MFL_OP_ADD:
    case MFL_OP_SUB: run_add16(m, arena, op, out); break;
    case MFL_OP_LEAKY_RELU: {
        const mfl_leaky_relu_params_t p = {0, 0, w[0], w[1], w[2], w[3]};
        mfl_leaky_relu_s16(&p, n, in, out);
        break;
    }
    case MFL_OP_QUANTIZE: {
        const mfl_requantize_params_t p = {0, 0, w[0], w[1], w[2], w[3]};
        mfl_requantize_s32_s16(&p, n, in, out);
        break;
    }
    case MFL_OP_PAD: {
        const mfl_pad_rec_t *r = (const mfl_pad_rec_t *)(const void *)w;
        mfl_pad_params_t p;
        for (int i = 0; i < 4; i++) {
            p.before[i] = r->before[i];
            p.after[i] = r->after[i];
        }
        p.pad_value = r->pad_value;
        mfl_pad_s16(&p, d, in, out);
        break;
    }
    case MFL_OP_STRIDED_SLICE: {
        const mfl_slice_rec_t *r = (const mfl_slice_rec_t *)(const void *)w;
        mfl_slice_params_t p;
        for (int i = 0; i < 4; i++) {
            p.start[i] = r->start[i];
            p.stride[i] = r->stride[i];
            p.count[i] = r->count[i];
        }
        mfl_strided_slice_s16(&p, d, in, out);
        break;
    }
    default: break; /* unreachable: the loader admits no other */
    }
}
