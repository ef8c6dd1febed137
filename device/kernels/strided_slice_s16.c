/*
 * STRIDED_SLICE on int16 codes (TFLM reference StridedSlice<int16_t>): the
 * int8 kernel's walk (copy_walk.h) over 16-bit elements.
 */
#include "copy_walk.h"
#include "mfl/kernels_s16.h"

void mfl_strided_slice_s16(const mfl_slice_params_t *params, const int32_t input_dims[4], const int16_t *input,
                           int16_t *output)
{
    mfl_strided_slice_walk(params, input_dims, input, output, sizeof(int16_t));
}
