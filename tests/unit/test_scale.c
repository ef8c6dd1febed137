/* Integer scale arithmetic against long double references, and the learner's
 * division-free arithmetic against plain 64-bit division. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/error.h"
#include "mfl/head.h"
#include "mfl/quant.h"
#include "mfl/host/quant_host.h"
#include "mfl/scale.h"
#include "test_support.h"

static long double value(mfl_scale_t s)
{
    return ldexpl((long double)s.m, s.e - 31);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void assert_normalised(mfl_scale_t s)
{
    assert_true(s.m >= (1 << 30) && s.m <= INT32_MAX);
}

static void test_from_int(void **state)
{
    (void)state;
    for (int i = 0; i < 100000; i++) {
        const uint64_t v = (next() >> (next() % 63)) | 1;
        const int frac = (int)(next() % 40);
        const mfl_scale_t s = mfl_scale_from_int(v, frac);
        assert_normalised(s);
        const long double want = ldexpl((long double)v, -frac);
        assert_true(fabsl(value(s) - want) <= want * 0x1p-31L);
    }
    const mfl_scale_t zero = mfl_scale_from_int(0, 3);
    assert_int_equal(zero.m, 0);
    const mfl_scale_t one = mfl_scale_from_int(1, 0);
    assert_int_equal(one.m, 1 << 30);
    assert_int_equal(one.e, 1);
}

static void test_mul_div(void **state)
{
    (void)state;
    for (int i = 0; i < 100000; i++) {
        const mfl_scale_t a = mfl_scale_from_int(next() >> 1, (int)(next() % 90));
        const mfl_scale_t b = mfl_scale_from_int(next() >> 1, (int)(next() % 90));
        const mfl_scale_t p = mfl_scale_mul(a, b), q = mfl_scale_div(a, b);
        assert_normalised(p);
        assert_normalised(q);
        const long double wp = value(a) * value(b), wq = value(a) / value(b);
        assert_true(fabsl(value(p) - wp) <= wp * 0x1.01p-31L);
        assert_true(fabsl(value(q) - wq) <= wq * 0x1.01p-31L);
    }
}

static void test_apply_matches_exact_rounding(void **state)
{
    (void)state;
    for (int i = 0; i < 200000; i++) {
        const mfl_scale_t s = mfl_scale_from_int(next() >> 33, (int)(next() % 60));
        const int64_t v = (int64_t)(next() >> (next() % 63 + 1)) * ((next() & 1) ? 1 : -1);
        /* exact: v * m / 2^(31 - e) in 128-bit */
        const __int128 p = (__int128)v * s.m;
        const int sh = 31 - s.e;
        __int128 want;
        if (sh <= 0) {
            want = p * ((__int128)1 << -sh);
        } else {
            const __int128 d = (__int128)1 << sh;
            const __int128 mag = p < 0 ? -p : p;
            const __int128 r = (mag + d / 2) / d;
            want = p < 0 ? -r : r;
        }
        if (want > INT64_MAX || want < -INT64_MAX) {
            continue; /* saturation, checked below */
        }
        assert_true(mfl_scale_apply(s, v) == (int64_t)want);
    }
    const mfl_scale_t big = mfl_scale_from_int(1, -40); /* 2^40 */
    assert_true(mfl_scale_apply(big, (int64_t)1 << 40) == INT64_MAX);
    assert_true(mfl_scale_apply(big, -((int64_t)1 << 40)) == -INT64_MAX);
}

static void test_to_multiplier_and_host_agree(void **state)
{
    (void)state;
    int32_t m, shift;
    int host_shift;
    int32_t host_m;
    /* the device's integer scale and the host's double computation agree */
    const mfl_scale_t r = mfl_scale_div(mfl_scale_from_int(3, 4), mfl_scale_from_int(7, 0)); /* 3/112 */
    assert_int_equal(mfl_scale_to_multiplier(r, &m, &shift), 0);
    mfl_quant_multiplier_from_real(3.0 / 112.0, &host_m, &host_shift);
    assert_true(abs(m - host_m) <= 1);
    assert_int_equal(shift, host_shift);
    assert_int_equal(mfl_scale_to_multiplier(mfl_scale_from_int(1, 40), &m, &shift), MFL_ERR_INVALID_ARG);
    int32_t fm, fe;
    mfl_quant_scale_to_fixed(0.0123, &fm, &fe);
    assert_true(fabs(mfl_quant_scale_from_fixed(fm, fe) - 0.0123) < 1e-11);
}

/* A float's bits as an integer scale: exactly the host's frexp form, for
 * random normal floats and the extremes; anything that is not a positive
 * normal finite float refused. */
static void test_scale_from_f32_bits(void **state)
{
    (void)state;
    for (int i = 0; i < 200000; i++) {
        uint32_t bits = (uint32_t)next() & 0x7FFFFFFFu;
        float f;
        memcpy(&f, &bits, 4);
        mfl_scale_t s = {0, 0};
        if (!isnormal(f)) {
            assert_int_equal(mfl_scale_from_f32_bits(bits, &s), MFL_ERR_INVALID_ARG);
            continue;
        }
        int32_t m, e;
        mfl_quant_scale_to_fixed((double)f, &m, &e);
        assert_int_equal(mfl_scale_from_f32_bits(bits, &s), 0);
        assert_int_equal(s.m, m);
        assert_int_equal(s.e, e);
    }
    const uint32_t good[] = {0x00800000u /* FLT_MIN */, 0x7F7FFFFFu /* FLT_MAX */, 0x3F800000u /* 1 */};
    for (size_t k = 0; k < 3; k++) {
        float f;
        memcpy(&f, &good[k], 4);
        mfl_scale_t s;
        assert_int_equal(mfl_scale_from_f32_bits(good[k], &s), 0);
        assert_true(value(s) == (long double)f);
    }
    const uint32_t bad[] = {0, 0x80000000u, 0xBF800000u, 1u, 0x007FFFFFu, 0x7F800000u, 0x7FC00000u};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        mfl_scale_t s;
        assert_int_equal(mfl_scale_from_f32_bits(bad[k], &s), MFL_ERR_INVALID_ARG);
    }
}

/* The device's 64/32 division against the compiler's 64-bit one: random
 * operands with every divisor width, and the edges of its contract. */
static void test_div_u64_u32_matches_native(void **state)
{
    (void)state;
    for (int i = 0; i < 1000000; i++) {
        const uint32_t d = (uint32_t)(next() >> (32 + i % 32)) | 1u;
        const uint64_t n = next() % ((uint64_t)d << 32); /* quotient fits 32 bits */
        assert_int_equal(mfl_div_u64_u32(n, d), (uint32_t)(n / d));
    }
    const uint32_t ds[] = {1, 2, 3, 0xFFFFu, 0x10000u, 0x10001u, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu};
    for (size_t k = 0; k < sizeof(ds) / sizeof(ds[0]); k++) {
        const uint64_t top = ((uint64_t)ds[k] << 32) - 1; /* largest n with a 32-bit quotient */
        const uint64_t ns[] = {0, 1, ds[k] - 1u, ds[k], top, top - ds[k], top / 2};
        for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++) {
            assert_int_equal(mfl_div_u64_u32(ns[j], ds[k]), (uint32_t)(ns[j] / ds[k]));
        }
    }
}

/* The learner's division-free requantization of a master row gives
 * round(127 w / max|w|), ties away from zero, as 64-bit division does:
 * random rows of many magnitudes, with exact ties and INT32_MIN. */
static void test_head_requantize_rounds_exactly(void **state)
{
    (void)state;
    enum { UNITS = 4, FEATURES = 61 };
    int32_t w[UNITS * FEATURES], b[UNITS] = {0}, bias[UNITS], mult[UNITS], shift[UNITS];
    int8_t qw[UNITS * FEATURES];
    mfl_scale_t scale[UNITS];
    mfl_head_t h = {UNITS, FEATURES, 3, {1 << 30, -6}, {1 << 30, -3}, -128, 127, 0, w, b};
    mfl_head_q_t q = {qw, bias, mult, shift, scale};
    for (int trial = 0; trial < 3000; trial++) {
        for (int i = 0; i < UNITS * FEATURES; i++) {
            /* row maxima from 2^16 to 2^31: multipliers stay in the kernel's range */
            w[i] = (int32_t)(next() >> (33 + (trial + i / FEATURES) % 16));
            if (next() & 1) {
                w[i] = -w[i];
            }
        }
        if (trial % 7 == 0) {
            w[5] = INT32_MIN; /* the largest magnitude a saturated master holds */
        }
        if (trial % 5 == 0) { /* exact ties: 127 * 2^16 * 127 / (254 * 2^16) = 63.5 */
            w[FEATURES] = 254 << 16;
            w[FEATURES + 1] = 127 << 16;
            for (int j = 2; j < FEATURES; j++) {
                w[FEATURES + j] = 0;
            }
        }
        assert_int_equal(mfl_head_requantize(&h, &q), 0);
        for (int i = 0; i < UNITS; i++) {
            int64_t max_abs = 0;
            for (int j = 0; j < FEATURES; j++) {
                const int64_t a = llabs((int64_t)w[i * FEATURES + j]);
                max_abs = a > max_abs ? a : max_abs;
            }
            max_abs = max_abs ? max_abs : 1;
            for (int j = 0; j < FEATURES; j++) {
                const int64_t p = (int64_t)w[i * FEATURES + j] * 127;
                const int64_t want = p >= 0 ? (p + max_abs / 2) / max_abs : -((-p + max_abs / 2) / max_abs);
                assert_int_equal(qw[i * FEATURES + j], want);
            }
        }
    }
}

/* The learner's softmax (a table exp and one reciprocal) against the
 * exact one in double precision: every probability within one unit of
 * round(2^15 exp(z_i - max) / sum exp), on random logits of every spread
 * (real spreads from 2^-24 to 64) and head widths 1..256. */
static void test_head_softmax_within_one_unit(void **state)
{
    (void)state;
    int worst = 0;
    for (int trial = 0; trial < 20000; trial++) {
        const int units = trial % 97 == 0 ? MFL_HEAD_MAX_UNITS : 1 + trial % 40;
        int32_t z[MFL_HEAD_MAX_UNITS], zin[MFL_HEAD_MAX_UNITS];
        int16_t p[MFL_HEAD_MAX_UNITS];
        for (int i = 0; i < units; i++) {
            z[i] = (int32_t)(next() >> (34 + trial % 29)) - (int32_t)(next() >> (34 + trial % 29));
            zin[i] = z[i];
        }
        if (trial % 11 == 0) {
            z[0] = zin[0] = INT32_MAX; /* the widest gap a saturated logit makes */
            z[units - 1] = zin[units - 1] = INT32_MIN;
        }
        double max = zin[0], sum = 0;
        for (int i = 1; i < units; i++) {
            max = zin[i] > max ? zin[i] : max;
        }
        for (int i = 0; i < units; i++) {
            sum += exp((zin[i] - max) / 16777216.0);
        }
        mfl_head_softmax(z, units, p);
        for (int i = 0; i < units; i++) {
            const double exact = 32768.0 * exp((zin[i] - max) / 16777216.0) / sum;
            const double want = exact > 32767.0 ? 32767.0 : floor(exact + 0.5);
            const int err = abs(p[i] - (int)want);
            worst = err > worst ? err : worst;
            assert_true(p[i] >= 0);
            assert_true(err <= 1);
        }
    }
    print_message("softmax: worst difference from the exact rounding %d unit(s) of 2^-15\n", worst);
}

/* A row the master has driven to (almost) zero has a multiplier below the
 * kernel's range, and a row whose bias is large against s_x s_w would
 * saturate its int32 bias: both get a raised scale, weights within half a
 * step of it, and a bias that the kernel turns into b / s_out; a
 * multiplier above the range is refused with q untouched. */
static void test_head_requantize_raised_rows(void **state)
{
    (void)state;
    enum { UNITS = 2, FEATURES = 8 };
    int32_t w[UNITS * FEATURES] = {0}, b[UNITS], bias[UNITS], mult[UNITS], shift[UNITS];
    int8_t qw[UNITS * FEATURES];
    mfl_scale_t scale[UNITS];
    mfl_head_q_t q = {qw, bias, mult, shift, scale};
    /* s_x and s_out: (2^-7, 2^-4), and (1/16, 1/8) where a zero row's own
     * multiplier, 2^-24 / 127 * 2, leaves the bias room for under a step */
    const mfl_scale_t sx[2] = {{1 << 30, -6}, {1 << 30, -3}}, sout[2] = {{1 << 30, -3}, {1 << 30, -2}};
    const int32_t bs[3] = {-(1 << 23), 1 << 24, 100 << 24}; /* -0.5, 1.0, 100 */
    for (int c = 0; c < 2; c++) {
        for (int k = 0; k < 3; k++) {
            for (int tiny = 0; tiny < 2; tiny++) {
                memset(w, 0, sizeof(w));
                w[0] = 1 << 20;                /* row 0 a normal one */
                w[FEATURES + 3] = tiny;         /* row 1 zero, or a single 2^-24 */
                b[0] = 0;
                b[1] = bs[k];
                mfl_head_t h = {UNITS, FEATURES, 3, sx[c], sout[c], -128, 127, 0, w, b};
                assert_int_equal(mfl_head_requantize(&h, &q), 0);
                assert_int_equal(qw[0], 127);
                const double s_w = ldexp(scale[1].m, scale[1].e - 31);
                for (int j = 0; j < FEATURES; j++) { /* each weight within half a step of the raised scale */
                    assert_true(fabs(qw[FEATURES + j] * s_w - ldexp(w[FEATURES + j], -24)) <= s_w / 2);
                }
                assert_true(shift[1] >= MFL_QUANT_SHIFT_MIN && shift[1] <= MFL_QUANT_SHIFT_MAX &&
                            mult[1] >= (1 << 30));
                const double want = ldexp(b[1], -24) / ldexp(sout[c].m, sout[c].e - 31); /* b / s_out in steps */
                const double out = bias[1] * ldexp(mult[1], shift[1] - 31);
                assert_true(fabs(out - want) < 1e-6 * fmax(1.0, fabs(want)));
            }
        }
    }
    /* an output scale so small that the multiplier is above 2^30 */
    b[1] = 0;
    mfl_head_t h = {UNITS, FEATURES, 3, sx[0], {1 << 30, -60}, -128, 127, 0, w, b};
    memset(qw, 0x55, sizeof(qw));
    assert_int_equal(mfl_head_requantize(&h, &q), MFL_ERR_INVALID_ARG);
    for (size_t j = 0; j < sizeof(qw); j++) {
        assert_int_equal((uint8_t)qw[j], 0x55);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_int),
        cmocka_unit_test(test_mul_div),
        cmocka_unit_test(test_apply_matches_exact_rounding),
        cmocka_unit_test(test_to_multiplier_and_host_agree),
        cmocka_unit_test(test_div_u64_u32_matches_native),
        cmocka_unit_test(test_scale_from_f32_bits),
        cmocka_unit_test(test_head_requantize_rounds_exactly),
        cmocka_unit_test(test_head_softmax_within_one_unit),
        cmocka_unit_test(test_head_requantize_raised_rows),
    };
    return cmocka_run_group_tests_name("scale", tests, NULL, NULL);
}
