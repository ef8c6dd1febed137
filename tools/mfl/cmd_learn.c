/*
 * `mfl learn-demo`: a device adapts on data its base model is bad at.
 * Streams labelled Fashion-MNIST training images through the device
 * learner (integer only, replay buffer) and prints test accuracy per class
 * before and after; then trains the head on the same images with the
 * fixed-point trainer and with the float32 reference (same init, batches
 * and hyper-parameters) and prints both accuracies on the whole test set.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "mfl/host/host_io.h"
#include "mfl/host/model_file.h"
#include "mfl/host/features.h"
#include "mfl/host/head_ref.h"
#include "mfl/kernels.h"
#include "mfl/learner.h"
#include "mfl/host/quant_host.h"
#include "mfl/host/train.h"

typedef struct {
    size_t samples;
    uint16_t capacity;
    double lr;
    int epochs;
    uint64_t seed;
    const char *dir;
} demo_opts_t;

/* Per-class accuracy of the learner on the test set; returns overall. */
static double per_class(mfl_learner_t *l, const mfl_dataset_t *test, double *acc)
{
    unsigned ok[10] = {0}, n[10] = {0};
    int8_t in[784];
    for (uint32_t i = 0; i < test->n; i++) {
        int label = -1;
        mfl_image_to_input(test->images + (size_t)i * 784, 784, in);
        mfl_learner_predict(l, in, 784, &label);
        n[test->labels[i]]++;
        ok[test->labels[i]] += label == test->labels[i];
    }
    unsigned all_ok = 0;
    for (int c = 0; c < 10; c++) {
        acc[c] = n[c] ? 100.0 * ok[c] / n[c] : 0.0;
        all_ok += ok[c];
    }
    return 100.0 * all_ok / test->n;
}

static void print_table(const double *before, const double *after, double all_before, double all_after)
{
    printf("%-12s %8s %8s\n", "class", "before", "after");
    for (int c = 0; c < 10; c++) {
        printf("%-12s %7.1f%% %7.1f%%%s\n", mfl_fmnist_class_name(c), before[c], after[c],
               after[c] - before[c] >= 10.0 ? "  <- learned" : "");
    }
    printf("%-12s %7.2f%% %7.2f%%\n", "all", all_before, all_after);
}

/* Head-level parity: fixed point and float32 from the global head. */
static void parity(const mfl_model_t *m, mfl_learner_t *l, const mfl_dataset_t *train, const uint32_t *idx,
                   const mfl_dataset_t *test, const demo_opts_t *o)
{
    const uint16_t units = l->head.units;
    uint16_t f = 0;
    int8_t *xtr = malloc(o->samples * 4096), *xte = malloc((size_t)test->n * 4096);
    float *wr = malloc((size_t)units * l->head.features * sizeof(float)), br[MFL_HEAD_MAX_UNITS];
    double scales[MFL_HEAD_MAX_UNITS];
    if (!xtr || !xte || !wr || mfl_extract_features(m, train, idx, o->samples, xtr, &f) ||
        mfl_extract_features(m, test, NULL, test->n, xte, &f)) {
        fprintf(stderr, "mfl learn-demo: feature extraction failed\n");
        free(xtr), free(xte), free(wr);
        return;
    }
    mfl_learner_reset(l); /* fixed point starts from the global head... */
    for (uint16_t i = 0; i < units; i++) {
        scales[i] = mfl_quant_scale_from_fixed(l->q.scale[i].m, l->q.scale[i].e);
    }
    mfl_head_ref_t ref = {units, f, (float)mfl_quant_scale_from_fixed(l->head.feature_scale.m,
                                                                      l->head.feature_scale.e),
                          l->head.feature_zp, wr, br};
    mfl_head_ref_from_quantized(&ref, l->q.w, l->q.bias, scales); /* ...and so does float32 */
    const mfl_scale_t lr_fixed = mfl_scale_from_int((uint64_t)llround(o->lr * 65536.0), 16);
    const float lr = (float)((double)llround(o->lr * 65536.0) / 65536.0);
    const int batch = l->opts.batch;
    uint32_t *order = malloc(o->samples * sizeof(uint32_t));
    for (size_t i = 0; i < o->samples; i++) order[i] = (uint32_t)i;
    uint64_t rng = o->seed;
    for (int e = 0; e < o->epochs; e++) {
        for (size_t i = o->samples - 1; i > 0; i--) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            const size_t j = (size_t)(rng >> 33) % (i + 1);
            const uint32_t t = order[i];
            order[i] = order[j], order[j] = t;
        }
        for (size_t s = 0; s + (size_t)batch <= o->samples; s += (size_t)batch) {
            const int8_t *x[MFL_HEAD_MAX_BATCH];
            uint8_t y[MFL_HEAD_MAX_BATCH];
            for (int k = 0; k < batch; k++) {
                x[k] = xtr + (size_t)order[s + (size_t)k] * f;
                y[k] = train->labels[idx[order[s + (size_t)k]]];
            }
            mfl_head_sgd_step(&l->head, x, y, batch, lr_fixed, l->g, NULL, NULL, 0);
            mfl_head_ref_step(&ref, x, y, batch, lr);
        }
    }
    size_t ok_fixed = 0, ok_float = 0;
    const int requant_ok = mfl_head_requantize(&l->head, &l->q) == 0;
    const mfl_fc_params_t p = {-l->head.feature_zp, l->head.output_zp, l->head.act_min, l->head.act_max, 1};
    const mfl_requant_t rq = {l->q.multiplier, l->q.shift};
    for (uint32_t i = 0; i < test->n; i++) {
        int8_t out[MFL_HEAD_MAX_UNITS];
        mfl_fully_connected_s8(&p, &rq, 1, f, xte + (size_t)i * f, units, l->q.w, l->q.bias, out);
        int best = 0;
        for (int c = 1; c < units; c++) best = out[c] > out[best] ? c : best;
        ok_fixed += best == test->labels[i];
        ok_float += mfl_head_ref_predict(&ref, xte + (size_t)i * f) == test->labels[i];
    }
    printf("\nparity on the %u test images (%d epochs over the same %zu samples, batch %d, lr %.4f):\n"
           "  fixed point (int8 head on device) %.2f%%   float32 reference %.2f%%   difference %+.2f points%s\n",
           test->n, o->epochs, o->samples, batch, (double)lr, 100.0 * (double)ok_fixed / test->n,
           100.0 * (double)ok_float / test->n, 100.0 * ((double)ok_fixed - (double)ok_float) / test->n,
           requant_ok ? "" : " (requantization out of range)");
    free(order), free(xtr), free(xte), free(wr);
}

static int run_demo(const char *path, const demo_opts_t *o)
{
    char msg[256] = "";
    uint8_t *image = NULL;
    size_t size;
    mfl_model_t model;
    mfl_dataset_t train, test;
    if (mfl_model_file_read(path, &image, &size, msg, sizeof(msg)) || mfl_model_load(&model, image, size)) {
        fprintf(stderr, "mfl learn-demo: cannot load %s %s\n", path, msg);
        free(image);
        return 1;
    }
    if (mfl_fmnist_load(o->dir, 1, &train, msg, sizeof(msg)) || mfl_fmnist_load(o->dir, 0, &test, msg, sizeof(msg))) {
        fprintf(stderr, "mfl learn-demo: %s\n", msg);
        free(image);
        return 1;
    }
    mfl_learn_opts_t lo = mfl_learn_defaults();
    lo.lr = mfl_scale_from_int((uint64_t)llround(o->lr * 65536.0), 16);
    lo.seed = (uint32_t)o->seed;
    const size_t mem_size = mfl_learner_mem_size(&model, o->capacity, lo.batch);
    uint8_t *arena = malloc(mfl_model_arena_size(&model)), *mem = aligned_alloc(8, (mem_size + 8) & ~(size_t)7);
    mfl_learner_t l;
    uint32_t *idx = NULL;
    size_t n = 0;
    int err = mfl_learner_init(&l, &model, arena, mfl_model_arena_size(&model), mem, mem_size, o->capacity, &lo);
    err = err ? err : mfl_dataset_select(&train, NULL, o->samples, o->seed + 100, &idx, &n);
    if (err) {
        fprintf(stderr, "mfl learn-demo: %s\n", mfl_strerror(err));
    } else {
        printf("device learner: %u x %u head, %zu bytes of learner RAM (replay buffer of %u features)\n",
               l.head.units, l.head.features, mem_size, o->capacity);
        double before[10], after[10];
        const double all_before = per_class(&l, &test, before);
        int8_t in[784];
        for (size_t k = 0; k < n && !err; k++) {
            mfl_image_to_input(train.images + (size_t)idx[k] * 784, 784, in);
            err = mfl_learner_learn(&l, in, 784, train.labels[idx[k]]);
        }
        const double all_after = per_class(&l, &test, after);
        printf("learned %zu labelled images on the device (%u SGD steps):\n", n, l.updates);
        print_table(before, after, all_before, all_after);
        parity(&model, &l, &train, idx, &test, o);
    }
    free(idx), free(arena), free(mem), free(image);
    mfl_dataset_free(&train);
    mfl_dataset_free(&test);
    return err ? 1 : 0;
}

int mfl_cmd_learn_demo(int argc, char **argv)
{
    static const struct option longopts[] = {{"samples", required_argument, 0, 'n'},
                                             {"buffer", required_argument, 0, 'b'},
                                             {"lr", required_argument, 0, 'l'},
                                             {"epochs", required_argument, 0, 'e'},
                                             {"seed", required_argument, 0, 's'},
                                             {"data", required_argument, 0, 'd'},
                                             {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    demo_opts_t o = {2000, 256, 0.02, 3, 1, NULL};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:b:l:e:s:d:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n': o.samples = strtoull(optarg, NULL, 10); break;
        case 'b': o.capacity = (uint16_t)atoi(optarg); break;
        case 'l': o.lr = atof(optarg); break;
        case 'e': o.epochs = atoi(optarg); break;
        case 's': o.seed = strtoull(optarg, NULL, 10); break;
        case 'd': o.dir = optarg; break;
        case 'h':
        default:
            fprintf(c == 'h' ? stdout : stderr,
                    "usage: mfl learn-demo MODEL.mfl [--samples N] [--buffer N] [--lr X] [--epochs N] [--seed N]\n"
                    "Streams N labelled Fashion-MNIST training images (default 2000) through the\n"
                    "device learner and prints per-class test accuracy before and after, then the\n"
                    "fixed-point vs float32 parity of head training on the same images.\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (argc - optind != 1 || o.samples < 8 || !(o.lr > 0) || o.epochs < 1) {
        fprintf(stderr, "usage: mfl learn-demo MODEL.mfl [options] (see --help)\n");
        return 2;
    }
    return run_demo(argv[optind], &o);
}
