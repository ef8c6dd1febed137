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

#include "cli.h"
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

/* Head-level parity: fixed point and float32 from the global head, on
 * the n samples idx[0..n) the learner saw (n: what the training set had,
 * which may be fewer than asked for). Returns 0 or an MFL_ERR_* code. */
static int parity(const mfl_model_t *m, mfl_learner_t *l, const mfl_dataset_t *train, const uint32_t *idx, size_t n,
                  const mfl_dataset_t *test, const demo_opts_t *o)
{
    const uint16_t units = l->head.units;
    uint16_t f = 0;
    int8_t *xtr = malloc(n * 4096), *xte = malloc((size_t)test->n * 4096);
    float *wr = malloc((size_t)units * l->head.features * sizeof(float)), br[MFL_HEAD_MAX_UNITS];
    uint32_t *order = malloc(n * sizeof(uint32_t));
    double scales[MFL_HEAD_MAX_UNITS];
    int err = xtr && xte && wr && order ? 0 : MFL_ERR_NO_MEMORY;
    err = err ? err : mfl_extract_features(m, train, idx, n, xtr, &f);
    err = err ? err : mfl_extract_features(m, test, NULL, test->n, xte, &f);
    if (err) {
        free(xtr), free(xte), free(wr), free(order);
        return err;
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
    for (size_t i = 0; i < n; i++) order[i] = (uint32_t)i;
    uint64_t rng = o->seed;
    for (int e = 0; e < o->epochs; e++) {
        for (size_t i = n - 1; i > 0; i--) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            const size_t j = (size_t)(rng >> 33) % (i + 1);
            const uint32_t t = order[i];
            order[i] = order[j], order[j] = t;
        }
        for (size_t s = 0; s + (size_t)batch <= n; s += (size_t)batch) {
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
           test->n, o->epochs, n, batch, (double)lr, 100.0 * (double)ok_fixed / test->n,
           100.0 * (double)ok_float / test->n, 100.0 * ((double)ok_fixed - (double)ok_float) / test->n,
           requant_ok ? "" : " (requantization out of range)");
    free(order), free(xtr), free(xte), free(wr);
    return 0;
}

static int run_demo(const cli_t *c, const char *path, const demo_opts_t *o)
{
    uint8_t *image = NULL;
    size_t size;
    mfl_model_t model;
    mfl_dataset_t train, test;
    if (cli_load_model(c, path, &image, &size, &model)) {
        return CLI_FAILED;
    }
    if (cli_load_fmnist(c, o->dir, 1, &train)) {
        free(image);
        return CLI_FAILED;
    }
    if (cli_load_fmnist(c, o->dir, 0, &test)) {
        mfl_dataset_free(&train);
        free(image);
        return CLI_FAILED;
    }
    if (o->samples > train.n) {
        fprintf(stderr, "%s: --samples %zu: the training set holds %u images; learning all of them\n", c->name,
                o->samples, train.n);
    }
    mfl_learn_opts_t lo = mfl_learn_defaults();
    lo.lr = mfl_scale_from_int((uint64_t)llround(o->lr * 65536.0), 16);
    lo.seed = (uint32_t)o->seed;
    const size_t mem_size = mfl_learner_mem_size(&model, o->capacity, lo.batch);
    uint8_t *arena = malloc(mfl_model_arena_size(&model)), *mem = aligned_alloc(8, (mem_size + 8) & ~(size_t)7);
    mfl_learner_t l;
    uint32_t *idx = NULL;
    size_t n = 0;
    int err = arena && mem ? 0 : MFL_ERR_NO_MEMORY;
    err = err ? err : mfl_learner_init(&l, &model, arena, mfl_model_arena_size(&model), mem, mem_size, o->capacity, &lo);
    if (err) {
        cli_fail(c, "%s: cannot learn on this model: %s", path, mfl_strerror(err));
    } else if ((err = mfl_dataset_select(&train, NULL, o->samples, o->seed + 100, &idx, &n)) != 0) {
        cli_fail(c, "selecting the training images: %s", mfl_strerror(err));
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
        if (err) {
            cli_fail(c, "learning failed: %s", mfl_strerror(err));
        } else {
            const double all_after = per_class(&l, &test, after);
            printf("learned %zu labelled images on the device (%u SGD steps):\n", n, l.updates);
            print_table(before, after, all_before, all_after);
            if ((err = parity(&model, &l, &train, idx, n, &test, o)) != 0) {
                cli_fail(c, "the fixed-point vs float32 parity run failed: %s", mfl_strerror(err));
            }
        }
    }
    free(idx), free(arena), free(mem), free(image);
    mfl_dataset_free(&train);
    mfl_dataset_free(&test);
    return err ? CLI_FAILED : 0;
}

static void demo_usage(FILE *out)
{
    fprintf(out, "usage: mfl learn-demo MODEL.mfl [--samples N] [--buffer N] [--lr X] [--epochs N] [--seed N]\n"
                 "                      [--data DIR]\n"
                 "Streams N labelled Fashion-MNIST training images (8..60000, default 2000) through\n"
                 "the device learner and prints per-class test accuracy before and after, then the\n"
                 "fixed-point vs float32 parity of head training on the same images.\n"
                 "  --buffer N   replay buffer of N feature vectors (8..4096, default 256)\n"
                 "  --lr X       learning rate (0 < X <= 1, default 0.02)\n"
                 "  --epochs N   parity run's passes over the images (1..100, default 3)\n");
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
    static const char *const args[] = {"MODEL.mfl"};
    demo_opts_t o = {2000, 256, 0.02, 3, 1, NULL};
    uint64_t samples = o.samples;
    uint32_t capacity = o.capacity;
    int opt, rc = 0;
    cli_t c;
    cli_init(&c, "mfl learn-demo", demo_usage);
    while (!rc && (opt = cli_next(&c, argc, argv, "n:b:l:e:s:d:h", longopts)) != -1) {
        switch (opt) {
        /* the most Fashion-MNIST's training set holds; at least one batch */
        case 'n': rc = cli_u64(&c, "--samples", optarg, 8, 60000, &samples); break;
        case 'b': rc = cli_u32(&c, "--buffer", optarg, 8, 4096, &capacity); break;
        case 'l': rc = cli_double(&c, "--lr", optarg, 0.0, 1.0, 1, &o.lr); break;
        case 'e': rc = cli_int(&c, "--epochs", optarg, 1, 100, &o.epochs); break;
        case 's': rc = cli_u64(&c, "--seed", optarg, 0, UINT64_MAX, &o.seed); break;
        case 'd': o.dir = optarg; break;
        default: return c.status; /* CLI_EXIT: --help shown (0), or a bad option named (2) */
        }
    }
    if (rc || (rc = cli_positionals(&c, argc, argv, args, 1)) != 0) {
        return rc;
    }
    if (llround(o.lr * 65536.0) == 0) { /* the learner's rate is a Q16 fraction */
        return cli_usage_error(&c, "--lr %g: below the learner's resolution, 2^-16", o.lr);
    }
    o.samples = (size_t)samples;
    o.capacity = (uint16_t)capacity;
    return run_demo(&c, argv[optind], &o);
}
