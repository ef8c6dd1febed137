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
        cmocka_unit_test(test_class_weights_select),
        cmocka_unit_test(test_float_model_files),
    };
    return cmocka_run_group_tests_name("train", tests, setup, teardown);
}
