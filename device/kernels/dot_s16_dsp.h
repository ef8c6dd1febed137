/*
 * Dot products of int16 activations with int8 weights on the Armv7E-M DSP
 * extension (or its C emulation, dsp.h), for the 16x8 convolutions
 * (conv2d_s16_dsp.c, transpose_conv2d_s16_dsp.c). Integer sums, so the same
 * bits as the portable kernels whatever the order of the taps.
 *
 * Four taps at a time: the activations x0..x3 are two words (x0 x1) and
 * (x2 x3), repacked by PKHBT/PKHTB into the pairs (x0 x2) and (x1 x3); the
 * weights w0..w3 are one word, whose SXTB16 and SXTB16 ROR #8 give the
 * pairs (w0 w2) and (w1 w3). Two SMLADs then add w0x0 + w1x1 + w2x2 + w3x3.
 * The repacked activations serve four output channels (dot4), whose
 * filters lie a fixed stride apart. Unaligned word loads (the Cortex-M4's
 * LDR takes them) read the activations at any even address and the
 * weights at any address.
 *
 * Overflow (TFLite's 16x8 reference accumulates in int64): every product
 * is at most 32768 * 128 = 2^22 in magnitude, so a sum of at most
 * MFL_S16_ACC32_TAPS = 511 of them is at most 511 * 2^22 = 2^31 - 2^22 <
 * 2^31 and fits an int32 exactly. mfl_s16_acc_t keeps an int32 partial sum
 * of at most that many taps (`pending`), and adds it into its int64 total
 * before the next tap would exceed the bound: every total is then the
 * exact int64 sum. (SMLAD's own intermediate sums cannot wrap either: each
 * is a partial sum of the same at most 511 products.) A window of up to
 * 511 taps ("narrow": SEANet's every layer) needs no counting at all: its
 * int32 sums are whole, and the outputs are requantized from them.
 */
#ifndef MFL_KERNELS_DOT_S16_DSP_H
#define MFL_KERNELS_DOT_S16_DSP_H

#include "conv_s16.h"
#include "dsp.h"

#if MFL_HAVE_DSP

/* Output channels summed together: every repacked activation word serves
 * this many filters. */
#define MFL_S16_DSP_CHANNELS 4

/* Inlined into each use with constant channel counts and window kinds, so
 * that the accumulators live in registers and the unused forms vanish. */
#define MFL_S16_INLINE static inline __attribute__((always_inline))

/* The window sums of `channels` output channels (MFL_S16_DSP_CHANNELS, or
 * 1 for the last of a count that is not a multiple), fed run by run. A
 * "narrow" window has at most MFL_S16_ACC32_TAPS taps in all: its int32
 * parts are whole. A wide one counts its taps in `pending`. */
typedef struct {
    int64_t total[MFL_S16_DSP_CHANNELS]; /* flushed sums (wide windows) */
    int32_t part[MFL_S16_DSP_CHANNELS];  /* sums of the last `pending` taps */
    int32_t pending;                     /* taps in part[] (wide windows), at most MFL_S16_ACC32_TAPS */
} mfl_s16_acc_t;

/* part[i] += x . (w + i * stride) over n taps, i < 4. */
MFL_S16_INLINE void mfl_s16_dot4(const int16_t *x, const int8_t *w, int32_t stride, int32_t n, int32_t *part)
{
    int32_t a0 = part[0], a1 = part[1], a2 = part[2], a3 = part[3];
    const int8_t *w2 = w + 2 * stride;
    for (; n >= 4; n -= 4) {
        const int32_t x01 = mfl_read_s16x2(x), x23 = mfl_read_s16x2(x + 2);
        x += 4;
        const int32_t xe = mfl_pkhbt16(x01, x23); /* x0 x2 */
        const int32_t xo = mfl_pkhtb16(x23, x01); /* x1 x3 */
        int32_t v = mfl_read_s8x4(w);
        a0 = mfl_smlad(mfl_sxtb16(v), xe, a0);
        a0 = mfl_smlad(mfl_sxtb16_ror8(v), xo, a0);
        v = mfl_read_s8x4(w + stride);
        a1 = mfl_smlad(mfl_sxtb16(v), xe, a1);
        a1 = mfl_smlad(mfl_sxtb16_ror8(v), xo, a1);
        v = mfl_read_s8x4(w2);
        a2 = mfl_smlad(mfl_sxtb16(v), xe, a2);
        a2 = mfl_smlad(mfl_sxtb16_ror8(v), xo, a2);
        v = mfl_read_s8x4(w2 + stride);
        a3 = mfl_smlad(mfl_sxtb16(v), xe, a3);
        a3 = mfl_smlad(mfl_sxtb16_ror8(v), xo, a3);
        w += 4;
        w2 += 4;
    }
    for (int32_t i = 0; i < n; i++) { /* tail: 1 to 3 taps */
        const int32_t xi = x[i];
        a0 += xi * w[i];
        a1 += xi * w[stride + i];
        a2 += xi * w2[i];
        a3 += xi * w2[stride + i];
    }
    part[0] = a0;
    part[1] = a1;
    part[2] = a2;
    part[3] = a3;
}

/* part[0] += x . w over n taps. */
MFL_S16_INLINE void mfl_s16_dot1(const int16_t *x, const int8_t *w, int32_t n, int32_t *part)
{
    int32_t a0 = part[0];
    for (; n >= 4; n -= 4) {
        const int32_t x01 = mfl_read_s16x2(x), x23 = mfl_read_s16x2(x + 2);
        x += 4;
        const int32_t v = mfl_read_s8x4(w);
        w += 4;
        a0 = mfl_smlad(mfl_sxtb16(v), mfl_pkhbt16(x01, x23), a0);
        a0 = mfl_smlad(mfl_sxtb16_ror8(v), mfl_pkhtb16(x23, x01), a0);
    }
    for (int32_t i = 0; i < n; i++) {
        a0 += (int32_t)x[i] * w[i];
    }
    part[0] = a0;
}

MFL_S16_INLINE void mfl_s16_dot(int32_t channels, int32_t stride, const int16_t *x, const int8_t *w, int32_t n,
                                int32_t *part)
{
    if (channels == MFL_S16_DSP_CHANNELS) {
        mfl_s16_dot4(x, w, stride, n, part);
    } else {
        mfl_s16_dot1(x, w, n, part);
    }
}

MFL_S16_INLINE void mfl_s16_acc_init(mfl_s16_acc_t *acc, int32_t narrow, int32_t channels)
{
    for (int32_t i = 0; i < channels; i++) {
        acc->part[i] = 0;
        if (!narrow) {
            acc->total[i] = 0;
        }
    }
    acc->pending = 0;
}

MFL_S16_INLINE void mfl_s16_acc_flush(mfl_s16_acc_t *acc, int32_t channels)
{
    for (int32_t i = 0; i < channels; i++) {
        acc->total[i] += acc->part[i];
        acc->part[i] = 0;
    }
    acc->pending = 0;
}

/* Adds a run of n taps: activations x against the weights at w (of the
 * first channel; the others follow `stride` bytes apart). A wide window's
 * run goes in pieces that keep pending within the bound. */
MFL_S16_INLINE void mfl_s16_acc_run(mfl_s16_acc_t *acc, int32_t narrow, int32_t channels, int32_t stride,
                                    const int16_t *x, const int8_t *w, int32_t n)
{
    if (narrow) {
        mfl_s16_dot(channels, stride, x, w, n, acc->part);
        return;
    }
    while (n > 0) {
        int32_t m = MFL_S16_ACC32_TAPS - acc->pending;
        if (m == 0) {
            mfl_s16_acc_flush(acc, channels);
            continue;
        }
        m = m < n ? m : n;
        mfl_s16_dot(channels, stride, x, w, m, acc->part);
        acc->pending += m;
        x += m;
        w += m;
        n -= m;
    }
}

/* Finishes the window sums and writes the outputs of `channels` channels
 * from oc on; returns the next output. A narrow window's sums are its
 * int32 parts. */
MFL_S16_INLINE int16_t *mfl_s16_acc_store(mfl_s16_acc_t *acc, int32_t narrow, int32_t channels,
                                          const int64_t *bias, int32_t oc, const mfl_requant_t *rq,
                                          int32_t act_min, int32_t act_max, int16_t *output)
{
    if (!narrow) {
        mfl_s16_acc_flush(acc, channels);
    }
    for (int32_t i = 0; i < channels; i++) {
        const int64_t sum = narrow ? (int64_t)acc->part[i] : acc->total[i];
        *output++ = mfl_s16_requant(sum, bias, oc + i, rq, act_min, act_max);
    }
    return output;
}

#endif /* MFL_HAVE_DSP */

#endif /* MFL_KERNELS_DOT_S16_DSP_H */
