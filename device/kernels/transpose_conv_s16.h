/* What both TRANSPOSE_CONV 16x8 kernels share: which input pixels reach an
 * output (transpose_conv2d_s16_portable.c explains the gather). */
#ifndef MFL_KERNELS_TRANSPOSE_CONV_S16_H
#define MFL_KERNELS_TRANSPOSE_CONV_S16_H

#include <stdint.h>

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

#endif /* MFL_KERNELS_TRANSPOSE_CONV_S16_H */
