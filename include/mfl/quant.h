/*
 * The TFLite int8 quantization arithmetic, integer only.
 *
 * A real value r is represented by an int8 q with r = scale * (q - zero_point).
 * Rescaling an int32 accumulator by a real factor M in (0, 2^31) uses a
 * "quantized multiplier": M = m * 2^shift with m a Q31 value in [0.5, 1),
 * so the product is a rounding doubling high multiply by m followed by a
 * shift. These functions reproduce TensorFlow Lite Micro's reference kernels
 * bit for bit with its default ("double") rounding:
 *
 *   MultiplyByQuantizedMultiplier(x, m, shift) =
 *     RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x << max(shift,0), m),
 *                         max(-shift, 0))
 *
 * Where TFLM relies on two's-complement wrap-around that C leaves undefined
 * (the left shift of x, the bias add), we compute in uint32 and convert
 * back, which gives the same bits without undefined behaviour.
 *
 * Ranges: multipliers are Q31 values >= 0; shift is in [-31, 30] (the model
 * loader rejects anything else); exponents of rounding_divide_by_pot are in
 * [0, 31].
 */
#ifndef MFL_QUANT_H
#define MFL_QUANT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MFL_QUANT_SHIFT_MIN (-31)
#define MFL_QUANT_SHIFT_MAX 30

/* a + b with two's-complement wrap-around. */
static inline int32_t mfl_quant_add_wrap(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

/* a - b with two's-complement wrap-around. */
static inline int32_t mfl_quant_sub_wrap(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a - (uint32_t)b);
}

/* x * 2^shift for shift in [0, 31] with two's-complement wrap-around. */
static inline int32_t mfl_quant_shl_wrap(int32_t x, int shift)
{
    return (int32_t)((uint32_t)x << shift);
}

/* Rounded high 32 bits of 2*a*b (gemmlowp's SaturatingRoundingDoublingHighMul);
 * saturates the single overflow case a = b = INT32_MIN to INT32_MAX.
 * gemmlowp adds a nudge of 2^30 (1 - 2^30 when ab < 0) and divides by 2^31
 * truncating toward zero; for ab < 0 that truncation equals the floor of
 * (ab + 2^30) / 2^31, so both signs reduce to one arithmetic shift: ties go
 * toward +infinity (0.5 -> 1, -0.5 -> 0). A shift instead of a 64-bit
 * division saves ~10 instructions per output on Cortex-M. */
static inline int32_t mfl_quant_srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    return (int32_t)(((int64_t)a * (int64_t)b + (1LL << 30)) >> 31);
}

/* x / 2^exponent rounded to nearest, ties away from zero; exponent in [0, 31]. */
static inline int32_t mfl_quant_rdbpot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)((1LL << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * m * 2^shift with TFLM's default double rounding. */
static inline int32_t mfl_quant_mul_by_qm(int32_t x, int32_t m, int shift)
{
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    return mfl_quant_rdbpot(mfl_quant_srdhm(mfl_quant_shl_wrap(x, left), m), right);
}

/* mfl_quant_mul_by_qm for the multipliers kernels see (m >= 0, which the
 * model loader enforces, so the one saturating case of srdhm cannot occur),
 * without branches: the same bits in about half the instructions on
 * Cortex-M. The rounding divide uses rdbpot's remainder-threshold form. */
static inline int32_t mfl_quant_mul_by_qm_fast(int32_t x, int32_t m, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = left - shift; /* max(-shift, 0), in [0, 31] */
    const int64_t prod = (int64_t)(int32_t)((uint32_t)x << left) * m;
    const int32_t t = (int32_t)((prod + (1LL << 30)) >> 31);
    const int32_t mask = (int32_t)((1u << right) - 1u);
    const int32_t threshold = (mask >> 1) + (int32_t)((uint32_t)t >> 31);
    return (t >> right) + ((t & mask) > threshold);
}

/* x * m * 2^shift for a 64-bit accumulator, as TFLite's 16x8 kernels do it
 * (MultiplyByQuantizedMultiplier(int64_t, ...)): m reduced to Q15, rounded
 * half up and capped at 0x7FFF from 0x7FFF0000 on, then one rounding right
 * shift by 15 - shift (ties toward +infinity). Needs m >= 0, shift in
 * [-31, 7] and |x| < 2^48 (the loader's bounds), so that x times the Q15
 * multiplier fits in 63 bits. The result is narrowed to 32 bits with
 * wrap-around, as TFLite's static_cast does on its targets when the scaled
 * value exceeds int32 (which TFLite only asserts against); kernels clamp
 * it afterwards. */
static inline int32_t mfl_quant_mul_by_qm_s64(int64_t x, int32_t m, int shift)
{
    const int64_t reduced = m < 0x7FFF0000 ? (int64_t)((m + (1 << 15)) >> 16) : 0x7FFF;
    const int total = 15 - shift;
    const int64_t r = (x * reduced + ((int64_t)1 << (total - 1))) >> total;
    return (int32_t)(uint32_t)(uint64_t)r;
}

static inline int32_t mfl_quant_clamp(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/*
 * Fixed-point helpers for the int8 softmax, after gemmlowp's fixedpoint.h.
 * A "Qk" value holds a real number r as raw int32 r * 2^(31-k) (k integer
 * bits). See quant/fixedpoint.c for the reasoning behind each constant.
 */

/* exp(a) for a Q5 value a <= 0; result in Q0 (i.e. in [0, 1]). */
int32_t mfl_quant_exp_on_negative_q5(int32_t a);

/* exp(a) for a <= 0 with integer_bits (1..5) integer bits; result in Q0.
 * gemmlowp's exp_on_negative_values<integer_bits>. */
int32_t mfl_quant_exp_on_negative(int32_t a, int integer_bits);

/* 1 / (1 + exp(-a)) for a with integer_bits (1..5) integer bits, a !=
 * INT32_MIN; result in Q0 (gemmlowp's logistic, as TFLM's int8 LOGISTIC
 * uses it with 4 integer bits). */
int32_t mfl_quant_logistic(int32_t a, int integer_bits);

/* tanh(a) for a with integer_bits (1..4) integer bits, a != INT32_MIN;
 * result in Q0 (gemmlowp's tanh; TFLM's int8 TANH uses 4 integer bits). */
int32_t mfl_quant_tanh(int32_t a, int integer_bits);

/* 1 / x for a Q12 value x > 0, as a Q0 mantissa and a power of two:
 * 1/x = (result / 2^31) * 2^-(*num_bits_over_unit) ... see fixedpoint.c. */
int32_t mfl_quant_reciprocal_q12(int32_t x, int *num_bits_over_unit);

/* x * 2^exponent with saturation for exponent > 0, rounding for < 0. */
int32_t mfl_quant_saturating_rounding_mul_pot(int32_t x, int exponent);

/* floor(sqrt(v)) by the bit-by-bit method (32 iterations, no division);
 * *remainder (if not NULL) gets v - result^2, so that the caller can round:
 * the nearest integer is result + 1 when *remainder > result. */
uint64_t mfl_quant_isqrt(uint64_t v, uint64_t *remainder);

#ifdef __cplusplus
}
#endif

#endif /* MFL_QUANT_H */
