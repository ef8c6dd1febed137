/* Internal helpers shared by the int8 kernels. */
#ifndef MFL_KERNEL_UTIL_H
#define MFL_KERNEL_UTIL_H

#include "mfl/kernels.h"
#include "mfl/quant.h"

/* The taps [*lo, *hi) of a filter of `taps` taps, spaced `dilation` apart
 * and starting at input coordinate `origin`, that fall inside [0, size).
 * Computing the range once per output position keeps bounds checks out of
 * the inner loops. */
static inline void mfl_tap_range(int32_t origin, int32_t dilation, int32_t taps, int32_t size, int32_t *lo,
                                 int32_t *hi)
{
    /* first tap t with origin + t*dilation >= 0 */
    int32_t first = origin >= 0 ? 0 : (-origin + dilation - 1) / dilation;
    /* taps with origin + t*dilation < size: t < (size - origin) / dilation, rounded up */
    int32_t end = size - origin <= 0 ? 0 : (size - origin + dilation - 1) / dilation;
    *lo = first;
    *hi = end < taps ? end : taps;
}

/* Requantization, output offset and activation clamp of an accumulator
 * that already holds the bias. */
static inline int8_t mfl_requant_acc_s8(int32_t acc, int32_t multiplier, int32_t shift, int32_t output_offset,
                                        int32_t act_min, int32_t act_max)
{
    acc = mfl_quant_mul_by_qm_fast(acc, multiplier, shift);
    acc = mfl_quant_add_wrap(acc, output_offset);
    return (int8_t)mfl_quant_clamp(acc, act_min, act_max);
}

/* Bias, requantization, output offset and activation clamp of one output. */
static inline int8_t mfl_requant_s8(int32_t acc, const int32_t *bias, int32_t channel, int32_t multiplier,
                                    int32_t shift, int32_t output_offset, int32_t act_min, int32_t act_max)
{
    return mfl_requant_acc_s8(bias ? mfl_quant_add_wrap(acc, bias[channel]) : acc, multiplier, shift,
                              output_offset, act_min, act_max);
}

#endif /* MFL_KERNEL_UTIL_H */
