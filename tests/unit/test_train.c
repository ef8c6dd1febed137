/*
 * The float trainer: architecture parsing, the backward pass against finite
 * differences of the loss, bit-identical results whatever the thread count,
 * and float model files (round trip, corruption).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/host/train.h"
#include "test_support.h"

static mfl_dataset_t train;

static int setup(void **state)
{
    (void)state;
    char msg[256];
    return mfl_fmnist_load(NULL, 1, &train, msg, sizeof(msg));
}

static int teardown(void **state)
{
    (void)state;
    mfl_dataset_free(&train);
    return 0;
}

static void test_arch_parsing(void **state)
{
    (void)state;
    char msg[256];
    mfl_net_t net;
    assert_int_equal(mfl_net_create(&net, "c16,p,c32s2,c32s2,d64,d10", 28, 28, 1, msg, sizeof(msg)), 0);
    assert_int_equal(net.n_layers, 6);
    assert_int_equal(net.layers[2].out_h, 7);  /* 14 -> stride 2 SAME -> 7 */
    assert_int_equal(net.layers[3].out_h, 4);  /* 7 -> 4 */
    assert_int_equal(net.layers[4].in_c, 512); /* flattened 4x4x32 */
    assert_int_equal(net.n_params, 144 + 16 + 4608 + 32 + 9216 + 32 + 32768 + 64 + 640 + 10);
    assert_int_equal(net.layers[5].relu, 0);   /* logits */
    assert_int_equal(net.layers[0].pad, 1);
    mfl_net_free(&net);
    const char *bad[] = {"", "c16", "c16,p,x3,d10", "d10,c4", "c0,d10", "c8k99,d10", "p,p,p,p,p,p,d10"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(mfl_net_create(&net, bad[i], 28, 28, 1, msg, sizeof(msg)), MFL_ERR_ARCH);
        mfl_net_free(&net);
    }
}

static void test_gradient_matches_finite_differences(void **state)
{
    (void)state;
    char msg[256];
    mfl_net_t net;
    assert_int_equal(mfl_net_create(&net, "c4,p,c6s2,d8,d10", 28, 28, 1, msg, sizeof(msg)), 0);
    mfl_net_init(&net, 3);
    /* Zero biases put black-background pixels exactly on the ReLU kink,
     * where finite differences see a one-sided slope: move them off it. */
    for (int l = 0; l < net.n_layers; l++) {
        for (int c = 0; net.layers[l].kind != MFL_LAYER_MAXPOOL && c < net.layers[l].out_c; c++) {
            net.params[net.layers[l].b_off + (size_t)c] = 0.01f * (float)(c % 7 + 1);
        }
    }
    const uint32_t idx[4] = {0, 1, 2, 3};
    float *grad = malloc(net.n_params * sizeof(float));
    double loss, up, down;
    assert_int_equal(mfl_net_loss_grad(&net, &train, idx, 4, &loss, grad), 0);
    int checked = 0;
    for (size_t p = 0; p < net.n_params; p += 37) {
        const float keep = net.params[p];
        const float h = 1e-3f;
        net.params[p] = keep + h;
        mfl_net_loss_grad(&net, &train, idx, 4, &up, NULL);
        net.params[p] = keep - h;
        mfl_net_loss_grad(&net, &train, idx, 4, &down, NULL);
        net.params[p] = keep;
        const double numeric = (up - down) / (2.0 * h);
        /* float32 forward passes: allow a small absolute and relative error */
        if (fabs(numeric - grad[p]) > 2e-3 + 0.05 * fabs(numeric)) {
            fail_msg("parameter %zu: backward %g, finite differences %g", p, grad[p], numeric);
        }
        checked++;
    }
    assert_true(checked > 20);
    free(grad);
    mfl_net_free(&net);
}

static void test_training_is_deterministic_across_threads(void **state)
{
    (void)state;
    char msg[256];
    mfl_net_t a, b;
    mfl_train_opts_t o = mfl_train_defaults();
    o.epochs = 2;
    o.batch = 16;
    uint32_t *idx;
    size_t n;
    assert_int_equal(mfl_dataset_select(&train, NULL, 512, 5, &idx, &n), 0);
    assert_int_equal(n, 512);
    double before;
    for (int threads = 1; threads <= 3; threads += 2) {
        mfl_net_t *net = threads == 1 ? &a : &b;
        assert_int_equal(mfl_net_create(net, "c4,p,c8s2,d16,d10", 28, 28, 1, msg, sizeof(msg)), 0);
        mfl_net_init(net, 9);
        assert_int_equal(mfl_net_loss_grad(net, &train, idx, n, &before, NULL), 0);
        o.threads = threads;
        assert_int_equal(mfl_net_train(net, &train, idx, n, &o), 0);
    }
    assert_memory_equal(a.params, b.params, a.n_params * sizeof(float));
    /* and it learned something */
    double loss;
    assert_int_equal(mfl_net_loss_grad(&a, &train, idx, n, &loss, NULL), 0);
    print_message("loss %.3f -> %.3f after two epochs\n", before, loss);
    assert_true(loss < before - 0.3);
    free(idx);
    mfl_net_free(&a);
    mfl_net_free(&b);
}

/* MFL_TRAIN_BIASES: the weights below the last layer keep their bits,
 * every bias and the last layer's weights move, and the loss still falls;
 * the default is MFL_TRAIN_ALL, and an epoch_end callback sees every epoch,
 * can stop training and lower the step. */
typedef struct {
    int calls;
    float lr_seen[4];
} epochs_seen_t;

static int halve_then_stop(void *user, int epoch, double loss, double accuracy, float *lr)
{
    epochs_seen_t *e = user;
    assert_true(loss > 0 && accuracy >= 0 && accuracy <= 1);
    e->lr_seen[e->calls++] = *lr;
    *lr *= 0.5f;
    return epoch == 2; /* stop after two of the three epochs */
}

static void test_bias_only_training(void **state)
{
    (void)state;
    char msg[256];
    mfl_net_t net;
    uint32_t *idx;
    size_t n;
    assert_int_equal(mfl_train_defaults().trainable, MFL_TRAIN_ALL);
    assert_int_equal(mfl_dataset_select(&train, NULL, 512, 7, &idx, &n), 0);
    assert_int_equal(mfl_net_create(&net, "c4,p,c8s2,d16,d10", 28, 28, 1, msg, sizeof(msg)), 0);
    mfl_net_init(&net, 11);
    float *before = malloc(net.n_params * sizeof(float));
    memcpy(before, net.params, net.n_params * sizeof(float));
    double loss0, loss1;
    assert_int_equal(mfl_net_loss_grad(&net, &train, idx, n, &loss0, NULL), 0);
    mfl_train_opts_t o = mfl_train_defaults();
    o.epochs = 3;
    o.batch = 16;
    o.lr = 5e-3f; /* few parameters move: a larger step than the default's */
    o.trainable = MFL_TRAIN_BIASES;
    epochs_seen_t seen = {0};
    o.epoch_end = halve_then_stop;
    o.epoch_user = &seen;
    assert_int_equal(mfl_net_train(&net, &train, idx, n, &o), 0);
    assert_int_equal(seen.calls, 2);
    assert_true(seen.lr_seen[0] == o.lr && seen.lr_seen[1] == 0.5f * o.lr);
    const int last = net.n_layers - 1;
    for (int l = 0; l < net.n_layers; l++) {
        const mfl_layer_t *L = &net.layers[l];
        if (L->kind == MFL_LAYER_MAXPOOL) {
            continue;
        }
        const size_t wb = L->n_weights * sizeof(float);
        if (l == last) {
            assert_memory_not_equal(before + L->w_off, net.params + L->w_off, wb);
        } else {
            assert_memory_equal(before + L->w_off, net.params + L->w_off, wb);
        }
        size_t moved = 0;
        for (int c = 0; c < L->out_c; c++) {
            moved += net.params[L->b_off + (size_t)c] != before[L->b_off + (size_t)c];
        }
        print_message("layer %d: %zu of %d biases moved\n", l, moved, L->out_c);
        assert_true(moved * 2 > (size_t)L->out_c); /* most: a ReLU that is never active gets no gradient */
    }
    assert_int_equal(mfl_net_loss_grad(&net, &train, idx, n, &loss1, NULL), 0);
    print_message("bias-only: loss %.3f -> %.3f\n", loss0, loss1);
    assert_true(loss1 < loss0 - 0.2);
    o.trainable = MFL_TRAIN_LAST_CONV + 1;
    assert_int_equal(mfl_net_train(&net, &train, idx, n, &o), MFL_ERR_INVALID_ARG);
    free(before);
    free(idx);
    mfl_net_free(&net);
}

/* MFL_TRAIN_DENSE and MFL_TRAIN_LAST_CONV: one plain SGD step over the
 * whole batch moves each trained parameter by exactly -lr times the full
 * network's gradient (mfl_net_loss_grad, an independent backward pass over
 * every layer), and every frozen parameter keeps its bits. */
static void check_top_step(const char *arch, int trainable, int trained_from)
{
    char msg[256];
    mfl_net_t net;
    uint32_t *idx;
    size_t n;
    assert_int_equal(mfl_dataset_select(&train, NULL, 48, 3, &idx, &n), 0);
    assert_int_equal(mfl_net_create(&net, arch, 28, 28, 1, msg, sizeof(msg)), 0);
    mfl_net_init(&net, 5);
    float *before = malloc(net.n_params * sizeof(float)), *grad = malloc(net.n_params * sizeof(float));
    memcpy(before, net.params, net.n_params * sizeof(float));
    double loss;
    assert_int_equal(mfl_net_loss_grad(&net, &train, idx, n, &loss, grad), 0);
    mfl_train_opts_t o = mfl_train_defaults();
    o.epochs = 1;
    o.batch = (int)n;
    o.optimizer = MFL_OPT_SGD_MOMENTUM;
    o.momentum = 0.0f;
    o.lr = 0.5f;
    o.trainable = trainable;
    assert_int_equal(mfl_net_train(&net, &train, idx, n, &o), 0);
    size_t moved = 0, trained = 0;
    for (int l = 0; l < net.n_layers; l++) {
        const mfl_layer_t *L = &net.layers[l];
        if (L->kind == MFL_LAYER_MAXPOOL) {
            continue;
        }
        const size_t from = L->w_off, to = L->b_off + (size_t)L->out_c;
        if (l < trained_from) {
            assert_memory_equal(before + from, net.params + from, (to - from) * sizeof(float));
            continue;
        }
        for (size_t k = from; k < to; k++) {
            const double step = (double)net.params[k] - before[k], want = -0.5 * grad[k];
            assert_true(fabs(step - want) <= 1e-4 * fabs(want) + 1e-7);
            moved += net.params[k] != before[k];
            trained++;
        }
    }
    print_message("%s, trainable %d: %zu of %zu trained parameters moved\n", arch, trainable, moved, trained);
    assert_true(moved * 2 > trained);
    free(before);
    free(grad);
    free(idx);
    mfl_net_free(&net);
}

static void test_top_only_training(void **state)
{
    (void)state;
    check_top_step("c4,p,c8s2,d16,d10", MFL_TRAIN_DENSE, 3);
    check_top_step("c4,p,c8s2,d16,d10", MFL_TRAIN_LAST_CONV, 2);
    check_top_step("c4,c6s2,p,d10", MFL_TRAIN_LAST_CONV, 1);
}

static void test_class_weights_select(void **state)
{
    (void)state;
    const float w[10] = {1, 1, 0.1f, 1, 1, 1, 0, 1, 1, 1};
    uint32_t *idx;
    size_t n;
    assert_int_equal(mfl_dataset_select(&train, w, 0, 1, &idx, &n), 0);
    unsigned counts[10] = {0};
    for (size_t i = 0; i < n; i++) counts[train.labels[idx[i]]]++;
    assert_int_equal(counts[6], 0);
    assert_true(counts[2] > 450 && counts[2] < 750); /* ~600 of 6000 */
    assert_int_equal(counts[0], 6000);
    free(idx);
}

static void test_float_model_files(void **state)
{
    (void)state;
    char msg[256], path[] = "/tmp/mfl_test_XXXXXX";
    const int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    mfl_net_t net, back;
    assert_int_equal(mfl_net_create(&net, "c2,p,p,d10", 28, 28, 1, msg, sizeof(msg)), 0);
    mfl_net_init(&net, 1);
    assert_int_equal(mfl_net_save(&net, path), 0);
    assert_int_equal(mfl_net_load(&back, path, msg, sizeof(msg)), 0);
    assert_string_equal(back.arch, "c2,p,p,d10");
    assert_memory_equal(back.params, net.params, net.n_params * sizeof(float));
    mfl_net_free(&back);
    /* every truncation and a flipped byte are refused */
    FILE *f = fopen(path, "rb");
    uint8_t buf[8192];
    const size_t len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    assert_true(len < sizeof(buf));
    for (size_t cut = 0; cut < len; cut += 7) {
        assert_int_equal(mfl_net_parse(&back, buf, cut, msg, sizeof(msg)), MFL_ERR_FLOAT_MODEL);
    }
    buf[len / 2] ^= 1;
    assert_int_equal(mfl_net_parse(&back, buf, len, msg, sizeof(msg)), MFL_ERR_FLOAT_MODEL);
    if (!strstr(msg, "checksum")) {
        fail_msg("unexpected message: %s", msg);
    }
    remove(path);
    mfl_net_free(&net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arch_parsing),
        cmocka_unit_test(test_gradient_matches_finite_differences),
        cmocka_unit_test(test_training_is_deterministic_across_threads),
        cmocka_unit_test(test_bias_only_training),
        cmocka_unit_test(test_top_only_training),
        cmocka_unit_test(test_class_weights_select),
        cmocka_unit_test(test_float_model_files),
    };
    return cmocka_run_group_tests_name("train", tests, setup, teardown);
}
