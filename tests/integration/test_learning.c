/*
 * The base-model pipeline and on-device learning, end to end on real
 * Fashion-MNIST data (small subsets, so that it runs in seconds):
 *  - the int8 model stays within a point of its float version;
 *  - a learner that has not learned is bit-exact with the plain model;
 *  - fixed-point head training lands within 0.5 points of the float32
 *    reference with the same init, batches and hyper-parameters;
 *  - learning fixes a class the base model never saw; reset restores the
 *    global head exactly; the drift limit holds; replay keeps rare classes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/host/features.h"
#include "mfl/host/head_ref.h"
#include "mfl/kernels.h"
#include "mfl/learner.h"
#include "mfl/host/net_export.h"
#include "mfl/host/quant_host.h"
#include "test_support.h"

#define ARCH "c8,p,c16s2,d32,d10"

static mfl_dataset_t train, test;

/* A base model from a float net trained on a subset (class_weight may drop classes). */
typedef struct {
    mfl_net_t net;
    uint8_t *image;
    size_t size;
    mfl_model_t model;
} base_t;

static base_t base, blind; /* blind: never saw class 3 */

static void make_base(base_t *b, const float *class_weight)
{
    char msg[256];
    uint32_t *idx;
    size_t n;
    float lo[MFL_NET_MAX_LAYERS], hi[MFL_NET_MAX_LAYERS];
    assert_int_equal(mfl_net_create(&b->net, ARCH, 28, 28, 1, msg, sizeof(msg)), 0);
    mfl_net_init(&b->net, 7);
    mfl_train_opts_t o = mfl_train_defaults();
    o.epochs = 2;
    o.batch = 32;
    assert_int_equal(mfl_dataset_select(&train, class_weight, 4000, 3, &idx, &n), 0);
    assert_int_equal(mfl_net_train(&b->net, &train, idx, n, &o), 0);
    assert_int_equal(mfl_net_calibrate(&b->net, &train, idx, 500, lo, hi), 0);
    assert_int_equal(mfl_net_export(&b->net, lo, hi, 2.0f, &b->image, &b->size, msg, sizeof(msg)), 0);
    assert_int_equal(mfl_model_load(&b->model, b->image, b->size), 0);
    free(idx);
}

static int setup(void **state)
{
    (void)state;
    char msg[256];
    if (mfl_fmnist_load(NULL, 1, &train, msg, sizeof(msg)) || mfl_fmnist_load(NULL, 0, &test, msg, sizeof(msg))) {
        return -1;
    }
    const float no_class_3[10] = {1, 1, 1, 0, 1, 1, 1, 1, 1, 1};
    make_base(&base, NULL);
    make_base(&blind, no_class_3);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mfl_net_free(&base.net);
    mfl_net_free(&blind.net);
    free(base.image);
    free(blind.image);
    mfl_dataset_free(&train);
    mfl_dataset_free(&test);
    return 0;
}

/* A learner over a model, with heap memory for the test. */
typedef struct {
    mfl_learner_t l;
    uint8_t *arena, *mem;
} harness_t;

static int harness_init(harness_t *h, const mfl_model_t *m, uint16_t capacity, const mfl_learn_opts_t *o)
{
    const uint16_t batch = o ? o->batch : mfl_learn_defaults().batch;
    const size_t mem_size = mfl_learner_mem_size(m, capacity, batch);
    h->arena = malloc(mfl_model_arena_size(m));
    h->mem = aligned_alloc(8, (mem_size + 8) & ~(size_t)7);
    return mfl_learner_init(&h->l, m, h->arena, mfl_model_arena_size(m), h->mem, mem_size, capacity, o);
}

static void harness_free(harness_t *h)
{
    free(h->arena);
    free(h->mem);
}

static double learner_accuracy(harness_t *h, int only_class, size_t n)
{
    int8_t in[784];
    size_t seen = 0, correct = 0;
    for (size_t i = 0; i < test.n && seen < n; i++) {
        if (only_class >= 0 && test.labels[i] != only_class) {
            continue;
        }
        int label;
        mfl_image_to_input(test.images + i * 784, 784, in);
        assert_int_equal(mfl_learner_predict(&h->l, in, 784, &label), 0);
        correct += label == test.labels[i];
        seen++;
    }
    return 100.0 * (double)correct / (double)seen;
}

static void test_int8_within_a_point_of_float(void **state)
{
    (void)state;
    harness_t h;
    assert_int_equal(harness_init(&h, &base.model, 0, NULL), 0);
    const double int8 = learner_accuracy(&h, -1, 2000);
    mfl_dataset_t sub = test;
    sub.n = 2000;
    const double fl = 100.0 * mfl_net_accuracy(&base.net, &sub);
    print_message("base model on 2000 test images: float %.2f%%, int8 %.2f%%\n", fl, int8);
    assert_true(fl > 75.0);
    assert_true(fabs(int8 - fl) <= 1.0);
    harness_free(&h);
}

static void test_pristine_learner_is_bit_exact(void **state)
{
    (void)state;
    harness_t h;
    assert_int_equal(harness_init(&h, &base.model, 16, NULL), 0);
    uint8_t *arena = malloc(mfl_model_arena_size(&base.model));
    mfl_interp_t it;
    int8_t *in;
    size_t in_len, a_len, b_len;
    const int8_t *a, *b;
    assert_int_equal(mfl_interp_init(&it, &base.model, arena, mfl_model_arena_size(&base.model)), 0);
    assert_int_equal(mfl_interp_input(&it, &in, &in_len), 0);
    int8_t image[784];
    for (int k = 0; k < 100; k++) {
        /* the arena reuses the input's bytes during a run: keep our own copy */
        mfl_image_to_input(test.images + (size_t)k * 784, 784, image);
        memcpy(in, image, in_len);
        assert_int_equal(mfl_interp_invoke(&it), 0);
        assert_int_equal(mfl_interp_output(&it, &a, &a_len), 0);
        assert_int_equal(mfl_learner_infer(&h.l, image, in_len, &b, &b_len), 0);
        assert_int_equal(a_len, b_len);
        assert_memory_equal(a, b, a_len);
    }
    free(arena);
    harness_free(&h);
}

static void test_fixed_point_matches_float_reference(void **state)
{
    (void)state;
    enum { N_TRAIN = 3000, N_TEST = 3000, BATCH = 8, EPOCHS = 3 };
    const mfl_model_t *m = &base.model;
    uint16_t f;
    int8_t *xtr = malloc((size_t)N_TRAIN * 64), *xte = malloc((size_t)N_TEST * 64);
    assert_int_equal(mfl_extract_features(m, &train, NULL, N_TRAIN, xtr, &f), 0);
    assert_int_equal(mfl_extract_features(m, &test, NULL, N_TEST, xte, &f), 0);
    assert_int_equal(f, 32);
    const mfl_op_rec_t *op = &m->ops[m->header->head_op];
    const mfl_head_rec_t *hr = (const mfl_head_rec_t *)(const void *)(m->data + m->header->head_params_offset);
    const int units = 10;

    /* fixed point, from a zero head */
    int32_t w[10 * 32] = {0}, b[10] = {0};
    static int32_t g[1024]; /* the step's scratch: 2 * 10 * 8 + 2 * 13 * 32 + 8 * 10 bytes */
    assert_true(mfl_head_step_scratch_size(10, 32, BATCH) <= sizeof(g));
    mfl_head_t hf = {.units = (uint16_t)units, .features = f, .feature_zp = m->tensors[op->inputs[0]].zero_point,
                     .feature_scale = {hr->feature_scale_m, hr->feature_scale_e},
                     .output_scale = {hr->output_scale_m, hr->output_scale_e},
                     .act_min = -128, .act_max = 127, .output_zp = m->tensors[op->output].zero_point,
                     .w = w, .b = b};
    /* float reference, same zero head */
    float wr[10 * 32] = {0}, br[10] = {0};
    mfl_head_ref_t hrf = {units, f, (float)mfl_quant_scale_from_fixed(hr->feature_scale_m, hr->feature_scale_e),
                          hf.feature_zp, wr, br};
    const float lr = 0.05f;
    const mfl_scale_t lr_fixed = mfl_scale_from_int(3277, 16); /* 0.0500030518: lr to 5 digits */
    uint32_t order[N_TRAIN];
    for (uint32_t i = 0; i < N_TRAIN; i++) order[i] = i;
    uint32_t rng = 12345;
    for (int e = 0; e < EPOCHS; e++) {
        for (uint32_t i = N_TRAIN - 1; i > 0; i--) { /* the same shuffle for both */
            rng = rng * 1664525u + 1013904223u;
            const uint32_t j = rng % (i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (int s = 0; s + BATCH <= N_TRAIN; s += BATCH) {
            const int8_t *x[BATCH];
            uint8_t y[BATCH];
            for (int k = 0; k < BATCH; k++) {
                x[k] = xtr + (size_t)order[s + k] * f;
                y[k] = train.labels[order[s + k]];
            }
            assert_int_equal(mfl_head_sgd_step(&hf, x, y, BATCH, lr_fixed, g, NULL, NULL, 0), 0);
            mfl_head_ref_step(&hrf, x, y, BATCH, lr);
        }
    }
    /* the fixed-point head as a device runs it: requantized int8 through the kernel */
    int8_t qw[10 * 32];
    int32_t qb[10], qm[10], qs[10], z_unused[10];
    mfl_scale_t qsc[10];
    mfl_head_q_t q = {qw, qb, qm, qs, qsc};
    assert_int_equal(mfl_head_requantize(&hf, &q), 0);
    const mfl_fc_params_t p = {-hf.feature_zp, hf.output_zp, -128, 127, 1};
    const mfl_requant_t rq = {qm, qs};
    size_t ok_fixed = 0, ok_float = 0;
    for (int i = 0; i < N_TEST; i++) {
        int8_t out[10];
        mfl_fully_connected_s8(&p, &rq, 1, f, xte + (size_t)i * f, units, qw, qb, out);
        int best = 0;
        for (int c = 1; c < units; c++) best = out[c] > out[best] ? c : best;
        ok_fixed += best == test.labels[i];
        ok_float += mfl_head_ref_predict(&hrf, xte + (size_t)i * f) == test.labels[i];
    }
    (void)z_unused;
    const double acc_fixed = 100.0 * (double)ok_fixed / N_TEST, acc_float = 100.0 * (double)ok_float / N_TEST;
    print_message("head from zero, %d epochs on %d samples: fixed point %.2f%%, float32 %.2f%%\n", EPOCHS,
                  N_TRAIN, acc_fixed, acc_float);
    assert_true(acc_float > 60.0); /* it learned: a zero head is at 10% */
    assert_true(fabs(acc_fixed - acc_float) <= 0.5);
    free(xtr);
    free(xte);
}

/* Streams labelled training images of every class through the learner. */
static void learn_stream(harness_t *h, size_t first, size_t n)
{
    int8_t in[784];
    for (size_t i = first; i < first + n; i++) {
        mfl_image_to_input(train.images + i * 784, 784, in);
        assert_int_equal(mfl_learner_learn(&h->l, in, 784, train.labels[i]), 0);
    }
}

static void test_learning_fixes_an_unseen_class(void **state)
{
    (void)state;
    harness_t h;
    assert_int_equal(harness_init(&h, &blind.model, 200, NULL), 0);
    const double before = learner_accuracy(&h, 3, 300), all_before = learner_accuracy(&h, -1, 1000);
    learn_stream(&h, 30000, 1500);
    const double after = learner_accuracy(&h, 3, 300), all_after = learner_accuracy(&h, -1, 1000);
    print_message("class 3 (never in the base data): %.1f%% -> %.1f%%; all classes %.1f%% -> %.1f%%\n",
                  before, after, all_before, all_after);
    assert_true(before < 5.0);
    assert_true(after > before + 40.0);
    assert_true(all_after > all_before);

    /* predicting from kept features (the simulator's way) gives the same
     * class as running the whole model, with the learned head */
    for (size_t i = 0; i < 500; i++) {
        int8_t in[784], kept[64];
        const int8_t *f;
        int whole, from_features;
        mfl_image_to_input(test.images + i * 784, 784, in);
        assert_int_equal(mfl_learner_features(&h.l, in, 784, &f), 0);
        memcpy(kept, f, h.l.head.features);
        assert_int_equal(mfl_learner_predict(&h.l, in, 784, &whole), 0);
        assert_int_equal(mfl_learner_predict_features(&h.l, kept, &from_features), 0);
        assert_int_equal(whole, from_features);
    }
    assert_int_equal(mfl_learner_predict_features(&h.l, NULL, &(int){0}), MFL_ERR_INVALID_ARG);

    /* the change is the delta; reset brings the global head back exactly */
    int32_t delta[33];
    int64_t moved = 0;
    for (uint16_t u = 0; u < 10; u++) {
        assert_int_equal(mfl_learner_delta(&h.l, u, delta), 0);
        for (int j = 0; j < 33; j++) moved += llabs(delta[j]);
    }
    assert_true(moved > 0);
    assert_int_equal(mfl_learner_reset(&h.l), 0);
    for (uint16_t u = 0; u < 10; u++) {
        assert_int_equal(mfl_learner_delta(&h.l, u, delta), 0);
        for (int j = 0; j < 33; j++) assert_int_equal(delta[j], 0);
    }
    assert_true(fabs(learner_accuracy(&h, 3, 300) - before) < 1e-9);
    harness_free(&h);
}

static void test_drift_limit_holds(void **state)
{
    (void)state;
    harness_t h;
    mfl_learn_opts_t o = mfl_learn_defaults();
    o.drift_max = 1 << 18; /* 1/64 in weight units */
    assert_int_equal(harness_init(&h, &blind.model, 64, &o), 0);
    learn_stream(&h, 40000, 300);
    int32_t delta[33];
    int32_t largest = 0;
    for (uint16_t u = 0; u < 10; u++) {
        assert_int_equal(mfl_learner_delta(&h.l, u, delta), 0);
        for (int j = 0; j < 32; j++) largest = abs(delta[j]) > largest ? abs(delta[j]) : largest;
    }
    assert_true(largest <= o.drift_max);
    assert_true(largest > o.drift_max / 2); /* the limit was reached, so it was exercised */
    harness_free(&h);
}

static void test_replay_keeps_rare_classes(void **state)
{
    (void)state;
    uint8_t mem[20 * 5];
    int8_t v[4] = {1, 2, 3, 4};
    for (int balanced = 0; balanced < 2; balanced++) {
        mfl_replay_t r;
        assert_int_equal(mfl_replay_init(&r, mem, sizeof(mem), 4, 20, balanced, 7), 0);
        for (int i = 0; i < 5; i++) mfl_replay_add(&r, v, 1);     /* rare class first */
        for (int i = 0; i < 400; i++) mfl_replay_add(&r, v, 0);   /* then a flood */
        int rare = 0;
        for (int i = 0; i < r.count; i++) rare += r.labels[i] == 1;
        assert_int_equal(r.count, 20);
        if (balanced) {
            assert_int_equal(rare, 5);
        } else {
            assert_true(rare <= 2); /* a uniform sample of 405 keeps ~0.25 of them */
        }
    }
    assert_int_equal(mfl_replay_init(&(mfl_replay_t){0}, mem, 10, 4, 20, 1, 1), MFL_ERR_BUFFER_TOO_SMALL);
}

static void test_learner_errors(void **state)
{
    (void)state;
    harness_t h;
    assert_int_equal(harness_init(&h, &base.model, 8, NULL), 0);
    int8_t in[784] = {0};
    assert_int_equal(mfl_learner_learn(&h.l, in, 784, 10), MFL_ERR_LABEL);
    assert_int_equal(mfl_learner_learn(&h.l, in, 100, 1), MFL_ERR_INVALID_ARG);
    harness_free(&h);
    mfl_learn_opts_t o = mfl_learn_defaults();
    o.batch = 0;
    assert_int_equal(harness_init(&h, &base.model, 8, &o), MFL_ERR_LEARN_CONFIG);
    harness_free(&h);
    uint8_t small[64];
    uint8_t arena[16];
    mfl_learner_t l;
    assert_int_equal(mfl_learner_init(&l, &base.model, arena, sizeof(arena), small, sizeof(small), 8, NULL),
                     MFL_ERR_BUFFER_TOO_SMALL);
    /* a model without a head */
    uint8_t *copy = aligned_alloc(16, (base.size + 15) & ~(size_t)15);
    memcpy(copy, base.image, base.size);
    mfl_model_header_t *hd = (mfl_model_header_t *)(void *)copy;
    hd->head_op = hd->feature = MFL_NONE;
    hd->head_params_size = hd->head_params_offset = 0;
    ts_fix_crc(copy);
    mfl_model_t headless;
    assert_int_equal(mfl_model_load(&headless, copy, base.size), 0);
    assert_int_equal(mfl_learner_init(&l, &headless, arena, sizeof(arena), small, sizeof(small), 8, NULL),
                     MFL_ERR_NO_HEAD);
    free(copy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int8_within_a_point_of_float),
        cmocka_unit_test(test_pristine_learner_is_bit_exact),
        cmocka_unit_test(test_fixed_point_matches_float_reference),
        cmocka_unit_test(test_learning_fixes_an_unseen_class),
        cmocka_unit_test(test_drift_limit_holds),
        cmocka_unit_test(test_replay_keeps_rare_classes),
        cmocka_unit_test(test_learner_errors),
    };
    return cmocka_run_group_tests_name("learning", tests, setup, teardown);
}
