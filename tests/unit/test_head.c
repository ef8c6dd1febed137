/*
 * The fixed-point learning step (optim/head_*.c) against independent truths:
 *  - its plain-C path (Cortex-M0/M3, built here as mfl_optim_plain with its
 *    functions renamed plain_*) and its DSP path (SMLAD, SXTAB16, PKHBT,
 *    QSUB; on the host through the C emulation of device/kernels/dsp.h)
 *    give the same bits, on random heads of every shape the step takes:
 *    units not a multiple of 4, features not a multiple of 4 and wider than
 *    one 256-feature chunk, odd and even batches up to 64, learning rates on
 *    the fast and the general scaling path, with and without the drift
 *    limit;
 *  - one step changes every weight and bias as the same step computed in
 *    double precision from the same master does, within the error its
 *    number formats allow (Q0.15 probabilities, a 15-bit forward shadow,
 *    rounding to Q8.24).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/error.h"
#include "mfl/head.h"
#include "mfl/quant.h"
#include "test_support.h"

int plain_head_sgd_step(mfl_head_t *h, const int8_t *const *x, const uint8_t *y, int batch, mfl_scale_t lr,
                        void *scratch, const int8_t *w0, const mfl_scale_t *w0_scale, int32_t drift);

enum { MAX_UNITS = 40, MAX_FEATURES = 600, MAX_BATCH = 64 };

static uint64_t rng = 0x243F6A8885A308D3ull;

static uint32_t next(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static int range(int lo, int hi)
{
    return lo + (int)(next() % (uint32_t)(hi - lo + 1));
}

typedef struct {
    mfl_head_t h;
    int32_t w[MAX_UNITS * MAX_FEATURES], b[MAX_UNITS];
    int8_t x[MAX_BATCH][MAX_FEATURES], w0[MAX_UNITS * MAX_FEATURES];
    const int8_t *xs[MAX_BATCH];
    uint8_t y[MAX_BATCH];
    mfl_scale_t w0_scale[MAX_UNITS];
    int batch;
    mfl_scale_t lr;
    int32_t drift;
} case_t;

/* A random head whose logits stay within about +-16 (real), as a trained
 * head's do: weights scaled to the features' size. */
static void random_case(case_t *c, int trial, int saturate)
{
    const uint16_t units = (uint16_t)(trial % 5 == 0 ? range(1, 3) : range(2, MAX_UNITS));
    const uint16_t features = (uint16_t)(trial % 3 == 0 ? range(257, MAX_FEATURES) : range(1, 256));
    c->batch = trial % 4 == 0 ? 8 : range(1, MAX_BATCH);
    const int32_t zp = range(-128, 127);
    const mfl_scale_t s_x = mfl_scale_from_int((uint64_t)range(16, 255), range(10, 14)); /* 2^-10 .. 2^-2 */
    c->h = (mfl_head_t){units, features, zp, s_x, mfl_scale_from_int(1, 4), -128, 127, 0, c->w, c->b};
    const double sx = ldexp(s_x.m, s_x.e - 31);
    const double wmax = 16.0 / (sx * 128.0 * features); /* |z| <~ 16 */
    for (int i = 0; i < units * features; i++) {
        c->w[i] = (int32_t)((((double)next() / 4294967296.0) * 2.0 - 1.0) * wmax * 16777216.0);
        c->w0[i] = (int8_t)range(-127, 127);
    }
    if (saturate && trial % 5 == 1) { /* saturated master weights: the shadow's rounding at the limits */
        for (int i = 0; i < units * features; i += range(1, 7)) {
            c->w[i] = next() & 1 ? INT32_MAX - range(0, 1 << 17) : INT32_MIN + range(0, 1 << 17);
        }
    }
    for (int i = 0; i < units; i++) {
        c->b[i] = (int32_t)range(-(1 << 25), 1 << 25);
        c->w0_scale[i] = mfl_scale_from_int((uint64_t)range(1, 255), 20); /* about 2^-12 .. 2^-20 of 1 */
    }
    for (int k = 0; k < c->batch; k++) {
        for (int j = 0; j < features; j++) {
            c->x[k][j] = (int8_t)range(-128, 127);
        }
        c->xs[k] = c->x[k];
        c->y[k] = (uint8_t)range(0, units - 1);
    }
    /* learning rates from 0.001 to 4: the largest take the general scaling path */
    c->lr = mfl_scale_from_int((uint64_t)range(1, 4000), 10);
    c->drift = trial % 6 == 0 ? range(1, 1 << 22) : 0;
}

static void test_plain_and_dsp_paths_agree(void **state)
{
    (void)state;
    static case_t a, b;
    static int32_t scratch_a[(MAX_UNITS + 1) * MAX_FEATURES + MAX_UNITS * MAX_BATCH + 4 * MAX_UNITS],
        scratch_b[sizeof(scratch_a) / sizeof(int32_t)];
    for (int trial = 0; trial < 400; trial++) {
        random_case(&a, trial, 1);
        memcpy(&b, &a, sizeof(a));
        b.h.w = b.w, b.h.b = b.b;
        for (int k = 0; k < b.batch; k++) {
            b.xs[k] = b.x[k];
        }
        assert_true(mfl_head_step_scratch_size(a.h.units, a.h.features, a.batch) <= sizeof(scratch_a));
        for (int step = 0; step < 3; step++) {
            const int8_t *w0 = a.drift ? a.w0 : NULL;
            assert_int_equal(mfl_head_sgd_step(&a.h, a.xs, a.y, a.batch, a.lr, scratch_a, w0, a.w0_scale, a.drift), 0);
            assert_int_equal(plain_head_sgd_step(&b.h, b.xs, b.y, b.batch, b.lr, scratch_b, a.drift ? b.w0 : NULL,
                                                 b.w0_scale, b.drift),
                             0);
            assert_memory_equal(a.w, b.w, (size_t)a.h.units * a.h.features * sizeof(int32_t));
            assert_memory_equal(a.b, b.b, (size_t)a.h.units * sizeof(int32_t));
            /* the gradients the step leaves at the start of its scratch */
            assert_memory_equal(scratch_a, scratch_b,
                                (size_t)a.h.units * MFL_HEAD_GRAD_STRIDE(a.batch) * sizeof(int16_t));
        }
    }
}

/* The same step in double precision from the same master. */
static void double_step(const case_t *c, double *dw, double *db)
{
    const mfl_head_t *h = &c->h;
    const double sx = ldexp(h->feature_scale.m, h->feature_scale.e - 31), lr = ldexp(c->lr.m, c->lr.e - 31);
    memset(dw, 0, sizeof(double) * h->units * h->features);
    memset(db, 0, sizeof(double) * h->units);
    for (int k = 0; k < c->batch; k++) {
        double z[MAX_UNITS], max = -1e300, sum = 0;
        for (int i = 0; i < h->units; i++) {
            double acc = 0;
            for (int j = 0; j < h->features; j++) {
                acc += h->w[i * h->features + j] / 16777216.0 * (c->x[k][j] - h->feature_zp);
            }
            z[i] = h->b[i] / 16777216.0 + sx * acc;
            max = z[i] > max ? z[i] : max;
        }
        for (int i = 0; i < h->units; i++) {
            sum += exp(z[i] - max);
        }
        for (int i = 0; i < h->units; i++) {
            const double g = exp(z[i] - max) / sum - (i == c->y[k]);
            db[i] -= lr / c->batch * g;
            for (int j = 0; j < h->features; j++) {
                dw[i * h->features + j] -= lr / c->batch * sx * g * (c->x[k][j] - h->feature_zp);
            }
        }
    }
}

static void test_one_step_matches_double_precision(void **state)
{
    (void)state;
    static case_t c;
    static int32_t w_before[MAX_UNITS * MAX_FEATURES], b_before[MAX_UNITS], scratch[32768];
    static double dw[MAX_UNITS * MAX_FEATURES], db[MAX_UNITS];
    double worst = 0;
    for (int trial = 0; trial < 300; trial++) {
        random_case(&c, trial, 0);
        c.drift = 0;
        const mfl_head_t *h = &c.h;
        memcpy(w_before, c.w, sizeof(c.w));
        memcpy(b_before, c.b, sizeof(c.b));
        double_step(&c, dw, db);
        assert_int_equal(mfl_head_sgd_step(&c.h, c.xs, c.y, c.batch, c.lr, scratch, NULL, NULL, 0), 0);
        const double sx = ldexp(h->feature_scale.m, h->feature_scale.e - 31), lr = ldexp(c.lr.m, c.lr.e - 31);
        /* Each probability is within eps of the exact one: one unit of
         * 2^-15 from the softmax, and the logits' error through the shadow
         * (15 bits relative to the largest weight of a row, with |z| <~ 16:
         * under 2^-11 in z, so under 2^-13 in p, as dp/dz <= 1/4) and
         * their truncation; eps = 2^-12 holds them. A change then errs by
         * at most lr / B * sum_k eps |x~| s_x, plus one Q8.24 unit of
         * rounding. */
        const double eps = ldexp(1, -12);
        for (int i = 0; i < h->units; i++) {
            const double got_b = (c.b[i] - (double)b_before[i]) / 16777216.0;
            const double bound_b = lr * eps + 1.0 / 16777216.0;
            worst = fmax(worst, fabs(got_b - db[i]) / bound_b);
            assert_true(fabs(got_b - db[i]) <= bound_b);
            for (int j = 0; j < h->features; j++) {
                double sum_abs = 0;
                for (int k = 0; k < c.batch; k++) {
                    sum_abs += fabs((double)(c.x[k][j] - h->feature_zp));
                }
                const size_t at = (size_t)i * h->features + j;
                const double got = (c.w[at] - (double)w_before[at]) / 16777216.0;
                const double bound = lr / c.batch * eps * sum_abs * sx + 1.0 / 16777216.0;
                worst = fmax(worst, fabs(got - dw[at]) / bound);
                assert_true(fabs(got - dw[at]) <= bound);
            }
        }
    }
    print_message("one step against double precision: worst error %.3f of its bound\n", worst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_dsp_paths_agree),
        cmocka_unit_test(test_one_step_matches_double_precision),
    };
    return cmocka_run_group_tests_name("head", tests, NULL, NULL);
}
