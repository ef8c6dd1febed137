/*
 * The simulator's shared feature layer (sim/shared_layer.c): a round's
 * layer is the previous one plus the sample-weighted mean of the devices'
 * layer changes (against a computation in double from the changes the
 * test gave them), each change measured from the layer the device
 * installed; one update a device a round, later ones waiting and stale
 * ones dropped, as the aggregator's rounds; every error.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/error.h"
#include "mfl/host/features.h"
#include "mfl/host/net_export.h"
#include "mfl/host/train.h"
#include "mfl/learner.h"
#include "shared_layer.h"
#include "test_support.h"

#define DEVICES 3
#define REPLAY 8

static mfl_dataset_t train;
static uint8_t *image;
static size_t image_size;
static mfl_model_t model;

typedef struct {
    mfl_learner_t l;
    uint8_t *arena, *mem;
} device_t;

static int setup(void **state)
{
    (void)state;
    char msg[256];
    mfl_net_t f;
    float lo[MFL_NET_MAX_LAYERS], hi[MFL_NET_MAX_LAYERS];
    if (mfl_fmnist_load(NULL, 1, &train, msg, sizeof(msg)) || mfl_net_create(&f, "d16,d10", 28, 28, 1, msg, sizeof(msg))) {
        return -1;
    }
    mfl_net_init(&f, 3);
    int err = mfl_net_calibrate(&f, &train, NULL, 200, lo, hi);
    err = err ? err : mfl_net_export(&f, lo, hi, 2.0f, &image, &image_size, msg, sizeof(msg));
    mfl_net_free(&f);
    return err || mfl_model_load(&model, image, image_size);
}

static int teardown(void **state)
{
    (void)state;
    free(image);
    mfl_dataset_free(&train);
    return 0;
}

static void device_init(device_t *d, int tune_weights)
{
    mfl_learn_opts_t o = mfl_learn_defaults();
    if (tune_weights) {
        o.weight_lr = mfl_scale_from_int(1, 16);
        o.weight_tuning = &mfl_weight_tuning;
    }
    const size_t size = mfl_learner_mem_size_for(&model, REPLAY, &o);
    d->arena = malloc(mfl_model_arena_size(&model));
    d->mem = aligned_alloc(8, (size + 8) & ~(size_t)7);
    assert_int_equal(mfl_learner_init(&d->l, &model, d->arena, mfl_model_arena_size(&model), d->mem, size, REPLAY,
                                      &o),
                     0);
}

static void device_free(device_t *d)
{
    free(d->arena);
    free(d->mem);
}

static size_t layer_size(const mfl_learner_t *l)
{
    return (size_t)l->bt.features * (l->bt.inputs + 1u);
}

static int is_bias(const mfl_learner_t *l, size_t k)
{
    return k % (l->bt.inputs + 1u) == l->bt.inputs;
}

/* A change the device "learned" from base: a multiple of `unit` master
 * steps on each weight (none on weights near the ends of their range,
 * where installing would clip it), `unit` thousand units on each bias;
 * pattern p picks one of several. */
static void change(const mfl_learner_t *l, const int32_t *base, int p, int unit, int32_t *delta)
{
    for (size_t k = 0; k < layer_size(l); k++) {
        const int a = (int)((k * 7 + (size_t)p * 13) % 9) - 4;
        const int edge = !is_bias(l, k) && abs(base[k]) > 100 * 65536;
        delta[k] = is_bias(l, k) ? a * unit * 1000 : edge ? 0 : a * unit * 256;
    }
}

/* Device d installs `version`, then learns delta on top of it. */
static void learn(sim_shared_layer_t *s, device_t *d, uint64_t version, const int32_t *delta)
{
    const size_t n = layer_size(&d->l);
    int32_t *layer = malloc(n * 4);
    assert_int_equal(sim_shared_layer_install(s, version, &d->l), 0);
    assert_int_equal(mfl_learner_layer_read(&d->l, layer, n), 0);
    for (size_t k = 0; k < n; k++) {
        layer[k] += delta[k];
    }
    assert_int_equal(mfl_learner_layer_install(&d->l, layer, n), 0);
    free(layer);
}

/* The layer a device holds after installing `version`. */
static void installed(sim_shared_layer_t *s, uint64_t version, int32_t *out)
{
    device_t probe;
    device_init(&probe, 1);
    assert_int_equal(sim_shared_layer_install(s, version, &probe.l), 0);
    assert_int_equal(mfl_learner_layer_read(&probe.l, out, layer_size(&probe.l)), 0);
    device_free(&probe);
}

/* Three devices of 10, 20 and 30 samples, changes of 6 steps a unit: the
 * weighted mean is (a + 2b + 3c) whole steps, exact, so version 2 is
 * version 1 plus it, bit for bit. */
static void test_a_round_is_the_weighted_mean(void **state)
{
    (void)state;
    device_t dev[DEVICES];
    for (int d = 0; d < DEVICES; d++) {
        device_init(&dev[d], 1);
    }
    const size_t n = layer_size(&dev[0].l);
    const mfl_agg_opts_t o = mfl_agg_defaults();
    sim_shared_layer_t *s;
    assert_int_equal(sim_shared_layer_open(&s, &dev[0].l, &o, 4), 0);
    int32_t *base = malloc(n * 4), *got = malloc(n * 4), *delta[DEVICES];
    installed(s, 1, base);
    for (int d = 0; d < DEVICES; d++) {
        delta[d] = malloc(n * 4);
        change(&dev[d].l, base, d, 6, delta[d]);
        learn(s, &dev[d], 1, delta[d]);
        assert_int_equal(sim_shared_layer_accept(s, &dev[d].l, (uint32_t)d, 1, 10u * (uint32_t)(d + 1), (uint32_t)d),
                         0);
    }
    assert_int_equal(sim_shared_layer_observe(s, 1), 0); /* no round yet */
    assert_int_equal(sim_shared_layer_observe(s, 2), 0);
    installed(s, 2, got);
    for (size_t k = 0; k < n; k++) {
        const double mean = (10.0 * delta[0][k] + 20.0 * delta[1][k] + 30.0 * delta[2][k]) / 60.0;
        assert_int_equal(got[k], base[k] + (int32_t)mean);
    }
    /* the first version is still kept for devices that learned from it */
    installed(s, 1, got);
    assert_memory_equal(got, base, n * 4);
    for (int d = 0; d < DEVICES; d++) {
        free(delta[d]);
        device_free(&dev[d]);
    }
    free(base);
    free(got);
    sim_shared_layer_free(s);
}

/* max_staleness 0: device 0's second update waits for the next round
 * (one update a device a round), and there, based on version 1 when the
 * layer is at 2, it is dropped: version 3 is version 2. Version 2 is the
 * plain mean of device 0's first and device 1's (equal samples). */
static void test_one_update_a_device_and_stale_ones_dropped(void **state)
{
    (void)state;
    device_t a, b;
    device_init(&a, 1);
    device_init(&b, 1);
    const size_t n = layer_size(&a.l);
    const mfl_agg_opts_t o = mfl_agg_defaults();
    sim_shared_layer_t *s;
    assert_int_equal(sim_shared_layer_open(&s, &a.l, &o, 0), 0);
    int32_t *base = malloc(n * 4), *got = malloc(n * 4), *da = malloc(n * 4), *db = malloc(n * 4),
            *v2 = malloc(n * 4);
    installed(s, 1, base);
    change(&a.l, base, 0, 2, da);
    change(&b.l, base, 1, 2, db);
    learn(s, &a, 1, da);
    assert_int_equal(sim_shared_layer_accept(s, &a.l, 0, 1, 5, 0), 0);
    learn(s, &b, 1, db);
    assert_int_equal(sim_shared_layer_accept(s, &b.l, 1, 1, 5, 1), 0);
    learn(s, &a, 1, db); /* device 0 again, still on version 1 */
    assert_int_equal(sim_shared_layer_accept(s, &a.l, 0, 1, 5, 0), 0);
    assert_int_equal(sim_shared_layer_observe(s, 2), 0);
    installed(s, 2, v2);
    for (size_t k = 0; k < n; k++) {
        assert_int_equal(v2[k], base[k] + (da[k] + db[k]) / 2);
    }
    assert_int_equal(sim_shared_layer_observe(s, 3), 0);
    installed(s, 3, got);
    assert_memory_equal(got, v2, n * 4);
    /* nothing left waiting: version 4 is the same again */
    assert_int_equal(sim_shared_layer_observe(s, 4), 0);
    installed(s, 4, got);
    assert_memory_equal(got, v2, n * 4);
    free(base), free(got), free(da), free(db), free(v2);
    device_free(&a);
    device_free(&b);
    sim_shared_layer_free(s);
}

static void test_errors(void **state)
{
    (void)state;
    device_t plain, d;
    device_init(&plain, 0);
    device_init(&d, 1);
    const mfl_agg_opts_t o = mfl_agg_defaults();
    sim_shared_layer_t *s;
    assert_int_equal(sim_shared_layer_open(&s, &plain.l, &o, 2), MFL_ERR_LEARN_CONFIG);
    assert_null(s);
    assert_int_equal(sim_shared_layer_open(&s, &d.l, &o, 2), 0);
    /* a base version no device installed yet, or never made */
    assert_int_equal(sim_shared_layer_accept(s, &d.l, 0, 1, 5, 0), MFL_ERR_INVALID_ARG);
    assert_int_equal(sim_shared_layer_install(s, 2, &d.l), MFL_ERR_INVALID_ARG);
    assert_int_equal(sim_shared_layer_install(s, 0, &d.l), MFL_ERR_INVALID_ARG);
    /* a round not seen, a version going back */
    assert_int_equal(sim_shared_layer_observe(s, 3), MFL_ERR_INVALID_ARG);
    assert_int_equal(sim_shared_layer_observe(s, 0), MFL_ERR_INVALID_ARG);
    /* versions older than max_staleness are no longer kept */
    assert_int_equal(sim_shared_layer_install(s, 1, &d.l), 0);
    for (uint64_t v = 2; v <= 4; v++) {
        assert_int_equal(sim_shared_layer_observe(s, v), 0);
    }
    assert_int_equal(sim_shared_layer_install(s, 1, &d.l), MFL_ERR_INVALID_ARG);
    assert_int_equal(sim_shared_layer_install(s, 2, &d.l), 0);
    assert_int_equal(sim_shared_layer_accept(s, &d.l, 0, 1, 5, 0), MFL_ERR_INVALID_ARG);
    assert_int_equal(sim_shared_layer_accept(s, &d.l, 0, 2, 5, 0), 0);
    sim_shared_layer_free(s);
    device_free(&plain);
    device_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_round_is_the_weighted_mean),
        cmocka_unit_test(test_one_update_a_device_and_stale_ones_dropped),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
