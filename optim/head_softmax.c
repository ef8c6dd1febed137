/*
 * The head's softmax in Q0.15 for the learning step (include/mfl/head.h).
 * A step needs each probability to one part in 2^15, not the 31 bits of
 * TFLite's exp (gemmlowp's exp_on_negative_values, ~100 instructions on a
 * Cortex-M4): exp is computed as a power of two from a small table, and
 * the normalisation multiplies by one reciprocal instead of dividing per
 * unit.
 */
#include "mfl/head.h"

/* 2^(-i/64) for i = 0..64, Q1.31 (2^31 = 1.0): the fractional part of the
 * exponent in 64 steps, interpolated linearly between entries. */
static const uint32_t exp2_neg[65] = {
    2147483648u, 2124350982u, 2101467502u, 2078830522u, 2056437387u, 2034285470u,
    2012372174u, 1990694927u, 1969251188u, 1948038440u, 1927054196u, 1906295993u,
    1885761398u, 1865448001u, 1845353420u, 1825475297u, 1805811301u, 1786359126u,
    1767116489u, 1748081133u, 1729250827u, 1710623359u, 1692196547u, 1673968228u,
    1655936265u, 1638098541u, 1620452965u, 1602997467u, 1585730000u, 1568648537u,
    1551751076u, 1535035634u, 1518500250u, 1502142985u, 1485961921u, 1469955159u,
    1454120821u, 1438457051u, 1422962010u, 1407633882u, 1392470869u, 1377471191u,
    1362633090u, 1347954824u, 1333434672u, 1319070932u, 1304861917u, 1290805962u,
    1276901417u, 1263146652u, 1249540052u, 1236080024u, 1222764986u, 1209593378u,
    1196563654u, 1183674286u, 1170923762u, 1158310587u, 1145833280u, 1133490379u,
    1121280436u, 1109202018u, 1097253708u, 1085434106u, 1073741824u,
};

#define LOG2E_Q30 1549082005u /* log2(e) * 2^30 */
#define EXP_Q 23              /* exp values: Q0.23, so that 256 of them sum below 2^31 */

/* exp(-d) in Q0.23 for d >= 0 in Q8.24 (truncated). */
static uint32_t exp_neg(uint32_t d)
{
    if (d >= (16u << 24)) {
        return 0; /* exp(-16) < 2^-23 */
    }
    const uint32_t u = (uint32_t)(((uint64_t)d * LOG2E_Q30) >> 30); /* d log2(e), Q8.24, < 2^29 */
    const uint32_t n = u >> 24, frac = u & 0xFFFFFFu;                /* 2^-u = 2^-n 2^-frac */
    const uint32_t i = frac >> 18, r = frac & 0x3FFFFu;             /* table step and position in it */
    const uint32_t v = exp2_neg[i] - (uint32_t)(((uint64_t)(exp2_neg[i] - exp2_neg[i + 1]) * r) >> 18);
    return v >> (n + (31 - EXP_Q)); /* n <= 23: the shift stays below 32 */
}

void mfl_head_softmax(int32_t *z, int units, int16_t *p)
{
    int32_t max = z[0];
    for (int i = 1; i < units; i++) {
        max = z[i] > max ? z[i] : max;
    }
    uint32_t sum = 0; /* <= 256 * 2^23 = 2^31 */
    for (int i = 0; i < units; i++) {
        const uint32_t e = exp_neg((uint32_t)max - (uint32_t)z[i]); /* max - z_i < 2^32 */
        z[i] = (int32_t)e;
        sum += e;
    }
    /* sum >= exp(0) = 2^23; reciprocal = 2^54 / sum in (2^23, 2^31] */
    const uint64_t reciprocal = mfl_div_u64_u32((uint64_t)1 << 54, sum);
    for (int i = 0; i < units; i++) {
        const uint32_t q = (uint32_t)(((uint64_t)(uint32_t)z[i] * reciprocal + ((uint64_t)1 << 38)) >> 39);
        p[i] = (int16_t)(q > 32767u ? 32767u : q); /* 1.0 only when one unit takes it all */
    }
}
