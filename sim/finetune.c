/* The base network fine-tuned centrally below the head (finetune.h). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "finetune.h"
#include "mfl/error.h"
#include "mfl/host/net_export.h"
#include "mfl/learner.h"

#define PIXELS 784
#define CALIBRATION_SAMPLES 2000u /* as the base's calibration */

/* The stopping rule's state (mfl_train_epoch_fn). */
typedef struct {
    const char *name;
    FILE *progress;
    int fixed;            /* oracle_epochs > 0: no halving, no early end */
    double best, fit;
    int since_best, halvings;
    uint32_t epochs;
} schedule_t;

static int epoch_end(void *user, int epoch, double loss, double accuracy, float *lr)
{
    (void)loss;
    schedule_t *s = user;
    s->epochs = (uint32_t)epoch;
    s->fit = 100.0 * accuracy;
    if (s->fixed) {
        return 0;
    }
    s->since_best = s->fit >= s->best + SIM_FT_MIN_GAIN ? 0 : s->since_best + 1;
    s->best = s->fit > s->best ? s->fit : s->best;
    if (s->since_best == SIM_FT_PATIENCE) {
        s->halvings++;
        s->since_best = 0;
        *lr *= 0.5f;
    }
    return s->halvings >= SIM_FT_HALVINGS;
}

static void train_progress(void *user, int epoch, int epochs, size_t batch, size_t batches)
{
    const schedule_t *s = user;
    fprintf(s->progress, "\r  %s: epoch %d/%d, batch %zu/%zu ", s->name, epoch, epochs, batch, batches);
    fflush(s->progress);
}

/* Every device's training samples as its sensor sees them, in device
 * order: sample k is device k / train_per_device's sample k % it. */
static int device_samples(const sim_world_t *w, mfl_dataset_t *ds)
{
    const sim_scenario_t *sc = w->sc;
    const uint32_t n = sc->devices * sc->train_per_device;
    *ds = (mfl_dataset_t){n, 28, 28, malloc((size_t)n * PIXELS), malloc(n)};
    if (!ds->images || !ds->labels) {
        return MFL_ERR_NO_MEMORY;
    }
    for (uint32_t k = 0; k < n; k++) {
        const uint32_t i = k / sc->train_per_device, j = k % sc->train_per_device;
        int8_t input[PIXELS];
        sim_world_input(w, w->dev[i].train[j], input);
        for (int p = 0; p < PIXELS; p++) {
            ds->images[(size_t)k * PIXELS + p] = (uint8_t)(input[p] + 128);
        }
        ds->labels[k] = w->dev[i].train_label[j];
    }
    return 0;
}

/* Trains a copy of the base's float network and exports it. */
static int train_export(sim_finetuned_t *ft, const sim_world_t *w, int trainable, const char *name, FILE *progress,
                        char *msg, size_t cap)
{
    const sim_scenario_t *sc = w->sc;
    mfl_dataset_t ds = {0};
    mfl_net_t net;
    int err = mfl_net_create(&net, w->base_net.arch, w->base_net.in_h, w->base_net.in_w, w->base_net.in_c, msg, cap);
    if (err) {
        return err;
    }
    memcpy(net.params, w->base_net.params, net.n_params * sizeof(float));
    err = device_samples(w, &ds);
    schedule_t sched = {name, progress, sc->oracle_epochs > 0, -1.0, 0, 0, 0, 0};
    mfl_train_opts_t o = mfl_train_defaults();
    o.epochs = sc->oracle_epochs ? (int)sc->oracle_epochs : SIM_FT_MAX_EPOCHS;
    o.lr = SIM_FT_LR;
    o.seed = sim_stream(sc->seed, SIM_STREAM_ORACLE, 1 + (uint64_t)trainable, 0);
    o.threads = (int)sc->threads;
    o.trainable = trainable;
    o.epoch_end = epoch_end;
    o.epoch_user = &sched;
    o.progress = progress ? train_progress : NULL;
    o.progress_user = &sched;
    err = err ? err : mfl_net_train(&net, &ds, NULL, ds.n, &o);
    ft->epochs = sched.epochs;
    ft->fit = sched.fit;
    uint32_t idx[CALIBRATION_SAMPLES];
    const uint32_t n_cal = ds.n < CALIBRATION_SAMPLES ? ds.n : CALIBRATION_SAMPLES;
    for (uint32_t k = 0; k < n_cal; k++) {
        idx[k] = (uint32_t)((uint64_t)k * ds.n / n_cal); /* evenly spaced: every region */
    }
    float lo[MFL_NET_MAX_LAYERS], hi[MFL_NET_MAX_LAYERS];
    err = err ? err : mfl_net_calibrate(&net, &ds, idx, n_cal, lo, hi);
    err = err ? err : mfl_net_export(&net, lo, hi, 2.0f, &ft->image, &ft->size, msg, cap);
    mfl_net_free(&net);
    mfl_dataset_free(&ds);
    return err;
}

typedef struct {
    sim_finetuned_t *ft;
    const sim_world_t *w;
    unsigned index, count;
    int err;
} job_t;

/* Devices index, index + count, ...: their test samples' features. */
static void *features_worker(void *arg)
{
    job_t *job = arg;
    sim_finetuned_t *ft = job->ft;
    const sim_world_t *w = job->w;
    const size_t arena_size = mfl_model_arena_size(&ft->model), mem_size = mfl_learner_mem_size(&ft->model, 8, 1);
    uint8_t *arena = malloc(arena_size), *mem = malloc(mem_size);
    mfl_learn_opts_t o = mfl_learn_defaults();
    o.batch = 1;
    mfl_learner_t l;
    job->err = !arena || !mem ? MFL_ERR_NO_MEMORY
                              : mfl_learner_init(&l, &ft->model, arena, arena_size, mem, mem_size, 8, &o);
    for (uint32_t i = job->index; !job->err && i < w->sc->devices; i += job->count) {
        for (uint32_t j = 0; j < ft->test.test && !job->err; j++) {
            int8_t *x;
            size_t len;
            const int8_t *f;
            job->err = mfl_interp_input(&l.interp, &x, &len);
            if (!job->err) {
                sim_world_input(w, w->dev[i].test[j], x);
                job->err = mfl_learner_features(&l, x, len, &f);
            }
            if (!job->err) {
                memcpy((int8_t *)sim_adapted_test(&ft->test, i, j), f, ft->test.features);
            }
        }
    }
    free(arena);
    free(mem);
    return NULL;
}

static int test_features(sim_finetuned_t *ft, const sim_world_t *w)
{
    job_t jobs[64];
    pthread_t t[64];
    const unsigned n = w->sc->threads;
    for (unsigned k = 0; k < n; k++) {
        jobs[k] = (job_t){ft, w, k, n, 0};
        pthread_create(&t[k], NULL, features_worker, &jobs[k]);
    }
    int err = 0;
    for (unsigned k = 0; k < n; k++) {
        pthread_join(t[k], NULL);
        err = err ? err : jobs[k].err;
    }
    return err;
}

int sim_finetune(sim_finetuned_t *ft, const sim_world_t *w, int trainable, const char *name, FILE *progress,
                 char *msg, size_t cap)
{
    memset(ft, 0, sizeof(*ft));
    msg[0] = '\0';
    if (!w->base_net.params) {
        snprintf(msg, cap, "%s: the base model's float network is not loaded", name);
        return MFL_ERR_INVALID_ARG;
    }
    int err = train_export(ft, w, trainable, name, progress, msg, cap);
    if (progress) {
        fprintf(progress, "\r%60s\r", "");
        fflush(progress);
    }
    if (!err && (err = mfl_model_load(&ft->model, ft->image, ft->size)) != 0) {
        snprintf(msg, cap, "%s: the fine-tuned model does not load: %s", name, mfl_strerror(err));
    }
    if (!err && ft->model.header->head_op == MFL_NONE) {
        err = MFL_ERR_NO_HEAD;
    }
    if (!err) {
        const mfl_op_rec_t *head = &ft->model.ops[ft->model.header->head_op];
        ft->test = (sim_adapted_t){.features = (uint16_t)ft->model.tensors[head->inputs[1]].dims[1],
                                   .train = 0, .test = w->sc->test_per_device};
        ft->test.feature = malloc((size_t)w->sc->devices * ft->test.test * ft->test.features);
        err = ft->test.feature ? test_features(ft, w) : MFL_ERR_NO_MEMORY;
    }
    if (err && !msg[0]) {
        snprintf(msg, cap, "%s: %s", name, mfl_strerror(err));
    }
    return err;
}

void sim_finetune_free(sim_finetuned_t *ft)
{
    sim_adapt_free(&ft->test);
    free(ft->image);
    memset(ft, 0, sizeof(*ft));
}
