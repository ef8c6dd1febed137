/*
 * MAXIMUM and MINIMUM, int8 (TFLM reference MaximumMinimumBroadcastSlow):
 * the larger or smaller raw code of each pair. TFLM compares the codes
 * without looking at the quantization (it has no Prepare step); the
 * converter gives both inputs and the output one scale and zero point, so
 * that the codes compare as the real values do.
 */
#include "kernel_util.h"

static void maximum_run(const void *params, int32_t n, const int8_t *in1, int32_t step1, const int8_t *in2,
                        int32_t step2, int8_t *out)
{
    (void)params;
    for (int32_t i = 0; i < n; i++, in1 += step1, in2 += step2) {
        out[i] = *in1 > *in2 ? *in1 : *in2;
    }
}

static void minimum_run(const void *params, int32_t n, const int8_t *in1, int32_t step1, const int8_t *in2,
                        int32_t step2, int8_t *out)
{
    (void)params;
    for (int32_t i = 0; i < n; i++, in1 += step1, in2 += step2) {
        out[i] = *in1 < *in2 ? *in1 : *in2;
    }
}

void mfl_maximum_s8(const mfl_broadcast_t *shape, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    mfl_broadcast_walk_s8(maximum_run, NULL, shape, input1, input2, output);
}

void mfl_minimum_s8(const mfl_broadcast_t *shape, const int8_t *input1, const int8_t *input2, int8_t *output)
{
    mfl_broadcast_walk_s8(minimum_run, NULL, shape, input1, input2, output);
}
