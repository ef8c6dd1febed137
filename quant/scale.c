/*
 * Integer arithmetic on real scales (see include/mfl/scale.h). Used on the
 * device, so no floating point: 64-bit integer multiplies and divides only,
 * and a 96-bit product (as two uint64 halves) where a 64-bit value meets a
 * Q31 mantissa.
 */
#include "mfl/error.h"
#include "mfl/quant.h"
#include "mfl/scale.h"

#define Q31_HALF (1u << 30)
#define Q31_ONE (1ull << 31)

static int highest_bit(uint64_t v)
{
    return v ? 63 - __builtin_clzll(v) : -1; /* CLZ on Cortex-M3 and up */
}

/* Long division in base 2^16 with a normalised divisor (Knuth's algorithm D
 * for a two-digit divisor, as in Hacker's Delight's divlu): two 32-bit
 * divisions (one instruction each on Cortex-M3/M4) and at most two
 * corrections per digit, instead of the C library's bit-serial 64-bit
 * division (hundreds of instructions on a 32-bit core). */
uint32_t mfl_div_u64_u32(uint64_t n, uint32_t d)
{
    const int s = __builtin_clz(d);
    d <<= s;
    n <<= s; /* fits: n < d * 2^32 before the shift */
    const uint32_t d1 = d >> 16, d0 = d & 0xFFFFu;
    const uint32_t n32 = (uint32_t)(n >> 32), n10 = (uint32_t)n;
    const uint32_t n1 = n10 >> 16, n0 = n10 & 0xFFFFu;
    uint32_t q1 = n32 / d1, rhat = n32 - q1 * d1;
    while (q1 > 0xFFFFu || q1 * d0 > ((rhat << 16) | n1)) {
        q1--;
        rhat += d1;
        if (rhat > 0xFFFFu) {
            break;
        }
    }
    const uint32_t n21 = (n32 << 16) + n1 - q1 * d; /* wraps as intended: the true value is < d */
    uint32_t q0 = n21 / d1;
    rhat = n21 - q0 * d1;
    while (q0 > 0xFFFFu || q0 * d0 > ((rhat << 16) | n0)) {
        q0--;
        rhat += d1;
        if (rhat > 0xFFFFu) {
            break;
        }
    }
    return (q1 << 16) | q0;
}

/* Normalises a mantissa candidate that may have reached 2^31 by rounding. */
static mfl_scale_t normalised(uint64_t m, int32_t e)
{
    if (m >= Q31_ONE) {
        m = (m + 1) >> 1;
        e++;
    }
    mfl_scale_t s = {(int32_t)m, e};
    return s;
}

mfl_scale_t mfl_scale_from_int(uint64_t v, int frac_bits)
{
    if (v == 0) {
        mfl_scale_t zero = {0, 0};
        return zero;
    }
    const int k = highest_bit(v); /* v in [2^k, 2^(k+1)) */
    uint64_t m;
    if (k > 30) {
        const int sh = k - 30;
        m = (v >> sh) + ((v >> (sh - 1)) & 1u); /* round half up (v > 0) */
    } else {
        m = v << (30 - k);
    }
    return normalised(m, k - frac_bits + 1);
}

mfl_scale_t mfl_scale_mul(mfl_scale_t a, mfl_scale_t b)
{
    if (a.m == 0 || b.m == 0) {
        mfl_scale_t zero = {0, 0};
        return zero;
    }
    const uint64_t p = (uint64_t)(uint32_t)a.m * (uint32_t)b.m; /* in [2^60, 2^62) */
    if (p >= (1ull << 61)) {
        return normalised((p + Q31_HALF) >> 31, a.e + b.e);
    }
    return normalised((p + (1u << 29)) >> 30, a.e + b.e - 1);
}

mfl_scale_t mfl_scale_div(mfl_scale_t a, mfl_scale_t b)
{
    if (a.m == 0 || b.m == 0) {
        mfl_scale_t zero = {0, 0};
        return zero;
    }
    const uint64_t num = (uint64_t)(uint32_t)a.m << 31;
    const uint64_t d = (uint32_t)b.m;
    if ((uint32_t)a.m >= (uint32_t)b.m) { /* quotient in [2^31, 2^32): one bit less */
        return normalised(mfl_div_u64_u32((num >> 1) + d / 2, (uint32_t)d), a.e - b.e + 1);
    }
    return normalised(mfl_div_u64_u32(num + d / 2, (uint32_t)d), a.e - b.e);
}

/* |v| * m as a 96-bit value in two halves: hi * 2^32 + lo. */
typedef struct {
    uint64_t hi, lo;
} wide_t;

static wide_t mul_wide(uint64_t v, uint32_t m)
{
    const uint64_t lo = (v & 0xFFFFFFFFu) * m;
    const uint64_t mid = (v >> 32) * m;
    wide_t w = {mid + (lo >> 32), lo & 0xFFFFFFFFu};
    return w;
}

/* round(w / 2^sh), ties away from zero (w >= 0), saturated to INT64_MAX. */
static uint64_t shift_round(wide_t w, int sh)
{
    const uint64_t cap = (uint64_t)INT64_MAX;
    if (sh <= 0) {
        if (sh < -30 || w.hi > (cap >> (32 - sh))) {
            return cap;
        }
        return ((w.hi << 32 | w.lo) << -sh);
    }
    /* sh in (0, 32] (mfl_scale_apply_below_half takes the rest): value =
     * hi * 2^32 + lo with lo < 2^32; add half an output unit, shift */
    const uint64_t half = 1ull << (sh - 1);
    const uint64_t lo = w.lo + half; /* < 2^33 */
    const uint64_t hi = w.hi + (lo >> 32);
    if (hi >> (63 - 32 + sh) >= 1) {
        return cap;
    }
    return (hi << (32 - sh)) | ((lo & 0xFFFFFFFFu) >> sh);
}

int64_t mfl_scale_apply(mfl_scale_t s, int64_t v)
{
    if (s.m == 0 || v == 0) {
        return 0;
    }
    const int sh = 31 - s.e;
    if (sh > 32) { /* |v| * m < 2^95: below half a unit from sh = 96 on */
        return sh < 96 ? mfl_scale_apply_below_half(s, v) : 0;
    }
    const uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    const uint64_t r = shift_round(mul_wide(mag, (uint32_t)s.m), sh);
    return v < 0 ? -(int64_t)r : (int64_t)r;
}

int mfl_scale_from_f32_bits(uint32_t bits, mfl_scale_t *s)
{
    const uint32_t biased = (bits >> 23) & 0xFFu;
    if ((bits >> 31) != 0 || biased == 0 || biased == 0xFFu) {
        return MFL_ERR_INVALID_ARG;
    }
    /* (1.f) * 2^(biased - 127) = ((2^23 | f) * 2^7 / 2^31) * 2^(biased - 126) */
    s->m = (int32_t)(((bits & 0x7FFFFFu) | 0x800000u) << 7);
    s->e = (int32_t)biased - 126;
    return 0;
}

int mfl_scale_to_multiplier(mfl_scale_t s, int32_t *multiplier, int32_t *shift)
{
    if (s.m != 0 && (s.e < MFL_QUANT_SHIFT_MIN || s.e > MFL_QUANT_SHIFT_MAX)) {
        return MFL_ERR_INVALID_ARG;
    }
    *multiplier = s.m;
    *shift = s.m ? s.e : 0;
    return 0;
}
