/*
 * The learner on more heads (issue 16):
 *  - classifiers whose last FULLY_CONNECTED is followed by SOFTMAX, by a
 *    DEQUANTIZE taken off at the import, or by nothing: small .tflite
 *    models built here, imported, learned on; the learned int8 head's
 *    outputs against a double-precision recomputation from the learner's
 *    own int8 head and from its Q8.24 master, predictions against the
 *    master's, and mfl_learner_infer's output against the head run (the
 *    SOFTMAX's against a double-precision softmax of the head's output);
 *  - the mean-squared-error step (mfl_head_sgd_step_mse) against the same
 *    step in double precision from the same master, on random heads up to
 *    700 units wide, every weight and bias within the error bound the
 *    number formats give;
 *  - the MLPerf Tiny AD autoencoder (640 x 128 head): imports, a
 *    regression learner initialises in mfl_learner_mem_size_for() bytes,
 *    is bit-exact with the interpreter before learning, one SGD step
 *    matches the double-precision step, and learning frames of a shifted
 *    "normal" distribution lowers their reconstruction error on held-out
 *    frames of it;
 *  - every error of the new calls.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/error.h"
#include "mfl/host/tflite_import.h"
#include "mfl/learner.h"
#include "test_support.h"
#include "tflite_builder.h"

static double sc(mfl_scale_t s)
{
    return ldexp((double)s.m, s.e - 31);
}

static uint32_t rng = 12345;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static int rnd(int lo, int hi) /* uniform in [lo, hi] */
{
    return lo + (int)(next() % (uint32_t)(hi - lo + 1));
}

/* ---- small classifiers: input [1,16] -FC+RELU-> [1,12] -FC-> [1,4] -tail-> ---- */

#define IN 16
#define HID 12
#define UNITS 4

enum { TAIL_NONE, TAIL_SOFTMAX, TAIL_DEQUANTIZE };

typedef struct {
    uint8_t *image;
    size_t size;
    mfl_model_t model;
} built_t;

static void build_classifier(int tail, built_t *b)
{
    static int8_t w1[HID * IN], w2[UNITS * HID];
    static int32_t b1[HID], b2[UNITS];
    rng = 777;
    for (int i = 0; i < HID * IN; i++) {
        w1[i] = (int8_t)rnd(-127, 127);
    }
    for (int i = 0; i < UNITS * HID; i++) {
        w2[i] = (int8_t)rnd(-127, 127);
    }
    for (int i = 0; i < HID; i++) {
        b1[i] = rnd(-2000, 2000);
    }
    for (int i = 0; i < UNITS; i++) {
        b2[i] = rnd(-500, 500);
    }
    const float s_in = 0.05f, s_w1 = 0.02f, s_feat = 0.04f, s_out = 0.1f;
    const float s_w2[UNITS] = {0.01f, 0.012f, 0.008f, 0.015f};
    tb_tensor_t t[8] = {
        {9, 2, {1, IN}, 1, {s_in}, {-3}, 0, NULL, 0},
        {9, 2, {HID, IN}, 1, {s_w1}, {0}, 0, w1, sizeof(w1)},
        {2, 1, {HID}, 1, {s_in * s_w1}, {0}, 0, b1, sizeof(b1)},
        {9, 2, {1, HID}, 1, {s_feat}, {-128}, 0, NULL, 0},
        {9, 2, {UNITS, HID}, UNITS, {s_w2[0], s_w2[1], s_w2[2], s_w2[3]}, {0, 0, 0, 0}, 0, w2, sizeof(w2)},
        {2, 1, {UNITS}, UNITS, {s_feat * s_w2[0], s_feat * s_w2[1], s_feat * s_w2[2], s_feat * s_w2[3]}, {0, 0, 0, 0}, 0,
         b2, sizeof(b2)},
        {9, 2, {1, UNITS}, 1, {s_out}, {5}, 0, NULL, 0},
        {9, 2, {1, UNITS}, 1, {1.0f / 256}, {-128}, 0, NULL, 0},
    };
    if (tail == TAIL_DEQUANTIZE) {
        t[7] = (tb_tensor_t){0, 2, {1, UNITS}, 0, {0}, {0}, 0, NULL, 0};
    }
    const tb_op_t ops[3] = {
        {9, 3, {0, 1, 2}, 3, 8, 1, {{TB_U8, 1, 0}}}, /* RELU */
        {9, 3, {3, 4, 5}, 6, 8, 1, {{TB_U8, 0, 0}}},
        tail == TAIL_SOFTMAX ? (tb_op_t){25, 1, {6}, 7, 9, 1, {{TB_F32, 0, 1.0f}}} : (tb_op_t){6, 1, {6}, 7, 0, 0, {{0}}},
    };
    const tb_model_t m = {3, 1, t, 8, ops, tail == TAIL_NONE ? 2 : 3, 0, tail == TAIL_NONE ? 6 : 7};
    uint8_t *file;
    size_t len;
    char msg[256] = "";
    tb_build(&m, &file, &len);
    const int err = mfl_tflite_import(file, len, &b->image, &b->size, msg, sizeof(msg));
    free(file);
    if (err) {
        fail_msg("import failed: %s", msg);
    }
    assert_int_equal(mfl_model_load(&b->model, b->image, b->size), 0);
}

/* A class's inputs: its own mean pattern plus noise. */
static void class_input(int label, int8_t *in)
{
    for (int j = 0; j < IN; j++) {
        const int mean = ((j * 7 + label * 13) % 16 - 8) * 10;
        in[j] = (int8_t)(mean + rnd(-25, 25));
    }
}

/* The master's logits in double: b + s_x W (q - zp_x). */
static void master_logits(const mfl_learner_t *l, const int8_t *f, double *z)
{
    const mfl_head_t *h = &l->head;
    for (int i = 0; i < h->units; i++) {
        double acc = 0;
        for (int j = 0; j < h->features; j++) {
            acc += ldexp(h->w[i * h->features + j], -24) * (f[j] - h->feature_zp);
        }
        z[i] = ldexp(h->b[i], -24) + sc(h->feature_scale) * acc;
    }
}

static void check_classifier(int tail)
{
    built_t b;
    build_classifier(tail, &b);
    const mfl_model_t *m = &b.model;
    assert_int_equal(m->header->head_op, 1);
    assert_int_equal(m->header->n_ops, tail == TAIL_SOFTMAX ? 3 : 2); /* DEQUANTIZE is taken off */
    mfl_learn_opts_t o = mfl_learn_defaults();
    o.lr = mfl_scale_from_int(1, 3); /* 0.125 */
    o.batch = 4;
    const size_t mem_size = mfl_learner_mem_size(m, 32, 4);
    assert_true(mem_size > 0 && mem_size == mfl_learner_mem_size_for(m, 32, &o));
    uint8_t *arena = malloc(mfl_model_arena_size(m)), *arena2 = malloc(mfl_model_arena_size(m));
    uint8_t *mem = aligned_alloc(8, (mem_size + 7) & ~(size_t)7);
    mfl_learner_t l;
    assert_int_equal(mfl_learner_init(&l, m, arena, mfl_model_arena_size(m), mem, mem_size, 32, &o), 0);
    mfl_interp_t it;
    assert_int_equal(mfl_interp_init(&it, m, arena2, mfl_model_arena_size(m)), 0);
    int8_t in[IN];
    /* before learning: the learner is the interpreter, bit for bit */
    rng = 99;
    for (int k = 0; k < 10; k++) {
        int8_t *buf;
        size_t n, n2;
        const int8_t *out, *out2;
        class_input(k % UNITS, in);
        assert_int_equal(mfl_interp_input(&it, &buf, &n), 0);
        memcpy(buf, in, IN);
        assert_int_equal(mfl_interp_invoke(&it), 0);
        assert_int_equal(mfl_interp_output(&it, &out, &n), 0);
        assert_int_equal(mfl_learner_infer(&l, in, IN, &out2, &n2), 0);
        assert_int_equal(n, n2);
        assert_memory_equal(out, out2, n);
    }
    /* learn 80 labelled inputs, then 10 epochs over the buffer */
    int before = 0, after = 0;
    rng = 2024;
    for (int k = 0; k < 80; k++) {
        int label;
        class_input(k % UNITS, in);
        assert_int_equal(mfl_learner_predict(&l, in, IN, &label), 0);
        before += label == k % UNITS;
        assert_int_equal(mfl_learner_learn(&l, in, IN, (uint8_t)(k % UNITS)), 0);
    }
    assert_int_equal(mfl_learner_train_buffer(&l, 10), 0);
    assert_int_equal(mfl_learner_requantize(&l), 0);
    const double s_x = sc(l.head.feature_scale), s_out = sc(l.head.output_scale);
    int agree = 0, compared = 0;
    for (int k = 0; k < 40; k++) {
        const int8_t *fp, *out;
        int8_t f[HID], head[UNITS];
        size_t n;
        int label;
        double zm[UNITS];
        class_input(k % UNITS, in);
        assert_int_equal(mfl_learner_features(&l, in, IN, &fp), 0);
        memcpy(f, fp, HID);
        assert_int_equal(mfl_learner_head_output(&l, f, head), 0);
        master_logits(&l, f, zm);
        for (int i = 0; i < UNITS; i++) {
            /* the kernel on the int8 head against the same int8 head in double: within one step of
             * rounding (the multiplier's Q31 rounding and the output's) */
            const double s_w = sc(l.q.scale[i]);
            double acc = l.q.bias[i];
            for (int j = 0; j < HID; j++) {
                acc += l.q.w[i * HID + j] * (f[j] - l.head.feature_zp);
            }
            double q = nearbyint(acc * s_x * s_w / s_out) + l.head.output_zp;
            q = q < -128 ? -128 : q > 127 ? 127 : q;
            assert_true(fabs(q - head[i]) <= 1);
            /* the int8 head against the master it was requantized from: each weight within half a
             * step of its row's scale, the bias within half of s_x s_w, plus the output's rounding */
            double bound = 0.5 * s_x * s_w + 0.5 * s_out + 1e-9;
            for (int j = 0; j < HID; j++) {
                bound += 0.5 * s_w * s_x * abs(f[j] - l.head.feature_zp);
            }
            double qm = zm[i] / s_out + l.head.output_zp;
            qm = qm < -128 ? -128 : qm > 127 ? 127 : qm;
            assert_true(fabs(qm - head[i]) <= bound / s_out + 0.5 + 1e-9);
        }
        /* predictions: the head's argmax, and the master's where its margin beats the error */
        assert_int_equal(mfl_learner_predict(&l, in, IN, &label), 0);
        int best = 0, second = -1;
        for (int i = 1; i < UNITS; i++) {
            best = head[i] > head[best] ? i : best;
        }
        assert_int_equal(label, best);
        int mb = 0;
        for (int i = 1; i < UNITS; i++) {
            mb = zm[i] > zm[mb] ? i : mb;
        }
        for (int i = 0; i < UNITS; i++) {
            second = i != mb && (second < 0 || zm[i] > zm[second]) ? i : second;
        }
        if (zm[mb] - zm[second] > 4 * s_out) {
            compared++;
            agree += label == mb;
        }
        after += label == k % UNITS;
        /* infer's output after learning: the head run, then what follows it */
        assert_int_equal(mfl_learner_infer(&l, in, IN, &out, &n), 0);
        assert_int_equal(n, UNITS);
        if (tail != TAIL_SOFTMAX) {
            assert_memory_equal(out, head, UNITS);
        } else {
            double e[UNITS], sum = 0;
            for (int i = 0; i < UNITS; i++) {
                e[i] = exp(s_out * (head[i] - head[best]));
                sum += e[i];
            }
            for (int i = 0; i < UNITS; i++) {
                double p = nearbyint(256 * e[i] / sum) - 128;
                p = p > 127 ? 127 : p;
                assert_true(fabs(p - out[i]) <= 1);
            }
        }
    }
    print_message("tail %d: %d/80 right while learning, %d/40 after; %d/%d of the master's clear predictions kept\n",
                  tail, before, after, agree, compared);
    assert_true(after >= 36);
    assert_true(compared >= 20 && agree == compared);
    free(arena);
    free(arena2);
    free(mem);
    free(b.image);
}

static void test_fc_then_nothing(void **state)
{
    (void)state;
    check_classifier(TAIL_NONE);
}

static void test_fc_then_softmax(void **state)
{
    (void)state;
    check_classifier(TAIL_SOFTMAX);
}

static void test_fc_then_dequantize(void **state)
{
    (void)state;
    check_classifier(TAIL_DEQUANTIZE);
}

/* ---- the mean-squared-error step against double precision ---- */

static double sat(double v) /* the master saturates */
{
    return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : v;
}

/* Checks one MSE step (before -> after) against the same step in double
 * precision from the same master, within the error the formats allow:
 * the logits from the 16-bit shadow (each weight within 2^(t-1) of the
 * master, t from its row's largest; the sum's scaling truncates below
 * 2^-16), the errors on the batch's exponent (within 1.5 2^sh, rounded
 * twice, plus the int16 clamp), and the change's own rounding (1 unit).
 * Returns the largest share of its bound any change used. */
static double check_mse_step(const mfl_head_t *before, const mfl_head_t *after, const int8_t *const *x,
                             const int8_t *const *t, int batch, mfl_scale_t lr, int sh)
{
    const int U = before->units, F = before->features;
    const double s_x = sc(before->feature_scale), s_out = sc(before->output_scale), rate = sc(lr);
    const double lo = s_out * (before->act_min - before->output_zp), hi = s_out * (before->act_max - before->output_zp);
    double *g = calloc((size_t)U * batch, sizeof(double)), *ge = calloc((size_t)U * batch, sizeof(double));
    if (sh < 0) { /* the step's exponent, from the errors in double (one more at a power of two's edge) */
        double most = 0;
        for (int i = 0; i < U; i++) {
            for (int k = 0; k < batch; k++) {
                double z = ldexp(before->b[i], -24);
                for (int j = 0; j < F; j++) {
                    z += s_x * ldexp(before->w[(size_t)i * F + j], -24) * (x[k][j] - before->feature_zp);
                }
                z = z < lo ? lo : z > hi ? hi : z;
                most = fmax(most, fabs(z - s_out * (t[k][i] - before->output_zp)) * 16777216.0);
            }
        }
        const int length = most >= 1 ? (int)floor(log2(most)) + 1 : 0;
        sh = (length > 15 ? length - 15 : 0) + 1;
    }
    for (int i = 0; i < U; i++) {
        const int32_t *w = before->w + (size_t)i * F;
        uint32_t bits = 0;
        for (int j = 0; j < F; j++) {
            bits |= (uint32_t)(w[j] ^ (w[j] >> 31));
        }
        const int length = bits ? 32 - __builtin_clz(bits) : 0, tt = length > 15 ? length - 14 : 1;
        for (int k = 0; k < batch; k++) {
            double acc = 0, xabs = 0;
            for (int j = 0; j < F; j++) {
                acc += ldexp(w[j], -24) * (x[k][j] - before->feature_zp);
                xabs += abs(x[k][j] - before->feature_zp);
            }
            const double z = ldexp(before->b[i], -24) + s_x * acc;
            const double y = z < lo ? lo : z > hi ? hi : z;
            const double target = s_out * (t[k][i] - before->output_zp);
            g[(size_t)i * batch + k] = 2 * (y - target) / U;
            /* error of the gradient: logit error (shadow, scaling) and the int16 rounding */
            const double ez = s_x * xabs * ldexp(1, tt - 1 - 24) + ldexp(1, -15);
            ge[(size_t)i * batch + k] = 2 * (ez + ldexp(1.5, sh - 24)) / U;
        }
    }
    double worst = 0;
    for (int i = 0; i < U; i++) {
        double db = 0, eb = 0;
        for (int k = 0; k < batch; k++) {
            db += g[(size_t)i * batch + k];
            eb += ge[(size_t)i * batch + k];
        }
        const double want_b = sat(before->b[i] - rate / batch * db * 16777216.0) - before->b[i];
        const double got_b = (double)after->b[i] - before->b[i];
        const double bound_b = rate / batch * eb * 16777216.0 + 1.5;
        if (fabs(got_b - want_b) > bound_b) {
            fail_msg("unit %d bias: change %.1f, double %.1f, bound %.1f", i, got_b, want_b, bound_b);
        }
        worst = fmax(worst, fabs(got_b - want_b) / bound_b);
        for (int j = 0; j < F; j++) {
            double dw = 0, ew = 0;
            for (int k = 0; k < batch; k++) {
                const double xt = s_x * (x[k][j] - before->feature_zp);
                dw += g[(size_t)i * batch + k] * xt;
                ew += ge[(size_t)i * batch + k] * fabs(xt);
            }
            const double want = sat(before->w[(size_t)i * F + j] - rate / batch * dw * 16777216.0) -
                                before->w[(size_t)i * F + j];
            const double got = (double)after->w[(size_t)i * F + j] - before->w[(size_t)i * F + j];
            const double bound = rate / batch * ew * 16777216.0 + 1.5;
            if (fabs(got - want) > bound) {
                fail_msg("unit %d feature %d: change %.1f, double %.1f, bound %.1f", i, j, got, want, bound);
            }
            worst = fmax(worst, fabs(got - want) / bound);
        }
    }
    free(g);
    free(ge);
    return worst;
}

static void test_mse_step_against_double(void **state)
{
    (void)state;
    double worst = 0;
    rng = 4242;
    for (int trial = 0; trial < 60; trial++) {
        const int U = trial % 10 == 0 ? 700 : rnd(1, 80), F = rnd(1, 140), B = rnd(1, 9);
        mfl_head_t h = {
            .units = (uint16_t)U, .features = (uint16_t)F, .feature_zp = rnd(-128, 20),
            .feature_scale = mfl_scale_from_int((uint64_t)rnd(1, 200), 10), /* 0.001 .. 0.2 */
            .output_scale = mfl_scale_from_int((uint64_t)rnd(10, 400), 10), /* 0.01 .. 0.4 */
            .act_min = trial % 3 == 0 ? rnd(-128, 0) : -128, .act_max = 127, .output_zp = rnd(-50, 50),
        };
        const size_t n = (size_t)U * F;
        h.w = malloc(n * 4);
        h.b = malloc((size_t)U * 4);
        int32_t *w0 = malloc(n * 4), *b0 = malloc((size_t)U * 4);
        const int mag = rnd(18, 27); /* weights up to 2^-6 .. 8 */
        for (size_t j = 0; j < n; j++) {
            h.w[j] = (int32_t)(next() >> (32 - mag)) - (1 << (mag - 1));
        }
        for (int i = 0; i < U; i++) {
            h.b[i] = (int32_t)(next() >> 6) - (1 << 25);
        }
        memcpy(w0, h.w, n * 4);
        memcpy(b0, h.b, (size_t)U * 4);
        int8_t *xs = malloc((size_t)B * F), *ts = malloc((size_t)B * U);
        const int8_t *x[16], *t[16];
        for (int k = 0; k < B; k++) {
            for (int j = 0; j < F; j++) {
                xs[k * F + j] = (int8_t)rnd(-128, 127);
            }
            for (int i = 0; i < U; i++) {
                ts[k * U + i] = (int8_t)rnd(-128, 127);
            }
            x[k] = xs + k * F;
            t[k] = ts + k * U;
        }
        const mfl_scale_t lr = mfl_scale_from_int((uint64_t)rnd(1, 4000), 10); /* 0.001 .. 4 */
        void *scratch = aligned_alloc(8, (mfl_head_mse_scratch_size((uint16_t)U, (uint16_t)F, B) + 7) & ~(size_t)7);
        int sh = -1;
        assert_int_equal(mfl_head_sgd_step_mse(&h, x, t, B, lr, scratch, NULL, NULL, 0, &sh), 0);
        assert_true(sh >= 0 && sh <= 17);
        const mfl_head_t before = {h.units, h.features, h.feature_zp, h.feature_scale, h.output_scale,
                                   h.act_min, h.act_max, h.output_zp, w0, b0};
        worst = fmax(worst, check_mse_step(&before, &h, x, t, B, lr, sh));
        free(h.w), free(h.b), free(w0), free(b0), free(xs), free(ts), free(scratch);
    }
    print_message("MSE step vs double on 60 heads: the worst change used %.0f %% of its bound\n", 100 * worst);
}

static void test_mse_step_errors(void **state)
{
    (void)state;
    int32_t w[4] = {0}, b[1] = {0};
    mfl_head_t h = {.units = 1, .features = 4, .feature_scale = {1 << 30, 0}, .output_scale = {1 << 30, 0},
                    .act_min = -128, .act_max = 127, .w = w, .b = b};
    const int8_t xv[4] = {1, 2, 3, 4}, tv[1] = {5};
    const int8_t *x[1] = {xv}, *t[1] = {tv}, *none[1] = {NULL};
    uint64_t scratch[64];
    const mfl_scale_t lr = mfl_scale_from_int(1, 4);
    assert_true(mfl_head_mse_scratch_size(1, 4, 1) <= sizeof(scratch));
    assert_int_equal(mfl_head_sgd_step_mse(&h, x, t, 0, lr, scratch, NULL, NULL, 0, NULL), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_head_sgd_step_mse(&h, x, t, 65, lr, scratch, NULL, NULL, 0, NULL), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_head_sgd_step_mse(&h, x, NULL, 1, lr, scratch, NULL, NULL, 0, NULL), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_head_sgd_step_mse(&h, x, none, 1, lr, scratch, NULL, NULL, 0, NULL), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_head_sgd_step_mse(&h, x, t, 1, lr, scratch, xv, NULL, 5, NULL), MFL_ERR_INVALID_ARG);
    h.units = MFL_HEAD_MAX_UNITS_MSE + 1;
    assert_int_equal(mfl_head_sgd_step_mse(&h, x, t, 1, lr, scratch, NULL, NULL, 0, NULL), MFL_ERR_INVALID_ARG);
    h.units = 1;
    assert_true(w[0] == 0 && b[0] == 0); /* refused steps leave the head alone */
    assert_int_equal(mfl_head_sgd_step_mse(&h, x, t, 1, lr, scratch, NULL, NULL, 0, NULL), 0);
    assert_true(b[0] > 0); /* the output 0 is below the target 5: the bias goes up */
}

/* ---- the MLPerf Tiny AD autoencoder ---- */

#define AD_LEN 640

static uint8_t *ad_image;
static size_t ad_size;
static mfl_model_t ad;

/* A "normal" frame of the device's machine: a fixed pattern (a spectral
 * shape with a hum line, repeated over the 5 frames) plus noise, in the
 * input's codes; unlike anything the model was made on. */
static void ad_frame(int8_t *x)
{
    for (int i = 0; i < AD_LEN; i++) {
        const int bin = i % 128;
        const int shape = 40 - bin / 3 + (bin == 17 || bin == 18 ? 50 : 0) + ((bin / 8) % 2) * 12;
        const int v = shape + rnd(-6, 6);
        x[i] = (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v);
    }
}

/* Reconstruction error of one frame in real units, from the learner's
 * output: mean over the 640 values of (s_out (y - zp_out) - s_in (x - zp_in))^2. */
static double ad_error(mfl_learner_t *l, const int8_t *x)
{
    const int8_t *out;
    size_t n;
    mfl_io_info_t in, o;
    assert_int_equal(mfl_model_input_info(&ad, 0, &in), 0);
    assert_int_equal(mfl_model_output_info(&ad, 0, &o), 0);
    assert_int_equal(mfl_learner_infer(l, x, AD_LEN, &out, &n), 0);
    assert_int_equal(n, AD_LEN);
    double e = 0;
    for (int i = 0; i < AD_LEN; i++) {
        const double d = sc(o.scale) * (out[i] - o.zero_point) - sc(in.scale) * (x[i] - in.zero_point);
        e += d * d;
    }
    return e / AD_LEN;
}

static mfl_learn_opts_t ad_opts(uint16_t batch)
{
    mfl_learn_opts_t o = mfl_learn_defaults();
    o.loss = MFL_LOSS_MSE;
    o.batch = batch;
    o.lr = mfl_scale_from_int(1, 1); /* 0.5: each row's step is lr 2 / 640 */
    return o;
}

static void test_ad_model_imports_and_learner_initialises(void **state)
{
    (void)state;
    assert_int_equal(ad.header->head_op, 9);
    assert_int_equal(mfl_learner_mem_size(&ad, 16, 8), 0); /* 640 units: no classifier */
    const mfl_learn_opts_t o = ad_opts(8);
    const size_t size = mfl_learner_mem_size_for(&ad, 16, &o);
    print_message("AD head 640 x 128, batch 8, 16 replay entries: %zu bytes of learner memory\n", size);
    assert_true(size > 8 * 640 * 128);
    uint8_t *arena = malloc(mfl_model_arena_size(&ad)), *arena2 = malloc(mfl_model_arena_size(&ad));
    uint8_t *mem = aligned_alloc(8, size);
    mfl_learner_t l;
    mfl_learn_opts_t ce = mfl_learn_defaults();
    assert_int_equal(mfl_learner_init(&l, &ad, arena, mfl_model_arena_size(&ad), mem, size, 16, &ce),
                     MFL_ERR_LEARN_CONFIG);
    assert_int_equal(mfl_learner_init(&l, &ad, arena, mfl_model_arena_size(&ad), mem, size - 8, 16, &o),
                     MFL_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(mfl_learner_init(&l, &ad, arena, mfl_model_arena_size(&ad), mem, size, 16, &o), 0);
    /* fresh: bit-exact with the interpreter */
    mfl_interp_t it;
    assert_int_equal(mfl_interp_init(&it, &ad, arena2, mfl_model_arena_size(&ad)), 0);
    rng = 5;
    for (int k = 0; k < 4; k++) {
        int8_t x[AD_LEN], *buf;
        const int8_t *a, *b;
        size_t n, n2;
        ad_frame(x);
        assert_int_equal(mfl_interp_input(&it, &buf, &n), 0);
        memcpy(buf, x, AD_LEN);
        assert_int_equal(mfl_interp_invoke(&it), 0);
        assert_int_equal(mfl_interp_output(&it, &a, &n), 0);
        assert_int_equal(mfl_learner_infer(&l, x, AD_LEN, &b, &n2), 0);
        assert_memory_equal(a, b, AD_LEN);
    }
    free(arena);
    free(arena2);
    free(mem);
}

static void test_ad_one_step_against_double(void **state)
{
    (void)state;
    for (uint16_t batch = 1; batch <= 8; batch += 7) {
        const mfl_learn_opts_t o = ad_opts(batch);
        const size_t size = mfl_learner_mem_size_for(&ad, 16, &o);
        uint8_t *arena = malloc(mfl_model_arena_size(&ad)), *mem = aligned_alloc(8, size);
        mfl_learner_t l;
        assert_int_equal(mfl_learner_init(&l, &ad, arena, mfl_model_arena_size(&ad), mem, size, 16, &o), 0);
        /* fill the buffer with batch - 1 frames and make the step's batch the new frame and those */
        static int8_t feats[8][128], targets[8][AD_LEN];
        rng = 77;
        for (int k = 0; k < batch; k++) {
            int8_t x[AD_LEN];
            const int8_t *f;
            ad_frame(x);
            assert_int_equal(mfl_learner_target_from_input(&l, x, AD_LEN, targets[k]), 0);
            assert_int_equal(mfl_learner_features(&l, x, AD_LEN, &f), 0);
            memcpy(feats[k], f, 128);
        }
        mfl_head_t before = l.head;
        before.w = malloc((size_t)640 * 128 * 4);
        before.b = malloc(640 * 4);
        for (int k = 1; k < batch; k++) {
            int8_t entry[128 + AD_LEN];
            memcpy(entry, feats[k], 128);
            memcpy(entry + 128, targets[k], AD_LEN);
            mfl_replay_add(&l.replay, entry, 0);
        }
        memcpy(before.w, l.head.w, (size_t)640 * 128 * 4);
        memcpy(before.b, l.head.b, 640 * 4);
        assert_int_equal(mfl_learner_learn_features_target(&l, feats[0], targets[0]), 0);
        /* the batch the step ran: the new frame, then batch - 1 picks from the buffer, which holds
         * exactly the other frames; the double step sums over the batch, so repeats matter: redo
         * the picks with the buffer's generator */
        const int8_t *x[8], *t[8];
        x[0] = feats[0];
        t[0] = targets[0];
        if (batch > 1) {
            mfl_replay_t r = l.replay;
            r.rng = o.seed ^ 0xA5A5A5A5u; /* the buffer's seed: no pick was made before this step */
            r.count = (uint16_t)(batch - 1);  /* the new frame joined the buffer after the step */
            for (int k = 1; k < batch; k++) {
                const uint16_t pick = mfl_replay_pick(&r);
                x[k] = feats[1 + pick];
                t[k] = targets[1 + pick];
            }
        }
        const double worst = check_mse_step(&before, &l.head, x, t, batch, o.lr, -1);
        print_message("AD one step, batch %d: the worst change used %.1f %% of its bound\n", batch, 100 * worst);
        free(before.w);
        free(before.b);
        free(arena);
        free(mem);
    }
}

static void test_ad_learning_lowers_reconstruction_error(void **state)
{
    (void)state;
    const mfl_learn_opts_t o = ad_opts(8);
    const size_t size = mfl_learner_mem_size_for(&ad, 16, &o);
    uint8_t *arena = malloc(mfl_model_arena_size(&ad)), *mem = aligned_alloc(8, size);
    mfl_learner_t l;
    assert_int_equal(mfl_learner_init(&l, &ad, arena, mfl_model_arena_size(&ad), mem, size, 16, &o), 0);
    static int8_t held[20][AD_LEN];
    rng = 31337;
    double before = 0, after = 0;
    for (int k = 0; k < 20; k++) {
        ad_frame(held[k]);
        before += ad_error(&l, held[k]) / 20;
    }
    const double first = ad_error(&l, held[0]);
    for (int k = 0; k < 48; k++) {
        int8_t x[AD_LEN], t[AD_LEN];
        ad_frame(x);
        assert_int_equal(mfl_learner_target_from_input(&l, x, AD_LEN, t), 0);
        assert_int_equal(mfl_learner_learn_target(&l, x, AD_LEN, t), 0);
    }
    for (int k = 0; k < 20; k++) {
        after += ad_error(&l, held[k]) / 20;
    }
    print_message("AD reconstruction MSE on 20 held-out shifted frames: %.3f before, %.3f after 48 frames\n", before,
                  after);
    assert_true(after < 0.5 * before);
    /* reset: the model's head again, bit for bit */
    assert_int_equal(mfl_learner_reset(&l), 0);
    assert_true(ad_error(&l, held[0]) == first);
    free(arena);
    free(mem);
}

static void test_regression_errors(void **state)
{
    (void)state;
    const mfl_learn_opts_t o = ad_opts(8);
    const size_t size = mfl_learner_mem_size_for(&ad, 4, &o);
    uint8_t *arena = malloc(mfl_model_arena_size(&ad)), *mem = aligned_alloc(8, size);
    mfl_learner_t l;
    int8_t x[AD_LEN] = {0}, t[AD_LEN] = {0};
    int label;
    mfl_learn_opts_t bad = o;
    bad.bias_lr = mfl_scale_from_int(1, 4); /* bias tuning is cross-entropy only */
    assert_int_equal(mfl_learner_mem_size_for(&ad, 4, &bad), 0);
    assert_int_equal(mfl_learner_init(&l, &ad, arena, mfl_model_arena_size(&ad), mem, size, 4, &bad),
                     MFL_ERR_LEARN_CONFIG);
    bad = o;
    bad.loss = 2;
    assert_int_equal(mfl_learner_init(&l, &ad, arena, mfl_model_arena_size(&ad), mem, size, 4, &bad),
                     MFL_ERR_LEARN_CONFIG);
    assert_int_equal(mfl_learner_init(&l, &ad, arena, mfl_model_arena_size(&ad), mem, size, 4, &o), 0);
    assert_int_equal(mfl_learner_learn(&l, x, AD_LEN, 0), MFL_ERR_LEARN_CONFIG);
    assert_int_equal(mfl_learner_learn_features(&l, x, 0), MFL_ERR_LEARN_CONFIG);
    assert_int_equal(mfl_learner_predict_features(&l, x, &label), MFL_ERR_LEARN_CONFIG);
    assert_int_equal(mfl_learner_learn_target(&l, x, AD_LEN, NULL), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_learner_learn_target(&l, x, AD_LEN - 1, t), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_learner_learn_target(&l, x, AD_LEN, (const int8_t *)arena), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_learner_learn_features_target(&l, NULL, t), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_learner_target_from_input(&l, x, AD_LEN - 1, t), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_learner_target_from_input(&l, NULL, AD_LEN, t), MFL_ERR_INVALID_ARG);
    assert_int_equal(mfl_learner_head_output(&l, x, NULL), MFL_ERR_INVALID_ARG);
    /* the target from the input: the same real values in the output's codes */
    mfl_io_info_t in, out;
    assert_int_equal(mfl_model_input_info(&ad, 0, &in), 0);
    assert_int_equal(mfl_model_output_info(&ad, 0, &out), 0);
    for (int i = 0; i < AD_LEN; i++) {
        x[i] = (int8_t)(i % 256 - 128);
    }
    assert_int_equal(mfl_learner_target_from_input(&l, x, AD_LEN, t), 0);
    for (int i = 0; i < AD_LEN; i++) {
        double want = nearbyint(sc(in.scale) * (x[i] - in.zero_point) / sc(out.scale)) + out.zero_point;
        want = want > 127 ? 127 : want < -128 ? -128 : want;
        assert_true(fabs(want - t[i]) <= 1);
    }
    /* a classifier refuses targets */
    built_t b;
    build_classifier(TAIL_NONE, &b);
    const size_t cs = mfl_learner_mem_size(&b.model, 4, 8);
    uint8_t *carena = malloc(mfl_model_arena_size(&b.model)), *cmem = aligned_alloc(8, (cs + 7) & ~(size_t)7);
    mfl_learner_t c;
    assert_int_equal(mfl_learner_init(&c, &b.model, carena, mfl_model_arena_size(&b.model), cmem, cs, 4, NULL), 0);
    assert_int_equal(mfl_learner_learn_target(&c, x, IN, t), MFL_ERR_LEARN_CONFIG);
    assert_int_equal(mfl_learner_learn_features_target(&c, x, t), MFL_ERR_LEARN_CONFIG);
    free(carena), free(cmem), free(b.image), free(arena), free(mem);
}

static int setup(void **state)
{
    (void)state;
    ad_image = ts_import_mlperf("ad01_int8", &ad_size, &ad);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(ad_image);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fc_then_nothing),
        cmocka_unit_test(test_fc_then_softmax),
        cmocka_unit_test(test_fc_then_dequantize),
        cmocka_unit_test(test_mse_step_against_double),
        cmocka_unit_test(test_mse_step_errors),
        cmocka_unit_test(test_ad_model_imports_and_learner_initialises),
        cmocka_unit_test(test_ad_one_step_against_double),
        cmocka_unit_test(test_ad_learning_lowers_reconstruction_error),
        cmocka_unit_test(test_regression_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
