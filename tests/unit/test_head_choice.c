/*
 * Do no harm on the device (mfl_learner_choose_head): the three heads a
 * learner can predict with are the ones they claim to be (the shipped one
 * is a fresh learner's, the global one an installed head's however much
 * the device learns since), the choice prefers the shipped head on ties
 * and takes another only when it is right strictly more often, a head
 * trained on wrong labels is never chosen, and every error.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "mfl/error.h"
#include "mfl/host/features.h"
#include "mfl/host/tflite_import.h"
#include "mfl/learner.h"
#include "test_support.h"

#define PIXELS 784
#define HELD_OUT 200
#define FEATURES 16

static mfl_dataset_t train;
static uint8_t *image;
static size_t image_size;
static mfl_model_t model;
static int8_t held_features[HELD_OUT * FEATURES];
static uint8_t held_labels[HELD_OUT];

typedef struct {
    mfl_learner_t l;
    uint8_t *arena, *mem;
} harness_t;

static int harness_init(harness_t *h)
{
    const size_t size = mfl_learner_mem_size(&model, 256, 8);
    mfl_learn_opts_t o = mfl_learn_defaults();
    o.lr = mfl_scale_from_int(1, 3); /* 0.125: the untrained backbone's features are small */
    h->arena = malloc(mfl_model_arena_size(&model));
    h->mem = aligned_alloc(8, (size + 8) & ~(size_t)7);
    return mfl_learner_init(&h->l, &model, h->arena, mfl_model_arena_size(&model), h->mem, size, 256, &o);
}

static void harness_free(harness_t *h)
{
    free(h->arena);
    free(h->mem);
}

static void learn(harness_t *h, size_t from, size_t n, int wrong)
{
    for (size_t i = from; i < from + n; i++) {
        int8_t in[PIXELS];
        mfl_image_to_input(train.images + i * PIXELS, PIXELS, in);
        const uint8_t label = (uint8_t)(wrong ? (train.labels[i] + 1) % 10 : train.labels[i]);
        assert_int_equal(mfl_learner_learn(&h->l, in, PIXELS, label), 0);
    }
    assert_int_equal(mfl_learner_train_buffer(&h->l, 20), 0);
}

static int setup(void **state)
{
    (void)state;
    char msg[256];
    harness_t h;
    if (mfl_fmnist_load(NULL, 1, &train, msg, sizeof(msg)) || ts_small_fmnist_model(&image, &image_size, &model) ||
        harness_init(&h)) {
        return -1;
    }
    /* held-out samples: images the learners below never learn from */
    for (size_t k = 0; k < HELD_OUT; k++) {
        int8_t in[PIXELS];
        const int8_t *f;
        const size_t i = 50000 + k;
        mfl_image_to_input(train.images + i * PIXELS, PIXELS, in);
        if (mfl_learner_features(&h.l, in, PIXELS, &f)) {
            return -1;
        }
        memcpy(held_features + k * FEATURES, f, FEATURES);
        held_labels[k] = train.labels[i];
    }
    harness_free(&h);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(image);
    mfl_dataset_free(&train);
    return 0;
}

static void labels_of(harness_t *h, mfl_head_choice_t which, int *labels)
{
    for (size_t k = 0; k < HELD_OUT; k++) {
        assert_int_equal(mfl_learner_predict_features_with(&h->l, which, held_features + k * FEATURES, &labels[k]), 0);
    }
}

/* Before any learning the three heads are the model's: the same answers,
 * and the tie goes to the head as shipped. */
static void test_fresh_heads_agree_and_ties_keep_shipped(void **state)
{
    (void)state;
    harness_t h;
    int a[HELD_OUT], b[HELD_OUT], c[HELD_OUT];
    assert_int_equal(harness_init(&h), 0);
    labels_of(&h, MFL_HEAD_SHIPPED, a);
    labels_of(&h, MFL_HEAD_GLOBAL, b);
    labels_of(&h, MFL_HEAD_OWN, c);
    assert_memory_equal(a, b, sizeof(a));
    assert_memory_equal(a, c, sizeof(a));
    mfl_head_choice_t chosen = MFL_HEAD_OWN;
    uint16_t correct[3];
    assert_int_equal(mfl_learner_choose_head(&h.l, held_features, held_labels, HELD_OUT, &chosen, correct), 0);
    assert_int_equal(chosen, MFL_HEAD_SHIPPED);
    assert_int_equal(correct[0], correct[1]);
    assert_int_equal(correct[0], correct[2]);
    assert_int_equal(mfl_learner_choose_head(&h.l, NULL, NULL, 0, &chosen, NULL), 0);
    assert_int_equal(chosen, MFL_HEAD_SHIPPED);
    harness_free(&h);
}

/* A device that learned its own data: its own head wins on held-out
 * samples; the shipped head still answers as a fresh learner does, and
 * mfl_learner_predict runs whichever head mfl_learner_use_head chose. */
static void test_own_head_chosen_when_better(void **state)
{
    (void)state;
    harness_t h, fresh;
    assert_int_equal(harness_init(&h), 0);
    assert_int_equal(harness_init(&fresh), 0);
    learn(&h, 0, 300, 0);
    mfl_head_choice_t chosen;
    uint16_t correct[3];
    assert_int_equal(mfl_learner_choose_head(&h.l, held_features, held_labels, HELD_OUT, &chosen, correct), 0);
    print_message("held out right: shipped %u, global %u, own %u of %d\n", correct[0], correct[1], correct[2], HELD_OUT);
    assert_int_equal(chosen, MFL_HEAD_OWN);
    assert_true(correct[MFL_HEAD_OWN] > correct[MFL_HEAD_SHIPPED] + HELD_OUT / 10);
    int shipped[HELD_OUT], reference[HELD_OUT];
    labels_of(&h, MFL_HEAD_SHIPPED, shipped);
    labels_of(&fresh, MFL_HEAD_OWN, reference);
    assert_memory_equal(shipped, reference, sizeof(shipped));
    for (size_t i = 60000 - 20; i < 60000; i++) {
        int8_t in[PIXELS];
        int own, ship, ref;
        mfl_image_to_input(train.images + i * PIXELS, PIXELS, in);
        assert_int_equal(mfl_learner_use_head(&h.l, MFL_HEAD_SHIPPED), 0);
        assert_int_equal(mfl_learner_predict(&h.l, in, PIXELS, &ship), 0);
        assert_int_equal(mfl_learner_use_head(&h.l, MFL_HEAD_OWN), 0);
        assert_int_equal(mfl_learner_predict(&h.l, in, PIXELS, &own), 0);
        assert_int_equal(mfl_learner_predict(&fresh.l, in, PIXELS, &ref), 0);
        assert_int_equal(ship, ref);
        (void)own;
    }
    harness_free(&h);
    harness_free(&fresh);
}

/* An installed global head stays the device's reference while it learns
 * (its answers are those of a learner that installed it and learned
 * nothing), and a device whose own head learned wrong labels keeps the
 * better of the other two. */
static void test_global_head_kept_and_bad_own_head_refused(void **state)
{
    (void)state;
    harness_t teacher, h, ref;
    assert_int_equal(harness_init(&teacher), 0);
    assert_int_equal(harness_init(&h), 0);
    assert_int_equal(harness_init(&ref), 0);
    learn(&teacher, 1000, 300, 0);
    assert_int_equal(mfl_learner_requantize(&teacher.l), 0);
    const mfl_learner_t *t = &teacher.l;
    assert_int_equal(mfl_learner_install_global(&h.l, t->q.w, t->q.scale, t->head.b, t->head.units, t->head.features), 0);
    assert_int_equal(mfl_learner_install_global(&ref.l, t->q.w, t->q.scale, t->head.b, t->head.units, t->head.features),
                     0);
    learn(&h, 2000, 300, 1); /* every label shifted by one: its own head learns the wrong classes */
    int global[HELD_OUT], reference[HELD_OUT];
    labels_of(&h, MFL_HEAD_GLOBAL, global);
    labels_of(&ref, MFL_HEAD_OWN, reference);
    assert_memory_equal(global, reference, sizeof(global));
    mfl_head_choice_t chosen;
    uint16_t correct[3];
    assert_int_equal(mfl_learner_choose_head(&h.l, held_features, held_labels, HELD_OUT, &chosen, correct), 0);
    print_message("held out right: shipped %u, global %u, own %u of %d\n", correct[0], correct[1], correct[2], HELD_OUT);
    assert_int_equal(chosen, MFL_HEAD_GLOBAL);
    assert_true(correct[MFL_HEAD_OWN] < correct[MFL_HEAD_GLOBAL]);
    /* back to the global head: own and global agree again */
    assert_int_equal(mfl_learner_reset(&h.l), 0);
    int own[HELD_OUT];
    labels_of(&h, MFL_HEAD_OWN, own);
    assert_memory_equal(own, reference, sizeof(own));
    harness_free(&teacher);
    harness_free(&h);
    harness_free(&ref);
}

static void test_errors(void **state)
{
    (void)state;
    harness_t h;
    int label;
    mfl_head_choice_t chosen;
    assert_int_equal(harness_init(&h), 0);
    assert_int_equal(mfl_learner_predict_features_with(&h.l, (mfl_head_choice_t)3, held_features, &label),
                     MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_learner_predict_features_with(&h.l, MFL_HEAD_OWN, NULL, &label), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_learner_use_head(&h.l, (mfl_head_choice_t)7), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_learner_use_head(NULL, MFL_HEAD_OWN), MFL_ERR_INVALID_ARG);
    const uint8_t bad[2] = {1, 10};
    assert_int_equal(mfl_learner_choose_head(&h.l, held_features, bad, 2, &chosen, NULL), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_learner_choose_head(&h.l, NULL, held_labels, 2, &chosen, NULL), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_learner_choose_head(&h.l, held_features, held_labels, 2, NULL, NULL), MFL_ERR_INVALID_ARG);
    harness_free(&h);
    /* the learner feeds one input: a model with two (TFLM's simple_add_model) is refused */
    size_t size;
    uint8_t *file = ts_read_shared("models/tflm/simple_add_model.tflite", &size), *img;
    size_t img_size;
    char msg[256];
    mfl_model_t two;
    assert_int_equal(mfl_tflite_import(file, size, &img, &img_size, msg, sizeof(msg)), 0);
    assert_int_equal(mfl_model_load(&two, img, img_size), 0);
    assert_int_equal(mfl_model_input_count(&two), 2);
    assert_int_equal(mfl_learner_mem_size(&two, 8, 8), 0);
    static uint8_t arena[8], mem[8] __attribute__((aligned(8)));
    mfl_learner_t l;
    assert_int_equal(mfl_learner_init(&l, &two, arena, sizeof(arena), mem, sizeof(mem), 8, NULL), MFL_ERR_LEARN_CONFIG);
    free(file);
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_heads_agree_and_ties_keep_shipped),
        cmocka_unit_test(test_own_head_chosen_when_better),
        cmocka_unit_test(test_global_head_kept_and_bad_own_head_refused),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
