/*
 * Fine-tuning of the feature layer's weights (mfl_learn_opts_t.weight_lr):
 * untouched weights give the FULLY_CONNECTED kernel's features bit for
 * bit, one step's weight change against a double-precision recomputation
 * of the gradient from the head's own numbers, every batch size's step
 * against the rule (bit for bit in integers, and in double), rates from
 * far below a step's resolution to saturating ones, memory exactly
 * mfl_learner_mem_size_for's, raw and layer inputs learning alike,
 * clamped features, learning a shifted task the head alone cannot fit as
 * well, resets, and every error (changing nothing).
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

static int layer_inputs(void);

static int setup(void **state)
{
    (void)state;
    char msg[256];
    if (mfl_fmnist_load(NULL, 1, &train, msg, sizeof(msg))) {
        return -1;
    }
    if (make(&net, "c4,p,c8s2,d16,d10") || make(&no_layer, "c4,p,d10")) {
        return -1;
    }
    return layer_inputs();
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

/* ---- a reference of one step, from the rule's own numbers ---- */

#define MAX_INPUTS 512
#define SAMPLES 80
#define MASTER_LO (-127 * 256 - 128) /* half a code beyond [-127, 127] */
#define MASTER_HI (127 * 256 + 127)

static int8_t layer_of[SAMPLES][MAX_INPUTS]; /* the feature layer's input for images 0.. (setup) */
static uint16_t layer_len;

/* What a step is about to see: its batch (the new sample and the replayed
 * ones the learner's random picks will choose), their features with the
 * weights before the step, and the master before it. */
typedef struct {
    int n;
    int8_t in[MFL_HEAD_MAX_BATCH][MAX_INPUTS];
    int8_t x[MFL_HEAD_MAX_BATCH][FEATURES];
    int16_t master[FEATURES * MAX_INPUTS];
} before_t;
static before_t before;

/* Before a learn call on `sample` (a layer input) with opts.steps = 1:
 * the replay's picks come from a copy of its state, as the step draws
 * them. */
static void snapshot(mfl_learner_t *l, const int8_t *sample, before_t *b)
{
    mfl_replay_t r = l->replay;
    const uint16_t inputs = l->bt.inputs;
    b->n = 0;
    memcpy(b->in[b->n++], sample, inputs);
    while (b->n < l->opts.batch && r.count) {
        memcpy(b->in[b->n++], mfl_replay_features(&r, mfl_replay_pick(&r)), inputs);
    }
    for (int k = 0; k < b->n; k++) {
        assert_int_equal(mfl_learner_features_from_layer_input(l, b->in[k], b->x[k]), 0);
    }
    memcpy(b->master, l->wt.master, (size_t)inputs * FEATURES * 2);
}

static int active(const mfl_learner_t *l, int8_t x)
{
    return x > l->bt.act_min && x < l->bt.act_max;
}

/* The master step for S (the weight gradient in the step's int16 units)
 * at scale f = m 2^-right as the rule defines it: round(S f), the high
 * word of S m when right > 32 (one SMULL), nothing below 2^-63; held to
 * +-2^40 (beyond any master's range). */
static int64_t rule_step(int32_t s, int32_t m, int right)
{
    if (s == 0 || m == 0 || right >= 63) {
        return 0;
    }
    const int64_t p = (int64_t)s * m;
    if (right < 1) {
        return p > 0 ? (int64_t)1 << 40 : -((int64_t)1 << 40);
    }
    if (right <= 32) {
        return (p + ((int64_t)1 << (right - 1))) >> right;
    }
    const int r2 = right - 32;
    return ((p >> 32) + ((int64_t)1 << (r2 - 1))) >> r2;
}

/*
 * After the step: each master weight against two references.
 * Integer, bit for bit: gx_kj = sum_u g_uk W_uj where x_kj is inside the
 * activation range (else 0), all brought to int16 by the smallest right
 * shift that puts the largest below 0x7FFF (rounding to nearest);
 * S_ji = sum_k gx_kj (x_ki - zp); the step S f with f = lr / B * to_acc_j
 * 2^(shift - 7); the master held half a code beyond [-127, 127].
 * Double: -lr / B sum_k gx_kj (x_ki - zp) 2^8 / P_j, P_j = s_in s_wj, to
 * within the rounding and the int16 gradients' error.
 * Also: the batch's features are those the step used, the int8 weights
 * the master's rounding. Returns how many weights moved.
 */
static long check_step(const mfl_learner_t *l, const before_t *b, mfl_scale_t lr)
{
    const uint16_t inputs = l->bt.inputs, units = l->head.units;
    const int n = b->n;
    const size_t stride = (size_t)MFL_HEAD_GRAD_STRIDE(n);
    const int16_t *g = l->g;
    static int64_t gx[MFL_HEAD_MAX_BATCH][FEATURES];
    uint64_t max = 0;
    for (int k = 0; k < n; k++) {
        assert_memory_equal(l->bt.x + (size_t)k * FEATURES, b->x[k], FEATURES);
        for (int j = 0; j < FEATURES; j++) {
            gx[k][j] = 0;
            for (uint16_t u = 0; u < units && active(l, b->x[k][j]); u++) {
                gx[k][j] += (int64_t)g[u * stride + (size_t)k] * l->head.w[u * FEATURES + j];
            }
            const uint64_t a = (uint64_t)llabs(gx[k][j]);
            max = a > max ? a : max;
        }
    }
    int shift = 0;
    while ((max >> shift) >= 0x7FFF) {
        shift++;
    }
    const double lr_real = scale_value(lr), sx = scale_value(l->head.feature_scale);
    const double gx_err = shift ? ldexp(1.0, shift - 1) : 0.0; /* the int16 rounding, Q39 */
    long moved = 0;
    for (int j = 0; j < FEATURES; j++) {
        int16_t gq[MFL_HEAD_MAX_BATCH];
        for (int k = 0; k < n; k++) {
            gq[k] = (int16_t)((gx[k][j] + (shift ? (int64_t)1 << (shift - 1) : 0)) >> shift);
        }
        mfl_scale_t f = mfl_scale_mul(mfl_scale_div(lr, mfl_scale_from_int((uint64_t)n, 0)), l->bt.to_acc[j]);
        f.e += shift - 7;
        const int c = l->bt.per_channel ? j : 0;
        const double per_code = ldexp((double)l->bt.mult[c], l->bt.shift[c] - 31) * sx; /* P_j */
        const double to_master = lr_real / n * ldexp(1.0, 8 - 39) / per_code;
        for (uint16_t i = 0; i < inputs; i++) {
            int32_t s = 0;
            double exact = 0, err = 0;
            for (int k = 0; k < n; k++) {
                const int x = b->in[k][i] + l->bt.input_offset;
                s += gq[k] * x;
                exact += (double)gx[k][j] * x;
                err += gx_err * abs(x);
            }
            const size_t at = (size_t)j * inputs + i;
            const int64_t m0 = b->master[at], d = rule_step(s, f.m, 31 - f.e);
            const int64_t want = m0 - d < MASTER_LO ? MASTER_LO : m0 - d > MASTER_HI ? MASTER_HI : m0 - d;
            assert_int_equal(l->wt.master[at], want);
            assert_int_equal(l->wt.w[at], (l->wt.master[at] + 128) >> 8);
            const double real = fmin(fmax((double)m0 - to_master * exact, MASTER_LO), MASTER_HI);
            assert_true(fabs(l->wt.master[at] - real) <=
                        1.0 + 1e-9 + to_master * err + 1e-6 * fabs(to_master * exact));
            moved += l->wt.master[at] != m0;
        }
    }
    return moved;
}

/* Layer input c of the material (its label: the image's). */
static uint8_t label_of(size_t c)
{
    return train.labels[c % SAMPLES];
}

/* Fills the replay buffer with `count` layer inputs straight away (no
 * steps: a full batch from the first learn call on). */
static void fill_replay(mfl_learner_t *l, uint16_t count, size_t from)
{
    for (uint16_t c = 0; c < count; c++) {
        mfl_replay_add(&l->replay, layer_of[(from + c) % SAMPLES], label_of(from + c));
    }
}

/* Learns layer input c after a snapshot, then checks the step. */
static long learn_and_check(mfl_learner_t *l, size_t c, mfl_scale_t lr)
{
    snapshot(l, layer_of[c % SAMPLES], &before);
    assert_int_equal(mfl_learner_learn_layer_input(l, layer_of[c % SAMPLES], label_of(c)), 0);
    return check_step(l, &before, lr);
}

/* Every batch size 1..64 (odd ones with a zero pad lane; 7 and 8 on the
 * SMLAD path that keeps a row's gradients in registers, the others on the
 * loop over pairs), at rates whose steps take both the 64-bit rounding
 * (right <= 32) and the high word's; every third with the biases learning
 * too (their step must not change the weights'); then batches that grow
 * 1, 2, ... while the replay fills, in memory laid out for 64. */
static void test_every_batch_against_the_rule(void **state)
{
    (void)state;
    long moved = 0;
    for (uint16_t batch = 1; batch <= MFL_HEAD_MAX_BATCH; batch++) {
        harness_t h;
        mfl_learn_opts_t o = weight_opts(batch, 2 + batch % 22);
        if (batch % 3 == 0) {
            o.bias_lr = mfl_scale_from_int(1, 8);
        }
        assert_int_equal(harness_init(&h, &net.model, &o), 0);
        fill_replay(&h.l, (uint16_t)(batch + 2 < REPLAY ? batch + 2 : REPLAY), batch);
        moved += learn_and_check(&h.l, batch + 10u, o.weight_lr);
        harness_free(&h);
    }
    for (uint16_t batch = 8; batch <= 64; batch += 56) {
        harness_t h;
        const mfl_learn_opts_t o = weight_opts(batch, 18);
        assert_int_equal(harness_init(&h, &net.model, &o), 0);
        for (size_t c = 0; c < 10; c++) {
            moved += learn_and_check(&h.l, c, o.weight_lr);
        }
        harness_free(&h);
    }
    assert_true(moved > 10000);
}

/* The master and the int8 weights within their ranges. */
static void assert_weights_in_range(const mfl_learner_t *l)
{
    for (size_t at = 0; at < (size_t)l->bt.inputs * FEATURES; at++) {
        assert_true(l->wt.master[at] >= MASTER_LO && l->wt.master[at] <= MASTER_HI);
        assert_true(l->wt.w[at] >= -127 && l->wt.w[at] <= 127);
        assert_int_equal(l->wt.w[at], (l->wt.master[at] + 128) >> 8);
    }
}

/* Rates from 2^-2 to 2^40 per input code: steps of thousands of codes
 * (the 64-bit product shifted by little or nothing) saturate the master
 * half a code beyond [-127, 127] in the direction of the step, never
 * wrap; a rate far below a step's resolution (2^-101, right >= 63)
 * changes nothing; the biases learning at the same time or not. */
static void test_rates_at_the_extremes(void **state)
{
    (void)state;
    for (int e = -40; e <= 2; e += 6) {
        harness_t h;
        mfl_learn_opts_t o = weight_opts(8, e);
        o.bias_lr = mfl_scale_from_int((uint64_t)(e / 6 % 2 != 0), 4);
        assert_int_equal(harness_init(&h, &net.model, &o), 0);
        fill_replay(&h.l, 12, (size_t)(e + 40));
        long moved = 0;
        for (size_t c = 0; c < 3; c++) {
            moved += learn_and_check(&h.l, (size_t)(e + 60) + c, o.weight_lr);
            assert_weights_in_range(&h.l);
        }
        assert_true(moved > 1000);
        harness_free(&h);
    }
    harness_t h;
    mfl_learn_opts_t o = weight_opts(8, 101); /* the smallest rate allowed */
    o.bias_lr = mfl_scale_from_int(1, 4);
    assert_int_equal(harness_init(&h, &net.model, &o), 0);
    fill_replay(&h.l, 12, 0);
    for (size_t c = 0; c < 3; c++) {
        assert_int_equal(learn_and_check(&h.l, 20 + c, o.weight_lr), 0);
    }
    assert_memory_equal(h.l.wt.w, h.l.wt.w_model, (size_t)h.l.bt.inputs * FEATURES);
    harness_free(&h);
}

/* Rates' exponents: beyond +-100 refused for all three rates (init and
 * mfl_learner_mem_size_for), at +-100 accepted and learning without
 * overflow (the UBSan build): 2^69 per input code saturates every moving
 * weight as 2^40 does, 2^-131 moves nothing. */
static void test_rate_exponents_at_their_limits(void **state)
{
    (void)state;
    static uint8_t arena[65536] __attribute__((aligned(8))), mem[1 << 20] __attribute__((aligned(8)));
    for (int which = 0; which < 3; which++) {
        for (int sign = -1; sign <= 1; sign += 2) {
            mfl_learn_opts_t o = weight_opts(8, 22);
            mfl_scale_t *r = which == 0 ? &o.lr : which == 1 ? &o.bias_lr : &o.weight_lr;
            mfl_learner_t l;
            *r = (mfl_scale_t){1 << 30, sign * 101};
            assert_int_equal(mfl_learner_mem_size_for(&net.model, REPLAY, &o), 0);
            assert_int_equal(mfl_learner_init(&l, &net.model, arena, sizeof(arena), mem, sizeof(mem), REPLAY, &o),
                             MFL_ERR_LEARN_CONFIG);
            *r = (mfl_scale_t){(1 << 30) - 1, 0}; /* not normalised */
            assert_int_equal(mfl_learner_mem_size_for(&net.model, REPLAY, &o), 0);
            *r = (mfl_scale_t){1 << 30, sign * 100};
            harness_t h;
            assert_int_equal(harness_init(&h, &net.model, &o), 0);
            fill_replay(&h.l, 12, 5);
            assert_int_equal(mfl_learner_learn_layer_input(&h.l, layer_of[40], label_of(40)), 0);
            harness_free(&h);
        }
    }
    harness_t big, ref, none;
    mfl_learn_opts_t o = weight_opts(8, -40);
    assert_int_equal(harness_init(&ref, &net.model, &o), 0);
    o.weight_lr = (mfl_scale_t){1 << 30, 100};
    assert_int_equal(harness_init(&big, &net.model, &o), 0);
    o.weight_lr = (mfl_scale_t){1 << 30, -100};
    assert_int_equal(harness_init(&none, &net.model, &o), 0);
    const size_t n = (size_t)ref.l.bt.inputs * FEATURES;
    harness_t *all[] = {&ref, &big, &none};
    for (int k = 0; k < 3; k++) {
        fill_replay(&all[k]->l, 12, 5);
    }
    for (size_t c = 0; c < 3; c++) {
        for (int k = 0; k < 3; k++) {
            assert_int_equal(mfl_learner_learn_layer_input(&all[k]->l, layer_of[40 + c], label_of(40 + c)), 0);
        }
        assert_memory_equal(big.l.wt.master, ref.l.wt.master, n * 2);
        assert_memory_not_equal(ref.l.wt.w, ref.l.wt.w_model, n);
        assert_memory_equal(none.l.wt.w, none.l.wt.w_model, n);
        for (size_t at = 0; at < n; at++) {
            assert_int_equal(none.l.wt.master[at], none.l.wt.w_model[at] * 256);
        }
    }
    for (int k = 0; k < 3; k++) {
        harness_free(all[k]);
    }
}

/* ---- memory: exactly mfl_learner_mem_size_for bytes ---- */

#define GUARD 64
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MFL_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(MFL_TEST_ASAN)
#include <sanitizer/asan_interface.h>
#define GUARD_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define GUARD_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define GUARD_POISON(p, n) ((void)(p), (void)(n))
#define GUARD_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* size bytes and GUARD bytes of a pattern after them (poisoned under
 * ASan, so that reads past the end are caught too). */
static uint8_t *guarded_alloc(size_t size)
{
    uint8_t *p = aligned_alloc(8, (size + GUARD + 7) & ~(size_t)7);
    assert_non_null(p);
    memset(p + size, 0xA5, GUARD);
    GUARD_POISON(p + size, GUARD);
    return p;
}

static void guarded_check_free(uint8_t *p, size_t size)
{
    GUARD_UNPOISON(p + size, GUARD);
    for (size_t k = 0; k < GUARD; k++) {
        assert_int_equal(p[size + k], 0xA5);
    }
    free(p);
}

/* Every entry of a weight-tuning learner in exactly the memory
 * mfl_learner_mem_size_for reports (and arena mfl_model_arena_size), for
 * batches around the pad lane and the SMLAD path and replay buffers from
 * none to full, with and without the biases: nothing is written past
 * either, and a byte less is refused. */
static void test_memory_is_exact(void **state)
{
    (void)state;
    static const uint16_t config[][2] = {{1, 0}, {2, 1}, {7, 5}, {8, 40}, {9, 3}, {33, 40}, {64, 40}, {64, 0}};
    const size_t arena_size = mfl_model_arena_size(&net.model);
    for (size_t c = 0; c < sizeof(config) / sizeof(config[0]); c++) {
        const uint16_t batch = config[c][0], cap = config[c][1];
        mfl_learner_t l;
        mfl_learn_opts_t o = weight_opts(batch, 16);
        o.bias_lr = mfl_scale_from_int(c % 2, 8);
        o.steps = c % 3 == 2 ? 2 : 1;
        const size_t size = mfl_learner_mem_size_for(&net.model, cap, &o);
        assert_true(size > 0);
        uint8_t *arena = guarded_alloc(arena_size), *mem = guarded_alloc(size);
        assert_int_equal(mfl_learner_init(&l, &net.model, arena, arena_size, mem, size - 1, cap, &o),
                         MFL_ERR_BUFFER_TOO_SMALL);
        assert_int_equal(mfl_learner_init(&l, &net.model, arena, arena_size, mem, size, cap, &o), 0);
        for (size_t i = 0; i < 6; i++) {
            int8_t in[PIXELS], f[FEATURES];
            const int8_t *li;
            size_t n;
            int label;
            input_of(i, (int)(i % 2), in);
            assert_int_equal(mfl_learner_learn(&l, in, PIXELS, train.labels[i]), 0);
            assert_int_equal(mfl_learner_layer_input(&l, in, PIXELS, &li, &n), 0);
            assert_int_equal(mfl_learner_features_from_layer_input(&l, li, f), 0);
            assert_int_equal(mfl_learner_learn_layer_input(&l, layer_of[i + 10], label_of(i + 10)), 0);
            assert_int_equal(mfl_learner_predict(&l, in, PIXELS, &label), 0);
        }
        assert_int_equal(mfl_learner_train_buffer(&l, 2), 0);
        assert_int_equal(mfl_learner_reset(&l), 0);
        assert_int_equal(mfl_learner_learn_layer_input(&l, layer_of[20], label_of(20)), 0);
        assert_int_equal(mfl_learner_reset_bias(&l), 0);
        assert_int_equal(mfl_learner_train_buffer(&l, 1), 0);
        guarded_check_free(mem, size);
        guarded_check_free(arena, arena_size);
    }
}

/* The feature layer's accumulators from its int8 weights, in plain C. */
static void layer_acc(const mfl_learner_t *l, const int8_t *in, int32_t *acc)
{
    for (int j = 0; j < FEATURES; j++) {
        acc[j] = 0;
        for (uint16_t i = 0; i < l->bt.inputs; i++) {
            acc[j] += (in[i] + l->bt.input_offset) * l->wt.w[(size_t)j * l->bt.inputs + i];
        }
    }
}

/* Two learners in the same state: head, feature layer, replay and counters. */
static void assert_same_state(const mfl_learner_t *a, const mfl_learner_t *b)
{
    const size_t n = (size_t)a->bt.inputs * FEATURES, head = (size_t)a->head.units * FEATURES;
    assert_memory_equal(a->wt.master, b->wt.master, n * 2);
    assert_memory_equal(a->wt.w, b->wt.w, n);
    assert_memory_equal(a->head.w, b->head.w, head * 4);
    assert_memory_equal(a->head.b, b->head.b, (size_t)a->head.units * 4);
    assert_memory_equal(a->bt.delta, b->bt.delta, FEATURES * 4);
    assert_memory_equal(a->bt.bias, b->bt.bias, FEATURES * 4);
    assert_int_equal(a->replay.count, b->replay.count);
    assert_memory_equal(a->replay.features, b->replay.features, (size_t)a->replay.count * a->bt.inputs);
    assert_memory_equal(a->replay.labels, b->replay.labels, a->replay.count);
    assert_int_equal(a->replay.rng, b->replay.rng);
    assert_int_equal(a->updates, b->updates);
    assert_int_equal(a->samples, b->samples);
}

/* Learning from raw inputs and from their layer inputs leaves the same
 * state, step after step and through training on the buffer (weights and
 * biases learning, two steps a sample); afterwards the features of a raw
 * input, of its layer input and of each replayed one are those of the
 * learned weights, and a prediction is the head's on them. */
static void test_raw_and_layer_inputs_learn_alike(void **state)
{
    (void)state;
    harness_t raw, layer;
    mfl_learn_opts_t o = weight_opts(8, 16);
    o.bias_lr = mfl_scale_from_int(1, 8);
    o.steps = 2;
    assert_int_equal(harness_init(&raw, &net.model, &o), 0);
    assert_int_equal(harness_init(&layer, &net.model, &o), 0);
    for (size_t i = 0; i < 24; i++) {
        int8_t in[PIXELS], li[MAX_INPUTS];
        const int8_t *p;
        size_t n;
        input_of(i, (int)(i % 2), in);
        assert_int_equal(mfl_learner_learn(&raw.l, in, PIXELS, train.labels[i]), 0);
        assert_int_equal(mfl_learner_layer_input(&layer.l, in, PIXELS, &p, &n), 0);
        memcpy(li, p, n);
        assert_int_equal(mfl_learner_learn_layer_input(&layer.l, li, train.labels[i]), 0);
        assert_same_state(&raw.l, &layer.l);
    }
    assert_int_equal(mfl_learner_train_buffer(&raw.l, 3), 0);
    assert_int_equal(mfl_learner_train_buffer(&layer.l, 3), 0);
    assert_same_state(&raw.l, &layer.l);
    assert_memory_not_equal(raw.l.wt.w, raw.l.wt.w_model, (size_t)raw.l.bt.inputs * FEATURES);
    mfl_learner_t *l = &raw.l;
    for (size_t i = 0; i < 32; i++) {
        int8_t in[PIXELS], from_layer[FEATURES];
        const int8_t *f, *p;
        size_t n;
        int predicted, from_features;
        input_of(i, (int)(i % 2), in);
        assert_int_equal(mfl_learner_features_from_layer_input(l, layer_of[i], from_layer), 0);
        assert_int_equal(mfl_learner_features(l, in, PIXELS, &f), 0);
        assert_memory_equal(f, from_layer, FEATURES);
        assert_int_equal(mfl_learner_layer_input(l, in, PIXELS, &p, &n), 0);
        assert_memory_equal(p, layer_of[i], n);
        assert_int_equal(mfl_learner_predict(l, in, PIXELS, &predicted), 0);
        assert_int_equal(mfl_learner_predict_features(l, from_layer, &from_features), 0);
        assert_int_equal(predicted, from_features);
    }
    /* replayed inputs: a plain FULLY_CONNECTED on the learned weights */
    for (uint16_t k = 0; k < l->replay.count; k++) {
        const int8_t *in = mfl_replay_features(&l->replay, k);
        int8_t got[FEATURES], want[FEATURES];
        int32_t acc[FEATURES];
        layer_acc(l, in, acc);
        assert_int_equal(mfl_learner_features_from_acc(l, acc, want), 0);
        assert_int_equal(mfl_learner_features_from_layer_input(l, in, got), 0);
        assert_memory_equal(got, want, FEATURES);
    }
    harness_free(&raw);
    harness_free(&layer);
}

/* mfl_learner_reset and mfl_learner_install_global go back to a global
 * head and keep the device's weights and biases (and the replay); only
 * mfl_learner_reset_bias restores the model's, after which features and
 * predictions are the model's again. */
static void test_resets_keep_or_restore_the_weights(void **state)
{
    (void)state;
    harness_t h, plain;
    mfl_learn_opts_t o = weight_opts(8, 16);
    o.bias_lr = mfl_scale_from_int(1, 8);
    const mfl_learn_opts_t po = mfl_learn_defaults();
    assert_int_equal(harness_init(&h, &net.model, &o), 0);
    assert_int_equal(harness_init(&plain, &net.model, &po), 0);
    mfl_learner_t *l = &h.l;
    const size_t n = (size_t)l->bt.inputs * FEATURES, head = (size_t)l->head.units * FEATURES;
    for (size_t i = 0; i < 24; i++) {
        assert_int_equal(mfl_learner_learn_layer_input(l, layer_of[i], label_of(i)), 0);
    }
    int16_t *master = malloc(n * 2);
    int8_t *w = malloc(n), *head_w0 = malloc(head);
    int32_t delta[FEATURES], b0[MFL_HEAD_MAX_UNITS];
    mfl_scale_t scale0[MFL_HEAD_MAX_UNITS];
    memcpy(master, l->wt.master, n * 2);
    memcpy(w, l->wt.w, n);
    memcpy(delta, l->bt.delta, sizeof(delta));
    memcpy(head_w0, l->w0, head);
    memcpy(b0, l->b0, (size_t)l->head.units * 4);
    memcpy(scale0, l->w0_scale, (size_t)l->head.units * sizeof(mfl_scale_t));
    assert_memory_not_equal(w, l->wt.w_model, n);
    const uint16_t count = l->replay.count;

    assert_int_equal(mfl_learner_reset(l), 0);
    assert_memory_equal(l->head.w, plain.l.head.w, head * 4);
    assert_memory_equal(l->wt.master, master, n * 2);
    assert_memory_equal(l->wt.w, w, n);
    assert_memory_equal(l->bt.delta, delta, sizeof(delta));
    assert_int_equal(l->replay.count, count);
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(mfl_learner_learn_layer_input(l, layer_of[30 + i], label_of(30 + i)), 0);
    }
    memcpy(master, l->wt.master, n * 2);
    memcpy(w, l->wt.w, n);
    memcpy(delta, l->bt.delta, sizeof(delta));
    assert_int_equal(mfl_learner_install_global(l, head_w0, scale0, b0, l->head.units, FEATURES), 0);
    assert_memory_equal(l->wt.master, master, n * 2);
    assert_memory_equal(l->wt.w, w, n);
    assert_memory_equal(l->bt.delta, delta, sizeof(delta));

    assert_int_equal(mfl_learner_reset_bias(l), 0);
    assert_memory_equal(l->wt.w, l->wt.w_model, n);
    for (size_t at = 0; at < n; at++) {
        assert_int_equal(l->wt.master[at], l->wt.w_model[at] * 256);
    }
    assert_int_equal(mfl_learner_reset(l), 0);
    for (size_t i = 0; i < 16; i++) {
        int8_t in[PIXELS];
        const int8_t *f, *f0;
        int label, label0;
        input_of(i, (int)(i % 2), in);
        assert_int_equal(mfl_learner_features(l, in, PIXELS, &f), 0);
        assert_int_equal(mfl_learner_features(&plain.l, in, PIXELS, &f0), 0);
        assert_memory_equal(f, f0, FEATURES);
        assert_int_equal(mfl_learner_predict(l, in, PIXELS, &label), 0);
        assert_int_equal(mfl_learner_predict(&plain.l, in, PIXELS, &label0), 0);
        assert_int_equal(label, label0);
    }
    free(master);
    free(w);
    free(head_w0);
    harness_free(&h);
    harness_free(&plain);
}

/* Features at the ends of the activation range pass no gradient: with
 * every feature clamped (biases pushed far up, then far down) the head
 * still learns and the weights do not move; with half of them clamped
 * only the other rows move, as the rule says. */
static void test_clamped_features_move_nothing(void **state)
{
    (void)state;
    harness_t h;
    const mfl_learn_opts_t o = weight_opts(8, 8); /* a large rate: any gradient would show */
    assert_int_equal(harness_init(&h, &net.model, &o), 0);
    mfl_learner_t *l = &h.l;
    const size_t n = (size_t)l->bt.inputs * FEATURES;
    fill_replay(l, 12, 0);
    for (int side = 0; side < 2; side++) {
        for (int j = 0; j < FEATURES; j++) {
            l->bt.bias[j] = side ? -(1 << 29) : 1 << 29;
        }
        const uint32_t updates = l->updates;
        int8_t x[FEATURES];
        assert_int_equal(mfl_learner_features_from_layer_input(l, layer_of[20 + side], x), 0);
        for (int j = 0; j < FEATURES; j++) {
            assert_int_equal(x[j], side ? l->bt.act_min : l->bt.act_max);
        }
        assert_int_equal(learn_and_check(l, 20 + (size_t)side, o.weight_lr), 0);
        assert_int_equal(l->updates, updates + 1);
        assert_memory_equal(l->wt.w, l->wt.w_model, n);
    }
    for (int j = 0; j < FEATURES; j++) {
        l->bt.bias[j] = j % 2 ? l->bt.bias0[j] : 1 << 29;
    }
    assert_true(learn_and_check(l, 22, o.weight_lr) > 0);
    for (int j = 0; j < FEATURES; j += 2) {
        assert_memory_equal(l->wt.w + (size_t)j * l->bt.inputs, l->wt.w_model + (size_t)j * l->bt.inputs,
                            l->bt.inputs);
    }
    harness_free(&h);
}

/* The feature layer's inputs for images 0..SAMPLES-1 (odd ones inverted),
 * as a weight-tuning learner's backbone gives them. */
static int layer_inputs(void)
{
    harness_t h;
    const mfl_learn_opts_t o = weight_opts(8, 20);
    int err = harness_init(&h, &net.model, &o);
    layer_len = h.l.bt.inputs;
    for (size_t i = 0; i < SAMPLES && !err; i++) {
        int8_t in[PIXELS];
        const int8_t *li;
        size_t n;
        input_of(i, (int)(i % 2), in);
        err = mfl_learner_layer_input(&h.l, in, PIXELS, &li, &n);
        err = err || n != layer_len || n > MAX_INPUTS || h.l.bt.features != FEATURES;
        if (!err) {
            memcpy(layer_of[i], li, n);
        }
    }
    harness_free(&h);
    return err ? -1 : 0;
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


/* A learner that has learned stays as it was, byte for byte (its memory
 * and its struct), through every call that reports an error. */
static void test_bad_calls_change_nothing(void **state)
{
    (void)state;
    harness_t h;
    mfl_learn_opts_t o = weight_opts(8, 16);
    o.bias_lr = mfl_scale_from_int(1, 8);
    assert_int_equal(harness_init(&h, &net.model, &o), 0);
    mfl_learner_t *l = &h.l;
    for (size_t i = 0; i < 12; i++) {
        assert_int_equal(mfl_learner_learn_layer_input(l, layer_of[i], label_of(i)), 0);
    }
    const size_t size = mfl_learner_mem_size_for(&net.model, REPLAY, &o);
    uint8_t *mem0 = malloc(size);
    mfl_learner_t l0;
    memcpy(mem0, h.mem, size);
    memcpy(&l0, l, sizeof(l0));
    int8_t in[PIXELS], layer[MAX_INPUTS], f[FEATURES] = {0}, target[16] = {0};
    int32_t acc[FEATURES] = {0};
    const int8_t *li;
    size_t n;
    input_of(3, 1, in);
    memcpy(layer, layer_of[3], layer_len);
    const struct {
        int got, want;
    } calls[] = {
        {mfl_learner_learn(l, in, PIXELS - 1, 1), MFL_ERR_INVALID_ARG},
        {mfl_learner_learn(l, in, PIXELS + 1, 1), MFL_ERR_INVALID_ARG},
        {mfl_learner_learn(l, NULL, PIXELS, 1), MFL_ERR_INVALID_ARG},
        {mfl_learner_learn(l, in, PIXELS, 10), MFL_ERR_LABEL},
        {mfl_learner_learn(l, in, PIXELS, 255), MFL_ERR_LABEL},
        {mfl_learner_learn_layer_input(l, layer, 10), MFL_ERR_LABEL},
        {mfl_learner_learn_layer_input(l, NULL, 1), MFL_ERR_INVALID_ARG},
        {mfl_learner_learn_layer_input(NULL, layer, 1), MFL_ERR_INVALID_ARG},
        {mfl_learner_learn_acc(l, acc, 1), MFL_ERR_LEARN_CONFIG},
        {mfl_learner_learn_features(l, f, 1), MFL_ERR_LEARN_CONFIG},
        {mfl_learner_learn_target(l, in, PIXELS, target), MFL_ERR_LEARN_CONFIG},
        {mfl_learner_learn_features_target(l, f, target), MFL_ERR_LEARN_CONFIG},
        {mfl_learner_layer_input(NULL, in, PIXELS, &li, &n), MFL_ERR_INVALID_ARG},
        {mfl_learner_layer_input(l, in, PIXELS, &li, NULL), MFL_ERR_INVALID_ARG},
        {mfl_learner_features_from_layer_input(NULL, layer, f), MFL_ERR_INVALID_ARG},
        {mfl_learner_features_from_layer_input(l, NULL, f), MFL_ERR_INVALID_ARG},
        {mfl_learner_reset_bias(NULL), MFL_ERR_INVALID_ARG},
    };
    for (size_t k = 0; k < sizeof(calls) / sizeof(calls[0]); k++) {
        assert_int_equal(calls[k].got, calls[k].want);
    }
    assert_memory_equal(h.mem, mem0, size);
    assert_memory_equal(l, &l0, sizeof(l0));
    free(mem0);
    harness_free(&h);
}

/* ---- the layer as devices would exchange it ---- */

#define LAYER_COLS(l) ((size_t)(l)->bt.inputs + 1u)

/* What install must make of value v: v / 256 rounded half away from zero
 * (in double), held to the master's range. */
static int16_t expected_master(int32_t v)
{
    const double m = round((double)v / 256.0);
    return (int16_t)(m > MASTER_HI ? MASTER_HI : m < MASTER_LO ? MASTER_LO : m);
}

/* A fresh learner reads the model's codes times 2^16 and no bias change;
 * a layer read from a learner that learned, installed into a fresh one,
 * gives it the same master, int8 weights, biases and features (head and
 * replay untouched), and reads back as it went in. */
static void test_layer_read_and_install_carry_the_layer(void **state)
{
    (void)state;
    harness_t a, b;
    mfl_learn_opts_t o = weight_opts(8, 16);
    o.bias_lr = mfl_scale_from_int(1, 8);
    assert_int_equal(harness_init(&a, &net.model, &o), 0);
    assert_int_equal(harness_init(&b, &net.model, &o), 0);
    const size_t inputs = a.l.bt.inputs, n = FEATURES * LAYER_COLS(&a.l);
    int32_t *layer = malloc(n * 4), *back = malloc(n * 4);
    assert_int_equal(mfl_learner_layer_read(&b.l, layer, n), 0);
    for (size_t j = 0; j < FEATURES; j++) {
        for (size_t i = 0; i < inputs; i++) {
            assert_int_equal(layer[j * LAYER_COLS(&a.l) + i], a.l.wt.w_model[j * inputs + i] * 65536);
        }
        assert_int_equal(layer[j * LAYER_COLS(&a.l) + inputs], 0);
    }
    for (size_t i = 0; i < 24; i++) {
        assert_int_equal(mfl_learner_learn_layer_input(&a.l, layer_of[i], train.labels[i]), 0);
    }
    assert_int_equal(mfl_learner_train_buffer(&a.l, 2), 0);
    assert_int_equal(mfl_learner_layer_read(&a.l, layer, n), 0);
    int32_t head_before[FEATURES * 10];
    memcpy(head_before, b.l.head.w, sizeof(head_before));
    assert_int_equal(mfl_learner_layer_install(&b.l, layer, n), 0);
    assert_memory_equal(b.l.wt.master, a.l.wt.master, inputs * FEATURES * 2);
    assert_memory_equal(b.l.wt.w, a.l.wt.w, inputs * FEATURES);
    assert_memory_equal(b.l.bt.delta, a.l.bt.delta, FEATURES * 4);
    assert_memory_equal(b.l.bt.bias, a.l.bt.bias, FEATURES * 4);
    assert_memory_equal(b.l.head.w, head_before, sizeof(head_before));
    assert_int_equal(b.l.replay.count, 0);
    assert_int_equal(b.l.samples, 0);
    for (size_t i = 0; i < SAMPLES; i++) {
        int8_t fa[FEATURES], fb[FEATURES];
        assert_int_equal(mfl_learner_features_from_layer_input(&a.l, layer_of[i], fa), 0);
        assert_int_equal(mfl_learner_features_from_layer_input(&b.l, layer_of[i], fb), 0);
        assert_memory_equal(fa, fb, FEATURES);
    }
    assert_int_equal(mfl_learner_layer_read(&b.l, back, n), 0);
    assert_memory_equal(back, layer, n * 4);
    /* back to the model's layer */
    assert_int_equal(mfl_learner_reset_bias(&b.l), 0);
    assert_memory_equal(b.l.wt.w, b.l.wt.w_model, inputs * FEATURES);
    free(layer);
    free(back);
    harness_free(&a);
    harness_free(&b);
}

/* Values between the master's steps round half away from zero, values
 * past its range (up to int32's ends) are held to it, the int8 weights are
 * the master's rounding, and each bias is its model bias plus the change
 * in accumulator units (against double). */
static void test_layer_install_rounds_and_holds(void **state)
{
    (void)state;
    harness_t h;
    mfl_learn_opts_t o = weight_opts(8, 16);
    assert_int_equal(harness_init(&h, &net.model, &o), 0);
    mfl_learner_t *l = &h.l;
    const size_t inputs = l->bt.inputs, cols = LAYER_COLS(l), n = FEATURES * cols;
    int32_t *layer = malloc(n * 4);
    static const int32_t probes[] = {0,       127,         128,          -128,     -129,     255,
                                     256 * 5 + 128, -256 * 5 - 128, 32639 * 256, 32640 * 256, -32640 * 256,
                                     -32641 * 256 - 200, INT32_MAX, INT32_MIN, 1 << 30, -(1 << 30)};
    const size_t n_probes = sizeof(probes) / sizeof(probes[0]);
    for (size_t j = 0; j < FEATURES; j++) {
        for (size_t i = 0; i < inputs; i++) {
            /* a small offset, held to int32 at the probes at its ends */
            const int64_t v = (int64_t)probes[(j * inputs + i) % n_probes] + (int64_t)((i % 7) * 3) - 9;
            layer[j * cols + i] = (int32_t)(v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : v);
        }
        layer[j * cols + inputs] = (int32_t)((j % 2 ? -1 : 1) * (int32_t)j * 1234567);
    }
    layer[0] = INT32_MAX; /* the ends themselves */
    layer[1] = INT32_MIN;
    assert_int_equal(mfl_learner_layer_install(l, layer, n), 0);
    for (size_t j = 0; j < FEATURES; j++) {
        for (size_t i = 0; i < inputs; i++) {
            const int16_t m = expected_master(layer[j * cols + i]);
            assert_int_equal(l->wt.master[j * inputs + i], m);
            assert_int_equal(l->wt.w[j * inputs + i], (int)floor((m + 128) / 256.0));
            assert_true(l->wt.w[j * inputs + i] >= -127);
        }
        const int32_t d = layer[j * cols + inputs];
        assert_int_equal(l->bt.delta[j], d);
        const double want = (double)l->bt.bias0[j] + scale_value(l->bt.to_acc[j]) * d;
        assert_true(fabs((double)l->bt.bias[j] - want) <= 1.0);
    }
    assert_int_equal(l->wt.master[0], MASTER_HI);
    assert_int_equal(l->wt.master[1], MASTER_LO);
    free(layer);
    harness_free(&h);
}

/* A head-only or bias-only learner has no layer to exchange, a tensor of
 * another size is refused, and a refused call changes nothing. */
static void test_layer_exchange_errors(void **state)
{
    (void)state;
    harness_t h, plain;
    mfl_learn_opts_t o = weight_opts(8, 16);
    assert_int_equal(harness_init(&h, &net.model, &o), 0);
    mfl_learn_opts_t po = mfl_learn_defaults();
    po.bias_lr = mfl_scale_from_int(1, 8);
    assert_int_equal(harness_init(&plain, &net.model, &po), 0);
    const size_t n = FEATURES * LAYER_COLS(&h.l);
    int32_t *layer = calloc(n + 1, 4);
    int16_t *master = malloc(n * 2);
    memcpy(master, h.l.wt.master, (size_t)h.l.bt.inputs * FEATURES * 2);
    assert_int_equal(mfl_learner_layer_read(&plain.l, layer, n), MFL_ERR_LEARN_CONFIG);
    assert_int_equal(mfl_learner_layer_install(&plain.l, layer, n), MFL_ERR_LEARN_CONFIG);
    assert_int_equal(mfl_learner_layer_install(&h.l, layer, n - 1), MFL_ERR_PROTO_DIMENSION);
    assert_int_equal(mfl_learner_layer_install(&h.l, layer, n + 1), MFL_ERR_PROTO_DIMENSION);
    assert_int_equal(mfl_learner_layer_read(&h.l, layer, n - 1), MFL_ERR_PROTO_DIMENSION);
    assert_int_equal(mfl_learner_layer_install(&h.l, NULL, n), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_learner_layer_read(&h.l, NULL, n), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_learner_layer_read(NULL, layer, n), MFL_ERR_INVALID_ARG);
    assert_memory_equal(h.l.wt.master, master, (size_t)h.l.bt.inputs * FEATURES * 2);
    assert_memory_equal(h.l.wt.w, h.l.wt.w_model, (size_t)h.l.bt.inputs * FEATURES);
    for (size_t k = 0; k < n + 1; k++) {
        assert_int_equal(layer[k], 0); /* nothing read on a refused read */
    }
    free(layer);
    free(master);
    harness_free(&h);
    harness_free(&plain);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_untouched_weights_are_the_kernels),
        cmocka_unit_test(test_one_step_against_double),
        cmocka_unit_test(test_every_batch_against_the_rule),
        cmocka_unit_test(test_rates_at_the_extremes),
        cmocka_unit_test(test_rate_exponents_at_their_limits),
        cmocka_unit_test(test_memory_is_exact),
        cmocka_unit_test(test_raw_and_layer_inputs_learn_alike),
        cmocka_unit_test(test_resets_keep_or_restore_the_weights),
        cmocka_unit_test(test_clamped_features_move_nothing),
        cmocka_unit_test(test_learns_beyond_the_head_and_resets),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_bad_calls_change_nothing),
        cmocka_unit_test(test_layer_read_and_install_carry_the_layer),
        cmocka_unit_test(test_layer_install_rounds_and_holds),
        cmocka_unit_test(test_layer_exchange_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
