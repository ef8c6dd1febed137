/*
 * Fine-tuning of the feature layer's weights (weight_tune.h, mfl/learner.h).
 *
 * Parameterisation: the layer's real output is y_j = sum_i V_ji (x_i - zp)
 * + s_in s_wj b_j with V_ji = s_in s_wj w_ji, the real weight per input
 * code. SGD on V needs only P_j = s_in s_wj (the model's requantization
 * gives it: M_j s_out), not s_in alone, which the model does not record;
 * SGD on the real weights W_ji = V_ji / s_in is the same rule with the rate
 * scaled by s_in^2, one constant for the layer.
 *
 * Numbers: a feature's gradient gx_kj = sum_u g_uk W_uj is a Q0.15 x Q8.24
 * product (Q39 in int64, below 2^54); each step brings the batch's
 * gradients to int16 with one shared right shift (block floating point),
 * so that the weight gradient S_ji = sum_k gx_kj (x_ki - zp) stays below
 * 2^15 2^8 2^6 = 2^29 in int32. The master keeps each weight in 1/256 of
 * its int8 code, held within half a code of [-127, 127] (TFLite's weight
 * range), so that the int8 copy the layer runs, its rounding, is too.
 */
#include <string.h>

#include "../kernels/dsp.h"
#include "bias_tune.h"
#include "learner_internal.h"
#include "mfl/error.h"
#include "mfl/head.h"
#include "mfl/scale.h"
#include "weight_tune.h"

#define ALIGN8(x) (((x) + 7u) & ~(size_t)7u)
#define MASTER_FRAC 8 /* master = code * 2^8 */
/* the int16 rows hold an even number of samples (a zero pad after an odd
 * batch), so that a weight's gradient is a run of SMLADs over pairs */
#define PAIRED(batch) (((size_t)(batch) + 1u) & ~(size_t)1u)

size_t mfl_weight_tune_bytes(uint16_t inputs, uint16_t features, uint16_t batch)
{
    const size_t n = (size_t)inputs * features, b = PAIRED(batch ? batch : 1);
    return ALIGN8(n) + ALIGN8(n * 2) + ALIGN8((size_t)features * b * 2) + ALIGN8((size_t)inputs * b * 2);
}

void mfl_weight_tune_bind(mfl_weight_tune_t *wt, mfl_bias_tune_t *bt, uint16_t batch, void *mem)
{
    const size_t n = (size_t)bt->inputs * bt->features, b = PAIRED(batch ? batch : 1);
    uint8_t *p = mem;
    wt->w_model = bt->w;
    wt->w = (int8_t *)p;
    wt->master = (int16_t *)(void *)(p += ALIGN8(n));
    wt->gx = (int16_t *)(void *)(p += ALIGN8(n * 2));
    wt->xs = (int16_t *)(void *)(p + ALIGN8((size_t)bt->features * b * 2));
    bt->w = wt->w;
    mfl_weight_tune_reset(wt, bt->inputs, bt->features);
}

void mfl_weight_tune_reset(mfl_weight_tune_t *wt, uint16_t inputs, uint16_t features)
{
    const size_t n = (size_t)inputs * features;
    memcpy(wt->w, wt->w_model, n);
    for (size_t k = 0; k < n; k++) {
        wt->master[k] = (int16_t)(wt->w_model[k] * (1 << MASTER_FRAC));
    }
}

/* gx_kj in Q39 for sample k, feature j: 0 where the feature's code is
 * clamped (no gradient flows through the activation there). */
static int64_t feature_gradient(const mfl_bias_tune_t *bt, const mfl_head_t *h, const int16_t *g, size_t stride,
                                int k, uint16_t j)
{
    const int8_t x = bt->x[(size_t)k * bt->features + j];
    int64_t sum = 0;
    if (x > bt->act_min && x < bt->act_max) {
        for (uint16_t u = 0; u < h->units; u++) {
            sum += (int64_t)g[(size_t)u * stride + (size_t)k] * h->w[(size_t)u * h->features + j];
        }
    }
    return sum;
}

/* The batch's feature gradients into wt->gx [feature][sample] as int16,
 * all shifted right by the returned amount (rounding to nearest). */
static int gradients_to_int16(mfl_weight_tune_t *wt, const mfl_bias_tune_t *bt, const mfl_head_t *h,
                              const int16_t *g, int batch)
{
    const size_t stride = (size_t)MFL_HEAD_GRAD_STRIDE(batch);
    uint64_t max = 0;
    for (int k = 0; k < batch; k++) {
        for (uint16_t j = 0; j < bt->features; j++) {
            const int64_t v = feature_gradient(bt, h, g, stride, k, j);
            const uint64_t a = v < 0 ? (uint64_t)-v : (uint64_t)v;
            max = a > max ? a : max;
        }
    }
    int shift = 0;
    while ((max >> shift) >= 0x7FFFu) {
        shift++;
    }
    const int64_t half = shift ? (int64_t)1 << (shift - 1) : 0;
    for (int k = 0; k < batch; k++) {
        for (uint16_t j = 0; j < bt->features; j++) {
            const int64_t v = feature_gradient(bt, h, g, stride, k, j);
            wt->gx[(size_t)j * PAIRED(batch) + (size_t)k] = (int16_t)((v + half) >> shift);
        }
    }
    for (uint16_t j = 0; batch % 2 && j < bt->features; j++) {
        wt->gx[(size_t)j * PAIRED(batch) + (size_t)batch] = 0;
    }
    return shift;
}

/* The batch's inputs minus their zero point into wt->xs [input][sample]:
 * each weight's gradient is then one dot product of two int16 rows. */
static void inputs_to_int16(mfl_weight_tune_t *wt, const mfl_bias_tune_t *bt, const int8_t *const *in,
                            int batch)
{
    for (int k = 0; k < batch; k++) {
        for (uint16_t i = 0; i < bt->inputs; i++) {
            wt->xs[(size_t)i * PAIRED(batch) + (size_t)k] = (int16_t)(in[k][i] + bt->input_offset);
        }
    }
    for (uint16_t i = 0; batch % 2 && i < bt->inputs; i++) {
        wt->xs[(size_t)i * PAIRED(batch) + (size_t)batch] = 0;
    }
}

/* S_ji: the dot product of row j's feature gradients and input i's
 * column, over the paired batch. */
static inline int32_t weight_gradient(const int16_t *gj, const int16_t *xi, size_t pairs)
{
    int32_t s = 0;
#if MFL_HAVE_DSP
    for (size_t p = 0; p < pairs; p++) { /* |s| < 2^29: SMLAD's modulo-2^32 sum is exact */
        int32_t g2, x2;
        memcpy(&g2, gj + 2 * p, 4);
        memcpy(&x2, xi + 2 * p, 4);
        s = mfl_smlad(g2, x2, s);
    }
#else
    for (size_t k = 0; k < 2 * pairs; k++) {
        s += (int32_t)gj[k] * xi[k];
    }
#endif
    return s;
}

/* The master's range: the int8 codes [-127, 127] and up to half a code
 * beyond, so that its rounding needs no clamp. */
#define MASTER_MIN (-127 * (1 << MASTER_FRAC) - (1 << (MASTER_FRAC - 1)))
#define MASTER_MAX (127 * (1 << MASTER_FRAC) + (1 << (MASTER_FRAC - 1)) - 1)

/* How a row's gradients become master steps: round(S m 2^-right), right >=
 * 1; past 32 the high word of the 64-bit product is shifted (one SMULL),
 * its discarded low word moving the result by under 2^(32 - right) of a
 * unit (|S m| < 2^60: that word and its rounding fit an int32). Up to 32
 * (large rates) a step reaches 2^59: it is held to STEP_MAX, which
 * saturates the master from anywhere in its range, since taken to int32
 * as it is it would wrap (a step of either sign) and the master's
 * subtraction overflow. */
#define STEP_MAX (MASTER_MAX - MASTER_MIN)

typedef struct {
    int32_t m, half32;
    int64_t half64;
    int right, high, r2;
} row_scale_t;

static row_scale_t row_scale(int32_t m, int right)
{
    row_scale_t r = {m, 0, (int64_t)1 << (right - 1), right, right > 32, 0};
    if (r.high) { /* only there: at right = 32, 1 << 31 would not fit an int */
        r.r2 = right - 32;
        r.half32 = (int32_t)1 << (r.r2 - 1);
    }
    return r;
}

/* master_ji -= the step for S_ji; the int8 weight follows. */
static inline void apply_step(int16_t *master, int8_t *w, int32_t s, const row_scale_t *r)
{
    int32_t d;
    if (r->high) {
        d = (int32_t)((((int64_t)s * r->m) >> 32) + r->half32) >> r->r2;
    } else {
        const int64_t d64 = ((int64_t)s * r->m + r->half64) >> r->right;
        d = d64 > STEP_MAX ? STEP_MAX : d64 < -STEP_MAX ? -STEP_MAX : (int32_t)d64;
    }
    int32_t v = (int32_t)*master - d;
    v = v > MASTER_MAX ? MASTER_MAX : v < MASTER_MIN ? MASTER_MIN : v;
    *master = (int16_t)v;
    *w = (int8_t)((v + (1 << (MASTER_FRAC - 1))) >> MASTER_FRAC);
}

/* The exchanged form's 2^-16 of a code to the master's 2^-8: rounded half
 * away from zero, then held to the master's range. */
#define EXCHANGE_SHIFT (MFL_LAYER_WEIGHT_FRAC - MASTER_FRAC)

static int16_t master_from_exchanged(int32_t v)
{
    const int64_t half = 1 << (EXCHANGE_SHIFT - 1);
    const int64_t m = v >= 0 ? ((int64_t)v + half) >> EXCHANGE_SHIFT : -((half - (int64_t)v) >> EXCHANGE_SHIFT);
    return (int16_t)(m > MASTER_MAX ? MASTER_MAX : m < MASTER_MIN ? MASTER_MIN : m);
}

void mfl_weight_tune_read(const mfl_weight_tune_t *wt, uint16_t inputs, uint16_t features, int32_t *out)
{
    for (uint16_t j = 0; j < features; j++) {
        const int16_t *master = wt->master + (size_t)j * inputs;
        int32_t *row = out + (size_t)j * (inputs + 1u);
        for (uint16_t i = 0; i < inputs; i++) {
            row[i] = (int32_t)master[i] * (1 << EXCHANGE_SHIFT);
        }
    }
}

void mfl_weight_tune_install(mfl_weight_tune_t *wt, uint16_t inputs, uint16_t features, const int32_t *layer)
{
    for (uint16_t j = 0; j < features; j++) {
        const int32_t *row = layer + (size_t)j * (inputs + 1u);
        const size_t at = (size_t)j * inputs;
        for (uint16_t i = 0; i < inputs; i++) {
            const int16_t m = master_from_exchanged(row[i]);
            wt->master[at + i] = m;
            wt->w[at + i] = (int8_t)((m + (1 << (MASTER_FRAC - 1))) >> MASTER_FRAC);
        }
    }
}

/* One row's update from its gradients and every input's column. */
static void update_row(mfl_weight_tune_t *wt, uint16_t inputs, uint16_t j, size_t pairs, row_scale_t r)
{
    const int16_t *gj = wt->gx + (size_t)j * 2 * pairs, *xs = wt->xs;
    int16_t *master = wt->master + (size_t)j * inputs;
    int8_t *w = wt->w + (size_t)j * inputs;
#if MFL_HAVE_DSP
    if (pairs == 4) { /* batches of 7 or 8 (the default): the row's gradients stay in registers */
        int32_t g[4];
        memcpy(g, gj, sizeof(g));
        for (uint16_t i = 0; i < inputs; i++, xs += 8) {
            int32_t x[4];
            memcpy(x, xs, sizeof(x));
            const int32_t s =
                mfl_smlad(g[3], x[3], mfl_smlad(g[2], x[2], mfl_smlad(g[1], x[1], mfl_smuad(g[0], x[0]))));
            if (s != 0) {
                apply_step(master + i, w + i, s, &r);
            }
        }
        return;
    }
#endif
    for (uint16_t i = 0; i < inputs; i++) {
        const int32_t s = weight_gradient(gj, xs + (size_t)i * 2 * pairs, pairs);
        if (s != 0) {
            apply_step(master + i, w + i, s, &r);
        }
    }
}

/* Rates beyond 2^+-RATE_E act as the bound does, exactly: the layer's
 * scales put to_acc within 2^+-200 (model.c's head scales, kernel
 * shifts), so that past the bound every nonzero step saturates the master
 * or none reaches 2^-63 of a unit; the exponent arithmetic below then
 * stays far from int32's ends (a rate's e is any int32). */
#define RATE_E 1024

void mfl_weight_tune_step(mfl_weight_tune_t *wt, const mfl_bias_tune_t *bt, const mfl_head_t *h,
                          const int16_t *g, const int8_t *const *in, int batch, mfl_scale_t lr)
{
    lr.e = lr.e > RATE_E ? RATE_E : lr.e < -RATE_E ? -RATE_E : lr.e;
    const int shift = gradients_to_int16(wt, bt, h, g, batch);
    inputs_to_int16(wt, bt, in, batch);
    /* d master = lr / B * S * 2^(shift - 39) * 2^8 / P_j = lr / B * to_acc_j * 2^(shift - 7) * S */
    const mfl_scale_t per_sample = mfl_scale_div(lr, mfl_scale_from_int((uint64_t)batch, 0));
    for (uint16_t j = 0; j < bt->features; j++) {
        mfl_scale_t f = mfl_scale_mul(per_sample, bt->to_acc[j]);
        f.e += shift - 7;
        const int right = 31 - f.e; /* f = m 2^(e - 31): S f = S m 2^-right */
        if (f.m != 0 && right < 63) {
            update_row(wt, bt->inputs, j, PAIRED(batch) / 2, row_scale(f.m, right < 1 ? 1 : right));
        }
    }
}

const mfl_weight_tuning_t mfl_weight_tuning = {
    mfl_weight_tune_bytes,
    mfl_weight_tune_bind,
    mfl_weight_tune_step,
    mfl_weight_tune_reset,
};

/* ---- the learner's entries for weight-tuning learners (mfl/learner.h) ---- */

int mfl_learner_layer_input(mfl_learner_t *l, const int8_t *input, size_t len, const int8_t **in,
                            size_t *in_len)
{
    if (!l || !in || !in_len) {
        return MFL_ERR_INVALID_ARG;
    }
    if (!l->tune_weights) {
        return MFL_ERR_LEARN_CONFIG;
    }
    const int err = mfl_learner_run_to_layer_input(l, input, len, in, in_len);
    if (err) {
        *in = NULL;
    }
    return err;
}

int mfl_learner_features_from_layer_input(mfl_learner_t *l, const int8_t *in, int8_t *out)
{
    if (!l || !in || !out) {
        return MFL_ERR_INVALID_ARG;
    }
    if (!l->tune_weights) {
        return MFL_ERR_LEARN_CONFIG;
    }
    mfl_bias_tune_acc(&l->bt, in, l->bt.acc);
    mfl_bias_tune_features(&l->bt, l->bt.acc, out);
    return 0;
}

int mfl_learner_learn_layer_input(mfl_learner_t *l, const int8_t *in, uint8_t label)
{
    if (!l || !in) {
        return MFL_ERR_INVALID_ARG;
    }
    return !l->tune_weights ? MFL_ERR_LEARN_CONFIG : mfl_learner_learn_sample(l, in, label);
}

/* Checks shared by the layer's read and install. */
static int layer_check(const mfl_learner_t *l, const void *p, size_t n)
{
    if (!l || !p) {
        return MFL_ERR_INVALID_ARG;
    }
    if (!l->tune_weights) {
        return MFL_ERR_LEARN_CONFIG;
    }
    return n == (size_t)l->bt.features * (l->bt.inputs + 1u) ? 0 : MFL_ERR_PROTO_DIMENSION;
}

int mfl_learner_layer_read(const mfl_learner_t *l, int32_t *out, size_t n)
{
    const int err = layer_check(l, out, n);
    if (err) {
        return err;
    }
    mfl_weight_tune_read(&l->wt, l->bt.inputs, l->bt.features, out);
    for (uint16_t j = 0; j < l->bt.features; j++) {
        out[(size_t)j * (l->bt.inputs + 1u) + l->bt.inputs] = l->bt.delta[j];
    }
    return 0;
}

int mfl_learner_layer_install(mfl_learner_t *l, const int32_t *layer, size_t n)
{
    const int err = layer_check(l, layer, n);
    if (err) {
        return err;
    }
    mfl_weight_tune_install(&l->wt, l->bt.inputs, l->bt.features, layer);
    for (uint16_t j = 0; j < l->bt.features; j++) {
        mfl_bias_tune_set(&l->bt, j, layer[(size_t)j * (l->bt.inputs + 1u) + l->bt.inputs]);
    }
    return 0;
}
