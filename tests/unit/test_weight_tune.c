/*
 * Fine-tuning of the feature layer's weights (mfl_learn_opts_t.weight_lr):
 * untouched weights give the FULLY_CONNECTED kernel's features bit for
 * bit, one step's weight change against a double-precision recomputation
 * of the gradient from the head's own numbers, learning a shifted task the
 * head alone cannot fit as well, reset, and every error.
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
#define FEATURES 16
#define REPLAY 64

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

/* weight_lr 2^-shift, biases frozen unless bias_lr is set after */
static mfl_learn_opts_t weight_opts(uint16_t batch, int shift)
{
    mfl_learn_opts_t o = mfl_learn_defaults();
    o.batch = batch;
    o.weight_lr = mfl_scale_from_int(1, shift);
    o.weight_tuning = &mfl_weight_tuning;
    return o;
}

static int harness_init(harness_t *h, const mfl_model_t *m, const mfl_learn_opts_t *o)
{
    const size_t size = mfl_learner_mem_size_for(m, REPLAY, o);
    h->arena = malloc(mfl_model_arena_size(m));
    h->mem = aligned_alloc(8, (size + 8) & ~(size_t)7);
    return size ? mfl_learner_init(&h->l, m, h->arena, mfl_model_arena_size(m), h->mem, size, REPLAY, o) : -1;
}

static void harness_free(harness_t *h)
{
    free(h->arena);
    free(h->mem);
}

/* Image i as the model's input; inverted: the negative a sensor of
 * inverted polarity sees (the simulator's harder scenario). */
static void input_of(size_t i, int inverted, int8_t *in)
{
    uint8_t px[PIXELS];
    for (size_t k = 0; k < PIXELS; k++) {
        const uint8_t v = train.images[i * PIXELS + k];
        px[k] = inverted ? (uint8_t)(255 - v) : v;
    }
    mfl_image_to_input(px, PIXELS, in);
}

/* Untouched weights: the tuning learner's features and predictions are
 * the interpreter's FULLY_CONNECTED kernel's, bit for bit, and so are the
 * features it gives from the layer input it reports. */
static void untouched_weights_are_the_kernels(mfl_kernel_path_t path)
{
    harness_t plain, tuned;
    assert_int_equal(mfl_kernels_select(path), 0);
    const mfl_learn_opts_t po = mfl_learn_defaults(), to = weight_opts(8, 20);
    assert_int_equal(harness_init(&plain, &net.model, &po), 0);
    assert_int_equal(harness_init(&tuned, &net.model, &to), 0);
    for (size_t i = 0; i < 64; i++) {
        int8_t in[PIXELS], again[FEATURES];
        const int8_t *fp, *ft, *layer_in;
        size_t n;
        int lp, lt;
        input_of(i, 0, in);
        assert_int_equal(mfl_learner_features(&plain.l, in, PIXELS, &fp), 0);
        assert_int_equal(mfl_learner_features(&tuned.l, in, PIXELS, &ft), 0);
        assert_memory_equal(fp, ft, FEATURES);
        assert_int_equal(mfl_learner_layer_input(&tuned.l, in, PIXELS, &layer_in, &n), 0);
        assert_int_equal(n, tuned.l.bt.inputs);
        assert_int_equal(mfl_learner_features_from_layer_input(&tuned.l, layer_in, again), 0);
        assert_memory_equal(fp, again, FEATURES);
        assert_int_equal(mfl_learner_predict(&plain.l, in, PIXELS, &lp), 0);
        assert_int_equal(mfl_learner_predict(&tuned.l, in, PIXELS, &lt), 0);
        assert_int_equal(lp, lt);
    }
    harness_free(&plain);
    harness_free(&tuned);
    assert_int_equal(mfl_kernels_select(MFL_KERNELS_PORTABLE), 0);
}

/* on both kernel paths (the DSP one emulated on hosts) */
static void test_untouched_weights_are_the_kernels(void **state)
{
    (void)state;
    untouched_weights_are_the_kernels(MFL_KERNELS_PORTABLE);
    untouched_weights_are_the_kernels(MFL_KERNELS_DSP);
}

static double q24(int64_t v)
{
    return (double)v / 16777216.0;
}

static double scale_value(mfl_scale_t s)
{
    return ldexp((double)s.m, s.e - 31);
}

/* One step on one sample: each weight's real-per-code value V_ji = s_in
 * s_wj w_ji moves by -weight_lr gx_j (x_i - zp), gx_j = sum_u g_u W_uj
 * where feature j is inside the activation range (0 elsewhere), g =
 * softmax(z) - onehot from the head's logits recomputed in double (W: the
 * head after its step); the master holds w in 1/256 of a code, the int8
 * weights its rounding. */
static void test_one_step_against_double(void **state)
{
    (void)state;
    harness_t h;
    mfl_learn_opts_t o = weight_opts(1, 22);
    o.lr = mfl_scale_from_int(1, 24); /* the head barely moves: its step does not blur the check */
    assert_int_equal(harness_init(&h, &net.model, &o), 0);
    mfl_learner_t *l = &h.l;
    const uint16_t inputs = l->bt.inputs;
    int16_t *master0 = malloc((size_t)inputs * FEATURES * 2);
    int8_t *layer = malloc(inputs);
    long large = 0;
    for (size_t i = 0; i < 12; i++) {
        int8_t in[PIXELS], x[FEATURES];
        const int8_t *li;
        size_t n;
        input_of(i, 0, in);
        assert_int_equal(mfl_learner_layer_input(l, in, PIXELS, &li, &n), 0);
        memcpy(layer, li, inputs);
        memcpy(master0, l->wt.master, (size_t)inputs * FEATURES * 2);
        assert_int_equal(mfl_learner_features_from_layer_input(l, layer, x), 0);
        double z[10], p[10], zmax = -1e300, sum = 0;
        const double sx = scale_value(l->head.feature_scale);
        for (int u = 0; u < 10; u++) {
            z[u] = q24(l->head.b[u]);
            for (int j = 0; j < FEATURES; j++) {
                z[u] += q24(l->head.w[u * FEATURES + j]) * sx * (x[j] - l->head.feature_zp);
            }
            zmax = fmax(zmax, z[u]);
        }
        for (int u = 0; u < 10; u++) {
            sum += p[u] = exp(z[u] - zmax);
        }
        const uint8_t label = train.labels[i];
        assert_int_equal(mfl_learner_learn_layer_input(l, layer, label), 0);
        double want[FEATURES][784], max_want = 0;
        for (int j = 0; j < FEATURES; j++) {
            double gx = 0;
            const int active = x[j] > l->bt.act_min && x[j] < l->bt.act_max;
            for (int u = 0; u < 10 && active; u++) {
                gx += (p[u] / sum - (u == label)) * q24(l->head.w[u * FEATURES + j]);
            }
            const double per_code = ldexp((double)l->bt.mult[j], l->bt.shift[j] - 31) * sx; /* P_j */
            for (uint16_t k = 0; k < inputs; k++) {
                want[j][k] = -ldexp(1.0, -22) * gx * (layer[k] + l->bt.input_offset) / per_code * 256.0;
                max_want = fmax(max_want, fabs(want[j][k]));
            }
        }
        for (int j = 0; j < FEATURES; j++) {
            for (uint16_t k = 0; k < inputs; k++) {
                const size_t at = (size_t)j * inputs + k;
                const double got = (double)l->wt.master[at] - master0[at];
                /* the master saturates half a code beyond [-127, 127] */
                const double expect = fmin(fmax(master0[at] + want[j][k], -32640.0), 32639.0) - master0[at];
                /* rounding, and the int16 gradients' common shift (2^-15 of the largest) */
                assert_true(fabs(got - expect) <= 0.5 + 2e-4 * max_want + 1e-9);
                assert_int_equal(l->wt.w[at], (l->wt.master[at] + 128) >> 8);
                large += fabs(want[j][k]) > 16;
            }
        }
    }
    assert_true(large > 100); /* the check saw weights that moved, not only masked ones */
    free(master0);
    free(layer);
    harness_free(&h);
}

/* Training accuracy on n samples with the learner's own head. */
static int correct_on(mfl_learner_t *l, size_t from, size_t n, int inverted)
{
    int right = 0;
    for (size_t i = from; i < from + n; i++) {
        int8_t in[PIXELS];
        int label;
        input_of(i, inverted, in);
        assert_int_equal(mfl_learner_predict(l, in, PIXELS, &label), 0);
        right += label == train.labels[i];
    }
    return right;
}

/* A sensor of inverted polarity: learning the feature layer's weights
 * fits the task better than the head alone, on the samples learned and on
 * held-out ones; a replayed sample's features follow the weights; reset
 * brings back the model's features exactly. */
static void test_learns_beyond_the_head_and_resets(void **state)
{
    (void)state;
    harness_t h, head_only, plain;
    const mfl_learn_opts_t o = weight_opts(8, 22), ho = mfl_learn_defaults(), po = mfl_learn_defaults();
    assert_int_equal(harness_init(&h, &net.model, &o), 0);
    assert_int_equal(harness_init(&head_only, &net.model, &ho), 0);
    assert_int_equal(harness_init(&plain, &net.model, &po), 0);
    for (size_t i = 0; i < REPLAY; i++) {
        int8_t in[PIXELS];
        input_of(i, 1, in);
        assert_int_equal(mfl_learner_learn(&h.l, in, PIXELS, train.labels[i]), 0);
        assert_int_equal(mfl_learner_learn(&head_only.l, in, PIXELS, train.labels[i]), 0);
    }
    assert_int_equal(mfl_learner_train_buffer(&h.l, 30), 0);
    assert_int_equal(mfl_learner_train_buffer(&head_only.l, 30), 0);
    const int fit = correct_on(&h.l, 0, REPLAY, 1), fit_head = correct_on(&head_only.l, 0, REPLAY, 1);
    const int held = correct_on(&h.l, 1000, 500, 1), held_head = correct_on(&head_only.l, 1000, 500, 1);
    print_message("inverted images: learned %d/%d vs head only %d; held out %d/500 vs %d\n", fit, REPLAY, fit_head,
                  held, held_head);
    assert_true(fit >= fit_head + 6);
    assert_true(held > held_head);
    for (uint16_t k = 0; k < h.l.replay.count; k++) { /* replayed inputs through the learned weights */
        int8_t from_replay[FEATURES];
        assert_int_equal(mfl_learner_features_from_layer_input(&h.l, mfl_replay_features(&h.l.replay, k),
                                                               from_replay),
                         0);
        int32_t acc[FEATURES];
        for (int j = 0; j < FEATURES; j++) {
            acc[j] = 0;
            for (uint16_t i = 0; i < h.l.bt.inputs; i++) {
                acc[j] += (mfl_replay_features(&h.l.replay, k)[i] + h.l.bt.input_offset) *
                          h.l.wt.w[(size_t)j * h.l.bt.inputs + i];
            }
        }
        int8_t expect[FEATURES];
        assert_int_equal(mfl_learner_features_from_acc(&h.l, acc, expect), 0);
        assert_memory_equal(from_replay, expect, FEATURES);
    }
    assert_int_equal(mfl_learner_reset_bias(&h.l), 0);
    for (size_t i = 0; i < 16; i++) {
        int8_t in[PIXELS];
        const int8_t *f, *f0;
        input_of(i, 1, in);
        assert_int_equal(mfl_learner_features(&h.l, in, PIXELS, &f), 0);
        assert_int_equal(mfl_learner_features(&plain.l, in, PIXELS, &f0), 0);
        assert_memory_equal(f, f0, FEATURES);
    }
    harness_free(&h);
    harness_free(&head_only);
    harness_free(&plain);
}

static void test_errors(void **state)
{
    (void)state;
    harness_t h, plain;
    static uint8_t arena[65536] __attribute__((aligned(8))), mem[1 << 20] __attribute__((aligned(8)));
    mfl_learner_t l;
    mfl_learn_opts_t o = weight_opts(8, 16);
    /* no feature layer, no code linked, a negative rate, a regression loss */
    assert_int_equal(mfl_learner_mem_size_for(&no_layer.model, REPLAY, &o), 0);
    assert_int_equal(mfl_learner_init(&l, &no_layer.model, arena, sizeof(arena), mem, sizeof(mem), REPLAY, &o),
                     MFL_ERR_LEARN_CONFIG);
    o.weight_tuning = NULL;
    assert_int_equal(mfl_learner_mem_size_for(&net.model, REPLAY, &o), 0);
    assert_int_equal(mfl_learner_init(&l, &net.model, arena, sizeof(arena), mem, sizeof(mem), REPLAY, &o),
                     MFL_ERR_LEARN_CONFIG);
    o = weight_opts(8, 16);
    o.weight_lr.m = -1;
    assert_int_equal(mfl_learner_init(&l, &net.model, arena, sizeof(arena), mem, sizeof(mem), REPLAY, &o),
                     MFL_ERR_LEARN_CONFIG);
    o = weight_opts(8, 16);
    o.loss = MFL_LOSS_MSE;
    assert_int_equal(mfl_learner_init(&l, &net.model, arena, sizeof(arena), mem, sizeof(mem), REPLAY, &o),
                     MFL_ERR_LEARN_CONFIG);
    o = weight_opts(8, 16);
    const size_t need = mfl_learner_mem_size_for(&net.model, REPLAY, &o);
    assert_true(need > mfl_learner_mem_size_tuned(&net.model, REPLAY, 8));
    assert_int_equal(mfl_learner_init(&l, &net.model, arena, sizeof(arena), mem, need - 1, REPLAY, &o),
                     MFL_ERR_BUFFER_TOO_SMALL);
    /* the layer-input calls need a weight-tuning learner; its replay holds inputs, not accumulators */
    const mfl_learn_opts_t po = mfl_learn_defaults();
    assert_int_equal(harness_init(&h, &net.model, &o), 0);
    assert_int_equal(harness_init(&plain, &net.model, &po), 0);
    int8_t in[PIXELS], f[FEATURES] = {0}, layer[2048] = {0};
    int32_t acc[FEATURES] = {0};
    const int8_t *li;
    size_t n;
    input_of(0, 0, in);
    assert_int_equal(mfl_learner_layer_input(&plain.l, in, PIXELS, &li, &n), MFL_ERR_LEARN_CONFIG);
    assert_int_equal(mfl_learner_features_from_layer_input(&plain.l, layer, f), MFL_ERR_LEARN_CONFIG);
    assert_int_equal(mfl_learner_learn_layer_input(&plain.l, layer, 1), MFL_ERR_LEARN_CONFIG);
    assert_int_equal(mfl_learner_learn_acc(&h.l, acc, 1), MFL_ERR_LEARN_CONFIG);
    assert_int_equal(mfl_learner_learn_features(&h.l, f, 1), MFL_ERR_LEARN_CONFIG);
    assert_int_equal(mfl_learner_layer_input(&h.l, in, PIXELS - 1, &li, &n), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_learner_layer_input(&h.l, in, PIXELS, NULL, &n), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_learner_learn_layer_input(&h.l, NULL, 1), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_learner_features_from_layer_input(&h.l, layer, NULL), MFL_ERR_INVALID_ARG);
    /* a bad label changes nothing */
    assert_int_equal(mfl_learner_layer_input(&h.l, in, PIXELS, &li, &n), 0);
    memcpy(layer, li, n);
    assert_int_equal(mfl_learner_learn_layer_input(&h.l, layer, 10), MFL_ERR_LABEL);
    assert_int_equal(h.l.replay.count, 0);
    assert_int_equal(h.l.updates, 0);
    assert_memory_equal(h.l.wt.w, h.l.wt.w_model, (size_t)n * FEATURES);
    harness_free(&h);
    harness_free(&plain);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_untouched_weights_are_the_kernels),
        cmocka_unit_test(test_one_step_against_double),
        cmocka_unit_test(test_learns_beyond_the_head_and_resets),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
