/*
 * Bias-only fine-tuning of the feature layer (bias_tune.h, mfl/learner.h).
 *
 * Real units: the layer's real output is y_j = s_in s_wj (acc_j + b_j), so
 * a change of its real bias moves y_j one for one while the code lies
 * inside the activation range; the head sees x_j = y_j there. The learned
 * change is kept in Q8.24 real units, like the head's master, and turned
 * into accumulator units with 1 / (s_in s_wj) = 1 / (M_j s_x), M_j being
 * the layer's requantization multiplier and s_x its output scale.
 *
 * Bounds: a bias gradient sums at most 64 samples x 256 units of a Q0.15
 * logit gradient (|g| <= 2^15) times a Q8.24 weight (|W| < 2^31): below
 * 2^60 in int64.
 */
#include <string.h>

#include "../kernels/fully_connected_acc.h"
#include "../model/model_validate.h"
#include "bias_tune.h"
#include "mfl/error.h"
#include "mfl/head.h"
#include "mfl/quant.h"

#define ALIGN8(x) (((x) + 7u) & ~(size_t)7u)

int mfl_bias_tune_check(const mfl_model_t *m, uint16_t head_op)
{
    if (head_op == 0 || head_op >= m->header->n_ops) {
        return MFL_ERR_LEARN_CONFIG;
    }
    const mfl_op_rec_t *op = &m->ops[head_op - 1];
    if (op->opcode != MFL_OP_FULLY_CONNECTED || op->output != m->ops[head_op].inputs[0]) {
        return MFL_ERR_LEARN_CONFIG;
    }
    for (uint16_t k = 0; k < m->header->n_ops; k++) { /* the head alone reads the features */
        const mfl_op_rec_t *o = &m->ops[k];
        for (uint8_t i = 0; k != head_op && i < o->n_inputs && i < 3; i++) {
            if (o->inputs[i] == op->output) {
                return MFL_ERR_LEARN_CONFIG;
            }
        }
    }
    const int32_t inputs = m->tensors[op->inputs[1]].dims[1];
    /* one input row: a batch of rows would be tuned on its first only */
    const int one_row = mfl_tensor_elements(&m->tensors[op->inputs[0]]) == (uint32_t)inputs;
    return m->header->output != op->output && one_row && inputs >= 1 && inputs <= MFL_HEAD_MAX_FEATURES
               ? 0
               : MFL_ERR_LEARN_CONFIG;
}

size_t mfl_bias_tune_bytes(uint16_t features, uint16_t batch)
{
    const size_t f = features;
    return ALIGN8(f * sizeof(mfl_scale_t)) + 4 * ALIGN8(f * 4) + ALIGN8(f * (size_t)(batch ? batch : 1));
}

void mfl_bias_tune_bind(mfl_bias_tune_t *t, const mfl_model_t *m, uint16_t head_op, mfl_scale_t feature_scale,
                        void *mem)
{
    const uint16_t k = (uint16_t)(head_op - 1);
    const mfl_op_rec_t *op = &m->ops[k];
    const mfl_tensor_rec_t *w = &m->tensors[op->inputs[1]];
    const mfl_fc_rec_t *fc = (const mfl_fc_rec_t *)(const void *)mfl_op_params(m, op);
    const int32_t *mult = mfl_op_params(m, op) + sizeof(*fc) / 4;
    const size_t f = (size_t)w->dims[0];
    uint8_t *p = mem;
    *t = (mfl_bias_tune_t){
        .op = k, .inputs = (uint16_t)w->dims[1], .features = (uint16_t)f,
        .input_offset = -m->tensors[op->inputs[0]].zero_point, .output_zp = m->tensors[op->output].zero_point,
        .act_min = fc->act_min, .act_max = fc->act_max, .w = (const int8_t *)(m->data + w->offset),
        .mult = mult, .shift = mult + fc->n_multipliers, .per_channel = fc->n_multipliers > 1,
    };
    t->to_acc = (mfl_scale_t *)(void *)p;
    p += ALIGN8(f * sizeof(mfl_scale_t));
    t->bias0 = (int32_t *)(void *)p;
    t->delta = (int32_t *)(void *)(p += ALIGN8(f * 4));
    t->bias = (int32_t *)(void *)(p += ALIGN8(f * 4));
    t->acc = (int32_t *)(void *)(p += ALIGN8(f * 4));
    t->x = (int8_t *)(p + ALIGN8(f * 4));
    if (op->inputs[2] != MFL_NONE) {
        memcpy(t->bias0, m->data + m->tensors[op->inputs[2]].offset, f * 4);
    } else {
        memset(t->bias0, 0, f * 4);
    }
    const mfl_scale_t q24 = mfl_scale_from_int(1, MFL_HEAD_FRAC);
    for (size_t j = 0; j < f; j++) {
        const size_t c = t->per_channel ? j : 0;
        const mfl_scale_t real_per_acc = mfl_scale_mul((mfl_scale_t){t->mult[c], t->shift[c]}, feature_scale);
        t->to_acc[j] = real_per_acc.m ? mfl_scale_div(q24, real_per_acc) : (mfl_scale_t){0, 0};
    }
    mfl_bias_tune_reset(t);
}

void mfl_bias_tune_reset(mfl_bias_tune_t *t)
{
    memset(t->delta, 0, (size_t)t->features * 4);
    memcpy(t->bias, t->bias0, (size_t)t->features * 4);
}

void mfl_bias_tune_acc(const mfl_bias_tune_t *t, const int8_t *in, int32_t *acc)
{
    mfl_fully_connected_acc_s8(t->inputs, in, t->input_offset, t->features, t->w, acc);
}

void mfl_bias_tune_features(const mfl_bias_tune_t *t, const int32_t *acc, int8_t *out)
{
    for (uint16_t j = 0; j < t->features; j++) {
        const size_t c = t->per_channel ? j : 0;
        const int32_t v = mfl_quant_mul_by_qm_fast(mfl_quant_add_wrap(acc[j], t->bias[j]), t->mult[c], t->shift[c]);
        out[j] = (int8_t)mfl_quant_clamp(mfl_quant_add_wrap(v, t->output_zp), t->act_min, t->act_max);
    }
}

static int32_t sat32(int64_t v)
{
    return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

/* sum over the batch's samples in which feature j is inside the
 * activation range of sum_u g_uk W_uj (Q0.15 x Q8.24). */
static int64_t bias_gradient(const mfl_bias_tune_t *t, const mfl_head_t *h, const int16_t *g, int batch, uint16_t j)
{
    const size_t stride = (size_t)MFL_HEAD_GRAD_STRIDE(batch), f = h->features;
    int64_t sum = 0;
    for (int k = 0; k < batch; k++) {
        const int8_t x = t->x[(size_t)k * f + j];
        if (x <= t->act_min || x >= t->act_max) {
            continue;
        }
        for (uint16_t u = 0; u < h->units; u++) {
            sum += (int64_t)g[u * stride + (size_t)k] * h->w[u * f + j];
        }
    }
    return sum;
}

void mfl_bias_tune_step(mfl_bias_tune_t *t, const mfl_head_t *h, const int16_t *g, int batch, mfl_scale_t lr)
{
    /* lr / B * 2^-15: Q0.15 x Q8.24 products back to Q8.24 */
    mfl_scale_t step = mfl_scale_div(lr, mfl_scale_from_int((uint64_t)batch, 0));
    step.e -= MFL_HEAD_GRAD_FRAC;
    for (uint16_t j = 0; j < t->features; j++) {
        const int64_t grad = bias_gradient(t, h, g, batch, j);
        if (grad) {
            t->delta[j] = sat32((int64_t)t->delta[j] - mfl_scale_apply(step, grad));
            t->bias[j] = sat32((int64_t)t->bias0[j] + mfl_scale_apply(t->to_acc[j], t->delta[j]));
        }
    }
}

void mfl_bias_tune_set(mfl_bias_tune_t *t, uint16_t j, int32_t delta)
{
    t->delta[j] = delta;
    t->bias[j] = sat32((int64_t)t->bias0[j] + mfl_scale_apply(t->to_acc[j], delta));
}
