/*
 * Bias-only fine-tuning of the feature layer (mfl_learn_opts_t.bias_lr):
 * untouched biases give the FULLY_CONNECTED kernel's features bit for bit,
 * one step's bias change against a double-precision recomputation of the
 * gradient from the head's own numbers, replayed samples' features
 * following the biases, reset, and every error.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/error.h"
#include "mfl/host/features.h"
#include "mfl/host/net_export.h"
#include "mfl/host/train.h"
#include "mfl/kernels.h"
#include "mfl/learner.h"
#include "test_support.h"

#define PIXELS 784
#define N_IMAGES 64

static mfl_dataset_t train;

typedef struct {
    uint8_t *image;
    size_t size;
    mfl_model_t model;
} net_t;
static net_t net;      /* c4,p,c8s2,d16,d10: d16 is the feature layer */
static net_t no_layer; /* c4,p,d10: the head reads the pooled map */

typedef struct {
    mfl_learner_t l;
    uint8_t *arena, *mem;
} harness_t;

static int make(net_t *n, const char *arch)
{
    char msg[256];
    mfl_net_t f;
    float lo[MFL_NET_MAX_LAYERS], hi[MFL_NET_MAX_LAYERS];
    if (mfl_net_create(&f, arch, 28, 28, 1, msg, sizeof(msg))) {
        return -1;
    }
    mfl_net_init(&f, 5);
    int err = mfl_net_calibrate(&f, &train, NULL, 300, lo, hi);
    err = err ? err : mfl_net_export(&f, lo, hi, 2.0f, &n->image, &n->size, msg, sizeof(msg));
    mfl_net_free(&f);
    return err || mfl_model_load(&n->model, n->image, n->size);
}

static int setup(void **state)
{
    (void)state;
    char msg[256];
    if (mfl_fmnist_load(NULL, 1, &train, msg, sizeof(msg))) {
        return -1;
    }
    return make(&net, "c4,p,c8s2,d16,d10") || make(&no_layer, "c4,p,d10");
}

static int teardown(void **state)
{
    (void)state;
    free(net.image);
    free(no_layer.image);
    mfl_dataset_free(&train);
    return 0;
}

static mfl_learn_opts_t tuned_opts(uint16_t batch)
{
    mfl_learn_opts_t o = mfl_learn_defaults();
    o.batch = batch;
    o.bias_lr = mfl_scale_from_int(1311, 16); /* 0.02 */
    return o;
}

static int harness_init(harness_t *h, const mfl_model_t *m, const mfl_learn_opts_t *o)
{
    const size_t size = o->bias_lr.m ? mfl_learner_mem_size_tuned(m, 32, o->batch) : mfl_learner_mem_size(m, 32, o->batch);
    h->arena = malloc(mfl_model_arena_size(m));
    h->mem = aligned_alloc(8, (size + 8) & ~(size_t)7);
    return mfl_learner_init(&h->l, m, h->arena, mfl_model_arena_size(m), h->mem, size, 32, o);
}

static void harness_free(harness_t *h)
{
    free(h->arena);
    free(h->mem);
}

static void input_of(size_t i, int8_t *in)
{
    mfl_image_to_input(train.images + i * PIXELS, PIXELS, in);
}

/* Untouched biases: the tuning learner's features and predictions are the
 * interpreter's FULLY_CONNECTED kernel's, bit for bit. */
static void untouched_biases_are_the_kernels(mfl_kernel_path_t path)
{
    harness_t plain, tuned;
    assert_int_equal(mfl_kernels_select(path), 0);
    const mfl_learn_opts_t po = mfl_learn_defaults(), to = tuned_opts(8);
    assert_int_equal(harness_init(&plain, &net.model, &po), 0);
    assert_int_equal(harness_init(&tuned, &net.model, &to), 0);
    assert_true(mfl_learner_mem_size_tuned(&net.model, 32, 8) > mfl_learner_mem_size(&net.model, 32, 8));
    for (size_t i = 0; i < N_IMAGES; i++) {
        int8_t in[PIXELS], again[16];
        const int8_t *fp, *ft;
        const int32_t *acc;
        int lp, lt;
        input_of(i, in);
        assert_int_equal(mfl_learner_features(&plain.l, in, PIXELS, &fp), 0);
        assert_int_equal(mfl_learner_features(&tuned.l, in, PIXELS, &ft), 0);
        assert_memory_equal(fp, ft, 16);
        assert_int_equal(mfl_learner_feature_acc(&tuned.l, in, PIXELS, &acc), 0);
        assert_int_equal(mfl_learner_features_from_acc(&tuned.l, acc, again), 0);
        assert_memory_equal(fp, again, 16);
        assert_int_equal(mfl_learner_predict(&plain.l, in, PIXELS, &lp), 0);
        assert_int_equal(mfl_learner_predict(&tuned.l, in, PIXELS, &lt), 0);
        assert_int_equal(lp, lt);
    }
    harness_free(&plain);
    harness_free(&tuned);
    assert_int_equal(mfl_kernels_select(MFL_KERNELS_PORTABLE), 0);
}

/* on both kernel paths (the DSP one emulated on hosts) */
static void test_untouched_biases_are_the_kernels(void **state)
{
    (void)state;
    untouched_biases_are_the_kernels(MFL_KERNELS_PORTABLE);
    untouched_biases_are_the_kernels(MFL_KERNELS_DSP);
}

static double q24(int64_t v)
{
    return (double)v / 16777216.0;
}

static double scale_value(mfl_scale_t s)
{
    return ldexp((double)s.m, s.e - 31);
}

/* One step on one sample: each bias moves by -bias_lr * sum_u g_u W_uj
 * where its feature is inside the activation range (0 elsewhere), with
 * g = softmax(z) - onehot from the head's logits recomputed in double
 * (W: the head after its step, as documented); and its int32 form by
 * that change over s_in s_wj = M_j s_x. */
static void test_one_step_against_double(void **state)
{
    (void)state;
    harness_t h;
    mfl_learn_opts_t o = tuned_opts(1);
    o.lr = mfl_scale_from_int(1, 24); /* the head barely moves: its step does not blur the check */
    assert_int_equal(harness_init(&h, &net.model, &o), 0);
    mfl_learner_t *l = &h.l;
    int checked = 0;
    for (size_t i = 0; i < 12; i++) {
        int8_t in[PIXELS];
        const int32_t *acc;
        input_of(i, in);
        assert_int_equal(mfl_learner_feature_acc(l, in, PIXELS, &acc), 0);
        int32_t a[16], delta0[16];
        int8_t x[16];
        memcpy(a, acc, sizeof(a));
        memcpy(delta0, l->bt.delta, sizeof(delta0));
        assert_int_equal(mfl_learner_features_from_acc(l, a, x), 0);
        /* logits before the step, from the master */
        double z[10], p[10], zmax = -1e300, sum = 0;
        const double sx = scale_value(l->head.feature_scale);
        for (int u = 0; u < 10; u++) {
            z[u] = q24(l->head.b[u]);
            for (int j = 0; j < 16; j++) {
                z[u] += q24(l->head.w[u * 16 + j]) * sx * (x[j] - l->head.feature_zp);
            }
            zmax = fmax(zmax, z[u]);
        }
        for (int u = 0; u < 10; u++) {
            sum += p[u] = exp(z[u] - zmax);
        }
        const uint8_t label = train.labels[i];
        assert_int_equal(mfl_learner_learn_acc(l, a, label), 0);
        for (int j = 0; j < 16; j++) {
            double grad = 0;
            const int active = x[j] > l->bt.act_min && x[j] < l->bt.act_max;
            for (int u = 0; u < 10 && active; u++) {
                grad += (p[u] / sum - (u == label)) * q24(l->head.w[u * 16 + j]);
            }
            const double want = -0.02 * grad, got = q24((int64_t)l->bt.delta[j] - delta0[j]);
            assert_true(fabs(got - want) <= 1e-3 * fabs(want) + 1e-6);
            checked += active;
            const double m = ldexp((double)l->bt.mult[j], l->bt.shift[j] - 31);
            const double bias = l->bt.bias0[j] + q24(l->bt.delta[j]) / (m * sx);
            assert_true(fabs(l->bt.bias[j] - bias) <= 0.5 + 1e-6 * fabs(bias));
        }
    }
    assert_true(checked > 12); /* the check saw active features, not only masked ones */
    harness_free(&h);
}

/* After learning, a replayed sample's features are the ones its input
 * gives through the tuned biases now, and reset_bias brings back the
 * model's features exactly. */
static void test_replay_follows_biases_and_reset(void **state)
{
    (void)state;
    harness_t h, plain;
    const mfl_learn_opts_t o = tuned_opts(8), po = mfl_learn_defaults();
    assert_int_equal(harness_init(&h, &net.model, &o), 0);
    assert_int_equal(harness_init(&plain, &net.model, &po), 0);
    for (size_t i = 0; i < 32; i++) {
        int8_t in[PIXELS];
        input_of(i, in);
        assert_int_equal(mfl_learner_learn(&h.l, in, PIXELS, train.labels[i]), 0);
    }
    assert_int_equal(mfl_learner_train_buffer(&h.l, 20), 0);
    int moved = 0, changed = 0;
    for (int j = 0; j < 16; j++) {
        moved += h.l.bt.bias[j] != h.l.bt.bias0[j];
    }
    assert_true(moved > 0);
    for (uint16_t k = 0; k < h.l.replay.count; k++) {
        const int32_t *acc = (const int32_t *)(const void *)mfl_replay_features(&h.l.replay, k);
        int8_t from_replay[16];
        assert_int_equal(mfl_learner_features_from_acc(&h.l, acc, from_replay), 0);
        /* which input it was: the buffer is class-balanced, so search */
        for (size_t i = 0; i < 32; i++) {
            int8_t in[PIXELS];
            const int32_t *a;
            const int8_t *f;
            input_of(i, in);
            assert_int_equal(mfl_learner_feature_acc(&h.l, in, PIXELS, &a), 0);
            if (!memcmp(a, acc, 16 * sizeof(int32_t))) {
                assert_int_equal(mfl_learner_features(&h.l, in, PIXELS, &f), 0);
                assert_memory_equal(f, from_replay, 16);
                const int8_t *f0;
                assert_int_equal(mfl_learner_features(&plain.l, in, PIXELS, &f0), 0);
                changed += memcmp(f, f0, 16) != 0;
                break;
            }
        }
    }
    assert_true(changed > 0);
    assert_int_equal(mfl_learner_reset_bias(&h.l), 0);
    for (size_t i = 0; i < 16; i++) {
        int8_t in[PIXELS];
        const int8_t *f, *f0;
        input_of(i, in);
        assert_int_equal(mfl_learner_features(&h.l, in, PIXELS, &f), 0);
        assert_int_equal(mfl_learner_features(&plain.l, in, PIXELS, &f0), 0);
        assert_memory_equal(f, f0, 16);
    }
    harness_free(&h);
    harness_free(&plain);
}

static void test_errors(void **state)
{
    (void)state;
    harness_t h, plain;
    mfl_learn_opts_t o = tuned_opts(8);
    /* a head reading a pooled map has no feature layer to tune */
    assert_int_equal(mfl_learner_mem_size_tuned(&no_layer.model, 32, 8), 0);
    static uint8_t arena[65536] __attribute__((aligned(8))), mem[262144] __attribute__((aligned(8)));
    mfl_learner_t l;
    assert_int_equal(mfl_learner_init(&l, &no_layer.model, arena, sizeof(arena), mem, sizeof(mem), 32, &o),
                     MFL_ERR_LEARN_CONFIG);
    o.bias_lr.m = -1;
    assert_int_equal(mfl_learner_init(&l, &net.model, arena, sizeof(arena), mem, sizeof(mem), 32, &o),
                     MFL_ERR_LEARN_CONFIG);
    o = tuned_opts(8);
    assert_int_equal(mfl_learner_init(&l, &net.model, arena, sizeof(arena), mem,
                                      mfl_learner_mem_size_tuned(&net.model, 32, 8) - 1, 32, &o),
                     MFL_ERR_BUFFER_TOO_SMALL);
    /* the accumulator calls need a tuning learner, the feature calls a plain one */
    const mfl_learn_opts_t po = mfl_learn_defaults();
    assert_int_equal(harness_init(&h, &net.model, &o), 0);
    assert_int_equal(harness_init(&plain, &net.model, &po), 0);
    int8_t in[PIXELS], f[16];
    int32_t acc[16] = {0};
    const int32_t *ap;
    input_of(0, in);
    assert_int_equal(mfl_learner_learn_features(&h.l, f, 1), MFL_ERR_LEARN_CONFIG);
    assert_int_equal(mfl_learner_learn_acc(&plain.l, acc, 1), MFL_ERR_LEARN_CONFIG);
    assert_int_equal(mfl_learner_feature_acc(&plain.l, in, PIXELS, &ap), MFL_ERR_LEARN_CONFIG);
    assert_int_equal(mfl_learner_features_from_acc(&plain.l, acc, f), MFL_ERR_LEARN_CONFIG);
    assert_int_equal(mfl_learner_learn_acc(&h.l, acc, 10), MFL_ERR_LABEL);
    assert_int_equal(mfl_learner_feature_acc(&h.l, in, PIXELS - 1, &ap), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_learner_learn_acc(&h.l, NULL, 1), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_learner_reset_bias(NULL), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_learner_reset_bias(&plain.l), 0);
    harness_free(&h);
    harness_free(&plain);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_untouched_biases_are_the_kernels),
        cmocka_unit_test(test_one_step_against_double),
        cmocka_unit_test(test_replay_follows_biases_and_reset),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
