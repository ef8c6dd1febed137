/*
 * STRIDED_SLICE on int16 codes (TFLM reference StridedSlice<int16_t>): the
 * int8 kernel's walk (strided_slice_s8.c) over 16-bit elements. Along each
 * right-aligned dimension the elements start, start + stride, ..., count of
 * them; the loader checked that the first and last index of every axis lie
 * inside the input, so every offset is below its element count (< 2^28).
 */
#include "mfl/kernels_s16.h"

void mfl_strided_slice_s16(const mfl_slice_params_t *params, const int32_t input_dims[4], const int16_t *input,
                           int16_t *output)
{
    const mfl_slice_params_t p = *params;
    const int32_t s2 = input_dims[3], s1 = s2 * input_dims[2], s0 = s1 * input_dims[1];
    for (int32_t a = 0; a < p.count[0]; a++) {
        const int32_t oa = (p.start[0] + a * p.stride[0]) * s0;
        for (int32_t b = 0; b < p.count[1]; b++) {
            const int32_t ob = oa + (p.start[1] + b * p.stride[1]) * s1;
            for (int32_t c = 0; c < p.count[2]; c++) {
                const int32_t oc = ob + (p.start[2] + c * p.stride[2]) * s2;
                for (int32_t d = 0; d < p.count[3]; d++) {
                    *output++ = input[oc + p.start[3] + d * p.stride[3]];
                }
            }
        }
    }
}
