/* What the 16x8 convolutions' portable and DSP kernels share: the output
 * stage (int64 bias, 64-bit requantization, clamp) and, for
 * TRANSPOSE_CONV, which input pixels reach an output
 * (transpose_conv2d_s16_portable.c explains the gather). */
#ifndef MFL_KERNELS_CONV_S16_H
#define MFL_KERNELS_CONV_S16_H

#include <stdint.h>
#include <string.h>

#include "mfl/kernels_s16.h"
#include "mfl/quant.h"

/* The output of channel oc from its window sum: the int64 bias (read
 * bytewise: images are only 4-byte aligned), TFLite's 64-bit
 * requantization (mfl_quant_mul_by_qm_s64) and the activation clamp. */
static inline __attribute__((always_inline)) int16_t mfl_s16_requant(int64_t sum, const int64_t *bias,
                                                                     int32_t oc, const mfl_requant_t *rq,
                                                                     int32_t act_min, int32_t act_max)
{
    if (bias) {
        int64_t bv;
        memcpy(&bv, bias + oc, sizeof(bv));
        sum += bv;
    }
    const int32_t v = mfl_quant_mul_by_qm_s64(sum, rq->multiplier[oc], rq->shift[oc]);
    return (int16_t)mfl_quant_clamp(v, act_min, act_max);
}

/* First and one-past-last input index reaching output index o on an axis:
 * tap o + pad - i * stride must lie in [0, taps). */
static inline void mfl_transpose_input_range(int32_t o, int32_t pad, int32_t stride, int32_t taps, int32_t size,
                                             int32_t *first, int32_t *end)
{
    const int32_t hi = o + pad; /* >= 0 */
    const int32_t lo = hi - taps + 1;
    *first = lo <= 0 ? 0 : (lo + stride - 1) / stride;
    const int32_t last = hi / stride;
    *end = last < size ? last + 1 : size;
}

#endif /* MFL_KERNELS_CONV_S16_H */
