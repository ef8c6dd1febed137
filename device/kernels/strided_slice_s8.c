/*
 * STRIDED_SLICE, int8 (TFLM reference StridedSlice): along each of the four
 * (right-aligned) dimensions the elements start, start + stride, ...,
 * count of them, stride of either sign. The importer resolved TFLite's
 * begin/end/stride tensors, masks, offset flag and shrink_axis_mask into
 * (start, stride, count) exactly as TFLM's StridedSliceStartForAxis and
 * StridedSliceEndForAxis do; shrinking an axis only changes the output's
 * shape, not the order of its elements. The walk is shared with int16
 * (copy_walk.h).
 */
#include "copy_walk.h"

void mfl_strided_slice_s8(const mfl_slice_params_t *params, const int32_t input_dims[4], const int8_t *input,
                          int8_t *output)
{
    mfl_strided_slice_walk(params, input_dims, input, output, sizeof(int8_t));
}
