/*
 * CONCATENATION, int8 (TFLM reference Concatenation): TFLM requires every
 * input to share the output's scale and zero point and copies the codes.
 * With the shapes right-aligned to four dimensions, the output is `outer`
 * (the product of the dimensions before the axis) blocks, each made of one
 * slab per input in order: its size on the axis times the product of the
 * dimensions after it (equal for all inputs).
 */
#include <stddef.h>
#include <string.h>

#include "mfl/kernels.h"

void mfl_concatenation_s8(int32_t axis, int32_t n_inputs, const int32_t (*dims)[4], const int8_t *const *inputs,
                          int8_t *output)
{
    size_t outer = 1, inner = 1;
    for (int32_t i = 0; i < axis; i++) {
        outer *= (size_t)dims[0][i];
    }
    for (int32_t i = axis + 1; i < 4; i++) {
        inner *= (size_t)dims[0][i];
    }
    for (size_t o = 0; o < outer; o++) {
        for (int32_t k = 0; k < n_inputs; k++) {
            const size_t slab = (size_t)dims[k][axis] * inner;
            memcpy(output, inputs[k] + o * slab, slab);
            output += slab;
        }
    }
}
