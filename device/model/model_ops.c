/*
 * Per-operator checks of the model loader: tensor kinds and shapes agree,
 * parameter blocks have the right size, and every parameter lies in the
 * range the kernels' arithmetic was reasoned for (see kernels.h, quant.h).
 */
#include "mfl/quant.h"
#include "model_validate.h"

static const mfl_tensor_rec_t *tensor_at(const mfl_model_t *m, uint16_t index)
{
    return index < m->header->n_tensors ? &m->tensors[index] : NULL;
}

static int is_activation(const mfl_tensor_rec_t *t)
{
    return t && t->type == MFL_TYPE_INT8 && !(t->flags & MFL_TENSOR_CONST);
}

static int is_const_of(const mfl_tensor_rec_t *t, int type, int rank)
{
    return t && t->type == type && (t->flags & MFL_TENSOR_CONST) && t->rank == rank;
}

static int valid_act_range(int32_t lo, int32_t hi)
{
    return lo >= -128 && hi <= 127 && lo <= hi;
}

static int valid_requant(const int32_t *multiplier, const int32_t *shift, int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        if (multiplier[i] < 0 || shift[i] < MFL_QUANT_SHIFT_MIN || shift[i] > MFL_QUANT_SHIFT_MAX) {
            return 0;
        }
    }
    return 1;
}

/* Optional int32 bias of n entries: absent, or a const [n] tensor. */
static int valid_bias(const mfl_model_t *m, uint16_t index, int32_t n)
{
    if (index == MFL_NONE) {
        return 1;
    }
    const mfl_tensor_rec_t *b = tensor_at(m, index);
    return is_const_of(b, MFL_TYPE_INT32, 1) && b->dims[0] == n;
}

static int check_window(const mfl_conv_rec_t *p)
{
    const int ok = p->stride_w >= 1 && p->stride_w <= MFL_MAX_STRIDE && p->stride_h >= 1 &&
                   p->stride_h <= MFL_MAX_STRIDE && p->dilation_w >= 1 && p->dilation_w <= MFL_MAX_STRIDE &&
                   p->dilation_h >= 1 && p->dilation_h <= MFL_MAX_STRIDE && p->pad_w >= 0 &&
                   p->pad_w <= MFL_MAX_PAD && p->pad_h >= 0 && p->pad_h <= MFL_MAX_PAD &&
                   valid_act_range(p->act_min, p->act_max);
    return ok ? 0 : MFL_ERR_MODEL_PARAMS;
}

/* CONV_2D and DEPTHWISE_CONV_2D share their parameter block. */
static int check_conv(const mfl_model_t *m, const mfl_op_rec_t *op, int depthwise)
{
    const mfl_tensor_rec_t *in = tensor_at(m, op->inputs[0]);
    const mfl_tensor_rec_t *f = tensor_at(m, op->inputs[1]);
    const mfl_tensor_rec_t *out = tensor_at(m, op->output);
    if (op->n_inputs != 3 || !is_activation(in) || !is_activation(out) || !is_const_of(f, MFL_TYPE_INT8, 4) ||
        in->rank != 4 || out->rank != 4 || f->zero_point != 0) {
        return MFL_ERR_MODEL_OP;
    }
    const int32_t oc = out->dims[3];
    const int32_t ic = in->dims[3];
    int shape_ok = out->dims[0] == in->dims[0];
    int64_t depth;
    if (depthwise) {
        shape_ok = shape_ok && f->dims[0] == 1 && f->dims[3] == oc && oc % ic == 0;
        depth = (int64_t)f->dims[1] * f->dims[2];
    } else {
        shape_ok = shape_ok && f->dims[0] == oc && f->dims[3] == ic;
        depth = (int64_t)f->dims[1] * f->dims[2] * ic;
    }
    if (!shape_ok || !valid_bias(m, op->inputs[2], oc)) {
        return MFL_ERR_MODEL_SHAPE;
    }
    if (depth > MFL_KERNEL_MAX_DEPTH) {
        return MFL_ERR_MODEL_PARAMS;
    }
    if (op->params_size != sizeof(mfl_conv_rec_t) + 8u * (uint32_t)oc) {
        return MFL_ERR_MODEL_PARAMS;
    }
    const int32_t *words = mfl_op_params(m, op);
    const int32_t *mult = words + sizeof(mfl_conv_rec_t) / 4;
    if (!valid_requant(mult, mult + oc, oc)) {
        return MFL_ERR_MODEL_PARAMS;
    }
    return check_window((const mfl_conv_rec_t *)(const void *)words);
}

int mfl_check_conv_2d_s8(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    return check_conv(m, op, 0);
}

int mfl_check_depthwise_conv_2d_s8(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    return check_conv(m, op, 1);
}

int mfl_check_fully_connected_s8(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    const mfl_tensor_rec_t *in = tensor_at(m, op->inputs[0]);
    const mfl_tensor_rec_t *w = tensor_at(m, op->inputs[1]);
    const mfl_tensor_rec_t *out = tensor_at(m, op->output);
    if (op->n_inputs != 3 || !is_activation(in) || !is_activation(out) || !is_const_of(w, MFL_TYPE_INT8, 2) ||
        w->zero_point != 0) {
        return MFL_ERR_MODEL_OP;
    }
    const int32_t units = w->dims[0];
    const int32_t features = w->dims[1];
    const uint32_t in_elems = mfl_tensor_elements(in);
    if (in_elems % (uint32_t)features != 0 || out->dims[out->rank - 1] != units ||
        mfl_tensor_elements(out) != in_elems / (uint32_t)features * (uint32_t)units ||
        !valid_bias(m, op->inputs[2], units)) {
        return MFL_ERR_MODEL_SHAPE;
    }
    if (features > MFL_KERNEL_MAX_DEPTH || op->params_size < sizeof(mfl_fc_rec_t)) {
        return MFL_ERR_MODEL_PARAMS;
    }
    const mfl_fc_rec_t *p = (const mfl_fc_rec_t *)(const void *)mfl_op_params(m, op);
    if ((p->n_multipliers != 1 && p->n_multipliers != units) ||
        op->params_size != sizeof(*p) + 8u * (uint32_t)p->n_multipliers || !valid_act_range(p->act_min, p->act_max)) {
        return MFL_ERR_MODEL_PARAMS;
    }
    const int32_t *mult = mfl_op_params(m, op) + sizeof(*p) / 4;
    return valid_requant(mult, mult + p->n_multipliers, p->n_multipliers) ? 0 : MFL_ERR_MODEL_PARAMS;
}

int mfl_check_pool_2d_s8(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    const mfl_tensor_rec_t *in = tensor_at(m, op->inputs[0]);
    const mfl_tensor_rec_t *out = tensor_at(m, op->output);
    if (op->n_inputs != 1 || !is_activation(in) || !is_activation(out) || in->rank != 4 || out->rank != 4) {
        return MFL_ERR_MODEL_OP;
    }
    if (out->dims[0] != in->dims[0] || out->dims[3] != in->dims[3] || in->zero_point != out->zero_point) {
        return MFL_ERR_MODEL_SHAPE;
    }
    if (op->params_size != sizeof(mfl_pool_rec_t)) {
        return MFL_ERR_MODEL_PARAMS;
    }
    const mfl_pool_rec_t *p = (const mfl_pool_rec_t *)(const void *)mfl_op_params(m, op);
    const int window_ok = p->stride_w >= 1 && p->stride_w <= MFL_MAX_STRIDE && p->stride_h >= 1 &&
                          p->stride_h <= MFL_MAX_STRIDE && p->filter_w >= 1 && p->filter_h >= 1 &&
                          (int64_t)p->filter_w * p->filter_h <= MFL_KERNEL_MAX_DEPTH &&
                          p->pad_w >= 0 && p->pad_h >= 0 && p->pad_w < p->filter_w && p->pad_h < p->filter_h;
    if (!window_ok || !valid_act_range(p->act_min, p->act_max)) {
        return MFL_ERR_MODEL_PARAMS;
    }
    /* The last window of each axis must still touch the input, so that no
     * average divides by zero. */
    if ((int64_t)(out->dims[1] - 1) * p->stride_h - p->pad_h >= in->dims[1] ||
        (int64_t)(out->dims[2] - 1) * p->stride_w - p->pad_w >= in->dims[2]) {
        return MFL_ERR_MODEL_SHAPE;
    }
    return 0;
}

static int is_int8(const mfl_tensor_rec_t *t)
{
    return t && t->type == MFL_TYPE_INT8;
}

/* ADD, SUB, MUL, MAXIMUM, MINIMUM: two int8 inputs (activations or
 * constants) broadcast to an int8 activation (TFLite's rule: right-aligned,
 * each input of the output's size or 1 on every axis, the output of the
 * larger), the output of the higher rank; then exactly `words` words. */
static int check_binary_shapes(const mfl_model_t *m, const mfl_op_rec_t *op, uint32_t words)
{
    const mfl_tensor_rec_t *a = tensor_at(m, op->inputs[0]);
    const mfl_tensor_rec_t *b = tensor_at(m, op->inputs[1]);
    const mfl_tensor_rec_t *out = tensor_at(m, op->output);
    if (op->n_inputs != 2 || !is_int8(a) || !is_int8(b) || !is_activation(out)) {
        return MFL_ERR_MODEL_OP;
    }
    int32_t da[4], db[4], d_out[4];
    mfl_tensor_dims4(a, da);
    mfl_tensor_dims4(b, db);
    mfl_tensor_dims4(out, d_out);
    if (out->rank < a->rank || out->rank < b->rank || (out->rank != a->rank && out->rank != b->rank)) {
        return MFL_ERR_MODEL_SHAPE;
    }
    for (int i = 0; i < 4; i++) {
        if ((da[i] != d_out[i] && da[i] != 1) || (db[i] != d_out[i] && db[i] != 1) ||
            (da[i] > db[i] ? da[i] : db[i]) != d_out[i]) {
            return MFL_ERR_MODEL_SHAPE;
        }
    }
    return op->params_size == 4u * words ? 0 : MFL_ERR_MODEL_PARAMS;
}

/* ADD and SUB: TFLM's rescalings are "smaller than one" (shifts <= 0), and
 * (input + offset) is within +-255 < 2^8: shifted by <= 22 it stays below
 * 2^30, so neither the shift nor the sum of two rescaled inputs overflows. */
int mfl_check_add_s8(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    int err = check_binary_shapes(m, op, sizeof(mfl_add_rec_t) / 4);
    if (err) {
        return err;
    }
    const mfl_add_rec_t *p = (const mfl_add_rec_t *)(const void *)mfl_op_params(m, op);
    const int ok = p->left_shift >= 0 && p->left_shift <= 22 &&
                   valid_requant(&p->in1_multiplier, &p->in1_shift, 1) && p->in1_shift <= 0 &&
                   valid_requant(&p->in2_multiplier, &p->in2_shift, 1) && p->in2_shift <= 0 &&
                   valid_requant(&p->out_multiplier, &p->out_shift, 1) && p->out_shift <= 0 &&
                   valid_act_range(p->act_min, p->act_max);
    return ok ? 0 : MFL_ERR_MODEL_PARAMS;
}

/* MUL: |product| <= 255 * 255 < 2^16, so a left shift of up to 15 fits. */
int mfl_check_mul_s8(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    int err = check_binary_shapes(m, op, sizeof(mfl_requantize_rec_t) / 4);
    if (err) {
        return err;
    }
    const mfl_requantize_rec_t *p = (const mfl_requantize_rec_t *)(const void *)mfl_op_params(m, op);
    const int ok = valid_requant(&p->multiplier, &p->shift, 1) && p->shift <= MFL_MUL_MAX_SHIFT &&
                   valid_act_range(p->act_min, p->act_max);
    return ok ? 0 : MFL_ERR_MODEL_PARAMS;
}

int mfl_check_maximum_minimum_s8(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    return check_binary_shapes(m, op, 0);
}

/* CONCATENATION: one to three int8 inputs of the output's rank and zero
 * point (TFLM requires its quantization; the kernel copies), equal to the
 * output on every axis but `axis`, where their sizes sum to the output's. */
int mfl_check_concatenation_s8(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    const mfl_tensor_rec_t *out = tensor_at(m, op->output);
    if (!is_activation(out)) {
        return MFL_ERR_MODEL_OP;
    }
    for (int k = 0; k < op->n_inputs; k++) {
        if (!is_int8(tensor_at(m, op->inputs[k]))) {
            return MFL_ERR_MODEL_OP;
        }
    }
    if (op->params_size != sizeof(mfl_concat_rec_t)) {
        return MFL_ERR_MODEL_PARAMS;
    }
    const int32_t axis = ((const mfl_concat_rec_t *)(const void *)mfl_op_params(m, op))->axis;
    if (axis < 4 - out->rank || axis > 3) {
        return MFL_ERR_MODEL_PARAMS;
    }
    int32_t d_out[4];
    mfl_tensor_dims4(out, d_out);
    int64_t along = 0;
    for (int k = 0; k < op->n_inputs; k++) {
        const mfl_tensor_rec_t *t = tensor_at(m, op->inputs[k]);
        int32_t d[4];
        mfl_tensor_dims4(t, d);
        if (t->rank != out->rank || t->zero_point != out->zero_point) {
            return MFL_ERR_MODEL_SHAPE;
        }
        for (int i = 0; i < 4; i++) {
            if (i != axis && d[i] != d_out[i]) {
                return MFL_ERR_MODEL_SHAPE;
            }
        }
        along += d[axis];
    }
    return along == d_out[axis] ? 0 : MFL_ERR_MODEL_SHAPE;
}

int mfl_check_reshape_s8(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    const mfl_tensor_rec_t *in = tensor_at(m, op->inputs[0]);
    const mfl_tensor_rec_t *out = tensor_at(m, op->output);
    if (op->n_inputs != 1 || !is_activation(in) || !is_activation(out)) {
        return MFL_ERR_MODEL_OP;
    }
    if (in->size != out->size || in->zero_point != out->zero_point) {
        return MFL_ERR_MODEL_SHAPE;
    }
    return op->params_size == 0 ? 0 : MFL_ERR_MODEL_PARAMS;
}

int mfl_check_softmax_s8(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    const mfl_tensor_rec_t *in = tensor_at(m, op->inputs[0]);
    const mfl_tensor_rec_t *out = tensor_at(m, op->output);
    if (op->n_inputs != 1 || !is_activation(in) || !is_activation(out)) {
        return MFL_ERR_MODEL_OP;
    }
    if (in->size != out->size || in->rank != out->rank || in->dims[in->rank - 1] != out->dims[out->rank - 1] ||
        out->zero_point != -128) {
        return MFL_ERR_MODEL_SHAPE;
    }
    if (op->params_size != sizeof(mfl_softmax_rec_t) || in->dims[in->rank - 1] > MFL_SOFTMAX_MAX_DEPTH) {
        return MFL_ERR_MODEL_PARAMS;
    }
    const mfl_softmax_rec_t *p = (const mfl_softmax_rec_t *)(const void *)mfl_op_params(m, op);
    const int ok = p->multiplier >= 0 && p->left_shift >= 0 && p->left_shift <= 31 && p->diff_min <= 0;
    return ok ? 0 : MFL_ERR_MODEL_PARAMS;
}

/* Element-wise ops: one int8 activation in, one of as many elements out,
 * and exactly `words` parameter words. */
static int check_elementwise(const mfl_model_t *m, const mfl_op_rec_t *op, uint32_t words)
{
    const mfl_tensor_rec_t *in = tensor_at(m, op->inputs[0]);
    const mfl_tensor_rec_t *out = tensor_at(m, op->output);
    if (op->n_inputs != 1 || !is_activation(in) || !is_activation(out)) {
        return MFL_ERR_MODEL_OP;
    }
    if (mfl_tensor_elements(in) != mfl_tensor_elements(out)) {
        return MFL_ERR_MODEL_SHAPE;
    }
    return op->params_size == 4u * words ? 0 : MFL_ERR_MODEL_PARAMS;
}

static int valid_shift(int32_t shift)
{
    return shift >= MFL_QUANT_SHIFT_MIN && shift <= MFL_QUANT_SHIFT_MAX;
}

/* RELU (and every plain requantization): m >= 0, a kernel shift, a clamp. */
int mfl_check_requantize_s8(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    int err = check_elementwise(m, op, sizeof(mfl_requantize_rec_t) / 4);
    if (err) {
        return err;
    }
    const mfl_requantize_rec_t *p = (const mfl_requantize_rec_t *)(const void *)mfl_op_params(m, op);
    const int ok = valid_requant(&p->multiplier, &p->shift, 1) && valid_act_range(p->act_min, p->act_max);
    return ok ? 0 : MFL_ERR_MODEL_PARAMS;
}

int mfl_check_relu6_s8(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    int err = check_elementwise(m, op, sizeof(mfl_clamp_rec_t) / 4);
    if (err) {
        return err;
    }
    const mfl_clamp_rec_t *p = (const mfl_clamp_rec_t *)(const void *)mfl_op_params(m, op);
    return valid_act_range(p->lo, p->hi) ? 0 : MFL_ERR_MODEL_PARAMS;
}

int mfl_check_leaky_relu_s8(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    int err = check_elementwise(m, op, sizeof(mfl_leaky_relu_rec_t) / 4);
    if (err) {
        return err;
    }
    const mfl_leaky_relu_rec_t *p = (const mfl_leaky_relu_rec_t *)(const void *)mfl_op_params(m, op);
    /* The alpha multiplier keeps alpha's sign (the kernel's exact form
     * handles it); the identity one is >= 0 as every other. */
    const int ok = valid_requant(&p->identity_multiplier, &p->identity_shift, 1) && valid_shift(p->alpha_shift);
    return ok ? 0 : MFL_ERR_MODEL_PARAMS;
}

/* LOGISTIC, TANH: radius << left_shift <= 15 << 27 keeps every input that
 * is rescaled inside Q4 (|x| < 16), where gemmlowp's functions are defined. */
int mfl_check_sigmoid_s8(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    int err = check_elementwise(m, op, sizeof(mfl_sigmoid_rec_t) / 4);
    if (err) {
        return err;
    }
    const mfl_sigmoid_rec_t *p = (const mfl_sigmoid_rec_t *)(const void *)mfl_op_params(m, op);
    const int ok = p->multiplier >= 0 && p->left_shift >= 0 && p->left_shift <= 31 && p->range_radius >= 0 &&
                   ((int64_t)p->range_radius << p->left_shift) <= ((int64_t)15 << 27);
    return ok ? 0 : MFL_ERR_MODEL_PARAMS;
}

int mfl_check_hard_swish_s8(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    int err = check_elementwise(m, op, sizeof(mfl_hard_swish_rec_t) / 4);
    if (err) {
        return err;
    }
    const mfl_hard_swish_rec_t *p = (const mfl_hard_swish_rec_t *)(const void *)mfl_op_params(m, op);
    const int ok = p->reluish_multiplier >= 0 && p->reluish_multiplier <= 32767 && p->reluish_exponent >= -15 &&
                   p->reluish_exponent <= 30 && p->output_multiplier >= 0 && p->output_multiplier <= 32767 &&
                   p->output_exponent >= -15 && p->output_exponent <= 0;
    return ok ? 0 : MFL_ERR_MODEL_PARAMS;
}

/* One int8 activation in, one out, exactly `words` parameter words. */
static int check_one_in_one_out(const mfl_model_t *m, const mfl_op_rec_t *op, uint32_t words)
{
    const mfl_tensor_rec_t *in = tensor_at(m, op->inputs[0]);
    const mfl_tensor_rec_t *out = tensor_at(m, op->output);
    if (op->n_inputs != 1 || !is_activation(in) || !is_activation(out)) {
        return MFL_ERR_MODEL_OP;
    }
    return op->params_size == 4u * words ? 0 : MFL_ERR_MODEL_PARAMS;
}

/* PAD's amounts and value, for int8 and int16 (model_validate.h). */
int mfl_check_pad_window(const mfl_model_t *m, const mfl_op_rec_t *op, int32_t lo, int32_t hi)
{
    const mfl_tensor_rec_t *in = tensor_at(m, op->inputs[0]);
    const mfl_tensor_rec_t *out = tensor_at(m, op->output);
    const mfl_pad_rec_t *p = (const mfl_pad_rec_t *)(const void *)mfl_op_params(m, op);
    int32_t di[4], d_out[4];
    mfl_tensor_dims4(in, di);
    mfl_tensor_dims4(out, d_out);
    if (in->rank != out->rank || p->pad_value < lo || p->pad_value > hi) {
        return in->rank != out->rank ? MFL_ERR_MODEL_SHAPE : MFL_ERR_MODEL_PARAMS;
    }
    for (int i = 0; i < 4; i++) {
        if (p->before[i] < 0 || p->after[i] < 0) {
            return MFL_ERR_MODEL_PARAMS;
        }
        if ((int64_t)p->before[i] + di[i] + p->after[i] != d_out[i]) {
            return MFL_ERR_MODEL_SHAPE;
        }
    }
    return 0;
}

int mfl_check_pad_s8(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    const int err = check_one_in_one_out(m, op, sizeof(mfl_pad_rec_t) / 4);
    return err ? err : mfl_check_pad_window(m, op, -128, 127);
}

/* MEAN over H and W: [N,H,W,C] -> [N,1,1,C] or [N,C]; a plain
 * requantization record whose clamp is the whole int8 range. */
int mfl_check_mean_s8(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    int err = check_one_in_one_out(m, op, sizeof(mfl_requantize_rec_t) / 4);
    if (err) {
        return err;
    }
    const mfl_tensor_rec_t *in = tensor_at(m, op->inputs[0]);
    const mfl_tensor_rec_t *out = tensor_at(m, op->output);
    const int keep_dims = out->rank == 4 && out->dims[1] == 1 && out->dims[2] == 1;
    if (in->rank != 4 || (!keep_dims && out->rank != 2) || out->dims[0] != in->dims[0] ||
        out->dims[out->rank - 1] != in->dims[3]) {
        return MFL_ERR_MODEL_SHAPE;
    }
    const mfl_requantize_rec_t *p = (const mfl_requantize_rec_t *)(const void *)mfl_op_params(m, op);
    const int ok = (int64_t)in->dims[1] * in->dims[2] <= MFL_MEAN_MAX_COUNT &&
                   valid_requant(&p->multiplier, &p->shift, 1) && p->act_min == -128 && p->act_max == 127;
    return ok ? 0 : MFL_ERR_MODEL_PARAMS;
}

/* STRIDED_SLICE's window, for int8 and int16 (model_validate.h). */
int mfl_check_slice_window(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    const mfl_slice_rec_t *p = (const mfl_slice_rec_t *)(const void *)mfl_op_params(m, op);
    int32_t di[4];
    mfl_tensor_dims4(tensor_at(m, op->inputs[0]), di);
    uint64_t elements = 1;
    for (int i = 0; i < 4; i++) {
        const int64_t last = p->start[i] + ((int64_t)p->count[i] - 1) * p->stride[i];
        if (p->count[i] < 1 || p->count[i] > di[i] || p->stride[i] == 0 || p->stride[i] < -MFL_MAX_DIM ||
            p->stride[i] > MFL_MAX_DIM || p->start[i] < 0 || p->start[i] >= di[i] || last < 0 || last >= di[i]) {
            return MFL_ERR_MODEL_PARAMS;
        }
        elements *= (uint64_t)p->count[i];
    }
    return elements == mfl_tensor_elements(tensor_at(m, op->output)) ? 0 : MFL_ERR_MODEL_SHAPE;
}

int mfl_check_strided_slice_s8(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    const int err = check_one_in_one_out(m, op, sizeof(mfl_slice_rec_t) / 4);
    return err ? err : mfl_check_slice_window(m, op);
}

int mfl_check_transpose_s8(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    int err = check_one_in_one_out(m, op, sizeof(mfl_transpose_rec_t) / 4);
    if (err) {
        return err;
    }
    const mfl_tensor_rec_t *in = tensor_at(m, op->inputs[0]);
    const mfl_tensor_rec_t *out = tensor_at(m, op->output);
    const mfl_transpose_rec_t *p = (const mfl_transpose_rec_t *)(const void *)mfl_op_params(m, op);
    int32_t di[4], d_out[4];
    mfl_tensor_dims4(in, di);
    mfl_tensor_dims4(out, d_out);
    unsigned seen = 0;
    for (int i = 0; i < 4; i++) {
        if (p->perm[i] < 0 || p->perm[i] > 3 || (seen & (1u << p->perm[i]))) {
            return MFL_ERR_MODEL_PARAMS;
        }
        seen |= 1u << p->perm[i];
    }
    for (int i = 0; i < 4; i++) {
        if (d_out[i] != di[p->perm[i]]) {
            return MFL_ERR_MODEL_SHAPE;
        }
    }
    return in->rank == out->rank ? 0 : MFL_ERR_MODEL_SHAPE;
}

/* Format 1 keeps the field zero; format 2 gives CONV_2D an optional int8
 * activation as scratch (any shape and size: only its bytes count, and the
 * kernel checks they are enough, running the portable path otherwise) and
 * every other op none. */
static int check_scratch(const mfl_model_t *m, const mfl_op_rec_t *op)
{
    if (m->header->format_version < 2) {
        return op->scratch == 0 ? 0 : MFL_ERR_MODEL_OP;
    }
    if (op->scratch == MFL_NONE) {
        return 0;
    }
    const mfl_tensor_rec_t *s = tensor_at(m, op->scratch);
    return op->opcode == MFL_OP_CONV_2D && is_activation(s) ? 0 : MFL_ERR_MODEL_OP;
}

int mfl_validate_op(const mfl_model_t *m, const mfl_op_rec_t *op, const mfl_op_resolver_t *r)
{
    if (op->n_inputs < 1 || op->n_inputs > 3 || op->output >= m->header->n_tensors) {
        return MFL_ERR_MODEL_OP;
    }
    for (int k = 0; k < 3; k++) {
        const uint16_t t = op->inputs[k];
        /* Only the bias (input 2) is optional; unused slots must be MFL_NONE. */
        if (k < op->n_inputs ? (t >= m->header->n_tensors && !(k == 2 && t == MFL_NONE)) : t != MFL_NONE) {
            return MFL_ERR_MODEL_OP;
        }
    }
    if (op->params_offset % 4 != 0 || (uint64_t)op->params_offset + op->params_size > m->header->data_size) {
        return MFL_ERR_MODEL_PARAMS;
    }
    const int type = m->tensors[op->output].type;
    const mfl_op_reg_t *reg = mfl_op_find(r, op->opcode, type);
    if (!reg) {
        return mfl_op_supported(op->opcode, type) ? MFL_ERR_OP_NOT_REGISTERED : MFL_ERR_UNSUPPORTED_OP;
    }
    const int err = reg->check(m, op);
    return err ? err : check_scratch(m, op);
}
