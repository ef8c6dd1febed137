/*
 * Quantization arithmetic against independent references: exact 128-bit
 * rational rounding for the fixed-point primitives, libm for exp and
 * reciprocal, zlib for CRC-32, and hand-computed TFLite parameters.
 */
#include <math.h>
#include <stdlib.h>
#include <zlib.h>

#include "mfl/quant.h"
#include "mfl/host/quant_host.h"
#include "test_support.h"

/* round(num / 2^k), ties away from zero, in 128-bit arithmetic. */
static int64_t round_div_pow2(__int128 num, int k)
{
    const __int128 d = (__int128)1 << k;
    const __int128 q = num / d;      /* truncates toward zero */
    const __int128 r = num - q * d;  /* same sign as num */
    __int128 twice = r * 2;
    if (twice < 0) {
        twice = -twice;
    }
    return (int64_t)(twice >= d ? q + (num < 0 ? -1 : 1) : q);
}

static uint32_t rng_state = 12345;
static int32_t rand32(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return (int32_t)rng_state;
}

static void test_srdhm_matches_exact_rounding(void **state)
{
    (void)state;
    for (int i = 0; i < 200000; i++) {
        const int32_t a = rand32(), b = i % 3 ? rand32() : (int32_t)(rand32() >> (i % 31));
        if (a == INT32_MIN && b == INT32_MIN) {
            continue;
        }
        /* 2ab / 2^32 = ab / 2^31; random products are never exact ties */
        assert_int_equal(mfl_quant_srdhm(a, b), round_div_pow2((__int128)a * b, 31));
    }
    /* exact ties, as gemmlowp's nudge and truncating division give them:
     * toward +infinity */
    assert_int_equal(mfl_quant_srdhm(1, 1 << 30), 1);            /*  0.5 */
    assert_int_equal(mfl_quant_srdhm(-(1 << 15), 1 << 15), 0);   /* -0.5 */
    assert_int_equal(mfl_quant_srdhm(-3, 1 << 30), -1);          /* -1.5 */
    assert_int_equal(mfl_quant_srdhm(3, 1 << 30), 2);            /*  1.5 */
    assert_int_equal(mfl_quant_srdhm(INT32_MIN, INT32_MIN), INT32_MAX); /* the one saturating case */
    assert_int_equal(mfl_quant_srdhm(INT32_MAX, INT32_MAX), INT32_MAX - 1);
    assert_int_equal(mfl_quant_srdhm(INT32_MIN, INT32_MAX), INT32_MIN + 1);
}

/* The kernels' branch-free requantization gives mul_by_qm's bits for every
 * multiplier the loader admits (m >= 0) and every shift in range. */
static void test_fast_requant_matches(void **state)
{
    (void)state;
    for (int i = 0; i < 2000000; i++) {
        const int32_t x = i % 4 ? rand32() >> (i % 29) : rand32();
        const int32_t m = (int32_t)((uint32_t)rand32() >> (1 + i % 3));
        const int shift = MFL_QUANT_SHIFT_MIN + (int)((uint32_t)rand32() % (MFL_QUANT_SHIFT_MAX - MFL_QUANT_SHIFT_MIN + 1));
        assert_int_equal(mfl_quant_mul_by_qm_fast(x, m, shift), mfl_quant_mul_by_qm(x, m, shift));
    }
    const int32_t edges[] = {0, 1, -1, INT32_MAX, INT32_MIN, 1 << 30, -(1 << 30), 12345, -12345};
    for (size_t a = 0; a < sizeof(edges) / sizeof(edges[0]); a++) {
        for (size_t b = 0; b < sizeof(edges) / sizeof(edges[0]); b++) {
            if (edges[b] < 0) {
                continue;
            }
            for (int shift = MFL_QUANT_SHIFT_MIN; shift <= MFL_QUANT_SHIFT_MAX; shift++) {
                assert_int_equal(mfl_quant_mul_by_qm_fast(edges[a], edges[b], shift),
                                 mfl_quant_mul_by_qm(edges[a], edges[b], shift));
            }
        }
    }
}

static void test_rdbpot_matches_exact_rounding(void **state)
{
    (void)state;
    for (int i = 0; i < 200000; i++) {
        const int32_t x = rand32();
        const int e = i % 32;
        assert_int_equal(mfl_quant_rdbpot(x, e), round_div_pow2(x, e));
    }
    /* ties go away from zero */
    assert_int_equal(mfl_quant_rdbpot(5, 1), 3);
    assert_int_equal(mfl_quant_rdbpot(-5, 1), -3);
    assert_int_equal(mfl_quant_rdbpot(-4, 3), -1);
    assert_int_equal(mfl_quant_rdbpot(INT32_MIN, 31), -1);
    assert_int_equal(mfl_quant_rdbpot(INT32_MAX, 31), 1);
}

/* TFLM rounds twice (high multiply, then shift): for a power-of-two
 * multiplier and no right shift that is a single exact rounding. */
static void test_mul_by_qm_extremes(void **state)
{
    (void)state;
    /* m = 2^30 (0.5), shift +1: x exactly */
    assert_int_equal(mfl_quant_mul_by_qm(12345, 1 << 30, 1), 12345);
    /* shift +30 */
    assert_int_equal(mfl_quant_mul_by_qm(1, 1 << 30, 30), 1 << 29);
    /* 4 << 30 wraps to 0 in the left shift, as TFLM's int32 multiply does on
     * two's-complement machines (there it is undefined behaviour) */
    assert_int_equal(mfl_quant_mul_by_qm(4, 1 << 30, 30), 0);
    /* the smallest shift: x * 0.5 * 2^-31 rounds to 0 except at the extremes */
    assert_int_equal(mfl_quant_mul_by_qm(1000000, 1 << 30, -31), 0);
    assert_int_equal(mfl_quant_mul_by_qm(INT32_MAX, INT32_MAX, -31), 1); /* 0.99999... rounds up */
    assert_int_equal(mfl_quant_mul_by_qm(INT32_MAX, INT32_MAX, -30), 2);
    /* a largest multiplier keeps the value (just under 1.0) */
    assert_int_equal(mfl_quant_mul_by_qm(1000, INT32_MAX, 0), 1000);
    assert_int_equal(mfl_quant_mul_by_qm(-1000, INT32_MAX, 0), -1000);
    /* double rounding: 3 * 0.5 = 1.5 -> 2, then / 2 = 1 (single rounding of 0.75 would give 1 too);
       1 * 0.5 = 0.5 -> 1, then / 2 = 0.5 -> 1 (single rounding of 0.25 gives 0): TFLM's answer is 1 */
    assert_int_equal(mfl_quant_mul_by_qm(1, 1 << 30, -1), 1);
}

static void test_multiplier_from_real(void **state)
{
    (void)state;
    int32_t m;
    int s;
    mfl_quant_multiplier_from_real(0.0, &m, &s);
    assert_int_equal(m, 0);
    assert_int_equal(s, 0);
    mfl_quant_multiplier_from_real(0.5, &m, &s);
    assert_int_equal(m, 1 << 30);
    assert_int_equal(s, 0);
    mfl_quant_multiplier_from_real(1.0, &m, &s);
    assert_int_equal(m, 1 << 30);
    assert_int_equal(s, 1);
    /* just below 1: the Q31 mantissa rounds up to 2^31 and carries */
    mfl_quant_multiplier_from_real(1.0 - 1e-12, &m, &s);
    assert_int_equal(m, 1 << 30);
    assert_int_equal(s, 1);
    /* far too small: flushed to zero */
    mfl_quant_multiplier_from_real(1e-12, &m, &s);
    assert_int_equal(m, 0);
    assert_int_equal(s, 0);
    /* random reals round-trip within half a unit of the mantissa */
    for (int i = 0; i < 10000; i++) {
        const double real = ldexp(((uint32_t)rand32() % 1000000 + 1) / 1e6, (int)((uint32_t)rand32() % 20) - 10);
        mfl_quant_multiplier_from_real(real, &m, &s);
        assert_true(m >= (1 << 30));
        const double back = ldexp((double)m, s - 31);
        assert_true(fabs(back - real) <= ldexp(1.0, s - 32) * 1.0000001);
    }
}

static void test_activation_ranges(void **state)
{
    (void)state;
    int32_t lo, hi;
    /* scale 6/255, zero point -128: RELU6 spans the whole int8 range */
    assert_int_equal(mfl_quant_activation_range(MFL_ACT_RELU6, 6.0f / 255.0f, -128, &lo, &hi), 0);
    assert_int_equal(lo, -128);
    assert_int_equal(hi, 127);
    /* scale 0.1, zero point 10: RELU -> [10, 127]; RELU6 -> [10, 70]; RELU_N1_TO_1 -> [0, 20] */
    assert_int_equal(mfl_quant_activation_range(MFL_ACT_RELU, 0.1f, 10, &lo, &hi), 0);
    assert_int_equal(lo, 10);
    assert_int_equal(hi, 127);
    assert_int_equal(mfl_quant_activation_range(MFL_ACT_RELU6, 0.1f, 10, &lo, &hi), 0);
    assert_int_equal(lo, 10);
    assert_int_equal(hi, 70);
    assert_int_equal(mfl_quant_activation_range(MFL_ACT_RELU_N1_TO_1, 0.1f, 10, &lo, &hi), 0);
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 20);
    assert_int_equal(mfl_quant_activation_range(MFL_ACT_NONE, 0.1f, 10, &lo, &hi), 0);
    assert_int_equal(lo, -128);
    assert_int_equal(hi, 127);
    assert_int_equal(mfl_quant_activation_range(4 /* TANH */, 0.1f, 10, &lo, &hi), MFL_ERR_INVALID_ARG);
}

static void test_exp_q5_against_libm(void **state)
{
    (void)state;
    assert_int_equal(mfl_quant_exp_on_negative_q5(0), INT32_MAX);
    for (int32_t raw = 0; raw > -(int32_t)(31u << 26); raw -= 12347) {
        const double x = raw / (double)(1 << 26);
        const double got = mfl_quant_exp_on_negative_q5(raw) / 2147483648.0;
        assert_true(fabs(got - exp(x)) < 2e-8 + 1e-6 * exp(x));
    }
}

static void test_reciprocal_q12_against_libm(void **state)
{
    (void)state;
    for (int64_t raw = 1 << 19; raw < (int64_t)4095 << 19; raw += 104729 * 7) {
        int bits;
        const double x = (double)raw / (double)(1 << 19);
        const int32_t r = mfl_quant_reciprocal_q12((int32_t)raw, &bits);
        const double got = ldexp(r / 2147483648.0, -bits);
        assert_true(fabs(got - 1.0 / x) < 1e-8 / x + 1e-9);
    }
}

static void test_crc32_matches_zlib(void **state)
{
    (void)state;
    uint8_t buf[4099];
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t)rand32();
    }
    for (size_t len = 0; len < sizeof(buf); len += 97) {
        assert_int_equal(mfl_crc32(0, buf, len), crc32(0, buf, (uInt)len));
    }
    /* chunked == whole */
    assert_int_equal(mfl_crc32(mfl_crc32(0, buf, 1000), buf + 1000, 3099), crc32(0, buf, 4099));
}

/* The integer square root against its definition r^2 <= v < (r+1)^2 (in
 * exact 128-bit arithmetic) on edges and 100,000 random values of every
 * magnitude. */
static void check_isqrt(uint64_t v)
{
    uint64_t rem;
    const uint64_t r = mfl_quant_isqrt(v, &rem);
    const unsigned __int128 r2 = (unsigned __int128)r * r, next = (unsigned __int128)(r + 1) * (r + 1);
    assert_true(r2 <= v && next > v);
    assert_true(rem == v - (uint64_t)r2);
    assert_int_equal(mfl_quant_isqrt(v, NULL), r);
}

static void test_isqrt_definition(void **state)
{
    (void)state;
    const uint64_t edges[] = {0, 1, 2, 3, 4, 15, 16, 17, 0xFFFFFFFFull, 0xFFFFFFFE00000001ull, 0xFFFFFFFE00000000ull,
                              UINT64_MAX};
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        check_isqrt(edges[i]);
    }
    uint64_t x = 12345;
    for (int i = 0; i < 100000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        check_isqrt(x >> (x % 64));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_srdhm_matches_exact_rounding),
        cmocka_unit_test(test_fast_requant_matches),
        cmocka_unit_test(test_rdbpot_matches_exact_rounding),
        cmocka_unit_test(test_mul_by_qm_extremes),
        cmocka_unit_test(test_multiplier_from_real),
        cmocka_unit_test(test_activation_ranges),
        cmocka_unit_test(test_exp_q5_against_libm),
        cmocka_unit_test(test_reciprocal_q12_against_libm),
        cmocka_unit_test(test_crc32_matches_zlib),
        cmocka_unit_test(test_isqrt_definition),
    };
    return cmocka_run_group_tests_name("quant", tests, NULL, NULL);
}
