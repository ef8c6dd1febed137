/*
 * STRIDED_SLICE, int8 (TFLM reference StridedSlice): along each of the four
 * (right-aligned) dimensions the elements start, start + stride, ...,
 * count of them, stride of either sign. The importer resolved TFLite's
 * begin/end/stride tensors, masks, offset flag and shrink_axis_mask into
 * (start, stride, count) exactly as TFLM's StridedSliceStartForAxis and
 * StridedSliceEndForAxis do; shrinking an axis only changes the output's
 * shape, not the order of its elements. The loader checked that the first
 * and the last index of every dimension lie inside the input, so every
 * offset is below the input's element count (< 2^28) and fits int32.
 */
#include "mfl/kernels.h"

void mfl_strided_slice_s8(const mfl_slice_params_t *params, const int32_t input_dims[4], const int8_t *input,
                          int8_t *output)
{
    const mfl_slice_params_t p = *params;
    const int32_t s3 = 1, s2 = input_dims[3], s1 = s2 * input_dims[2], s0 = s1 * input_dims[1];
    for (int32_t a = 0; a < p.count[0]; a++) {
        const int32_t oa = (p.start[0] + a * p.stride[0]) * s0;
        for (int32_t b = 0; b < p.count[1]; b++) {
            const int32_t ob = oa + (p.start[1] + b * p.stride[1]) * s1;
            for (int32_t c = 0; c < p.count[2]; c++) {
                const int32_t oc = ob + (p.start[2] + c * p.stride[2]) * s2;
                for (int32_t d = 0; d < p.count[3]; d++) {
                    *output++ = input[oc + (p.start[3] + d * p.stride[3]) * s3];
                }
            }
        }
    }
}
