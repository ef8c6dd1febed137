/*
 * The Armv7E-M DSP instructions the fast kernels use (Cortex-M4, M7, M33
 * with DSP): ACLE intrinsics where the target has them (__ARM_FEATURE_DSP),
 * and a C emulation of each instruction elsewhere, so that the same kernel
 * source runs on the target and in the host test suite, which proves it
 * bit-identical with the portable kernels and with TFLM's goldens.
 *
 * A "pair" is a 32-bit word holding two signed 16-bit lanes: bits [15:0]
 * (bottom) and [31:16] (top). Each emulation follows the instruction's
 * definition in the Armv7-M Architecture Reference Manual (A7.7): lane
 * arithmetic is modulo 2^16, accumulation modulo 2^32 (SMLAD then sets the
 * sticky Q flag, which no kernel reads). Memory is little-endian.
 */
#ifndef MFL_KERNELS_DSP_H
#define MFL_KERNELS_DSP_H

#include <stdint.h>
#include <string.h>

#include "kernel_util.h"
#include "mfl/quant.h"

#if defined(__ARM_FEATURE_DSP) && !defined(MFL_EMULATE_DSP)
#define MFL_DSP_NATIVE 1
#include <arm_acle.h>
#endif

#if defined(MFL_DSP_NATIVE) || defined(MFL_EMULATE_DSP)
#define MFL_HAVE_DSP 1
#else
#define MFL_HAVE_DSP 0
#endif

#if MFL_HAVE_DSP

static inline uint32_t mfl_dsp_ror8(uint32_t x)
{
    return (x >> 8) | (x << 24);
}

#ifdef MFL_DSP_NATIVE

/* SXTB16: bytes 0 and 2 of x, sign-extended into the bottom and top lanes. */
static inline int32_t mfl_sxtb16(int32_t x)
{
    return __sxtb16(x);
}

/* SXTB16 with ROR #8: bytes 1 and 3 of x. One instruction: GCC 12 does not
 * fold a rotate into the builtin's operand, so it is written out. */
static inline int32_t mfl_sxtb16_ror8(int32_t x)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}

/* SXTAB16: lanes of a plus bytes 0 and 2 of x, sign-extended. */
static inline int32_t mfl_sxtab16(int32_t a, int32_t x)
{
    return __sxtab16(a, x);
}

/* SXTAB16 with ROR #8: lanes of a plus bytes 1 and 3 of x. */
static inline int32_t mfl_sxtab16_ror8(int32_t a, int32_t x)
{
    int32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
    return r;
}

/* SMLAD: acc + bottom(a) * bottom(b) + top(a) * top(b). */
static inline int32_t mfl_smlad(int32_t a, int32_t b, int32_t acc)
{
    return __smlad(a, b, acc);
}

/* SMLABB: acc + bottom(a) * bottom(b). */
static inline int32_t mfl_smlabb(int32_t a, int32_t b, int32_t acc)
{
    return __smlabb(a, b, acc);
}

/* SMUAD: bottom(a) * bottom(b) + top(a) * top(b). */
static inline int32_t mfl_smuad(int32_t a, int32_t b)
{
    return __smuad(a, b);
}

/* QADD: a + b saturated to [INT32_MIN, INT32_MAX]. */
static inline int32_t mfl_qadd(int32_t a, int32_t b)
{
    return __qadd(a, b);
}

/* QSUB: a - b saturated to [INT32_MIN, INT32_MAX]. */
static inline int32_t mfl_qsub(int32_t a, int32_t b)
{
    return __qsub(a, b);
}

/* SSAT #8: x clamped to [-128, 127]. */
static inline int32_t mfl_ssat8(int32_t x)
{
    return __ssat(x, 8);
}

/* SMLATT: acc + top(a) * top(b). */
static inline int32_t mfl_smlatt(int32_t a, int32_t b, int32_t acc)
{
    return __smlatt(a, b, acc);
}

#else /* MFL_EMULATE_DSP */

static inline int32_t mfl_dsp_lane(int32_t x, int top)
{
    return (int16_t)(uint16_t)((uint32_t)x >> (top ? 16 : 0));
}

static inline int32_t mfl_dsp_pack(int32_t bottom, int32_t top)
{
    return (int32_t)(((uint32_t)top << 16) | ((uint32_t)bottom & 0xFFFFu));
}

static inline int32_t mfl_sxtb16(int32_t x)
{
    return mfl_dsp_pack((int8_t)(uint8_t)x, (int8_t)(uint8_t)((uint32_t)x >> 16));
}

static inline int32_t mfl_sxtb16_ror8(int32_t x)
{
    return mfl_sxtb16((int32_t)mfl_dsp_ror8((uint32_t)x));
}

static inline int32_t mfl_sxtab16(int32_t a, int32_t x)
{
    const int32_t e = mfl_sxtb16(x);
    return mfl_dsp_pack(mfl_dsp_lane(a, 0) + mfl_dsp_lane(e, 0), mfl_dsp_lane(a, 1) + mfl_dsp_lane(e, 1));
}

static inline int32_t mfl_sxtab16_ror8(int32_t a, int32_t x)
{
    return mfl_sxtab16(a, (int32_t)mfl_dsp_ror8((uint32_t)x));
}

static inline int32_t mfl_smlad(int32_t a, int32_t b, int32_t acc)
{
    const uint32_t p0 = (uint32_t)(mfl_dsp_lane(a, 0) * mfl_dsp_lane(b, 0));
    const uint32_t p1 = (uint32_t)(mfl_dsp_lane(a, 1) * mfl_dsp_lane(b, 1));
    return (int32_t)((uint32_t)acc + p0 + p1);
}

static inline int32_t mfl_smuad(int32_t a, int32_t b)
{
    return mfl_smlad(a, b, 0);
}

static inline int32_t mfl_smlabb(int32_t a, int32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(mfl_dsp_lane(a, 0) * mfl_dsp_lane(b, 0)));
}

static inline int32_t mfl_qadd(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + b;
    return sum > INT32_MAX ? INT32_MAX : (sum < INT32_MIN ? INT32_MIN : (int32_t)sum);
}

static inline int32_t mfl_qsub(int32_t a, int32_t b)
{
    const int64_t d = (int64_t)a - b;
    return d > INT32_MAX ? INT32_MAX : d < INT32_MIN ? INT32_MIN : (int32_t)d;
}

static inline int32_t mfl_ssat8(int32_t x)
{
    return x > 127 ? 127 : (x < -128 ? -128 : x);
}

static inline int32_t mfl_smlatt(int32_t a, int32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(mfl_dsp_lane(a, 1) * mfl_dsp_lane(b, 1)));
}

#endif /* MFL_DSP_NATIVE */

/* PKHBT a, b, LSL #16: the bottom lanes of a and b, as bottom and top.
 * PKHTB a, b, ASR #16: the top lanes of b and a, as bottom and top.
 * Written out on the target: GCC 12 does not match the C form. */
static inline int32_t mfl_pkhbt16(int32_t a, int32_t b)
{
#ifdef MFL_DSP_NATIVE
    int32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return (int32_t)(((uint32_t)a & 0xFFFFu) | ((uint32_t)b << 16));
#endif
}

static inline int32_t mfl_pkhtb16(int32_t a, int32_t b)
{
#ifdef MFL_DSP_NATIVE
    int32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return (int32_t)(((uint32_t)a & 0xFFFF0000u) | ((uint32_t)b >> 16));
#endif
}

/* Two consecutive words at *p (one LDRD with post-increment on the target:
 * GCC 12 keeps two loads and an add), advancing *p past them. *p must be
 * word-aligned. */
static inline void mfl_load2(const uint32_t **p, uint32_t *a, uint32_t *b)
{
#if defined(MFL_DSP_NATIVE) && defined(__thumb2__) /* A32's LDRD wants an even register pair */
    const uint32_t *q = *p;
    uint32_t x, y;
    __asm__("ldrd %0, %1, [%2], #8" : "=r"(x), "=r"(y), "+r"(q) : "m"(*(const uint32_t(*)[2])q));
    *a = x;
    *b = y;
    *p = q;
#else
    *a = (*p)[0];
    *b = (*p)[1];
    *p += 2;
#endif
}

/* Four int8 from any address (Cortex-M4's LDR accepts unaligned ones). */
static inline int32_t mfl_read_s8x4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* Two int16 from a 2-byte-aligned address, as a pair. */
static inline int32_t mfl_read_s16x2(const int16_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline void mfl_write_s16x2(int16_t *p, int32_t v)
{
    memcpy(p, &v, sizeof(v));
}

/* The input offset in both lanes, for SXTAB16 widening. */
static inline int32_t mfl_dsp_offset_pair(int32_t offset)
{
    return (int32_t)(((uint32_t)offset << 16) | ((uint32_t)offset & 0xFFFFu));
}

/*
 * Requantization for layers whose every shift lies in
 * [MFL_DSP_SHIFT_MIN, -1] (all four MLPerf Tiny models: real multipliers
 * below 1/2 and above 2^-24), the common case, in about half the
 * instructions of the general mfl_quant_mul_by_qm_fast:
 *
 *   t = srdhm(acc, m)                      (gemmlowp, exact)
 *   q = (t - [t < 0] +sat 2^(r-1)) >> r    (r = -shift)
 *
 * The second line is rdbpot(t, r) (round half away from zero) whenever the
 * saturating add does not saturate. It saturates only for t near 2^31;
 * then both q and the true rdbpot(t, r) are >= 2^(31-r) - 1 >= 255, so
 * after adding the output zero point (>= -128) both clamp to act_max
 * (<= 127): the int8 output is the same. This is why r is bounded by 23.
 * t - [t < 0] cannot wrap: srdhm with m < 2^31 never gives INT32_MIN.
 */
#define MFL_DSP_SHIFT_MIN (-23)

/* Whether requant entries [0, n) all suit mfl_dsp_requant_s8. */
static inline int mfl_dsp_requant_fits(const int32_t *shift, int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        if (shift[i] < MFL_DSP_SHIFT_MIN || shift[i] > -1) {
            return 0;
        }
    }
    return 1;
}

static inline int32_t mfl_dsp_requant(int32_t acc, int32_t m, int32_t shift)
{
    int32_t t = (int32_t)(((int64_t)acc * m + (1LL << 30)) >> 31);
    t -= (int32_t)((uint32_t)t >> 31);
    t = mfl_qadd(t, (int32_t)(1u << (-shift - 1)));
    return t >> -shift;
}

/* How a layer's outputs are requantized (mfl_dsp_requant_mode), chosen
 * once per layer so that each kernel loop gets one form inlined. */
enum {
    MFL_DSP_REQUANT_ANY = 0,  /* the general branch-free form */
    MFL_DSP_REQUANT_SHORT,    /* mfl_dsp_requant: every shift in [MFL_DSP_SHIFT_MIN, -1] */
    MFL_DSP_REQUANT_SHORT_FULL, /* the same, and the activation range is all of int8 (one SSAT) */
};

static inline int mfl_dsp_requant_mode(const int32_t *shift, int32_t n, int32_t act_min, int32_t act_max)
{
    if (!mfl_dsp_requant_fits(shift, n)) {
        return MFL_DSP_REQUANT_ANY;
    }
    return act_min == -128 && act_max == 127 ? MFL_DSP_REQUANT_SHORT_FULL : MFL_DSP_REQUANT_SHORT;
}

/* The int8 output of one accumulator (bias included) in the given mode:
 * requantization, the output zero point and the activation clamp. */
static inline int8_t mfl_dsp_requant_s8(int32_t acc, int32_t m, int32_t shift, int mode, int32_t output_offset,
                                        int32_t act_min, int32_t act_max)
{
    if (mode == MFL_DSP_REQUANT_ANY) {
        return mfl_requant_acc_s8(acc, m, shift, output_offset, act_min, act_max);
    }
    const int32_t v = mfl_dsp_requant(acc, m, shift) + output_offset; /* |v| < 2^31 - 128: no wrap */
    if (mode == MFL_DSP_REQUANT_SHORT_FULL) {
        return (int8_t)mfl_ssat8(v);
    }
    return (int8_t)mfl_quant_clamp(v, act_min, act_max);
}

#endif /* MFL_HAVE_DSP */

#endif /* MFL_KERNELS_DSP_H */
