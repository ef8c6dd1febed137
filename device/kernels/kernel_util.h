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

/* Applies a function of one int8 code to `size` codes. A function of an
 * int8 input has only 256 values: for tensors larger than that it is cheaper
 * to tabulate it once (256 bytes of stack) and look each code up, which
 * gives the same bits. Input and output may be the same buffer. */
typedef int8_t (*mfl_code_fn_t)(const void *params, int32_t code);

static inline void mfl_map_codes_s8(mfl_code_fn_t fn, const void *params, int32_t size, const int8_t *input,
                                    int8_t *output)
{
    if (size <= 256) {
        for (int32_t i = 0; i < size; i++) {
            output[i] = fn(params, input[i]);
        }
        return;
    }
    int8_t table[256];
    for (int32_t code = -128; code <= 127; code++) {
        table[(uint8_t)code] = fn(params, code);
    }
    for (int32_t i = 0; i < size; i++) {
        output[i] = table[(uint8_t)input[i]];
    }
}

/* One run of a binary operator: n outputs from in1 and in2 read with steps
 * of 0 (a broadcast operand: its one element serves the run) or 1. */
typedef void (*mfl_binary_run_t)(const void *params, int32_t n, const int8_t *in1, int32_t step1,
                                 const int8_t *in2, int32_t step2, int8_t *out);

/* Walks a broadcast (kernels.h) in output order, calling run once per
 * innermost run of the merged axes (broadcast_s8.c). */
void mfl_broadcast_walk_s8(mfl_binary_run_t run, const void *params, const mfl_broadcast_t *shape,
                           const int8_t *in1, const int8_t *in2, int8_t *out);

#endif /* MFL_KERNEL_UTIL_H */
