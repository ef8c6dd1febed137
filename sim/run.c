/* One simulation run (run.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapt.h"
#include "finetune.h"
#include "link.h"
#include "shared_layer.h"
#include "mfl/error.h"
#include "mfl/head.h"
#include "mfl/learner.h"
#include "mfl/update_builder.h"
#include "run.h"

/* Correct and total test predictions per region, one per thread. */
typedef struct {
    uint64_t correct[SIM_MAX_REGIONS], total[SIM_MAX_REGIONS];
} tally_t;

/* One device's state in one strategy. */
typedef struct {
    mfl_learner_t l;
    uint8_t *mem;
    int32_t *residual, *residual_saved; /* error feedback, committed on acknowledgement */
    uint64_t counter, version;
    uint8_t *update;                    /* the update built this round */
    size_t update_len;
    int ready;                          /* synced and built this round */
} vdev_t;

/* What each strategy does: its role, the adaptation its features go
 * through (0: the base backbone's), group balancing at the aggregator. */
enum role { ROLE_FIXED, ROLE_LOCAL, ROLE_FEDERATED, ROLE_ORACLE };
/* What devices learn below the head, and what they learn it from: the
 * adaptation's accumulators (biases) or the feature layer's inputs. */
enum tuning { TUNE_NONE, TUNE_BIASES, TUNE_WEIGHTS };
static const struct {
    uint8_t role, adapt, balance;
    uint8_t select; /* each device predicts with the best of its heads on its held-out samples */
    uint8_t tuned;  /* enum tuning: devices also tune their feature layer's biases, or its weights and
                     * biases, and keep them (FedBN-, LG-FedAvg-style) */
    uint8_t finetune; /* a reference of the whole network fine-tuned (finetune.h): 1 + its mfl_train trainable */
    uint8_t shared;   /* the tuned feature layer is shared too, beside the protocol (shared_layer.h) */
} strategy_kind[SIM_STRATEGIES] = {
    [SIM_FROZEN] = {ROLE_FIXED, 0, 0},
    [SIM_STANDARDIZED] = {ROLE_FIXED, SIM_ADAPT_STANDARDIZE, 0},
    [SIM_RECALIBRATED] = {ROLE_FIXED, SIM_ADAPT_RECALIBRATE, 0},
    [SIM_LOCAL] = {ROLE_LOCAL, 0, 0},
    [SIM_LOCAL_RECAL] = {ROLE_LOCAL, SIM_ADAPT_RECALIBRATE, 0},
    [SIM_FEDERATED] = {ROLE_FEDERATED, 0, 0},
    [SIM_FAIR] = {ROLE_FEDERATED, 0, 1},
    [SIM_FEDERATED_RECAL] = {ROLE_FEDERATED, SIM_ADAPT_RECALIBRATE, 0},
    [SIM_PERSONALIZED] = {ROLE_FEDERATED, SIM_ADAPT_RECALIBRATE, 0, 1},
    [SIM_ORACLE] = {ROLE_ORACLE, 0, 0},
    [SIM_ORACLE_RECAL] = {ROLE_ORACLE, SIM_ADAPT_RECALIBRATE, 0},
    [SIM_LOCAL_TUNED] = {ROLE_LOCAL, SIM_ADAPT_RECALIBRATE, 0, 0, TUNE_BIASES},
    [SIM_FEDERATED_TUNED] = {ROLE_FEDERATED, SIM_ADAPT_RECALIBRATE, 0, 0, TUNE_BIASES},
    [SIM_ORACLE_FULL] = {ROLE_ORACLE, 0, 0, 0, 0, 1 + MFL_TRAIN_ALL},
    [SIM_ORACLE_BIAS] = {ROLE_ORACLE, 0, 0, 0, 0, 1 + MFL_TRAIN_BIASES},
    [SIM_ORACLE_DENSE] = {ROLE_ORACLE, 0, 0, 0, 0, 1 + MFL_TRAIN_DENSE},
    [SIM_ORACLE_LASTCONV] = {ROLE_ORACLE, 0, 0, 0, 0, 1 + MFL_TRAIN_LAST_CONV},
    [SIM_LOCAL_DENSE] = {ROLE_LOCAL, SIM_ADAPT_RECALIBRATE, 0, 0, TUNE_WEIGHTS},
    [SIM_FEDERATED_DENSE] = {ROLE_FEDERATED, SIM_ADAPT_RECALIBRATE, 0, 0, TUNE_WEIGHTS},
    [SIM_FEDERATED_DENSE_SHARED] = {ROLE_FEDERATED, SIM_ADAPT_RECALIBRATE, 0, 0, TUNE_WEIGHTS, 0, 1},
};

/* personalized: every HELD_OUT_EVERY-th labelled sample a device collects
 * is held out from learning, to choose its head on */
#define HELD_OUT_EVERY 5

#define ORACLE_MAX_EPOCHS 200
#define ORACLE_PATIENCE 3        /* epochs without a gain of ORACLE_MIN_GAIN points halve the step */
#define ORACLE_HALVINGS 4        /* and after this many halvings the training ends */
#define ORACLE_MIN_GAIN 0.1
#define ORACLE_FIT_SAMPLES 20000 /* training accuracy is measured on at most this many samples */

typedef struct {
    int on;
    int personal;              /* evaluated with each device's own head (local learning) */
    const sim_adapted_t *adapt; /* the features' adaptation, or NULL: the base backbone's */
    int select;                /* devices choose their head on held-out samples (do no harm) */
    int tuned;                 /* enum tuning: devices tune their feature layer, learning from and
                                * evaluated on the adaptation's accumulators or layer inputs */
    mfl_learner_t shipped;     /* select: the head the devices shipped with */
    uint8_t *shipped_mem;
    vdev_t *dev;               /* local, federated, fair: one per device */
    sim_link_t *link;          /* federated, fair */
    sim_shared_layer_t *layer; /* federated-dense-shared: the feature layer every device installs */
    mfl_learner_t eval;        /* frozen, oracle, federated, fair: the global head */
    uint8_t *eval_mem;
    uint64_t eval_version;
    uint32_t oracle_epochs;    /* oracle: epochs trained */
    sim_finetuned_t ft;        /* fine-tuned references: the fine-tuned model (s->adapt: its test features) */
    uint8_t *ft_arena;         /* bound to s->eval on that model, never used */
    sim_round_t cur;
} strat_t;

typedef struct {
    const sim_scenario_t *sc;
    const sim_world_t *w;
    sim_identity_t *ids;
    uint8_t *arena;            /* only bound, never used: the simulator feeds features */
    size_t arena_size, mem_size, work_size, update_cap, head_values;
    mfl_learn_opts_t opts;
    strat_t s[SIM_STRATEGIES];
    uint8_t *online, *dropped, *wave; /* wave: devices fetching and learning together */
    uint64_t (*order)[2];              /* this round's arrivals: (sort key, device) */
    uint32_t n_arrivals;
    uint32_t *fresh_from, *fresh_to; /* this round's new samples of each device */
    sim_adapted_t adapted[SIM_ADAPT_RECALIBRATE + 1]; /* by enum sim_adapt_kind; unused ones empty */
    uint8_t *work[64];               /* per thread: update builder workspace */
    tally_t tally[64];               /* per thread: evaluation counts */
    uint32_t round;
    sim_results_t *res;
} run_t;

/* ---- threads: device i runs on thread i % threads, so results do not
 * depend on scheduling ---- */

typedef int (*device_fn)(run_t *r, strat_t *s, uint32_t device, unsigned thread);

typedef struct {
    run_t *r;
    strat_t *s;
    device_fn fn;
    const uint8_t *mask;
    unsigned thread;
    int err;
} worker_t;

static void *worker(void *arg)
{
    worker_t *k = arg;
    for (uint32_t i = k->thread; i < k->r->sc->devices && !k->err; i += k->r->sc->threads) {
        if (!k->mask || k->mask[i]) {
            k->err = k->fn(k->r, k->s, i, k->thread);
        }
    }
    return NULL;
}

static int parallel(run_t *r, strat_t *s, device_fn fn, const uint8_t *mask)
{
    worker_t k[64];
    pthread_t t[64];
    const unsigned n = r->sc->threads;
    for (unsigned i = 0; i < n; i++) {
        k[i] = (worker_t){r, s, fn, mask, i, 0};
        pthread_create(&t[i], NULL, worker, &k[i]);
    }
    int err = 0;
    for (unsigned i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        err = err ? err : k[i].err;
    }
    return err;
}

/* ---- devices ---- */

/* A learner on the fine-tuned model of a reference (its own arena). */
static int init_finetuned_learner(run_t *r, strat_t *s)
{
    const mfl_model_t *m = &s->ft.model;
    const size_t arena_size = mfl_model_arena_size(m), size = mfl_learner_mem_size(m, (uint16_t)r->sc->batch,
                                                                                    (uint16_t)r->sc->batch);
    s->ft_arena = malloc(arena_size);
    s->eval_mem = malloc(size ? size : 1);
    mfl_learn_opts_t o = r->opts;
    o.seed = (uint32_t)r->sc->seed;
    return s->ft_arena && s->eval_mem ? mfl_learner_init(&s->eval, m, s->ft_arena, arena_size, s->eval_mem, size,
                                                         (uint16_t)r->sc->batch, &o)
                                      : MFL_ERR_NO_MEMORY;
}

static int init_learner(run_t *r, mfl_learner_t *l, uint8_t **mem, uint16_t replay, int tuned)
{
    mfl_learn_opts_t o = r->opts;
    o.bias_lr = tuned != TUNE_NONE ? mfl_scale_from_int((uint64_t)llround(r->sc->bias_lr * 65536.0), 16)
                                   : (mfl_scale_t){0, 0};
    if (tuned == TUNE_WEIGHTS) {
        o.weight_lr = mfl_scale_from_int((uint64_t)llround(ldexp(r->sc->weight_lr, 48)), 48);
        o.weight_tuning = &mfl_weight_tuning;
    }
    o.batch = (uint16_t)r->sc->batch;
    const size_t size = mfl_learner_mem_size_for(&r->w->model, replay, &o);
    *mem = malloc(size ? size : 1);
    return *mem ? mfl_learner_init(l, &r->w->model, r->arena, r->arena_size, *mem, size, replay, &o)
                : MFL_ERR_NO_MEMORY;
}

static int init_devices(run_t *r, strat_t *s, int federated)
{
    s->dev = calloc(r->sc->devices, sizeof(vdev_t));
    int err = s->dev ? 0 : MFL_ERR_NO_MEMORY;
    for (uint32_t i = 0; i < r->sc->devices && !err; i++) {
        vdev_t *v = &s->dev[i];
        r->opts.seed = (uint32_t)sim_stream(r->sc->seed, SIM_STREAM_LEARNER, i, 0);
        err = init_learner(r, &v->l, &v->mem, (uint16_t)r->sc->replay, s->tuned);
        if (!err && federated) {
            v->residual = calloc(r->head_values, sizeof(int32_t));
            v->residual_saved = malloc(r->head_values * sizeof(int32_t));
            v->update = malloc(r->update_cap);
            err = v->residual && v->residual_saved && v->update ? 0 : MFL_ERR_NO_MEMORY;
        }
    }
    return err;
}

static void free_devices(run_t *r, strat_t *s)
{
    for (uint32_t i = 0; s->dev && i < r->sc->devices; i++) {
        free(s->dev[i].mem);
        free(s->dev[i].residual);
        free(s->dev[i].residual_saved);
        free(s->dev[i].update);
    }
    free(s->dev);
}

/* Device i's training sample j and test sample j as the strategy's
 * backbone sees them. */
static const int8_t *train_feature(const run_t *r, const strat_t *s, uint32_t i, uint32_t j)
{
    return s->adapt ? sim_adapted_train(s->adapt, i, j) : sim_world_features(r->w, r->w->dev[i].train[j]);
}

static const int8_t *test_feature(const run_t *r, const strat_t *s, uint32_t i, uint32_t j)
{
    return s->adapt ? sim_adapted_test(s->adapt, i, j) : sim_world_features(r->w, r->w->dev[i].test[j]);
}

static int held_out(const strat_t *s, uint32_t j)
{
    return s->select && j % HELD_OUT_EVERY == HELD_OUT_EVERY - 1;
}

/* The device's new samples this round, then local epochs over its buffer. */
static int learn_fresh(run_t *r, strat_t *s, vdev_t *v, uint32_t i)
{
    const sim_device_data_t *d = &r->w->dev[i];
    int err = 0;
    for (uint32_t j = r->fresh_from[i]; j < r->fresh_to[i] && !err; j++) {
        if (held_out(s, j)) {
            continue;
        }
        const uint8_t y = d->train_label[j];
        if (s->tuned == TUNE_WEIGHTS) {
            err = mfl_learner_learn_layer_input(&v->l, sim_adapted_layer_in(s->adapt, i, j), y);
        } else if (s->tuned == TUNE_BIASES) {
            err = mfl_learner_learn_acc(&v->l, sim_adapted_acc(s->adapt, i, j), y);
        } else {
            err = mfl_learner_learn_features(&v->l, train_feature(r, s, i, j), y);
        }
    }
    return err ? err : mfl_learner_train_buffer(&v->l, (uint16_t)r->sc->local_epochs);
}

static int local_step(run_t *r, strat_t *s, uint32_t i, unsigned thread)
{
    (void)thread;
    return learn_fresh(r, s, &s->dev[i], i);
}

/* Fetches the model; installs it if newer, else goes back to the global
 * head (what the device learned last time was sent, or is lost). */
static int sync_device(run_t *r, strat_t *s, uint32_t i)
{
    vdev_t *v = &s->dev[i];
    size_t bytes = 0;
    int installed = 0;
    v->ready = 0;
    int err = sim_link_fetch_model(s->link, &r->ids[i], &v->l, &v->version, &installed, &bytes);
    if (err == MFL_ERR_COAP_TIMEOUT || err == MFL_ERR_COAP_RESET || err == MFL_ERR_SYNC_UNAVAILABLE) {
        return 0; /* no answer: the device tries again next time it is online */
    }
    s->cur.bytes_down += bytes;
    if (!err && !installed) {
        err = mfl_learner_reset(&v->l); /* back to the global head it has */
    }
    if (!err && s->layer) { /* and the layer of the version it has, as a model message would bring it */
        err = sim_shared_layer_observe(s->layer, v->version);
        err = err ? err : sim_shared_layer_install(s->layer, v->version, &v->l);
    }
    v->ready = err == 0;
    return err;
}

static int federated_step(run_t *r, strat_t *s, uint32_t i, unsigned thread)
{
    vdev_t *v = &s->dev[i];
    if (!v->ready) {
        return 0;
    }
    int err = learn_fresh(r, s, v, i);
    memcpy(v->residual_saved, v->residual, r->head_values * sizeof(int32_t));
    const mfl_update_params_t p = {(const uint8_t *)r->ids[i].id, strlen(r->ids[i].id), v->version, v->counter + 1,
                                   r->sc->top_k};
    err = err ? err
              : mfl_update_build(&v->l, &p, v->residual, &r->ids[i].key, r->work[thread], r->work_size, v->update,
                                 r->update_cap, &v->update_len);
    v->counter++; /* a counter is never reused, whether or not the update arrives */
    return err;
}

/* Online devices reach the aggregator one after the other, in an order
 * drawn from the seed for the round (the same for every strategy). */
static int arrival_cmp(const void *a, const void *b)
{
    const uint64_t x = ((const uint64_t *)a)[0], y = ((const uint64_t *)b)[0];
    return x < y ? -1 : x > y;
}

static void order_arrivals(run_t *r)
{
    uint64_t(*order)[2] = r->order;
    r->n_arrivals = 0;
    for (uint32_t i = 0; i < r->sc->devices; i++) {
        if (r->online[i]) {
            order[r->n_arrivals][0] = sim_stream(r->sc->seed, SIM_STREAM_ARRIVAL, r->round, i);
            order[r->n_arrivals++][1] = i;
        }
    }
    qsort(order, r->n_arrivals, sizeof(*order), arrival_cmp);
}

/* A shared layer follows what the aggregator did with an update: for one
 * accepted now, the version its receipt names first (a round an earlier
 * update completed), then the update; for a duplicate (stored when its
 * first answer was lost, perhaps folded since), the update first. */
static int share_layer(run_t *r, strat_t *s, uint32_t i, const sim_receipt_t *rc)
{
    const vdev_t *v = &s->dev[i];
    const int duplicate = rc->has && rc->status == MFL_RECEIPT_DUPLICATE;
    const int stored = duplicate || (rc->has && rc->status == MFL_RECEIPT_ACCEPTED);
    int err = rc->has && !duplicate ? sim_shared_layer_observe(s->layer, rc->model_version) : 0;
    if (!err && stored) {
        err = sim_shared_layer_accept(s->layer, &v->l, i, v->version, v->l.samples, sim_region_of(r->sc, i));
    }
    if (!err && duplicate) {
        err = sim_shared_layer_observe(s->layer, rc->model_version);
    }
    return err;
}

/* The wave's updates, in arrival order. */
static int deliver_wave(run_t *r, strat_t *s, uint32_t from, uint32_t to)
{
    int err = 0;
    for (uint32_t k = from; k < to && !err; k++) {
        const uint32_t i = (uint32_t)r->order[k][1];
        vdev_t *v = &s->dev[i];
        int code = 0;
        sim_receipt_t receipt;
        if (!v->ready) {
            continue;
        }
        if (r->dropped[i] || sim_link_post_update(s->link, &r->ids[i], v->update, v->update_len, v->counter, &code,
                                                  &receipt) != 0) {
            s->cur.lost++; /* offline before it arrived; its samples stay in the replay buffer */
            memcpy(v->residual, v->residual_saved, r->head_values * sizeof(int32_t));
            continue;
        }
        s->cur.bytes_up += v->update_len;
        err = s->layer ? share_layer(r, s, i, &receipt) : 0;
        if (code == 204) {
            s->cur.accepted++;
        } else {
            s->cur.rejected++;
            memcpy(v->residual, v->residual_saved, r->head_values * sizeof(int32_t));
        }
    }
    return err;
}

/*
 * Devices are online at overlapping times: `concurrency` of them fetch the
 * model, learn and send, then the next ones fetch whatever the aggregator
 * has published meanwhile. (If every online device fetched at the start of
 * the round, all of a round's updates would share one base model and the
 * aggregator would apply that same direction once per buffer of K: a
 * round with several buffers overshoots.)
 */
static int federated_round(run_t *r, strat_t *s)
{
    int err = 0;
    const uint32_t wave = sim_concurrency(r->sc);
    for (uint32_t from = 0; from < r->n_arrivals && !err; from += wave) {
        const uint32_t to = from + wave < r->n_arrivals ? from + wave : r->n_arrivals;
        for (uint32_t k = from; k < to && !err; k++) {
            const uint32_t i = (uint32_t)r->order[k][1];
            r->wave[i] = 1;
            err = sync_device(r, s, i);
        }
        err = err ? err : parallel(r, s, federated_step, r->wave);
        err = err ? err : deliver_wave(r, s, from, to);
        for (uint32_t k = from; k < to; k++) {
            r->wave[r->order[k][1]] = 0;
        }
    }
    return err;
}

/* ---- the oracle: the head trained on every device's data together ---- */

/* One epoch of minibatch SGD over every device's training samples, with
 * the devices' learning rate times 2^-halvings. */
static int oracle_epoch(run_t *r, strat_t *s, const uint32_t *order, size_t n, int halvings)
{
    mfl_scale_t lr = r->opts.lr;
    lr.e -= halvings;
    const sim_scenario_t *sc = r->sc;
    mfl_learner_t *l = &s->eval;
    int err = 0;
    for (size_t k = 0; k + sc->batch <= n && !err; k += sc->batch) {
        const int8_t *x[MFL_HEAD_MAX_BATCH];
        uint8_t y[MFL_HEAD_MAX_BATCH];
        for (uint32_t b = 0; b < sc->batch; b++) {
            const uint32_t i = order[k + b] / sc->train_per_device, j = order[k + b] % sc->train_per_device;
            x[b] = train_feature(r, s, i, j);
            y[b] = r->w->dev[i].train_label[j];
        }
        err = mfl_head_sgd_step(&l->head, x, y, (int)sc->batch, lr, l->g, NULL, NULL, 0);
    }
    return err ? err : mfl_head_requantize(&l->head, &l->q);
}

/* Accuracy (%) of the oracle's int8 head on its own training samples (at
 * most ORACLE_FIT_SAMPLES of them, evenly spaced). */
static double oracle_fit(run_t *r, strat_t *s, size_t n)
{
    const sim_scenario_t *sc = r->sc;
    const size_t step = n / ORACLE_FIT_SAMPLES + 1;
    size_t correct = 0, total = 0;
    for (size_t k = 0; k < n; k += step, total++) {
        const uint32_t i = (uint32_t)(k / sc->train_per_device), j = (uint32_t)(k % sc->train_per_device);
        int label = -1;
        mfl_learner_predict_features(&s->eval, train_feature(r, s, i, j), &label);
        correct += label == r->w->dev[i].train_label[j];
    }
    return total ? 100.0 * (double)correct / (double)total : 0.0;
}

/* oracle_epochs > 0: that many epochs at the devices' learning rate. 0:
 * until converged: whenever ORACLE_PATIENCE epochs in a row add less than
 * ORACLE_MIN_GAIN points of training accuracy over the best so far, the
 * step is halved, and after ORACLE_HALVINGS halvings the training ends (at
 * most ORACLE_MAX_EPOCHS): a reference must be neither under-trained nor
 * left bouncing around its optimum at a constant step. */
static int train_oracle(run_t *r, strat_t *s)
{
    const sim_scenario_t *sc = r->sc;
    const size_t n = (size_t)sc->devices * sc->train_per_device;
    uint32_t *order = malloc(n * sizeof(uint32_t));
    if (!order) {
        return MFL_ERR_NO_MEMORY;
    }
    for (size_t k = 0; k < n; k++) {
        order[k] = (uint32_t)k;
    }
    uint64_t rng = sim_stream(sc->seed, SIM_STREAM_ORACLE, 0, 0);
    const uint32_t epochs = sc->oracle_epochs ? sc->oracle_epochs : ORACLE_MAX_EPOCHS;
    double best = -1.0;
    uint32_t since_best = 0;
    int halvings = 0, err = 0;
    for (uint32_t e = 0; e < epochs && !err && halvings <= ORACLE_HALVINGS; e++) {
        sim_shuffle(order, n, &rng);
        err = oracle_epoch(r, s, order, n, halvings);
        s->oracle_epochs = e + 1;
        if (!err && !sc->oracle_epochs) {
            const double fit = oracle_fit(r, s, n);
            since_best = fit >= best + ORACLE_MIN_GAIN ? 0 : since_best + 1;
            best = fit > best ? fit : best;
            if (since_best == ORACLE_PATIENCE) {
                halvings++;
                since_best = 0;
            }
        }
    }
    free(order);
    return err;
}

/* ---- evaluation: accuracy per region on the devices' test samples ---- */


/* A head a personalized device can predict with, and the backbone under it. */
typedef struct {
    mfl_learner_t *head;
    int adapted; /* 1: the recalibrated backbone's features; 0: the model exactly as shipped */
} choice_t;

static const int8_t *choice_feature(const run_t *r, const strat_t *s, choice_t c, uint32_t i, uint32_t j, int test)
{
    const sim_device_data_t *d = &r->w->dev[i];
    if (c.adapted) {
        return test ? test_feature(r, s, i, j) : train_feature(r, s, i, j);
    }
    return sim_world_features(r->w, test ? d->test[j] : d->train[j]);
}

/* Correct predictions of a choice on device i's held-out samples so far. */
static uint32_t held_out_correct(run_t *r, strat_t *s, choice_t c, uint32_t i)
{
    uint32_t correct = 0;
    for (uint32_t j = HELD_OUT_EVERY - 1; j < r->fresh_to[i]; j += HELD_OUT_EVERY) {
        int label = -1;
        mfl_learner_predict_features(c.head, choice_feature(r, s, c, i, j, 0), &label);
        correct += label == r->w->dev[i].train_label[j];
    }
    return correct;
}

/*
 * Do no harm: the device uses, in this order of preference, the model
 * exactly as shipped (no recalibration), the shipped head on its
 * recalibrated backbone, the global head it installed, or its own (that
 * global head fine-tuned on its data), whichever is right most often on its
 * held-out samples; a later one must be strictly better to be chosen, and
 * without a held-out sample the device keeps the model as shipped. The
 * global head counts only if the device installed the aggregator's latest
 * (the simulator keeps no older ones; a device that missed it is judged on
 * the other three).
 */
static choice_t chosen_head(run_t *r, strat_t *s, uint32_t i)
{
    const choice_t shipped = {&s->shipped, 0};
    if (r->fresh_to[i] < HELD_OUT_EVERY) {
        return shipped;
    }
    const int has_global = s->dev[i].version == s->eval_version;
    const choice_t options[4] = {shipped, {&s->shipped, 1}, {&s->eval, 1}, {&s->dev[i].l, 1}};
    choice_t best = shipped;
    uint32_t best_correct = held_out_correct(r, s, shipped, i);
    for (int k = 1; k < 4; k++) {
        if (k == 2 && !has_global) {
            continue;
        }
        const uint32_t c = held_out_correct(r, s, options[k], i);
        if (c > best_correct) {
            best = options[k];
            best_correct = c;
        }
    }
    return best;
}

static int evaluate_device(run_t *r, strat_t *s, uint32_t i, unsigned thread)
{
    const sim_device_data_t *d = &r->w->dev[i];
    const choice_t c = s->select ? chosen_head(r, s, i)
                                 : (choice_t){s->personal ? &s->dev[i].l : &s->eval, s->adapt != NULL};
    tally_t *t = &r->tally[thread]; /* each thread its own devices */
    int8_t tuned[MFL_HEAD_MAX_FEATURES];
    for (uint32_t j = 0; j < r->sc->test_per_device; j++) {
        int label;
        const int8_t *f = choice_feature(r, s, c, i, j, 1);
        int err = 0;
        const uint32_t at = s->adapt ? s->adapt->train + j : 0;
        if (s->tuned == TUNE_WEIGHTS) { /* the device's own feature layer under whichever head it is judged with */
            err = mfl_learner_features_from_layer_input(&s->dev[i].l, sim_adapted_layer_in(s->adapt, i, at), tuned);
            f = tuned;
        } else if (s->tuned == TUNE_BIASES) { /* the device's own biases under whichever head it is judged with */
            err = mfl_learner_features_from_acc(&s->dev[i].l, sim_adapted_acc(s->adapt, i, at), tuned);
            f = tuned;
        }
        err = err ? err : mfl_learner_predict_features(c.head, f, &label);
        if (err) {
            return err;
        }
        t->correct[d->region] += label == d->test_label[j];
        t->total[d->region]++;
    }
    return 0;
}

/* The aggregator's latest model into the strategy's evaluator. */
static int refresh_global(run_t *r, strat_t *s)
{
    size_t bytes = 0;
    int installed = 0;
    return sim_link_fetch_model(s->link, &r->ids[0], &s->eval, &s->eval_version, &installed, &bytes);
}

/* A shared layer's strategy is judged as its global model is: the latest
 * head (s->eval) on the latest layer, on every device. */
static int install_latest_layer(run_t *r, strat_t *s)
{
    int err = sim_shared_layer_observe(s->layer, s->eval_version);
    for (uint32_t i = 0; i < r->sc->devices && !err; i++) {
        err = sim_shared_layer_install(s->layer, s->eval_version, &s->dev[i].l);
    }
    return err;
}

static int evaluate(run_t *r, strat_t *s, sim_round_t *out)
{
    int err = s->link ? refresh_global(r, s) : 0;
    err = err || !s->layer ? err : install_latest_layer(r, s);
    memset(r->tally, 0, sizeof(r->tally));
    err = err ? err : mfl_learner_requantize(&s->eval); /* so that the threads only read it */
    if (!err) {
        err = parallel(r, s, evaluate_device, NULL);
    }
    *out = s->cur;
    out->version = s->eval_version;
    out->worst = 100.0;
    double best = 0, sum = 0;
    for (uint32_t g = 0; g < r->sc->n_regions; g++) {
        uint64_t c = 0, n = 0;
        for (unsigned t = 0; t < r->sc->threads; t++) {
            c += r->tally[t].correct[g];
            n += r->tally[t].total[g];
        }
        out->acc[g] = n ? 100.0 * (double)c / (double)n : 0.0;
        sum += out->acc[g];
        out->worst = out->acc[g] < out->worst ? out->acc[g] : out->worst;
        best = out->acc[g] > best ? out->acc[g] : best;
    }
    out->mean = sum / r->sc->n_regions;
    out->gap = best - out->worst;
    return err;
}

/* ---- the run ---- */

static void draw_round(run_t *r)
{
    const sim_scenario_t *sc = r->sc;
    for (uint32_t i = 0; i < sc->devices; i++) {
        uint64_t rng = sim_stream(sc->seed, SIM_STREAM_ROUND, r->round, i);
        r->online[i] = sim_uniform(&rng) < sim_region_availability(sc, r->w->dev[i].region);
        r->dropped[i] = sim_uniform(&rng) < sc->dropout;
        r->fresh_from[i] = r->fresh_to[i];
        if (r->online[i]) {
            const uint32_t left = sc->train_per_device - r->fresh_to[i];
            r->fresh_to[i] += left < sc->samples_per_round ? left : sc->samples_per_round;
        }
    }
}

/* Each adaptation some selected strategy uses, once for all of them. */
static int build_adaptations(run_t *r, FILE *progress, char *msg, size_t cap)
{
    int err = 0;
    for (int k = 0; k < SIM_STRATEGIES && !err; k++) {
        const int kind = strategy_kind[k].adapt;
        if (r->sc->strategies[k] && kind && !r->adapted[kind].feature) {
            if (progress) {
                fprintf(progress, "\r  adapting every device's backbone: %-14s", kind == SIM_ADAPT_STANDARDIZE
                                                                                ? "standardisation"
                                                                                : "recalibration");
                fflush(progress);
            }
            int with = 0; /* tuned strategies on this adaptation learn from accumulators or layer inputs */
            for (int t = 0; t < SIM_STRATEGIES; t++) {
                const int tuned = r->sc->strategies[t] && strategy_kind[t].adapt == kind ? strategy_kind[t].tuned : 0;
                with |= tuned == TUNE_BIASES    ? SIM_ADAPT_WITH_ACC
                        : tuned == TUNE_WEIGHTS ? SIM_ADAPT_WITH_LAYER_INPUT
                                                : 0;
            }
            err = sim_adapt_build(&r->adapted[kind], r->w, (enum sim_adapt_kind)kind, with, msg, cap);
        }
    }
    return err;
}

static int open_strategies(run_t *r, const char *run_dir, FILE *progress, char *msg, size_t cap)
{
    int err = 0;
    for (int k = 0; k < SIM_STRATEGIES && !err; k++) {
        strat_t *s = &r->s[k];
        s->on = r->sc->strategies[k];
        const int role = strategy_kind[k].role, federated = sim_strategy_federated((enum sim_strategy)k);
        s->personal = role == ROLE_LOCAL;
        if (!s->on) {
            continue;
        }
        s->adapt = strategy_kind[k].adapt ? &r->adapted[strategy_kind[k].adapt] : NULL;
        s->select = strategy_kind[k].select;
        s->tuned = strategy_kind[k].tuned;
        if (s->select) {
            r->opts.seed = (uint32_t)r->sc->seed;
            err = init_learner(r, &s->shipped, &s->shipped_mem, (uint16_t)r->sc->batch, 0);
        }
        if (!err && strategy_kind[k].finetune) { /* its own model, evaluated on its own test features */
            err = sim_finetune(&s->ft, r->w, strategy_kind[k].finetune - 1, sim_strategy_name((enum sim_strategy)k),
                               progress, msg, cap);
            err = err ? err : init_finetuned_learner(r, s);
            s->adapt = &s->ft.test;
            s->oracle_epochs = s->ft.epochs;
        } else if (!err && role != ROLE_LOCAL) {
            r->opts.seed = (uint32_t)r->sc->seed;
            err = init_learner(r, &s->eval, &s->eval_mem, (uint16_t)r->sc->batch, 0);
        }
        if (!err && (role == ROLE_LOCAL || federated)) {
            err = init_devices(r, s, federated);
        }
        if (!err && federated) {
            err = sim_link_open(&s->link, r->sc, run_dir, sim_strategy_name((enum sim_strategy)k),
                                strategy_kind[k].balance,
                                r->ids, r->sc->devices, msg, cap);
        }
        if (!err && strategy_kind[k].shared) {
            mfl_agg_opts_t o;
            uint32_t max_staleness;
            sim_link_agg_opts(s->link, &o, &max_staleness);
            err = sim_shared_layer_open(&s->layer, &s->dev[0].l, &o, max_staleness);
        }
        if (!err && role == ROLE_ORACLE && !strategy_kind[k].finetune) {
            err = train_oracle(r, s);
        }
        r->res->oracle_epochs[k] = s->oracle_epochs;
    }
    return err;
}

static void close_strategies(run_t *r)
{
    for (int k = 0; k < SIM_STRATEGIES; k++) {
        sim_link_close(r->s[k].link);
        sim_shared_layer_free(r->s[k].layer);
        free_devices(r, &r->s[k]);
        free(r->s[k].eval_mem);
        free(r->s[k].shipped_mem);
        free(r->s[k].ft_arena);
        sim_finetune_free(&r->s[k].ft);
    }
}

static int setup(run_t *r, const sim_scenario_t *sc, const sim_world_t *w)
{
    memset(r, 0, sizeof(*r));
    r->sc = sc;
    r->w = w;
    r->opts = mfl_learn_defaults();
    r->opts.lr = mfl_scale_from_int((uint64_t)llround(sc->lr * 65536.0), 16);
    r->opts.batch = (uint16_t)sc->batch;
    r->arena_size = mfl_model_arena_size(&w->model);
    r->arena = malloc(r->arena_size);
    r->ids = calloc(sc->devices, sizeof(sim_identity_t));
    r->online = calloc(sc->devices, 1);
    r->dropped = calloc(sc->devices, 1);
    r->wave = calloc(sc->devices, 1);
    r->order = calloc(sc->devices, sizeof(*r->order));
    r->fresh_from = calloc(sc->devices, sizeof(uint32_t));
    r->fresh_to = calloc(sc->devices, sizeof(uint32_t));
    if (!r->arena || !r->ids || !r->online || !r->dropped || !r->wave || !r->order || !r->fresh_from || !r->fresh_to) {
        return MFL_ERR_NO_MEMORY;
    }
    int err = 0;
    for (uint32_t i = 0; i < sc->devices && !err; i++) {
        err = sim_identity(sc, i, &r->ids[i]);
    }
    /* workspace sizes from a learner of this model */
    mfl_learner_t probe;
    uint8_t *mem = NULL;
    err = err ? err : init_learner(r, &probe, &mem, (uint16_t)sc->batch, 0);
    if (!err) {
        r->head_values = (size_t)probe.head.units * (probe.head.features + 1u);
        r->work_size = mfl_update_work_size(&probe, sc->top_k);
        r->update_cap = mfl_update_max_size(&probe, 16);
        for (unsigned t = 0; t < sc->threads && !err; t++) {
            err = (r->work[t] = malloc(r->work_size)) ? 0 : MFL_ERR_NO_MEMORY;
        }
    }
    free(mem);
    return err;
}

static void teardown(run_t *r)
{
    close_strategies(r);
    for (int k = 0; k <= SIM_ADAPT_RECALIBRATE; k++) {
        sim_adapt_free(&r->adapted[k]);
    }
    for (unsigned t = 0; t < 64; t++) {
        free(r->work[t]);
    }
    free(r->arena);
    free(r->ids);
    free(r->online);
    free(r->dropped);
    free(r->wave);
    free(r->order);
    free(r->fresh_from);
    free(r->fresh_to);
}

static void csv_header(FILE *f, const sim_scenario_t *sc)
{
    fprintf(f, "strategy,round,version");
    for (uint32_t g = 0; g < sc->n_regions; g++) {
        fprintf(f, ",acc_%s", sc->regions[g].name);
    }
    fprintf(f, ",mean,worst,gap,bytes_up,bytes_down,accepted,rejected,lost\n");
}

static void csv_row(FILE *f, const sim_scenario_t *sc, int k, uint32_t round, const sim_round_t *x)
{
    fprintf(f, "%s,%u,%llu", sim_strategy_name((enum sim_strategy)k), round, (unsigned long long)x->version);
    for (uint32_t g = 0; g < sc->n_regions; g++) {
        fprintf(f, ",%.2f", x->acc[g]);
    }
    fprintf(f, ",%.2f,%.2f,%.2f,%llu,%llu,%u,%u,%u\n", x->mean, x->worst, x->gap, (unsigned long long)x->bytes_up,
            (unsigned long long)x->bytes_down, x->accepted, x->rejected, x->lost);
}

static int run_round(run_t *r, FILE *progress)
{
    int err = 0;
    draw_round(r);
    order_arrivals(r);
    for (int k = 0; k < SIM_STRATEGIES && !err; k++) {
        strat_t *s = &r->s[k];
        memset(&s->cur, 0, sizeof(s->cur));
        if (!s->on || strategy_kind[k].role == ROLE_FIXED || strategy_kind[k].role == ROLE_ORACLE) {
            continue;
        }
        if (progress) {
            fprintf(progress, "\r  round %u/%u: %-10s", r->round, r->sc->rounds, sim_strategy_name((enum sim_strategy)k));
            fflush(progress);
        }
        if (strategy_kind[k].role == ROLE_LOCAL) {
            err = parallel(r, s, local_step, r->online);
            continue;
        }
        err = federated_round(r, s);
    }
    return err;
}

int sim_run(const sim_scenario_t *sc, const sim_world_t *w, const char *run_dir, FILE *progress,
            sim_results_t *res, char *msg, size_t cap)
{
    run_t r;
    char path[1200];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    memset(res, 0, sizeof(*res));
    res->rounds = sc->rounds;
    msg[0] = '\0';
    snprintf(path, sizeof(path), "%s/rounds.csv", run_dir);
    FILE *csv = fopen(path, "w");
    const int open_errno = errno;
    int err = csv ? setup(&r, sc, w) : MFL_ERR_IO;
    r.res = res;
    err = err ? err : build_adaptations(&r, progress, msg, cap);
    err = err ? err : open_strategies(&r, run_dir, progress, msg, cap);
    for (int k = 0; k < SIM_STRATEGIES && !err; k++) {
        res->r[k] = sc->strategies[k] ? calloc(sc->rounds + 1, sizeof(sim_round_t)) : NULL;
        err = sc->strategies[k] && !res->r[k] ? MFL_ERR_NO_MEMORY : 0;
    }
    if (!err) {
        csv_header(csv, sc);
    }
    for (uint32_t round = 0; round <= sc->rounds && !err; round++) {
        r.round = round;
        err = round ? run_round(&r, progress) : 0;
        for (int k = 0; k < SIM_STRATEGIES && !err; k++) {
            if (r.s[k].on) {
                err = evaluate(&r, &r.s[k], &res->r[k][round]);
                csv_row(csv, sc, k, round, &res->r[k][round]);
            }
        }
        fflush(csv);
    }
    if (progress) {
        fprintf(progress, "\r%40s\r", "");
    }
    if (err && !msg[0]) {
        snprintf(msg, cap, "round %u: %s", r.round, mfl_strerror(err));
    }
    if (csv) {
        teardown(&r);
        fclose(csv);
    } else {
        snprintf(msg, cap, "cannot write %s: %s", path, strerror(open_errno));
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    res->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    return err;
}

void sim_results_free(sim_results_t *res)
{
    for (int k = 0; k < SIM_STRATEGIES; k++) {
        free(res->r[k]);
    }
    memset(res, 0, sizeof(*res));
}
