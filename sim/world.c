/* The simulated world: data, regions, devices' samples, features (world.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>

#include "mfl/error.h"
#include "mfl/host/host_io.h"
#include "mfl/learner.h"
#include "mfl/host/model_file.h"
#include "mfl/host/net_export.h"
#include "mfl/host/train.h"
#include "world.h"

#define PIXELS 784

static double class_weight(const sim_scenario_t *sc, uint32_t region, int c)
{
    if (sc->partition != SIM_REGION_SHIFT) {
        return 1.0;
    }
    /* prior[c] is 1 unless set: a region without `prior=` weighs as before */
    return (sc->rare[c] ? sc->regions[region].rare_weight : 1.0) * sc->regions[region].prior[c];
}

/* The status line while the base model trains (mfl_train_progress_fn). */
static void train_progress(void *user, int epoch, int epochs, size_t batch, size_t batches)
{
    FILE *f = user;
    fprintf(f, "\r  base model: epoch %d/%d, batch %zu/%zu ", epoch, epochs, batch, batches);
    fflush(f);
}

/* Clears a status line (wider than any of ours) and returns to its start. */
static void progress_clear(FILE *f)
{
    if (f) {
        fprintf(f, "\r%60s\r", "");
        fflush(f);
    }
}

int sim_world_base_selection(const sim_world_t *w, uint32_t **out, size_t *count)
{
    const sim_scenario_t *sc = w->sc;
    uint32_t *idx = malloc(sizeof(uint32_t) * (sc->base_images ? sc->base_images : 1));
    size_t n = 0;
    uint64_t rng = sim_stream(sc->seed, SIM_STREAM_BASE, 0, 0);
    for (uint32_t i = 0; idx && i < sc->base_images; i++) {
        if (sim_uniform(&rng) < class_weight(sc, 0, w->train_set.labels[i])) {
            idx[n++] = i;
        }
    }
    if (idx) {
        sim_shuffle(idx, n, &rng);
    }
    *out = idx;
    *count = n;
    return idx ? 0 : MFL_ERR_NO_MEMORY;
}

int sim_world_needs_float(const sim_scenario_t *sc)
{
    int any = 0;
    for (int k = 0; k < SIM_STRATEGIES; k++) {
        any |= sc->strategies[k] && sim_strategy_finetuned((enum sim_strategy)k);
    }
    return any;
}

void sim_base_float_path(const sim_scenario_t *sc, char *out, size_t cap)
{
    snprintf(out, cap, "%s.float", sc->base);
}

/* The base's int8 image from its float network: activation ranges over
 * the first 2,000 of its training images, the logits' range widened x2. */
static int export_base(const sim_world_t *w, const mfl_net_t *net, const uint32_t *idx, size_t n, uint8_t **image,
                       size_t *size, char *msg, size_t cap)
{
    float lo[MFL_NET_MAX_LAYERS], hi[MFL_NET_MAX_LAYERS];
    const int err = mfl_net_calibrate(net, &w->train_set, idx, n < 2000 ? n : 2000, lo, hi);
    return err ? err : mfl_net_export(net, lo, hi, 2.0f, image, size, msg, cap);
}

/* The base model: trained on the home region's slice (images below
 * base_images, each kept with its class's home prior), quantized, written,
 * with its float network beside it (kept in w->base_net when needed). */
static int train_base(sim_world_t *w, FILE *log, char *msg, size_t cap)
{
    const sim_scenario_t *sc = w->sc;
    uint32_t *idx = NULL;
    size_t n = 0;
    sim_world_base_selection(w, &idx, &n);
    mfl_net_t net;
    uint8_t *image = NULL;
    size_t size = 0;
    char float_path[1100];
    sim_base_float_path(sc, float_path, sizeof(float_path));
    int err = !idx ? MFL_ERR_NO_MEMORY : mfl_net_create(&net, sc->base_arch, 28, 28, 1, msg, cap);
    if (!err) {
        mfl_train_opts_t o = mfl_train_defaults();
        o.epochs = (int)sc->base_epochs;
        o.seed = sc->seed;
        o.threads = (int)sc->threads;
        o.progress = w->progress ? train_progress : NULL;
        o.progress_user = w->progress;
        mfl_net_init(&net, sc->seed);
        fprintf(log, "base model: training %s on %zu home-region images, %u epochs\n", sc->base_arch, n,
                sc->base_epochs);
        err = mfl_net_train(&net, &w->train_set, idx, n, &o);
        progress_clear(w->progress);
        err = err ? err : export_base(w, &net, idx, n, &image, &size, msg, cap);
        err = err ? err : mfl_write_file(sc->base, image, size);
        err = err ? err : mfl_net_save(&net, float_path);
        if (err && !msg[0]) {
            snprintf(msg, cap, "training the base model failed: %s", mfl_strerror(err));
        }
        if (!err && sim_world_needs_float(sc)) {
            w->base_net = net; /* the world's now */
            net.params = NULL;
        }
        mfl_net_free(&net);
    }
    free(image);
    free(idx);
    return err;
}

/* A cached base's float network (BASE.float) into w->base_net, if it
 * exports to BASE bit for bit; else the base is trained again from the
 * same inputs, which writes both. */
static int keep_float(sim_world_t *w, FILE *log, char *msg, size_t cap)
{
    const sim_scenario_t *sc = w->sc;
    char path[1100], why[256] = "";
    uint8_t *have = NULL, *image = NULL;
    size_t have_size = 0, size = 0, n = 0;
    uint32_t *idx = NULL;
    if (sim_base_status(sc) == SIM_BASE_SUPPLIED) {
        snprintf(msg, cap, SIM_FINETUNED_NAMES " fine-tune the float network a base model was made from; %s "
                           "was supplied (no %s.inputs) and has none: leave them out", sc->base, sc->base);
        return MFL_ERR_INVALID_ARG;
    }
    sim_base_float_path(sc, path, sizeof(path));
    int err = mfl_net_load(&w->base_net, path, why, sizeof(why));
    if (!err && strcmp(w->base_net.arch, sc->base_arch) != 0) {
        snprintf(why, sizeof(why), "it is of another architecture, %.100s", w->base_net.arch);
        err = MFL_ERR_FLOAT_MODEL;
    }
    if (!err && (err = mfl_read_file(sc->base, &have, &have_size)) != 0) {
        snprintf(why, sizeof(why), "the base cannot be read");
    }
    err = err ? err : sim_world_base_selection(w, &idx, &n);
    err = err ? err : export_base(w, &w->base_net, idx, n, &image, &size, why, sizeof(why));
    if (!err && (size != have_size || memcmp(image, have, size) != 0)) {
        snprintf(why, sizeof(why), "it does not export to the base bit for bit");
        err = MFL_ERR_FLOAT_MODEL;
    }
    free(image);
    free(idx);
    if (!err) {
        fprintf(log, "base model: its float network %s (exports to the base bit for bit)\n", path);
        free(have);
        return 0;
    }
    mfl_net_free(&w->base_net);
    fprintf(log, "base model: %s is cached, but its float network %s, which " SIM_FINETUNED_NAMES " fine-tune, "
                 "is not usable (%s): training it again from the same inputs\n", sc->base, path, why);
    err = train_base(w, log, msg, cap);
    if (!err && have) {
        uint8_t *now = NULL;
        size_t now_size = 0;
        if (!mfl_read_file(sc->base, &now, &now_size) && (now_size != have_size || memcmp(now, have, now_size))) {
            fprintf(log, "base model: note: %s came out different from the cached one (trained by another build?)\n",
                    sc->base);
        }
        free(now);
    }
    free(have);
    return err;
}

/* Pixel (x, y) of a 28 x 28 scene, `fill` outside it (the background the
 * warp brings in at the borders). */
static double at(const double *px, int x, int y, double fill)
{
    return x < 0 || y < 0 || x >= 28 || y >= 28 ? fill : px[y * 28 + x];
}

void sim_sensor_warp(const double *in, double *out, double degrees, int dx, int dy, double fill)
{
    /* Each output pixel reads the scene where the inverse motion takes it:
     * back by the shift, then turned by -degrees about the centre (13.5,
     * 13.5), sampled bilinearly. With no rotation the source lands on
     * whole pixels and weights 1 and 0 copy them exactly. */
    const double t = degrees * (3.141592653589793 / 180.0), c = cos(t), s = sin(t), mid = 13.5;
    for (int y = 0; y < 28; y++) {
        for (int x = 0; x < 28; x++) {
            const double u = x - dx - mid, v = y - dy - mid;
            const double sx = c * u + s * v + mid, sy = -s * u + c * v + mid;
            const int x0 = (int)floor(sx), y0 = (int)floor(sy);
            const double fx = sx - x0, fy = sy - y0;
            out[y * 28 + x] = (1 - fy) * ((1 - fx) * at(in, x0, y0, fill) + fx * at(in, x0 + 1, y0, fill)) +
                              fy * ((1 - fx) * at(in, x0, y0 + 1, fill) + fx * at(in, x0 + 1, y0 + 1, fill));
        }
    }
}

void sim_sensor_blur(const double *in, double *out, uint32_t radius)
{
    const int r = (int)radius;
    for (int y = 0; y < 28; y++) {
        for (int x = 0; x < 28; x++) {
            double sum = 0;
            int n = 0;
            for (int yy = y - r; yy <= y + r; yy++) {
                for (int xx = x - r; xx <= x + r; xx++) {
                    if (xx >= 0 && yy >= 0 && xx < 28 && yy < 28) { /* edges: the window inside the image */
                        sum += in[yy * 28 + xx];
                        n++;
                    }
                }
            }
            out[y * 28 + x] = sum / n;
        }
    }
}

void sim_sensor_occlude(double *px, uint32_t x0, uint32_t y0, uint32_t size, double value)
{
    for (uint32_t y = y0; y < y0 + size && y < 28; y++) {
        for (uint32_t x = x0; x < x0 + size && x < 28; x++) {
            px[y * 28 + x] = value;
        }
    }
}

/* The scene a region's sensor looks at, before its gain, offset and
 * noise: the image inverted, moved, partly covered, then blurred by the
 * optics. The pose and the occluder's place come from their own stream
 * (SIM_STREAM_POSE), so they do not shift the noise stream: a region
 * without these effects sees exactly what it saw before they existed. */
static void scene_of(const sim_scenario_t *sc, const sim_region_t *r, uint32_t region, uint64_t key,
                     const uint8_t *px, double *scene)
{
    double tmp[PIXELS];
    uint64_t rng = sim_stream(sc->seed, SIM_STREAM_POSE, region, key);
    for (int k = 0; k < PIXELS; k++) {
        scene[k] = r->invert ? 255.0 - px[k] : (double)px[k];
    }
    if (r->rotate > 0 || r->shift) {
        const double degrees = r->rotate > 0 ? (2.0 * sim_uniform(&rng) - 1.0) * r->rotate : 0.0;
        const int span = 2 * (int)r->shift + 1;
        const int dx = r->shift ? (int)(sim_uniform(&rng) * span) - (int)r->shift : 0;
        const int dy = r->shift ? (int)(sim_uniform(&rng) * span) - (int)r->shift : 0;
        sim_sensor_warp(scene, tmp, degrees, dx, dy, r->invert ? 255.0 : 0.0);
        memcpy(scene, tmp, sizeof(tmp));
    }
    if (r->occlude) {
        const uint32_t places = 28 - r->occlude + 1;
        const uint32_t x0 = (uint32_t)(sim_uniform(&rng) * places), y0 = (uint32_t)(sim_uniform(&rng) * places);
        sim_sensor_occlude(scene, x0, y0, r->occlude, r->occlude_value);
    }
    if (r->blur) {
        sim_sensor_blur(scene, tmp, r->blur);
        memcpy(scene, tmp, sizeof(tmp));
    }
}

/* A region's sensor: the scene (scene_of), then contrast, brightness
 * offset and noise, deterministic per (seed, region, image). */
static void see(const sim_scenario_t *sc, uint32_t region, uint64_t key, const uint8_t *px, int8_t *input)
{
    const sim_region_t *r = &sc->regions[sc->partition == SIM_REGION_SHIFT ? region : 0];
    uint64_t rng = sim_stream(sc->seed, SIM_STREAM_SENSOR, region, key);
    double scene[PIXELS];
    scene_of(sc, r, region, key, px, scene);
    for (int k = 0; k < PIXELS; k++) {
        double v = r->offset + r->contrast * scene[k];
        if (r->noise > 0) {
            const double u1 = sim_uniform(&rng) + 1e-12, u2 = sim_uniform(&rng);
            v += r->noise * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
        }
        v = v < 0 ? 0 : v > 255 ? 255 : v;
        input[k] = (int8_t)((int)lround(v) - 128);
    }
}

static void sample_id_source(const sim_world_t *w, uint32_t id, uint32_t *region, int *is_test, uint32_t *image)
{
    const uint32_t per = w->pool_train + w->pool_test, k = id % per;
    *region = id / per;
    *is_test = k >= w->pool_train;
    *image = *is_test ? *region * w->pool_test + (k - w->pool_train)
                      : w->sc->base_images + *region * w->pool_train + k;
}

void sim_world_input(const sim_world_t *w, uint32_t id, int8_t *input)
{
    uint32_t region, image;
    int is_test;
    sample_id_source(w, id, &region, &is_test, &image);
    const mfl_dataset_t *ds = is_test ? &w->test_set : &w->train_set;
    see(w->sc, region, ((uint64_t)is_test << 32) | image, ds->images + (size_t)image * PIXELS, input);
}

typedef struct {
    sim_world_t *w;
    unsigned index, count;
    int err;
    atomic_uint done;        /* features computed so far, read by the status line */
    atomic_int finished;
} feature_job_t;

static void *feature_worker(void *arg)
{
    feature_job_t *job = arg;
    sim_world_t *w = job->w;
    const size_t arena_size = mfl_model_arena_size(&w->model), mem_size = mfl_learner_mem_size(&w->model, 8, 1);
    uint8_t *arena = malloc(arena_size), *mem = malloc(mem_size);
    mfl_learn_opts_t o = mfl_learn_defaults();
    o.batch = 1;
    mfl_learner_t l;
    int8_t input[PIXELS];
    job->err = !arena || !mem ? MFL_ERR_NO_MEMORY : mfl_learner_init(&l, &w->model, arena, arena_size, mem, mem_size, 8, &o);
    for (uint32_t id = job->index; !job->err && id < w->samples; id += job->count) {
        if (!w->used[id]) {
            continue;
        }
        const int8_t *f;
        sim_world_input(w, id, input);
        job->err = mfl_learner_features(&l, input, PIXELS, &f);
        if (!job->err) {
            memcpy(w->feature + (size_t)id * w->features, f, w->features);
            atomic_fetch_add_explicit(&job->done, 1, memory_order_relaxed);
        }
    }
    free(arena);
    free(mem);
    atomic_store(&job->finished, 1);
    return NULL;
}

/* Redraws "features: DONE/TOTAL" ten times a second until every worker
 * has finished (the workers only count; the figures are theirs). */
static void feature_progress(FILE *f, feature_job_t *jobs, unsigned n, uint32_t total)
{
    for (;;) {
        unsigned done = 0, finished = 0;
        for (unsigned i = 0; i < n; i++) {
            done += atomic_load_explicit(&jobs[i].done, memory_order_relaxed);
            finished += (unsigned)atomic_load(&jobs[i].finished);
        }
        fprintf(f, "\r  features: %u/%u ", done, total);
        fflush(f);
        if (finished == n) {
            break;
        }
        nanosleep(&(struct timespec){0, 100000000L}, NULL);
    }
    progress_clear(f);
}

static int compute_features(sim_world_t *w, uint32_t total)
{
    feature_job_t jobs[64];
    pthread_t t[64];
    const unsigned n = w->sc->threads;
    for (unsigned i = 0; i < n; i++) {
        jobs[i] = (feature_job_t){.w = w, .index = i, .count = n};
        atomic_init(&jobs[i].done, 0);
        atomic_init(&jobs[i].finished, 0);
        pthread_create(&t[i], NULL, feature_worker, &jobs[i]);
    }
    if (w->progress) {
        feature_progress(w->progress, jobs, n, total);
    }
    int err = 0;
    for (unsigned i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        err = err ? err : jobs[i].err;
    }
    return err;
}

/* Gamma(a, 1) by Marsaglia and Tsang (a < 1 boosted), for Dirichlet priors. */
static double gamma_sample(double a, uint64_t *rng)
{
    if (a < 1.0) {
        return gamma_sample(a + 1.0, rng) * pow(sim_uniform(rng) + 1e-300, 1.0 / a);
    }
    const double d = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        const double u1 = sim_uniform(rng) + 1e-12, u2 = sim_uniform(rng);
        const double x = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2), v = pow(1.0 + c * x, 3);
        if (v > 0 && log(sim_uniform(rng) + 1e-300) < 0.5 * x * x + d - d * v + d * log(v)) {
            return d * v;
        }
    }
}

/* Images of each class in one region's pool: ids[c][0..n[c]). */
typedef struct {
    uint32_t *ids[SIM_CLASSES];
    uint32_t n[SIM_CLASSES];
} class_lists_t;

static int class_lists(const sim_world_t *w, uint32_t region, int test, class_lists_t *cl)
{
    const uint32_t count = test ? w->pool_test : w->pool_train;
    const uint32_t base = region * (w->pool_train + w->pool_test) + (test ? w->pool_train : 0);
    memset(cl, 0, sizeof(*cl));
    for (int c = 0; c < SIM_CLASSES; c++) {
        if (!(cl->ids[c] = malloc(sizeof(uint32_t) * count))) {
            return MFL_ERR_NO_MEMORY;
        }
    }
    for (uint32_t k = 0; k < count; k++) {
        uint32_t r, image;
        int is_test;
        sample_id_source(w, base + k, &r, &is_test, &image);
        const uint8_t label = (test ? w->test_set.labels : w->train_set.labels)[image];
        cl->ids[label][cl->n[label]++] = base + k;
    }
    return 0;
}

static void free_lists(class_lists_t *cl)
{
    for (int c = 0; c < SIM_CLASSES; c++) {
        free(cl->ids[c]);
    }
}

/* Draws n samples with the prior from the lists (with replacement). */
static void draw(sim_world_t *w, const class_lists_t *cl, const double *prior, uint64_t *rng, uint32_t n,
                 uint32_t *ids, uint8_t *labels)
{
    for (uint32_t i = 0; i < n; i++) {
        double u = sim_uniform(rng);
        int c = 0;
        while (c < SIM_CLASSES - 1 && (u >= prior[c] || !cl->n[c])) {
            u -= prior[c];
            c++;
        }
        while (!cl->n[c]) {
            c = (c + 1) % SIM_CLASSES;
        }
        ids[i] = cl->ids[c][(uint32_t)(sim_uniform(rng) * cl->n[c])];
        labels[i] = (uint8_t)c;
        w->used[ids[i]] = 1;
    }
}

static void device_prior(const sim_scenario_t *sc, uint32_t region, uint64_t *rng, double *prior)
{
    double sum = 0;
    for (int c = 0; c < SIM_CLASSES; c++) {
        prior[c] = sc->partition == SIM_DIRICHLET ? gamma_sample(sc->alpha, rng) : class_weight(sc, region, c);
        sum += prior[c];
    }
    for (int c = 0; c < SIM_CLASSES; c++) {
        prior[c] /= sum;
    }
}

static int draw_devices(sim_world_t *w)
{
    const sim_scenario_t *sc = w->sc;
    class_lists_t train[SIM_MAX_REGIONS], test[SIM_MAX_REGIONS];
    int err = 0;
    memset(train, 0, sizeof(train));
    memset(test, 0, sizeof(test));
    for (uint32_t r = 0; r < sc->n_regions && !err; r++) {
        err = class_lists(w, r, 0, &train[r]);
        err = err ? err : class_lists(w, r, 1, &test[r]);
    }
    for (uint32_t i = 0; i < sc->devices && !err; i++) {
        sim_device_data_t *d = &w->dev[i];
        uint64_t rng = sim_stream(sc->seed, SIM_STREAM_DATA, i, 0);
        double prior[SIM_CLASSES];
        d->region = sim_region_of(sc, i);
        d->train = malloc(sizeof(uint32_t) * sc->train_per_device);
        d->train_label = malloc(sc->train_per_device);
        d->test = malloc(sizeof(uint32_t) * sc->test_per_device);
        d->test_label = malloc(sc->test_per_device);
        if (!d->train || !d->train_label || !d->test || !d->test_label) {
            err = MFL_ERR_NO_MEMORY;
            break;
        }
        device_prior(sc, d->region, &rng, prior);
        draw(w, &train[d->region], prior, &rng, sc->train_per_device, d->train, d->train_label);
        draw(w, &test[d->region], prior, &rng, sc->test_per_device, d->test, d->test_label);
    }
    for (uint32_t r = 0; r < sc->n_regions; r++) {
        free_lists(&train[r]);
        free_lists(&test[r]);
    }
    return err;
}

/* BASE.inputs: the line of inputs a base the simulator trained was made
 * from (sim_base_inputs), written beside it. */
static void inputs_path(const sim_scenario_t *sc, char *out, size_t cap)
{
    snprintf(out, cap, "%s.inputs", sc->base);
}

enum sim_base_status sim_base_status(const sim_scenario_t *sc)
{
    char path[1100], want[2048], have[2048] = "";
    if (access(sc->base, F_OK) != 0) {
        return SIM_BASE_MISSING;
    }
    inputs_path(sc, path, sizeof(path));
    FILE *f = fopen(path, "r");
    if (!f) {
        return SIM_BASE_SUPPLIED;
    }
    const int got = fgets(have, sizeof(have), f) != NULL;
    fclose(f);
    have[strcspn(have, "\n")] = '\0';
    sim_base_inputs(sc, want, sizeof(want));
    return got && !strcmp(have, want) ? SIM_BASE_CACHED : SIM_BASE_STALE;
}

static int write_inputs(const sim_scenario_t *sc)
{
    char path[1100], line[2048];
    inputs_path(sc, path, sizeof(path));
    sim_base_inputs(sc, line, sizeof(line));
    FILE *f = fopen(path, "w");
    if (!f) {
        return MFL_ERR_IO;
    }
    fprintf(f, "%s\n", line);
    return fclose(f) ? MFL_ERR_IO : 0;
}

static int load_base(sim_world_t *w, FILE *log, char *msg, size_t cap)
{
    int err = 0, trained = 0;
    switch (sim_base_status(w->sc)) {
    case SIM_BASE_CACHED: fprintf(log, "base model: %s (cached: made from the same inputs)\n", w->sc->base); break;
    case SIM_BASE_SUPPLIED:
        fprintf(log, "base model: %s (supplied: no %s.inputs, so used as it is)\n", w->sc->base, w->sc->base);
        break;
    case SIM_BASE_STALE:
        fprintf(log, "base model: %s was made from other inputs (seed, data or base settings): training again\n",
                w->sc->base);
        /* fall through */
    default:
        err = train_base(w, log, msg, cap);
        trained = 1;
        if (!err && write_inputs(w->sc)) {
            snprintf(msg, cap, "cannot write %s.inputs: %s", w->sc->base, strerror(errno));
            err = MFL_ERR_IO;
        }
    }
    if (!err && !trained && sim_world_needs_float(w->sc)) {
        err = keep_float(w, log, msg, cap);
    }
    if (!err && mfl_model_file_read(w->sc->base, &w->model_image, &w->model_size, msg, cap)) {
        err = MFL_ERR_IO;
    }
    if (!err && (err = mfl_model_load(&w->model, w->model_image, w->model_size)) != 0) {
        snprintf(msg, cap, "%s: %s", w->sc->base, mfl_strerror(err));
    }
    if (!err && w->model.header->head_op == MFL_NONE) {
        snprintf(msg, cap, "%s has no trainable head", w->sc->base);
        err = MFL_ERR_NO_HEAD;
    }
    if (!err) {
        const mfl_op_rec_t *head = &w->model.ops[w->model.header->head_op];
        w->features = (uint16_t)w->model.tensors[head->inputs[1]].dims[1];
    }
    return err;
}

int sim_world_build(sim_world_t *w, const sim_scenario_t *sc, FILE *log, char *msg, size_t cap)
{
    return sim_world_build_progress(w, sc, log, NULL, msg, cap);
}

int sim_world_build_progress(sim_world_t *w, const sim_scenario_t *sc, FILE *log, FILE *progress, char *msg,
                             size_t cap)
{
    memset(w, 0, sizeof(*w));
    w->sc = sc;
    w->progress = progress;
    msg[0] = '\0';
    const char *dir = sc->data_dir[0] ? sc->data_dir : NULL;
    if (mfl_fmnist_load(dir, 1, &w->train_set, msg, cap) || mfl_fmnist_load(dir, 0, &w->test_set, msg, cap)) {
        return MFL_ERR_IO;
    }
    if (sc->base_images >= w->train_set.n) {
        snprintf(msg, cap, "base_images (%u) leaves no training images for the regions", sc->base_images);
        return MFL_ERR_INVALID_ARG;
    }
    w->pool_train = (w->train_set.n - sc->base_images) / sc->n_regions;
    w->pool_train = w->pool_train < sc->pool_per_region ? w->pool_train : sc->pool_per_region;
    w->pool_test = w->test_set.n / sc->n_regions;
    w->samples = sc->n_regions * (w->pool_train + w->pool_test);
    int err = load_base(w, log, msg, cap);
    if (err) {
        return err;
    }
    w->used = calloc(w->samples, 1);
    w->feature = malloc((size_t)w->samples * w->features);
    w->dev = calloc(sc->devices, sizeof(*w->dev));
    err = !w->used || !w->feature || !w->dev ? MFL_ERR_NO_MEMORY : draw_devices(w);
    if (!err) {
        uint32_t used = 0;
        for (uint32_t i = 0; i < w->samples; i++) {
            used += w->used[i];
        }
        fprintf(log, "data: %u devices in %u regions, %u distinct images; computing their features\n", sc->devices,
                sc->n_regions, used);
        err = compute_features(w, used);
    }
    if (err && !msg[0]) {
        snprintf(msg, cap, "building the world: %s", mfl_strerror(err));
    }
    return err;
}

void sim_world_free(sim_world_t *w)
{
    for (uint32_t i = 0; w->dev && i < w->sc->devices; i++) {
        free(w->dev[i].train);
        free(w->dev[i].train_label);
        free(w->dev[i].test);
        free(w->dev[i].test_label);
    }
    free(w->dev);
    free(w->used);
    free(w->feature);
    free(w->model_image);
    mfl_net_free(&w->base_net);
    mfl_dataset_free(&w->train_set);
    mfl_dataset_free(&w->test_set);
    memset(w, 0, sizeof(*w));
}
