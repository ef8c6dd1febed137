/*
 * Shared between the parts of the head trainer (optim/head_*.c): the
 * forward pass of a learning step on a 16-bit shadow of the master.
 */
#ifndef MFL_OPTIM_HEAD_INTERNAL_H
#define MFL_OPTIM_HEAD_INTERNAL_H

#include "dsp.h" /* device/kernels: SMLAD, SXTAB16, PKHBT, or their C emulation on hosts */
#include "mfl/head.h"

/* Two int16 lanes in a word: lo in bits [15:0], hi in [31:16] (PKHBT). */
static inline uint32_t mfl_head_pair(int32_t lo, int32_t hi)
{
#if MFL_HAVE_DSP
    return (uint32_t)mfl_pkhbt16(lo, hi);
#else
    return ((uint32_t)hi << 16) | ((uint32_t)lo & 0xFFFFu);
#endif
}

/* Two consecutive words at *p, advancing *p (LDRD on the target). */
static inline void mfl_head_load2(const uint32_t **p, uint32_t *a, uint32_t *b)
{
#if MFL_HAVE_DSP
    mfl_load2(p, a, b);
#else
    *a = (*p)[0];
    *b = (*p)[1];
    *p += 2;
#endif
}

/* a.lo * b.lo + a.hi * b.hi (SMUAD). */
static inline int32_t mfl_head_smuad(uint32_t a, uint32_t b)
{
#if MFL_HAVE_DSP
    return mfl_smuad((int32_t)a, (int32_t)b);
#else
    return (int16_t)(a & 0xFFFFu) * (int16_t)(b & 0xFFFFu) + (int16_t)(a >> 16) * (int16_t)(b >> 16);
#endif
}

/* acc + a.lo * b.lo + a.hi * b.hi (SMLAD). */
static inline int32_t mfl_head_smlad(uint32_t a, uint32_t b, int32_t acc)
{
#if MFL_HAVE_DSP
    return mfl_smlad((int32_t)a, (int32_t)b, acc);
#else
    return acc + (int16_t)(a & 0xFFFFu) * (int16_t)(b & 0xFFFFu) + (int16_t)(a >> 16) * (int16_t)(b >> 16);
#endif
}

/* v saturated to int32: the master's weights and biases saturate. */
static inline int32_t mfl_head_sat32(int64_t v)
{
    return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

/* Values per shadow row: the features rounded up to a multiple of 4 and
 * zero-padded (the forward pass unpacks four int8 features per load); a
 * row is half as many 32-bit words, each a pair of int16 lanes (bits
 * [15:0] first). */
static inline size_t mfl_head_shadow_width(uint16_t features)
{
    return ((size_t)features + 3u) & ~(size_t)3u;
}

/* Rows of the shadow: the units rounded up to a multiple of 4 (groups of
 * four rows are interleaved; the padding rows are zero). */
static inline size_t mfl_head_shadow_rows(uint16_t units)
{
    return ((size_t)units + 3u) & ~(size_t)3u;
}

/*
 * The shadow of the master for one step's forward pass: per unit i a
 * shift t_i >= 1 from the bit length L of the row's largest magnitude
 * (t_i = L - 14 when L > 15), w16 = round(W / 2^t_i) (ties up) in int16,
 * |w16| <= 2^14 (14 to 15 bits relative to the row's largest weight), each
 * group of four features
 * stored in the order 0, 2, 1, 3 (the order in which SXTAB16 unpacks four
 * int8 inputs), and scale[i] = s_x 2^t_i, which turns a row's sum of
 * w16 (x - zp_x) into a Q8.24 logit. w16: mfl_head_shadow_rows() rows of
 * mfl_head_shadow_width() / 2 words of two lanes, four rows interleaved:
 * pair p of row i is word (i / 4 * pairs + p) * 4 + i % 4.
 */
void mfl_head_shadow(const mfl_head_t *h, uint32_t *w16, mfl_scale_t *scale);

/* The Q8.24 logits z[units] of one int8 feature vector from the shadow:
 * z_i = b_i + scale_i sum_j w16_ij (x_j - zp_x), saturated; for rows of
 * up to 256 values truncated below 2^(e_i+1) (scale_i = m 2^(e_i - 31)),
 * wider ones rounded.
 * xp: scratch of mfl_head_shadow_width() / 2 words, left holding the
 * feature offsets as pairs in the shadow's order. */
void mfl_head_shadow_logits(const mfl_head_t *h, const uint32_t *w16, const mfl_scale_t *scale, const int8_t *x,
                            uint32_t *xp, int32_t *z);

#endif /* MFL_OPTIM_HEAD_INTERNAL_H */
