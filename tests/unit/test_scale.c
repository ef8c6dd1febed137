/* Integer scale arithmetic against long double references. */
#include <math.h>
#include <stdlib.h>

#include "mfl/quant_host.h"
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_int),
        cmocka_unit_test(test_mul_div),
        cmocka_unit_test(test_apply_matches_exact_rounding),
        cmocka_unit_test(test_to_multiplier_and_host_agree),
    };
    return cmocka_run_group_tests_name("scale", tests, NULL, NULL);
}
