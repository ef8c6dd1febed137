/*
 * The device learner (see include/mfl/learner.h): glue between the
 * interpreter (backbone and the ops after the head), the fixed-point head
 * trainer (optim/head_sgd.c) and the replay buffer.
 */
#include <string.h>

#include "../model/model_validate.h"
#include "bias_tune.h"
#include "learner_internal.h"
#include "mfl/error.h"
#include "mfl/kernels.h"
#include "mfl/learner.h"

#define ALIGN8(x) (((x) + 7u) & ~(size_t)7u)

mfl_learn_opts_t mfl_learn_defaults(void)
{
    mfl_learn_opts_t o = {
        .lr = mfl_scale_from_int(1311, 16), /* 0.02 */
        .batch = 8,
        .steps = 1,
        .balanced = 1,
        .drift_max = 0,
        .seed = 1,
        .loss = MFL_LOSS_CROSS_ENTROPY,
    };
    return o;
}

typedef struct {
    uint16_t units, features;
} head_shape_t;

/* What a learner tunes below the head: nothing, the feature layer's
 * biases, or its weights (and biases at bias_lr, which may be 0). */
typedef struct {
    uint8_t on, weights;
    uint16_t inputs; /* the feature layer's input length (weights) */
    const mfl_weight_tuning_t *tuning;
} tuning_t;

/* The tuning opts ask for; MFL_ERR_LEARN_CONFIG if the model's feature
 * layer cannot be tuned. */
static int tuning_of(const mfl_model_t *m, const mfl_learn_opts_t *o, tuning_t *t)
{
    *t = (tuning_t){o->bias_lr.m != 0 || o->weight_lr.m != 0, o->weight_lr.m != 0, 0, o->weight_tuning};
    if (!t->on) {
        return 0;
    }
    if ((t->weights && !o->weight_tuning) || mfl_bias_tune_check(m, m->header->head_op)) {
        return MFL_ERR_LEARN_CONFIG;
    }
    const mfl_op_rec_t *op = &m->ops[m->header->head_op - 1];
    t->inputs = t->weights ? (uint16_t)m->tensors[op->inputs[1]].dims[1] : 0;
    return 0;
}

/* The head's shape; classification heads have at most MFL_HEAD_MAX_UNITS
 * units (labels are uint8), regression heads MFL_HEAD_MAX_UNITS_MSE. */
static int head_shape(const mfl_model_t *m, head_shape_t *s, int mse)
{
    if (m && m->header && mfl_model_input_count(m) != 1) {
        return MFL_ERR_LEARN_CONFIG; /* the learner feeds one input (mfl_learner_infer's) */
    }
    if (!m || !m->header || m->header->head_op == MFL_NONE) {
        return MFL_ERR_NO_HEAD;
    }
    const mfl_tensor_rec_t *w = &m->tensors[m->ops[m->header->head_op].inputs[1]];
    s->units = (uint16_t)w->dims[0];
    s->features = (uint16_t)w->dims[1];
    if (s->units > (mse ? MFL_HEAD_MAX_UNITS_MSE : MFL_HEAD_MAX_UNITS) || s->features > MFL_HEAD_MAX_FEATURES) {
        return MFL_ERR_LEARN_CONFIG;
    }
    return 0;
}

/* The learner's arrays laid out in its memory, 8-byte aligned each: the
 * one layout both mfl_learner_mem_size() and mfl_learner_init() use. */
typedef struct {
    size_t w, qw, b, qbias, qmult, qshift, qscale, w0_scale, b0, w0_ram, g, tune, weights, replay, total;
} mem_layout_t;

/* Bytes of one replayed sample: its features; with tuned biases the
 * feature layer's int32 accumulators; with tuned weights that layer's int8
 * input; a regression learner's features and then its int8 target (units
 * bytes). */
static uint16_t replay_dim(head_shape_t s, tuning_t tune, int mse)
{
    return (uint16_t)(tune.weights ? tune.inputs
                      : tune.on    ? 4u * s.features
                      : mse        ? (unsigned)s.features + s.units
                                   : s.features);
}

static mem_layout_t mem_layout(head_shape_t s, uint16_t batch, uint16_t replay_capacity, tuning_t tune, int mse)
{
    const size_t params = (size_t)s.units * s.features, units = s.units;
    mem_layout_t L;
    size_t at = 0;
#define PLACE(field, bytes) (L.field = at, at += ALIGN8(bytes))
    PLACE(w, params * 4);
    PLACE(qw, params);
    PLACE(b, units * 4);
    PLACE(qbias, units * 4);
    PLACE(qmult, units * 4);
    PLACE(qshift, units * 4);
    PLACE(qscale, units * sizeof(mfl_scale_t));
    PLACE(w0_scale, units * sizeof(mfl_scale_t));
    PLACE(b0, units * 4);
    PLACE(w0_ram, params);
    PLACE(g, mse ? mfl_head_mse_scratch_size(s.units, s.features, batch)
                 : mfl_head_step_scratch_size(s.units, s.features, batch));
    PLACE(tune, tune.on ? mfl_bias_tune_bytes(s.features, batch) : 0);
    PLACE(weights, tune.weights ? tune.tuning->bytes(tune.inputs, s.features, batch) : 0);
    PLACE(replay, mfl_replay_mem_size(replay_dim(s, tune, mse), replay_capacity));
#undef PLACE
    L.total = at;
    return L;
}

/* A learning rate the steps can scale by without overflow: 0 (m = 0), or
 * a normalised mantissa with an exponent within +-MAX_RATE_EXP (rates
 * 2^-131 to 2^69: far beyond any that learns). */
#define MAX_RATE_EXP 100
static int rate_ok(mfl_scale_t r, int zero_ok)
{
    return (zero_ok && r.m == 0) || (r.m >= (1 << 30) && r.e >= -MAX_RATE_EXP && r.e <= MAX_RATE_EXP);
}

static int check_opts(const mfl_learn_opts_t *o)
{
    const int ok = rate_ok(o->lr, 0) && o->batch >= 1 && o->batch <= MFL_HEAD_MAX_BATCH && o->steps >= 1 &&
                   o->drift_max >= 0 && rate_ok(o->bias_lr, 1) && rate_ok(o->weight_lr, 1) &&
                   (o->loss == MFL_LOSS_CROSS_ENTROPY ||
                    (o->loss == MFL_LOSS_MSE && o->bias_lr.m == 0 && o->weight_lr.m == 0));
    return ok ? 0 : MFL_ERR_LEARN_CONFIG;
}

size_t mfl_learner_mem_size_for(const mfl_model_t *model, uint16_t replay_capacity,
                                const mfl_learn_opts_t *opts)
{
    head_shape_t s;
    const mfl_learn_opts_t o = opts ? *opts : mfl_learn_defaults();
    const int mse = o.loss == MFL_LOSS_MSE;
    tuning_t tune;
    if (check_opts(&o) || head_shape(model, &s, mse) || tuning_of(model, &o, &tune)) {
        return 0;
    }
    return mem_layout(s, o.batch, replay_capacity, tune, mse).total;
}

size_t mfl_learner_mem_size(const mfl_model_t *model, uint16_t replay_capacity, uint16_t batch)
{
    mfl_learn_opts_t o = mfl_learn_defaults();
    o.batch = batch;
    return mfl_learner_mem_size_for(model, replay_capacity, &o);
}

size_t mfl_learner_mem_size_tuned(const mfl_model_t *model, uint16_t replay_capacity, uint16_t batch)
{
    mfl_learn_opts_t o = mfl_learn_defaults();
    o.batch = batch;
    o.bias_lr = mfl_scale_from_int(1, 0); /* any nonzero rate: the layout depends on tuning, not on it */
    return mfl_learner_mem_size_for(model, replay_capacity, &o);
}

/* The model's own int8 head: weights and biases in flash, scales from the
 * head block, multipliers from the op's parameters: bit-exact with the
 * model until the first update. */
static void load_model_head(mfl_learner_t *l)
{
    const mfl_model_t *m = l->model;
    const mfl_op_rec_t *op = &m->ops[l->head_op];
    const size_t n = (size_t)l->head.units * l->head.features;
    memcpy(l->q.w, m->data + m->tensors[op->inputs[1]].offset, n);
    if (op->inputs[2] != MFL_NONE) {
        memcpy(l->q.bias, m->data + m->tensors[op->inputs[2]].offset, (size_t)l->head.units * 4);
    } else {
        memset(l->q.bias, 0, (size_t)l->head.units * 4);
    }
    const mfl_fc_rec_t *fc = (const mfl_fc_rec_t *)(const void *)mfl_op_params(m, op);
    const int32_t *mult = mfl_op_params(m, op) + sizeof(*fc) / 4;
    for (uint16_t i = 0; i < l->head.units; i++) {
        const int32_t k = fc->n_multipliers > 1 ? i : 0;
        l->q.multiplier[i] = mult[k];
        l->q.shift[i] = mult[fc->n_multipliers + k];
        l->q.scale[i] = l->w0_scale[i];
    }
    mfl_head_from_quantized(&l->head, &l->q);
    memcpy(l->b0, l->head.b, (size_t)l->head.units * 4);
}

/* An installed global head: the master from its int8 weights and Q8.24
 * biases, then the kernel's form requantized from the master. Should that
 * fail, the int8 head stays marked stale, so that inference reports it
 * rather than running a half-written head. */
static int load_installed_head(mfl_learner_t *l)
{
    const size_t n = (size_t)l->head.units * l->head.features;
    memcpy(l->q.w, l->w0, n);
    for (uint16_t i = 0; i < l->head.units; i++) {
        l->q.scale[i] = l->w0_scale[i];
        l->q.bias[i] = 0;
    }
    mfl_head_from_quantized(&l->head, &l->q);
    memcpy(l->head.b, l->b0, (size_t)l->head.units * 4);
    const int err = mfl_head_requantize(&l->head, &l->q);
    l->int8_stale = err != 0;
    return err;
}

static int load_global_head(mfl_learner_t *l)
{
    l->updates = l->samples = 0;
    l->int8_stale = 0;
    if (!l->global_installed) {
        load_model_head(l);
        return 0;
    }
    return load_installed_head(l);
}

static void bind_head(mfl_learner_t *l, uint8_t *mem, head_shape_t s, const mem_layout_t *L)
{
    const mfl_model_t *m = l->model;
    const mfl_op_rec_t *op = &m->ops[l->head_op];
    const mfl_head_rec_t *hr = (const mfl_head_rec_t *)(const void *)(m->data + m->header->head_params_offset);
    const int32_t *w_m = (const int32_t *)(const void *)(hr + 1);
    const mfl_fc_rec_t *fc = (const mfl_fc_rec_t *)(const void *)mfl_op_params(m, op);

    l->head = (mfl_head_t){
        .units = s.units,
        .features = s.features,
        .feature_zp = m->tensors[op->inputs[0]].zero_point,
        .feature_scale = {hr->feature_scale_m, hr->feature_scale_e},
        .output_scale = {hr->output_scale_m, hr->output_scale_e},
        .act_min = fc->act_min,
        .act_max = fc->act_max,
        .output_zp = m->tensors[op->output].zero_point,
        .w = (int32_t *)(void *)(mem + L->w),
        .b = (int32_t *)(void *)(mem + L->b),
    };
    l->q = (mfl_head_q_t){
        .w = (int8_t *)(mem + L->qw),
        .bias = (int32_t *)(void *)(mem + L->qbias),
        .multiplier = (int32_t *)(void *)(mem + L->qmult),
        .shift = (int32_t *)(void *)(mem + L->qshift),
        .scale = (mfl_scale_t *)(void *)(mem + L->qscale),
    };
    l->w0_scale = (mfl_scale_t *)(void *)(mem + L->w0_scale);
    l->b0 = (int32_t *)(void *)(mem + L->b0);
    l->w0_ram = (int8_t *)(mem + L->w0_ram);
    l->g = mem + L->g;
    for (uint16_t i = 0; i < s.units; i++) {
        l->w0_scale[i] = (mfl_scale_t){w_m[i], w_m[s.units + i]};
    }
    l->w0 = (const int8_t *)(m->data + m->tensors[op->inputs[1]].offset);
}

int mfl_learner_init(mfl_learner_t *l, const mfl_model_t *model, void *arena, size_t arena_size, void *mem,
                     size_t mem_size, uint16_t replay_capacity, const mfl_learn_opts_t *opts)
{
    head_shape_t s;
    if (!l || !model || !mem) {
        return MFL_ERR_INVALID_ARG;
    }
    const mfl_learn_opts_t o = opts ? *opts : mfl_learn_defaults();
    int err = head_shape(model, &s, o.loss == MFL_LOSS_MSE);
    if (err) {
        return err;
    }
    err = check_opts(&o);
    if (err) {
        return err;
    }
    const int mse = o.loss == MFL_LOSS_MSE;
    tuning_t tune;
    if (tuning_of(model, &o, &tune)) {
        return MFL_ERR_LEARN_CONFIG;
    }
    const mem_layout_t L = mem_layout(s, o.batch, replay_capacity, tune, mse);
    if (mem_size < L.total || (uintptr_t)mem % 8 != 0) {
        return mem_size < L.total ? MFL_ERR_BUFFER_TOO_SMALL : MFL_ERR_INVALID_ARG;
    }
    memset(l, 0, sizeof(*l));
    l->model = model;
    l->head_op = model->header->head_op;
    l->opts = o;
    l->rng = o.seed ? o.seed : 1;
    l->use = MFL_HEAD_OWN;
    err = mfl_interp_init(&l->interp, model, arena, arena_size);
    if (err) {
        return err;
    }
    bind_head(l, mem, s, &L);
    l->tune = tune.on;
    l->tune_weights = tune.weights;
    if (tune.on) {
        mfl_bias_tune_bind(&l->bt, model, l->head_op, l->head.feature_scale, (uint8_t *)mem + L.tune);
    }
    if (tune.weights) {
        o.weight_tuning->bind(&l->wt, &l->bt, o.batch, (uint8_t *)mem + L.weights);
    }
    const uint16_t dim = replay_dim(s, tune, mse);
    err = mfl_replay_init(&l->replay, (uint8_t *)mem + L.replay, mfl_replay_mem_size(dim, replay_capacity), dim,
                          replay_capacity, o.balanced, o.seed ^ 0xA5A5A5A5u);
    return err ? err : load_global_head(l);
}

static int set_input(mfl_learner_t *l, const int8_t *input, size_t len)
{
    int8_t *in;
    size_t in_len;
    int err = mfl_interp_input(&l->interp, &in, &in_len);
    if (err || !input || len != in_len) {
        return MFL_ERR_INVALID_ARG;
    }
    if (in != input) { /* a caller may have written the arena's input buffer itself */
        memcpy(in, input, len);
    }
    return 0;
}

int mfl_learner_run_to_layer_input(mfl_learner_t *l, const int8_t *input, size_t len, const int8_t **in,
                                   size_t *n)
{
    int err = set_input(l, input, len);
    err = err ? err : mfl_interp_invoke_range(&l->interp, 0, l->bt.op);
    return err ? err : mfl_interp_tensor(&l->interp, l->model->ops[l->bt.op].inputs[0], in, n);
}

/* Tuning learners: the backbone up to the feature layer, then its
 * accumulators into bt.acc. */
static int run_to_acc(mfl_learner_t *l, const int8_t *input, size_t len)
{
    const int8_t *in;
    size_t n;
    const int err = mfl_learner_run_to_layer_input(l, input, len, &in, &n);
    if (!err) {
        mfl_bias_tune_acc(&l->bt, in, l->bt.acc);
    }
    return err;
}

int mfl_learner_features(mfl_learner_t *l, const int8_t *input, size_t len, const int8_t **features)
{
    size_t n;
    if (!l || !features) {
        return MFL_ERR_INVALID_ARG;
    }
    if (l->tune) {
        const int err = run_to_acc(l, input, len);
        if (!err) {
            mfl_bias_tune_features(&l->bt, l->bt.acc, l->bt.x);
            *features = l->bt.x;
        }
        return err;
    }
    int err = set_input(l, input, len);
    err = err ? err : mfl_interp_invoke_range(&l->interp, 0, l->head_op);
    return err ? err : mfl_interp_tensor(&l->interp, l->model->ops[l->head_op].inputs[0], features, &n);
}

int mfl_learner_feature_acc(mfl_learner_t *l, const int8_t *input, size_t len, const int32_t **acc)
{
    if (!l || !acc) {
        return MFL_ERR_INVALID_ARG;
    }
    if (!l->tune) {
        return MFL_ERR_LEARN_CONFIG;
    }
    const int err = run_to_acc(l, input, len);
    *acc = err ? NULL : l->bt.acc;
    return err;
}

int mfl_learner_features_from_acc(const mfl_learner_t *l, const int32_t *acc, int8_t *out)
{
    if (!l || !acc || !out) {
        return MFL_ERR_INVALID_ARG;
    }
    if (!l->tune) {
        return MFL_ERR_LEARN_CONFIG;
    }
    mfl_bias_tune_features(&l->bt, acc, out);
    return 0;
}

/* The int8 copy the kernel runs, requantized from the master if it has
 * learned since (once per inference at most, not once per step). On an
 * error the previous int8 copy stays. */
static int sync_int8_head(mfl_learner_t *l)
{
    if (!l->int8_stale) {
        return 0;
    }
    const int err = mfl_head_requantize(&l->head, &l->q);
    l->int8_stale = err != 0;
    return err;
}

int mfl_learner_requantize(mfl_learner_t *l)
{
    return l ? sync_int8_head(l) : MFL_ERR_INVALID_ARG;
}

/* The head's FULLY_CONNECTED over the features, one call per block of
 * rows (rows units long; bias NULL: none). */
static void run_rows(const mfl_learner_t *l, const int8_t *w, const int32_t *bias, const int32_t *mult,
                     const int32_t *shift, int32_t per_channel, uint16_t rows, const int8_t *features,
                     int8_t *out)
{
    const mfl_fc_params_t p = {
        .input_offset = -l->head.feature_zp,
        .output_offset = l->head.output_zp,
        .act_min = l->head.act_min,
        .act_max = l->head.act_max,
        .per_channel = per_channel,
    };
    const mfl_requant_t rq = {mult, shift};
    mfl_fully_connected_s8(&p, &rq, 1, l->head.features, features, rows, w, bias, out);
}

/* The model's own head, from flash. */
static void run_shipped(const mfl_learner_t *l, const int8_t *features, int8_t *out)
{
    const mfl_model_t *m = l->model;
    const mfl_op_rec_t *op = &m->ops[l->head_op];
    const mfl_fc_rec_t *fc = (const mfl_fc_rec_t *)(const void *)mfl_op_params(m, op);
    const int32_t *mult = mfl_op_params(m, op) + sizeof(*fc) / 4;
    const int32_t *bias = op->inputs[2] != MFL_NONE
                              ? (const int32_t *)(const void *)(m->data + m->tensors[op->inputs[2]].offset)
                              : NULL;
    run_rows(l, (const int8_t *)(m->data + m->tensors[op->inputs[1]].offset), bias, mult,
             mult + fc->n_multipliers, fc->n_multipliers > 1, l->head.units, features, out);
}

/* An installed global head: its int8 weights on their own row scales,
 * each row's bias and multiplier derived as it runs (no RAM kept for
 * them). MFL_ERR_INVALID_ARG if a row's multiplier or bias leaves the
 * kernel's range. */
static int run_installed(const mfl_learner_t *l, const int8_t *features, int8_t *out)
{
    for (uint16_t i = 0; i < l->head.units; i++) {
        const mfl_scale_t acc_scale = mfl_scale_mul(l->head.feature_scale, l->w0_scale[i]);
        int32_t mult, shift;
        const int64_t bias =
            mfl_scale_apply(mfl_scale_div(mfl_scale_from_int(1, MFL_HEAD_FRAC), acc_scale), l->b0[i]);
        if (mfl_scale_to_multiplier(mfl_scale_div(acc_scale, l->head.output_scale), &mult, &shift) ||
            bias > INT32_MAX || bias < INT32_MIN) {
            return MFL_ERR_INVALID_ARG;
        }
        const int32_t b = (int32_t)bias;
        run_rows(l, l->w0 + (size_t)i * l->head.features, &b, &mult, &shift, 0, 1, features, out + i);
    }
    return 0;
}

/* Head `which`'s logits for a feature vector. 0, or MFL_ERR_INVALID_ARG
 * (an unknown head, an installed global head out of the kernel's range,
 * an own head whose requantization fails). */
static int run_head(mfl_learner_t *l, mfl_head_choice_t which, const int8_t *features, int8_t *out)
{
    if (which == MFL_HEAD_SHIPPED || (which == MFL_HEAD_GLOBAL && !l->global_installed)) {
        run_shipped(l, features, out);
        return 0;
    }
    if (which == MFL_HEAD_GLOBAL) {
        return run_installed(l, features, out);
    }
    const int err = which == MFL_HEAD_OWN ? sync_int8_head(l) : MFL_ERR_INVALID_ARG;
    if (!err) {
        run_rows(l, l->q.w, l->q.bias, l->q.multiplier, l->q.shift, 1, l->head.units, features, out);
    }
    return err;
}

static int argmax(const int8_t *logits, int n)
{
    int best = 0;
    for (int c = 1; c < n; c++) {
        best = logits[c] > logits[best] ? c : best;
    }
    return best;
}

int mfl_learner_infer(mfl_learner_t *l, const int8_t *input, size_t len, const int8_t **output, size_t *out_len)
{
    const int8_t *features;
    int err = mfl_learner_features(l, input, len, &features);
    if (err || !output || !out_len) {
        return err ? err : MFL_ERR_INVALID_ARG;
    }
    err = run_head(l, l->use, features,
                   (int8_t *)(l->interp.arena + l->model->tensors[l->model->ops[l->head_op].output].offset));
    if (err) {
        return err;
    }
    err = mfl_interp_invoke_range(&l->interp, (uint16_t)(l->head_op + 1), l->model->header->n_ops);
    return err ? err : mfl_interp_output(&l->interp, output, out_len);
}

int mfl_learner_predict(mfl_learner_t *l, const int8_t *input, size_t len, int *label)
{
    const int8_t *out, *logits;
    size_t out_len, n;
    if (!label) {
        return MFL_ERR_INVALID_ARG;
    }
    int err = mfl_learner_infer(l, input, len, &out, &out_len);
    err = err ? err : mfl_interp_tensor(&l->interp, l->model->ops[l->head_op].output, &logits, &n);
    if (!err) {
        *label = argmax(logits, (int)n);
    }
    return err;
}

int mfl_learner_predict_features_with(mfl_learner_t *l, mfl_head_choice_t which, const int8_t *features,
                                      int *label)
{
    int8_t logits[MFL_HEAD_MAX_UNITS];
    if (!l || !features || !label) {
        return MFL_ERR_INVALID_ARG;
    }
    if (l->head.units > MFL_HEAD_MAX_UNITS) {
        return MFL_ERR_LEARN_CONFIG; /* a regression head wider than any class label */
    }
    const int err = run_head(l, which, features, logits);
    if (!err) {
        *label = argmax(logits, l->head.units);
    }
    return err;
}

int mfl_learner_head_output(mfl_learner_t *l, const int8_t *features, int8_t *out)
{
    if (!l || !features || !out) {
        return MFL_ERR_INVALID_ARG;
    }
    return run_head(l, MFL_HEAD_OWN, features, out);
}

int mfl_learner_target_from_input(const mfl_learner_t *l, const int8_t *input, size_t len, int8_t *target)
{
    mfl_io_info_t in;
    if (!l || !input || !target || len != l->head.units || mfl_model_input_info(l->model, 0, &in) ||
        in.scale.m == 0 || in.size != len || mfl_tensor_elements(&l->model->tensors[in.tensor]) != len) {
        return MFL_ERR_INVALID_ARG;
    }
    /* t = round(s_in / s_out (x - zp_in)) + zp_out, held to the int8 range */
    const mfl_scale_t r = mfl_scale_div(in.scale, l->head.output_scale);
    for (size_t i = 0; i < len; i++) {
        const int64_t v = mfl_scale_apply(r, (int64_t)input[i] - in.zero_point) + l->head.output_zp;
        target[i] = (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v);
    }
    return 0;
}

int mfl_learner_predict_features(mfl_learner_t *l, const int8_t *features, int *label)
{
    return mfl_learner_predict_features_with(l, MFL_HEAD_OWN, features, label);
}

int mfl_learner_choose_head(mfl_learner_t *l, const int8_t *features, const uint8_t *labels, uint16_t n,
                            mfl_head_choice_t *chosen, uint16_t *correct)
{
    uint16_t right[3] = {0, 0, 0};
    if (!l || !chosen || (n && (!features || !labels))) {
        return MFL_ERR_INVALID_ARG;
    }
    for (int h = MFL_HEAD_SHIPPED; h <= MFL_HEAD_OWN; h++) {
        for (uint16_t k = 0; k < n; k++) {
            int label;
            const int err = labels[k] < l->head.units
                                ? mfl_learner_predict_features_with(
                                      l, (mfl_head_choice_t)h, features + (size_t)k * l->head.features, &label)
                                : MFL_ERR_INVALID_ARG;
            if (err) {
                return err;
            }
            right[h] = (uint16_t)(right[h] + (label == labels[k]));
        }
    }
    mfl_head_choice_t best = MFL_HEAD_SHIPPED;
    best = right[MFL_HEAD_GLOBAL] > right[best] ? MFL_HEAD_GLOBAL : best;
    best = right[MFL_HEAD_OWN] > right[best] ? MFL_HEAD_OWN : best;
    *chosen = best;
    if (correct) {
        memcpy(correct, right, sizeof(right));
    }
    return 0;
}

int mfl_learner_use_head(mfl_learner_t *l, mfl_head_choice_t which)
{
    if (!l || (which != MFL_HEAD_SHIPPED && which != MFL_HEAD_GLOBAL && which != MFL_HEAD_OWN)) {
        return MFL_ERR_INVALID_ARG;
    }
    l->use = which;
    return 0;
}

/* Tuning learners: the batch's samples are accumulators (or, tuning the
 * weights, the layer's inputs, whose accumulators the current weights
 * give); their features with the current biases go to bt.x's rows, which
 * the head then reads. */
static void features_of_batch(mfl_learner_t *l, const int8_t **x, uint16_t n)
{
    for (uint16_t k = 0; k < n; k++) {
        int8_t *row = l->bt.x + (size_t)k * l->bt.features;
        const int32_t *acc = (const int32_t *)(const void *)x[k];
        if (l->tune_weights) {
            mfl_bias_tune_acc(&l->bt, x[k], l->bt.acc);
            acc = l->bt.acc;
        }
        mfl_bias_tune_features(&l->bt, acc, row);
        x[k] = row;
    }
}

/* One SGD step on `first` (if any: features, or a tuning learner's
 * accumulators) plus random replayed samples, on the head and then on
 * tuned biases; the int8 copy is requantized before the next inference. */
static int sgd_step(mfl_learner_t *l, const void *first, uint8_t first_label, const int8_t *first_target,
                    uint16_t batch)
{
    const int8_t *x[MFL_HEAD_MAX_BATCH], *t[MFL_HEAD_MAX_BATCH];
    uint8_t y[MFL_HEAD_MAX_BATCH];
    uint16_t n = 0;
    if (first) {
        x[n] = first;
        t[n] = first_target;
        y[n++] = first_label;
    }
    while (n < batch && l->replay.count) {
        const uint16_t k = mfl_replay_pick(&l->replay);
        x[n] = mfl_replay_features(&l->replay, k);
        t[n] = x[n] + l->head.features; /* a regression learner's entries: features, then target */
        y[n++] = l->replay.labels[k];
    }
    if (n == 0) {
        return 0;
    }
    const int8_t *layer_in[MFL_HEAD_MAX_BATCH]; /* the weight step's inputs, before x turns into features */
    if (l->tune_weights) {
        memcpy(layer_in, x, n * sizeof(x[0]));
    }
    if (l->tune) {
        features_of_batch(l, x, n);
    }
    const int32_t drift = l->opts.drift_max;
    const int8_t *w0 = drift ? l->w0 : NULL;
    int err = l->opts.loss == MFL_LOSS_MSE
                  ? mfl_head_sgd_step_mse(&l->head, x, t, n, l->opts.lr, l->g, w0, l->w0_scale, drift, NULL)
                  : mfl_head_sgd_step_clamped(&l->head, x, y, n, l->opts.lr, l->g, w0, l->w0_scale, drift);
    if (!err) {
        if (l->tune) { /* the step left the logit gradients at the start of its scratch */
            mfl_bias_tune_step(&l->bt, &l->head, (const int16_t *)l->g, n, l->opts.bias_lr);
        }
        if (l->tune_weights) {
            l->opts.weight_tuning->step(&l->wt, &l->bt, &l->head, (const int16_t *)l->g, layer_in, n,
                                        l->opts.weight_lr);
        }
        l->updates++;
        l->int8_stale = 1;
    }
    return err;
}

/* The steps on a new sample (features, or accumulators when tuning),
 * then the sample into the replay buffer. */
int mfl_learner_learn_sample(mfl_learner_t *l, const void *sample, uint8_t label)
{
    if (label >= l->head.units) {
        return MFL_ERR_LABEL;
    }
    /* train before storing: the buffer may reuse the sample's memory slot */
    int err = 0;
    for (uint16_t s = 0; s < l->opts.steps && !err; s++) {
        err = sgd_step(l, sample, label, NULL, l->opts.batch);
    }
    if (!err) {
        mfl_replay_add(&l->replay, sample, label);
        l->samples++;
    }
    return err;
}

/* Regression learners: the steps on features and a target, then both
 * into the replay buffer as one entry (features, then target), staged in
 * the step's scratch, which is free again after the steps and larger than
 * features + units bytes (its gradients alone take 4 units, its shadow 8
 * features). */
static int learn_target_sample(mfl_learner_t *l, const int8_t *features, const int8_t *target)
{
    int err = 0;
    for (uint16_t s = 0; s < l->opts.steps && !err; s++) {
        err = sgd_step(l, features, 0, target, l->opts.batch);
    }
    if (!err) {
        int8_t *entry = l->g;
        memmove(entry, features, l->head.features); /* features may be a replayed entry: memmove */
        memmove(entry + l->head.features, target, l->head.units);
        mfl_replay_add(&l->replay, entry, 0);
        l->samples++;
    }
    return err;
}

int mfl_learner_learn_features(mfl_learner_t *l, const int8_t *features, uint8_t label)
{
    if (!l || !features) {
        return MFL_ERR_INVALID_ARG;
    }
    return l->tune || l->opts.loss != MFL_LOSS_CROSS_ENTROPY ? MFL_ERR_LEARN_CONFIG
                                                             : mfl_learner_learn_sample(l, features, label);
}

int mfl_learner_learn_features_target(mfl_learner_t *l, const int8_t *features, const int8_t *target)
{
    if (!l || !features || !target) {
        return MFL_ERR_INVALID_ARG;
    }
    return l->opts.loss != MFL_LOSS_MSE ? MFL_ERR_LEARN_CONFIG : learn_target_sample(l, features, target);
}

int mfl_learner_learn_target(mfl_learner_t *l, const int8_t *input, size_t len, const int8_t *target)
{
    const int8_t *features;
    if (!l || !target) {
        return MFL_ERR_INVALID_ARG;
    }
    if (l->opts.loss != MFL_LOSS_MSE) {
        return MFL_ERR_LEARN_CONFIG;
    }
    const uintptr_t at = (uintptr_t)target, arena = (uintptr_t)l->interp.arena;
    if (at + l->head.units > arena && at < arena + l->interp.arena_size) {
        return MFL_ERR_INVALID_ARG; /* the backbone's activations would overwrite it */
    }
    const int err = mfl_learner_features(l, input, len, &features);
    return err ? err : learn_target_sample(l, features, target);
}

int mfl_learner_learn_acc(mfl_learner_t *l, const int32_t *acc, uint8_t label)
{
    if (!l || !acc) {
        return MFL_ERR_INVALID_ARG;
    }
    return !l->tune || l->tune_weights ? MFL_ERR_LEARN_CONFIG : mfl_learner_learn_sample(l, acc, label);
}

int mfl_learner_learn(mfl_learner_t *l, const int8_t *input, size_t len, uint8_t label)
{
    if (l && l->opts.loss != MFL_LOSS_CROSS_ENTROPY) {
        return MFL_ERR_LEARN_CONFIG;
    }
    if (l && label >= l->head.units) {
        return MFL_ERR_LABEL;
    }
    if (l && l->tune_weights) {
        const int8_t *in;
        size_t n;
        const int err = mfl_learner_run_to_layer_input(l, input, len, &in, &n);
        return err ? err : mfl_learner_learn_sample(l, in, label);
    }
    if (l && l->tune) {
        const int32_t *acc;
        const int err = mfl_learner_feature_acc(l, input, len, &acc);
        return err ? err : mfl_learner_learn_sample(l, acc, label);
    }
    const int8_t *features;
    int err = mfl_learner_features(l, input, len, &features);
    return err ? err : mfl_learner_learn_features(l, features, label);
}

int mfl_learner_train_buffer(mfl_learner_t *l, uint16_t epochs)
{
    if (!l) {
        return MFL_ERR_INVALID_ARG;
    }
    const uint16_t batch = l->opts.batch;
    const uint32_t steps = ((uint32_t)l->replay.count * epochs + batch - 1) / batch;
    int err = 0;
    for (uint32_t s = 0; s < steps && !err; s++) {
        err = sgd_step(l, NULL, 0, NULL, batch);
    }
    if (!err && epochs && l->samples < l->replay.count) {
        l->samples = l->replay.count; /* an update's weight counts what it was trained on */
    }
    return err;
}

int mfl_learner_reset(mfl_learner_t *l)
{
    if (!l || !l->model) {
        return MFL_ERR_INVALID_ARG;
    }
    return load_global_head(l);
}

int mfl_learner_reset_bias(mfl_learner_t *l)
{
    if (!l || !l->model) {
        return MFL_ERR_INVALID_ARG;
    }
    if (l->tune) {
        mfl_bias_tune_reset(&l->bt);
    }
    if (l->tune_weights) {
        l->opts.weight_tuning->reset(&l->wt, l->bt.inputs, l->bt.features);
    }
    return 0;
}

int mfl_learner_install_global(mfl_learner_t *l, const int8_t *weights, const mfl_scale_t *row_scale,
                               const int32_t *bias_q24, uint16_t units, uint16_t features)
{
    if (!l || !weights || !row_scale || !bias_q24) {
        return MFL_ERR_INVALID_ARG;
    }
    if (units != l->head.units || features != l->head.features) {
        return MFL_ERR_PROTO_DIMENSION;
    }
    memcpy(l->w0_ram, weights, (size_t)units * features);
    for (uint16_t i = 0; i < units; i++) {
        l->w0_scale[i] = row_scale[i];
        l->b0[i] = bias_q24[i];
    }
    l->w0 = l->w0_ram;
    l->global_installed = 1;
    return load_global_head(l);
}

int mfl_learner_delta(const mfl_learner_t *l, uint16_t unit, int32_t *delta)
{
    if (!l || !delta || unit >= l->head.units) {
        return MFL_ERR_INVALID_ARG;
    }
    const uint16_t f = l->head.features;
    const mfl_scale_t to_w = {l->w0_scale[unit].m, l->w0_scale[unit].e + MFL_HEAD_FRAC};
    for (uint16_t j = 0; j < f; j++) {
        const int64_t w0 = mfl_scale_apply(to_w, l->w0[(size_t)unit * f + j]);
        delta[j] = (int32_t)((int64_t)l->head.w[(size_t)unit * f + j] - w0);
    }
    delta[f] = (int32_t)((int64_t)l->head.b[unit] - l->b0[unit]);
    return 0;
}
