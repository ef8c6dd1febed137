/*
 * Real scales as integers, for devices without floating point.
 *
 * An mfl_scale_t holds r = m * 2^(e - 31) with m in [2^30, 2^31) (or m = 0
 * for r = 0): a Q31 mantissa in [0.5, 1) and a power of two. It is the form
 * in which models carry scales to devices, and the learner computes new
 * requantization multipliers with it. Products and quotients round to
 * nearest (ties away from zero); applying a scale to an int64 uses exact
 * 96-bit intermediate products.
 */
#ifndef MFL_SCALE_H
#define MFL_SCALE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int32_t m; /* mantissa, Q31, in [2^30, 2^31), or 0 */
    int32_t e; /* exponent */
} mfl_scale_t;

/* v * 2^-frac_bits for v >= 0. */
mfl_scale_t mfl_scale_from_int(uint64_t v, int frac_bits);

mfl_scale_t mfl_scale_mul(mfl_scale_t a, mfl_scale_t b);

/* a / b; b must be nonzero (a zero b gives 0). */
mfl_scale_t mfl_scale_div(mfl_scale_t a, mfl_scale_t b);

/* round(v * r), ties away from zero, saturated to int64. */
int64_t mfl_scale_apply(mfl_scale_t s, int64_t v);

/* mfl_scale_apply for a scale with m != 0 and 32 < 31 - e < 96 (below 1/2:
 * a learning step's), inline for per-element loops. There the high word of
 * the 96-bit product |v| * m decides the rounding alone (the low word cannot
 * carry into it), so two 32x32 multiplies and one shift give the result. */
static inline int64_t mfl_scale_apply_below_half(mfl_scale_t s, int64_t v)
{
    const int sh = 31 - s.e;
    const uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    const uint64_t hi = (mag >> 32) * (uint32_t)s.m + (((mag & 0xFFFFFFFFu) * (uint32_t)s.m) >> 32);
    const uint64_t r = (hi + (1ull << (sh - 33))) >> (sh - 32);
    return v < 0 ? -(int64_t)r : (int64_t)r;
}

/* floor(n / d) for d > 0 and n < d * 2^32 (the quotient fits 32 bits),
 * without a 64-bit division. */
uint32_t mfl_div_u64_u32(uint64_t n, uint32_t d);

/* The scale an IEEE-754 binary32 value holds (the bits of a float, as
 * TFLite stores scales), exactly: a 24-bit significand fits the Q31
 * mantissa. Integer operations only. Returns 0, or MFL_ERR_INVALID_ARG for
 * bits that are not a positive normal finite number (zero, negative,
 * subnormal, infinite, NaN: never a TFLite scale microfl accepts). */
int mfl_scale_from_f32_bits(uint32_t bits, mfl_scale_t *s);

/* The kernel form of a scale (quant.h): multiplier m and shift e, or
 * MFL_ERR_INVALID_ARG when e is outside [-31, 30]. */
int mfl_scale_to_multiplier(mfl_scale_t s, int32_t *multiplier, int32_t *shift);

#ifdef __cplusplus
}
#endif

#endif /* MFL_SCALE_H */
