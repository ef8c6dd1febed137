/*
 * TRANSPOSE, int8 (TFLM reference Transpose): output dimension i is input
 * dimension perm[i], shapes right-aligned to four dimensions (a lower rank
 * is padded with leading ones and an identity prefix of perm). Walks the
 * output in order and reads the input through the permuted strides.
 */
#include <stddef.h>

#include "mfl/kernels.h"

void mfl_transpose_s8(const int32_t perm[4], const int32_t input_dims[4], const int8_t *input, int8_t *output)
{
    size_t in_stride[4];
    in_stride[3] = 1;
    for (int i = 2; i >= 0; i--) {
        in_stride[i] = in_stride[i + 1] * (size_t)input_dims[i + 1];
    }
    int32_t out_dims[4];
    size_t stride[4]; /* input stride of each output dimension */
    for (int i = 0; i < 4; i++) {
        out_dims[i] = input_dims[perm[i]];
        stride[i] = in_stride[perm[i]];
    }
    for (int32_t a = 0; a < out_dims[0]; a++) {
        for (int32_t b = 0; b < out_dims[1]; b++) {
            for (int32_t c = 0; c < out_dims[2]; c++) {
                const int8_t *src = input + (size_t)a * stride[0] + (size_t)b * stride[1] + (size_t)c * stride[2];
                for (int32_t d = 0; d < out_dims[3]; d++) {
                    *output++ = src[(size_t)d * stride[3]];
                }
            }
        }
    }
}
