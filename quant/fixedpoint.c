/*
 * Fixed-point exp and reciprocal for the int8 softmax, following the
 * numerics of gemmlowp's fixedpoint.h, which TensorFlow Lite Micro's
 * reference softmax uses. Bit-exactness with TFLM depends on every rounding
 * step here matching: products are rounding doubling high multiplies
 * (mfl_quant_srdhm), rescalings are rounding or saturating shifts.
 *
 * Notation: a "Qk" raw int32 v holds the real v / 2^(31-k).
 *   Q0: [-1, 1)      one = INT32_MAX (1.0 itself is not representable)
 *   Q2: [-4, 4)      one = 2^29
 *   Q5: [-32, 32)    one = 2^26
 *   Q12: [-4096, 4096)
 * A product of a Qa and a Qb value is a Q(a+b) value: srdhm(x, y).
 */
#include "mfl/quant.h"

#define Q0_ONE INT32_MAX
#define Q2_ONE (1 << 29)
#define Q5_FRACTIONAL_BITS 26

int32_t mfl_quant_saturating_rounding_mul_pot(int32_t x, int exponent)
{
    if (exponent < 0) {
        return mfl_quant_rdbpot(x, -exponent);
    }
    if (exponent == 0) {
        return x;
    }
    const int32_t threshold = (int32_t)((1LL << (31 - exponent)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return mfl_quant_shl_wrap(x, exponent);
}

/*
 * exp(a) for a in [-1/4, 0), a in Q0, result in Q0. Taylor series around
 * -1/8 to fourth order: with x = a + 1/8,
 *   exp(a) = exp(-1/8) * (1 + x + x^2/2 + x^3/6 + x^4/24).
 * The constants are exp(-1/8) and 1/3 in Q0.
 */
static int32_t exp_on_quarter_interval_q0(int32_t a)
{
    const int32_t exp_minus_one_eighth = 1895147668;
    const int32_t one_third = 715827883;
    const int32_t x = mfl_quant_add_wrap(a, 1 << 28); /* + 1/8 */
    const int32_t x2 = mfl_quant_srdhm(x, x);
    const int32_t x3 = mfl_quant_srdhm(x2, x);
    const int32_t x4 = mfl_quant_srdhm(x2, x2);
    const int32_t x4_over_4 = mfl_quant_saturating_rounding_mul_pot(x4, -2);
    /* ((x^4/4 + x^3) / 3 + x^2) / 2 = x^4/24 + x^3/6 + x^2/2 */
    const int32_t poly = mfl_quant_saturating_rounding_mul_pot(
        mfl_quant_add_wrap(mfl_quant_srdhm(mfl_quant_add_wrap(x4_over_4, x3), one_third), x2), -1);
    return mfl_quant_add_wrap(exp_minus_one_eighth,
                              mfl_quant_srdhm(exp_minus_one_eighth, mfl_quant_add_wrap(x, poly)));
}

/*
 * exp(a) for a <= 0 held with `integer_bits` integer bits (1..5). Split
 * a = r - n/4 with r in [-1/4, 0): exp(r) from the series above, then
 * multiply by exp(-2^k) for each set bit k of the integer-and-quarters part
 * n/4 (k = -2 .. integer_bits - 1), a barrel shifter of Q0 constants
 * exp(-1/4), exp(-1/2), exp(-1), exp(-2), exp(-4), exp(-8), exp(-16).
 * Values below -2^integer_bits cannot occur, so no clamp is needed (gemmlowp
 * clamps only above 5 integer bits). exp(0) is exactly one.
 */
int32_t mfl_quant_exp_on_negative(int32_t a, int integer_bits)
{
    static const int32_t exp_of_minus_pow2[7] = {
        1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242,
    };
    const int fractional_bits = 31 - integer_bits;
    const int32_t one_quarter = 1 << (fractional_bits - 2);
    const int32_t mask = one_quarter - 1;
    const int32_t r = (a & mask) - one_quarter;
    /* r in [-1/4, 0) to Q0: multiply the raw value by 2^integer_bits, saturating. */
    int32_t result = exp_on_quarter_interval_q0(mfl_quant_saturating_rounding_mul_pot(r, integer_bits));
    const int32_t remainder = mfl_quant_sub_wrap(r, a);

    for (int k = 0; k < 7 && k - 2 < integer_bits; k++) {
        const int bit = fractional_bits - 2 + k;
        if (remainder & (int32_t)(1u << bit)) {
            result = mfl_quant_srdhm(result, exp_of_minus_pow2[k]);
        }
    }
    return a == 0 ? Q0_ONE : result;
}

int32_t mfl_quant_exp_on_negative_q5(int32_t a)
{
    return mfl_quant_exp_on_negative(a, 5);
}

/* (a + b) / 2 rounded half away from zero, without overflow. */
static int32_t rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + (int64_t)b;
    const int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

/*
 * 1 / d in Q2 for a half denominator d = (1 + a) / 2 in [1/2, 1], by
 * Newton-Raphson: start from the minimax line 48/17 - 32/17 d (in Q2) and
 * iterate x <- x + x (1 - d x) three times, which converges to 1/d in
 * [1, 2]. Shared by 1 / (1 + a) (softmax, logistic) and (1 - a) / (1 + a)
 * (tanh).
 */
static int32_t newton_inverse_half_denominator_q2(int32_t half_denominator)
{
    const int32_t c48_over_17 = 1515870810;      /* Q2 */
    const int32_t c_neg32_over_17 = -1010580540; /* Q2 */
    int32_t x = mfl_quant_add_wrap(c48_over_17, mfl_quant_srdhm(half_denominator, c_neg32_over_17));
    for (int i = 0; i < 3; i++) {
        const int32_t half_denominator_times_x = mfl_quant_srdhm(half_denominator, x);
        const int32_t one_minus = mfl_quant_sub_wrap(Q2_ONE, half_denominator_times_x);
        x = mfl_quant_add_wrap(x, mfl_quant_saturating_rounding_mul_pot(mfl_quant_srdhm(x, one_minus), 2));
    }
    return x;
}

/* 1 / (1 + a) for a in [0, 1) in Q0, result in Q0: half of 1/d. */
static int32_t one_over_one_plus_x_q0(int32_t a)
{
    const int32_t x = newton_inverse_half_denominator_q2(rounding_half_sum(a, Q0_ONE));
    /* 1/(1+a) = x/2: reinterpret the Q2 raw as Q1 (an exact halving), then
     * rescale Q1 -> Q0, a saturating doubling of the raw value. */
    return mfl_quant_saturating_rounding_mul_pot(x, 1);
}

/* (1 - a) / (1 + a) for a in [0, 1] in Q0: with d = (1 + a) / 2 the
 * quotient is 1/d - 1, i.e. x - 1 in Q2 rescaled to Q0 (saturating by 4). */
static int32_t one_minus_x_over_one_plus_x_q0(int32_t a)
{
    const int32_t x = newton_inverse_half_denominator_q2(rounding_half_sum(a, Q0_ONE));
    return mfl_quant_saturating_rounding_mul_pot(mfl_quant_sub_wrap(x, Q2_ONE), 2);
}

int32_t mfl_quant_logistic(int32_t a, int integer_bits)
{
    if (a == 0) {
        return 1 << 30; /* one half */
    }
    /* logistic(|a|) = 1 / (1 + exp(-|a|)); logistic(-|a|) = 1 - logistic(|a|).
     * The negation cannot overflow: callers keep |a| below 2^31 (the raw
     * INT32_MIN is outside every caller's range). */
    const int32_t abs_a = a > 0 ? a : -a;
    const int32_t positive = one_over_one_plus_x_q0(mfl_quant_exp_on_negative(-abs_a, integer_bits));
    return a > 0 ? positive : mfl_quant_sub_wrap(Q0_ONE, positive);
}

int32_t mfl_quant_tanh(int32_t a, int integer_bits)
{
    if (a == 0) {
        return 0;
    }
    /* -tanh(n) for n = -|a| <= 0 is (1 - exp(2n)) / (1 + exp(2n)); 2n is the
     * same raw value read with one more integer bit (an exact doubling). */
    const int32_t n = a < 0 ? a : -a;
    const int32_t t = one_minus_x_over_one_plus_x_q0(mfl_quant_exp_on_negative(n, integer_bits + 1));
    return a < 0 ? -t : t;
}

/*
 * Reciprocal of a positive Q12 sum (TFLite's GetReciprocal): normalise x to
 * 1 + f with f in [0, 1) by shifting out its headroom, invert with
 * one_over_one_plus_x_q0, and report the shift in *num_bits_over_unit.
 */
int32_t mfl_quant_reciprocal_q12(int32_t x, int *num_bits_over_unit)
{
    uint32_t ux = (uint32_t)x;
    int headroom_plus_one = 0;
    while (headroom_plus_one < 32 && !(ux & (0x80000000u >> headroom_plus_one))) {
        headroom_plus_one++;
    }
    *num_bits_over_unit = 12 - headroom_plus_one;
    const uint32_t shifted = headroom_plus_one >= 32 ? 0u : (ux << headroom_plus_one);
    const int32_t shifted_minus_one = (int32_t)(shifted - 0x80000000u);
    return one_over_one_plus_x_q0(shifted_minus_one);
}

uint64_t mfl_quant_isqrt(uint64_t v, uint64_t *remainder)
{
    uint64_t r = 0;
    for (uint64_t bit = 1ull << 62; bit; bit >>= 2) {
        if (v >= r + bit) {
            v -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
    }
    if (remainder) {
        *remainder = v;
    }
    return r;
}
