/* Per-device adaptation of the frozen backbone (adapt.h). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapt.h"
#include "mfl/error.h"
#include "mfl/learner.h"
#include "mfl/quant.h"
#include "mfl/recalibrate.h"

#define PIXELS 784
#define REFERENCE_IMAGES 2000u /* the maker's images the reference is measured on (as for calibration) */
#define MAX_CHANNELS 256u
#define GAIN_LIMIT 8 /* standardisation's gain stays within [1/8, 8], as recalibration's */

/* Pixel moments in the int8 input domain: mean and std x 16. */
typedef struct {
    int32_t mean16;
    uint32_t std16;
} pixel_moment_t;

typedef struct {
    const sim_world_t *w;
    sim_adapted_t *a;
    const uint32_t *maker;                /* the maker's images: the base model's, in its calibration order */
    uint32_t n_maker;
    uint16_t op;                          /* the convolution recalibrated */
    pixel_moment_t ref_px;                /* the maker's images */
    mfl_recal_moment_t ref[MAX_CHANNELS]; /* the maker's images, op's channels */
} adapt_ctx_t;

typedef struct {
    const adapt_ctx_t *ctx;
    unsigned index, count;
    mfl_learner_t l;
    int64_t *stats_mem;                   /* mfl_recal_stats_mem_size bytes */
    size_t stats_size;
    int err;
} adapt_job_t;

static pixel_moment_t pixel_moment(int64_t sum, uint64_t sum_sq, uint64_t n)
{
    const int64_t mean16 = sum * 16 / (int64_t)n;
    const int64_t var256 = (int64_t)(sum_sq * 256 / n) - mean16 * mean16;
    return (pixel_moment_t){(int32_t)mean16, (uint32_t)mfl_quant_isqrt(var256 > 0 ? (uint64_t)var256 : 0, NULL)};
}

/* x' = (x - mean_dev) x std_ref / std_dev + mean_ref, rounded and clamped
 * to int8; gain within [1/8, 8]. Fixed point: gain in Q16, means in Q4. */
static void standardize(const pixel_moment_t *ref, const pixel_moment_t *dev, int8_t *x)
{
    int64_t gain = dev->std16 ? ((int64_t)ref->std16 << 16) / dev->std16 : (int64_t)GAIN_LIMIT << 16;
    gain = gain > ((int64_t)GAIN_LIMIT << 16) ? (int64_t)GAIN_LIMIT << 16 : gain;
    gain = gain < (1 << 16) / GAIN_LIMIT ? (1 << 16) / GAIN_LIMIT : gain;
    for (int k = 0; k < PIXELS; k++) {
        const int64_t v = (((int64_t)x[k] * 16 - dev->mean16) * gain + (int64_t)ref->mean16 * 65536 + (1 << 19)) >> 20;
        x[k] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
    }
}

static void raw_input(const mfl_dataset_t *ds, uint32_t image, int8_t *input)
{
    for (int k = 0; k < PIXELS; k++) {
        input[k] = (int8_t)(ds->images[(size_t)image * PIXELS + k] - 128);
    }
}

static void add_pixels(const int8_t *x, int64_t *sum, uint64_t *sum_sq)
{
    for (int k = 0; k < PIXELS; k++) {
        *sum += x[k];
        *sum_sq += (uint64_t)((int32_t)x[k] * x[k]);
    }
}

/* Moments of one input stream through op's statistics and the pixels. */
typedef void (*input_fn)(const adapt_ctx_t *c, uint32_t device, uint32_t k, int8_t *input);

static int measure(const adapt_ctx_t *c, adapt_job_t *job, input_fn in, uint32_t device, uint32_t n,
                   pixel_moment_t *px, mfl_recal_moment_t *moments)
{
    mfl_recal_stats_t s;
    int64_t sum = 0;
    uint64_t sum_sq = 0;
    int8_t *x;
    size_t len;
    const int recal = c->a->kind == SIM_ADAPT_RECALIBRATE;
    int err = recal ? mfl_recal_stats_init(&s, &c->w->model, c->op, job->stats_mem, job->stats_size) : 0;
    for (uint32_t k = 0; k < n && !err; k++) {
        err = mfl_interp_input(&job->l.interp, &x, &len);
        if (!err) {
            in(c, device, k, x);
            add_pixels(x, &sum, &sum_sq);
            err = recal ? mfl_recal_observe(&s, &job->l.interp) : 0;
        }
    }
    *px = pixel_moment(sum, sum_sq, (uint64_t)n * PIXELS);
    return err || !recal ? err : mfl_recal_moments(&s, moments);
}

static void reference_input(const adapt_ctx_t *c, uint32_t device, uint32_t k, int8_t *input)
{
    (void)device;
    raw_input(&c->w->train_set, c->maker[k], input);
}

static void unlabelled_input(const adapt_ctx_t *c, uint32_t device, uint32_t k, int8_t *input)
{
    sim_world_input(c->w, c->w->dev[device].train[k], input);
}

/* Adapts the backbone to one device, then computes its samples' features. */
static int adapt_device(const adapt_ctx_t *c, adapt_job_t *job, uint32_t i)
{
    const sim_device_data_t *d = &c->w->dev[i];
    const uint32_t n = c->w->sc->recal_inputs < c->a->train ? c->w->sc->recal_inputs : c->a->train;
    pixel_moment_t px;
    mfl_recal_moment_t dev[MAX_CHANNELS];
    int32_t bias[MAX_CHANNELS], mult[MAX_CHANNELS], shift[MAX_CHANNELS];
    mfl_requant_override_t ovr;
    int err = measure(c, job, unlabelled_input, i, n, &px, dev);
    if (!err && c->a->kind == SIM_ADAPT_RECALIBRATE) {
        err = mfl_recal_compute(&c->w->model, c->op, c->ref, dev, bias, mult, shift, &ovr);
        err = err ? err : mfl_interp_set_override(&job->l.interp, &ovr);
    }
    for (uint32_t j = 0; j < c->a->train + c->a->test && !err; j++) {
        const uint32_t id = j < c->a->train ? d->train[j] : d->test[j - c->a->train];
        int8_t *x;
        size_t len;
        const int8_t *f;
        err = mfl_interp_input(&job->l.interp, &x, &len);
        if (!err) {
            sim_world_input(c->w, id, x);
            if (c->a->kind == SIM_ADAPT_STANDARDIZE) {
                standardize(&c->ref_px, &px, x);
            }
            err = mfl_learner_features(&job->l, x, len, &f);
        }
        if (!err) {
            memcpy((int8_t *)sim_adapted_train(c->a, i, j), f, c->a->features);
        }
        if (!err && c->a->acc) { /* the learner computed them for the features above */
            memcpy((int32_t *)sim_adapted_acc(c->a, i, j), job->l.bt.acc, (size_t)c->a->features * 4);
        }
        if (!err && c->a->layer_in) { /* and the layer's input is still in the arena */
            const int8_t *in;
            size_t in_len;
            err = mfl_interp_tensor(&job->l.interp, c->w->model.ops[job->l.bt.op].inputs[0], &in, &in_len);
            err = err ? err : in_len == c->a->inputs ? 0 : MFL_ERR_LEARN_CONFIG;
            if (!err) {
                memcpy((int8_t *)sim_adapted_layer_in(c->a, i, j), in, in_len);
            }
        }
    }
    const int unset = mfl_interp_set_override(&job->l.interp, NULL);
    return err ? err : unset;
}

static void *adapt_worker(void *arg)
{
    adapt_job_t *job = arg;
    const adapt_ctx_t *c = job->ctx;
    for (uint32_t i = job->index; !job->err && i < c->w->sc->devices; i += job->count) {
        job->err = adapt_device(c, job, i);
    }
    return NULL;
}

/* The first convolution: what recalibration adjusts (at most MAX_CHANNELS
 * output channels, the simulator's arrays). */
static int first_conv(const mfl_model_t *m, uint16_t *op, char *msg, size_t cap)
{
    for (uint16_t k = 0; k < m->header->n_ops; k++) {
        const int code = m->ops[k].opcode;
        if (code != MFL_OP_CONV_2D && code != MFL_OP_DEPTHWISE_CONV_2D) {
            continue;
        }
        const int32_t channels = m->tensors[m->ops[k].output].dims[3];
        if (channels > (int32_t)MAX_CHANNELS) {
            snprintf(msg, cap, "recalibration: the first convolution (operator %u) has %d output channels; the "
                               "simulator recalibrates at most %u (leave out the recal strategies)",
                     k, channels, MAX_CHANNELS);
            return MFL_ERR_UNSUPPORTED_OP;
        }
        *op = k;
        return 0;
    }
    snprintf(msg, cap, "recalibration needs a CONV_2D or DEPTHWISE_CONV_2D in the base model (leave out the recal "
                       "strategies)");
    return MFL_ERR_UNSUPPORTED_OP;
}

static int init_job(adapt_job_t *job, const adapt_ctx_t *c, uint8_t **arena, uint8_t **mem)
{
    const sim_world_t *w = c->w;
    const int tune = c->a->acc || c->a->layer_in; /* a tuning learner gives them beside the same features */
    const size_t arena_size = mfl_model_arena_size(&w->model),
                 mem_size = tune ? mfl_learner_mem_size_tuned(&w->model, 8, 1) : mfl_learner_mem_size(&w->model, 8, 1);
    *arena = malloc(arena_size);
    *mem = malloc(mem_size);
    job->stats_size = c->a->kind == SIM_ADAPT_RECALIBRATE ? mfl_recal_stats_mem_size(&w->model, c->op) : 0;
    job->stats_mem = malloc(job->stats_size ? job->stats_size : 8);
    if (!job->stats_mem) {
        return MFL_ERR_NO_MEMORY;
    }
    mfl_learn_opts_t o = mfl_learn_defaults();
    o.batch = 1;
    o.bias_lr = tune ? o.lr : o.bias_lr;
    return !*arena || !*mem ? MFL_ERR_NO_MEMORY
                            : mfl_learner_init(&job->l, &w->model, *arena, arena_size, *mem, mem_size, 8, &o);
}

static int run_jobs(adapt_ctx_t *c)
{
    const unsigned n = c->w->sc->threads;
    adapt_job_t *jobs = calloc(n, sizeof(adapt_job_t));
    uint8_t *arenas[64] = {0}, *mems[64] = {0};
    pthread_t t[64];
    int err = jobs ? 0 : MFL_ERR_NO_MEMORY;
    for (unsigned k = 0; k < n && !err; k++) {
        jobs[k].ctx = c;
        jobs[k].index = k;
        jobs[k].count = n;
        err = init_job(&jobs[k], c, &arenas[k], &mems[k]);
    }
    if (!err) { /* the reference: the maker's images, the first ones the base model is calibrated on */
        err = measure(c, &jobs[0], reference_input, 0, c->n_maker, &c->ref_px, c->ref);
    }
    for (unsigned k = 0; k < n && !err; k++) {
        pthread_create(&t[k], NULL, adapt_worker, &jobs[k]);
    }
    for (unsigned k = 0; k < n && !err; k++) {
        pthread_join(t[k], NULL);
    }
    for (unsigned k = 0; jobs && k < n; k++) {
        err = err ? err : jobs[k].err;
        free(arenas[k]);
        free(mems[k]);
        free(jobs[k].stats_mem);
    }
    free(jobs);
    return err;
}

/* The feature layer's input length (0: no dense layer to tune). */
static uint16_t layer_inputs(const mfl_model_t *m)
{
    const uint16_t head = m->header->head_op;
    if (head == MFL_NONE || head == 0 || m->ops[head - 1].opcode != MFL_OP_FULLY_CONNECTED) {
        return 0;
    }
    return (uint16_t)m->tensors[m->ops[head - 1].inputs[1]].dims[1];
}

int sim_adapt_build(sim_adapted_t *a, const sim_world_t *w, enum sim_adapt_kind kind, int with, char *msg,
                    size_t cap)
{
    const sim_scenario_t *sc = w->sc;
    const int with_acc = with != 0; /* a tuning learner computes the features: it needs a tunable layer */
    *a = (sim_adapted_t){kind, w->features, sc->train_per_device, sc->test_per_device, NULL, NULL, 0, NULL};
    adapt_ctx_t *c = calloc(1, sizeof(*c));
    uint32_t *maker = NULL;
    size_t n_maker = 0;
    int err = c ? 0 : MFL_ERR_NO_MEMORY;
    if (!err && kind == SIM_ADAPT_RECALIBRATE) {
        err = first_conv(&w->model, &c->op, msg, cap);
    }
    err = err ? err : sim_world_base_selection(w, &maker, &n_maker);
    if (!err && n_maker == 0) {
        snprintf(msg, cap, "no maker's images to measure the reference on (base_images = 0)");
        err = MFL_ERR_INVALID_ARG;
    }
    if (!err) {
        c->w = w;
        c->a = a;
        c->maker = maker;
        c->n_maker = (uint32_t)(n_maker < REFERENCE_IMAGES ? n_maker : REFERENCE_IMAGES);
        const size_t values = (size_t)sc->devices * (a->train + a->test) * a->features;
        a->feature = malloc(values);
        a->acc = with & SIM_ADAPT_WITH_ACC ? malloc(values * sizeof(int32_t)) : NULL;
        a->inputs = with & SIM_ADAPT_WITH_LAYER_INPUT ? layer_inputs(&w->model) : 0;
        a->layer_in = a->inputs ? malloc((size_t)sc->devices * (a->train + a->test) * a->inputs) : NULL;
        err = a->feature && (a->acc || !(with & SIM_ADAPT_WITH_ACC)) && (a->layer_in || !a->inputs)
                  ? 0
                  : MFL_ERR_NO_MEMORY;
    }
    if (!err && with_acc && !mfl_learner_mem_size_tuned(&w->model, 8, 1)) {
        snprintf(msg, cap, "tuning the feature layer needs a FULLY_CONNECTED right below the head, read by the "
                           "head only (leave out local-tuned, federated-tuned and the dense strategies)");
        err = MFL_ERR_LEARN_CONFIG;
    }
    if (!err) {
        err = run_jobs(c);
    }
    if (err && !msg[0]) {
        snprintf(msg, cap, "%s: %s", kind == SIM_ADAPT_STANDARDIZE ? "standardisation" : "recalibration",
                 mfl_strerror(err));
    }
    free(c);
    free(maker);
    if (err) {
        sim_adapt_free(a);
    }
    return err;
}

void sim_adapt_free(sim_adapted_t *a)
{
    free(a->feature);
    free(a->acc);
    free(a->layer_in);
    a->feature = NULL;
    a->acc = NULL;
    a->layer_in = NULL;
}
