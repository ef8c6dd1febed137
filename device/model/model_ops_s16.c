/*
 * Loader checks of the 16x8 operators (int16 activations, int8 weights,
 * int64 biases): every op whose output is an int16 tensor comes here from
 * mfl_validate_op, through its registration (op_resolver.c). Each check
 * bounds what the kernel's arithmetic was reasoned for (kernels_s16.h):
 * shapes agree, parameter blocks have their exact size, shifts lie where
 * the rounding helpers are defined, clamps inside int16, biases within
 * 2^47. Zero points need no check here: the
 * tensor check (model.c) already requires 0 of int16, int32 activation and
 * int64 tensors.
 */
#include <string.h>

#include "mfl/kernels_s16.h"
#include "mfl/quant.h"
#include "model_validate.h"

static const mfl_tensor_rec_t *tensor_at(const mfl_model_t *m, uint16_t index)
{
    return index < m->header->n_tensors ? &m->tensors[index] : NULL;
}

static int is_act(const mfl_tensor_rec_t *t, int type)
{
    return t && t->type == type && !(t->flags & MFL_TENSOR_CONST);
}

static int valid_range16(int32_t lo, int32_t hi)
{
    return lo >= -32768 && hi <= 32767 && lo <= hi;
}

static int valid_shift(int32_t shift, int32_t max)
{
    return shift >= MFL_QUANT_SHIFT_MIN && shift <= max;
}

/* Every 16x8 operator writes an int16 activation and has no scratch. */
static int check_output16(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    return is_act(tensor_at(m, op->output), MFL_TYPE_INT16) && mfl_op_scratch(m, op) == MFL_NONE ? 0
                                                                                               : MFL_ERR_MODEL_OP;
}

/* The optional int64 bias of a 16x8 convolution: absent, or a constant
 * [channels] whose every entry is within MFL_S16_MAX_BIAS. */
static int valid_bias64(const mfl_model_t *m, uint16_t index, int32_t channels)
{
    if (index == MFL_NONE) {
        return 1;
    }
    const mfl_tensor_rec_t *b = tensor_at(m, index);
    if (!b || b->type != MFL_TYPE_INT64 || !(b->flags & MFL_TENSOR_CONST) || b->rank != 1 ||
        b->dims[0] != channels) {
        return 0;
    }
    for (int32_t c = 0; c < channels; c++) {
        int64_t v;
        memcpy(&v, m->data + b->offset + 8u * (uint32_t)c, sizeof(v));
        if (v < -MFL_S16_MAX_BIAS || v > MFL_S16_MAX_BIAS) {
            return 0;
        }
    }
    return 1;
}

/* CONV_2D and TRANSPOSE_CONV 16x8: input and output int16 [N,H,W,C],
 * filter const int8 [C_out,KH,KW,C_in] (symmetric), int64 bias or none;
 * mfl_conv_rec_t then multiplier[C_out], shift[C_out] (m >= 0, shift in
 * [-31, 7]). A transposed convolution has dilation 1. */
static int check_conv16(const mfl_model_t *m, const mfl_op_rec_t *op, int transposed)
{
    if (check_output16(m, op)) {
        return MFL_ERR_MODEL_OP;
    }
    const mfl_tensor_rec_t *in = tensor_at(m, op->inputs[0]);
    const mfl_tensor_rec_t *f = tensor_at(m, op->inputs[1]);
    const mfl_tensor_rec_t *out = tensor_at(m, op->output);
    if (op->n_inputs != 3 || !is_act(in, MFL_TYPE_INT16) || in->rank != 4 || out->rank != 4 || !f ||
        f->type != MFL_TYPE_INT8 || !(f->flags & MFL_TENSOR_CONST) || f->rank != 4 || f->zero_point != 0) {
        return MFL_ERR_MODEL_OP;
    }
    const int32_t oc = out->dims[3];
    if (out->dims[0] != in->dims[0] || f->dims[0] != oc || f->dims[3] != in->dims[3] ||
        !valid_bias64(m, op->inputs[2], oc)) {
        return MFL_ERR_MODEL_SHAPE;
    }
    if ((int64_t)f->dims[1] * f->dims[2] * f->dims[3] > MFL_KERNEL_MAX_DEPTH ||
        op->params_size != sizeof(mfl_conv_rec_t) + 8u * (uint32_t)oc) {
        return MFL_ERR_MODEL_PARAMS;
    }
    const int32_t *words = mfl_op_params(m, op);
    const mfl_conv_rec_t *p = (const mfl_conv_rec_t *)(const void *)words;
    const int32_t *mult = words + sizeof(*p) / 4;
    for (int32_t c = 0; c < oc; c++) {
        if (mult[c] < 0 || !valid_shift(mult[oc + c], MFL_S16_SHIFT_MAX)) {
            return MFL_ERR_MODEL_PARAMS;
        }
    }
    const int ok = p->stride_w >= 1 && p->stride_w <= MFL_MAX_STRIDE && p->stride_h >= 1 &&
                   p->stride_h <= MFL_MAX_STRIDE && p->dilation_w >= 1 && p->dilation_w <= MFL_MAX_STRIDE &&
                   p->dilation_h >= 1 && p->dilation_h <= MFL_MAX_STRIDE && p->pad_w >= 0 &&
                   p->pad_w <= MFL_MAX_PAD && p->pad_h >= 0 && p->pad_h <= MFL_MAX_PAD &&
                   (!transposed || (p->dilation_w == 1 && p->dilation_h == 1)) &&
                   valid_range16(p->act_min, p->act_max);
    return ok ? 0 : MFL_ERR_MODEL_PARAMS;
}

/* ADD, SUB: two int16 tensors (activations or constants) broadcast to the
 * int16 output; mfl_add_rec_t with left_shift in [0, 15] (|x| << 15 fits
 * int32), multipliers >= 0, shifts in [-31, 0] (the rescalings are below
 * one), an int16 clamp. */
int mfl_check_add_s16(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    if (check_output16(m, op)) {
        return MFL_ERR_MODEL_OP;
    }
    const mfl_tensor_rec_t *a = tensor_at(m, op->inputs[0]);
    const mfl_tensor_rec_t *b = tensor_at(m, op->inputs[1]);
    const mfl_tensor_rec_t *out = tensor_at(m, op->output);
    if (op->n_inputs != 2 || !a || !b || a->type != MFL_TYPE_INT16 || b->type != MFL_TYPE_INT16) {
        return MFL_ERR_MODEL_OP;
    }
    int32_t da[4], db[4], d_out[4];
    mfl_tensor_dims4(a, da);
    mfl_tensor_dims4(b, db);
    mfl_tensor_dims4(out, d_out);
    for (int i = 0; i < 4; i++) {
        if ((da[i] != d_out[i] && da[i] != 1) || (db[i] != d_out[i] && db[i] != 1) ||
            (da[i] > db[i] ? da[i] : db[i]) != d_out[i]) {
            return MFL_ERR_MODEL_SHAPE;
        }
    }
    if (op->params_size != sizeof(mfl_add_rec_t)) {
        return MFL_ERR_MODEL_PARAMS;
    }
    const mfl_add_rec_t *p = (const mfl_add_rec_t *)(const void *)mfl_op_params(m, op);
    const int ok = p->left_shift >= 0 && p->left_shift <= 15 && p->in1_multiplier >= 0 &&
                   valid_shift(p->in1_shift, 0) && p->in2_multiplier >= 0 && valid_shift(p->in2_shift, 0) &&
                   p->out_multiplier >= 0 && valid_shift(p->out_shift, 0) && valid_range16(p->act_min, p->act_max);
    return ok ? 0 : MFL_ERR_MODEL_PARAMS;
}

/* One activation of type in_type in, the int16 output, `words` words. */
static int check_unary(const mfl_model_t *m, const mfl_op_rec_t *op, int in_type, uint32_t words, int same_size)
{
    const mfl_tensor_rec_t *in = tensor_at(m, op->inputs[0]);
    const mfl_tensor_rec_t *out = tensor_at(m, op->output);
    if (check_output16(m, op) || op->n_inputs != 1 || !is_act(in, in_type)) {
        return MFL_ERR_MODEL_OP;
    }
    if (same_size && mfl_tensor_elements(in) != mfl_tensor_elements(out)) {
        return MFL_ERR_MODEL_SHAPE;
    }
    return op->params_size == 4u * words ? 0 : MFL_ERR_MODEL_PARAMS;
}

int mfl_check_leaky_relu_s16(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    int err = check_unary(m, op, MFL_TYPE_INT16, sizeof(mfl_leaky_relu_rec_t) / 4, 1);
    if (err) {
        return err;
    }
    const mfl_leaky_relu_rec_t *p = (const mfl_leaky_relu_rec_t *)(const void *)mfl_op_params(m, op);
    const int ok = p->identity_multiplier >= 0 && valid_shift(p->identity_shift, MFL_QUANT_SHIFT_MAX) &&
                   valid_shift(p->alpha_shift, MFL_QUANT_SHIFT_MAX);
    return ok ? 0 : MFL_ERR_MODEL_PARAMS;
}

/* QUANTIZE int32 -> int16: a plain requantization record. */
int mfl_check_quantize_s16(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    int err = check_unary(m, op, MFL_TYPE_INT32, sizeof(mfl_requantize_rec_t) / 4, 1);
    if (err) {
        return err;
    }
    const mfl_requantize_rec_t *p = (const mfl_requantize_rec_t *)(const void *)mfl_op_params(m, op);
    const int ok = p->multiplier >= 0 && valid_shift(p->shift, MFL_QUANT_SHIFT_MAX) &&
                   valid_range16(p->act_min, p->act_max);
    return ok ? 0 : MFL_ERR_MODEL_PARAMS;
}

int mfl_check_pad_s16(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    const int err = check_unary(m, op, MFL_TYPE_INT16, sizeof(mfl_pad_rec_t) / 4, 0);
    return err ? err : mfl_check_pad_window(m, op, -32768, 32767);
}

/* STRIDED_SLICE: the window as the int8 check's. */
int mfl_check_strided_slice_s16(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    const int err = check_unary(m, op, MFL_TYPE_INT16, sizeof(mfl_slice_rec_t) / 4, 0);
    return err ? err : mfl_check_slice_window(m, op);
}

int mfl_check_conv_2d_s16(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    return check_conv16(m, op, 0);
}

int mfl_check_transpose_conv_s16(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    return check_conv16(m, op, 1);
}
