/*
 * PAD and PADV2 on int16 codes (TFLM reference Pad<int16_t>): the int8
 * kernel's walk (copy_walk.h) over 16-bit elements; the pad value is the
 * output zero point (0 for 16x8 tensors) or PADV2's constant.
 */
#include "copy_walk.h"
#include "mfl/kernels_s16.h"

void mfl_pad_s16(const mfl_pad_params_t *params, const int32_t input_dims[4], const int16_t *input,
                 int16_t *output)
{
    mfl_pad_walk(params, input_dims, input, output, sizeof(int16_t));
}
