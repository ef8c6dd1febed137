/*
 * PAD and PADV2 on int16 codes (TFLM reference Pad<int16_t>): the input
 * placed at offset `before` of each of the four (right-aligned) dimensions
 * of the output, every other element the pad value (the output zero point,
 * 0 for 16x8 tensors, or PADV2's constant). The loader checked output =
 * before + input + after on every axis with non-negative paddings.
 */
#include <string.h>

#include "mfl/kernels_s16.h"

static void fill_s16(int16_t *dst, int16_t value, int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        dst[i] = value;
    }
}

void mfl_pad_s16(const mfl_pad_params_t *params, const int32_t input_dims[4], const int16_t *input,
                 int16_t *output)
{
    int32_t out_dims[4];
    for (int i = 0; i < 4; i++) {
        out_dims[i] = params->before[i] + input_dims[i] + params->after[i];
    }
    const int32_t row = out_dims[3];
    const int16_t pad = (int16_t)params->pad_value;
    for (int32_t a = 0; a < out_dims[0]; a++) {
        const int32_t ia = a - params->before[0];
        for (int32_t b = 0; b < out_dims[1]; b++) {
            const int32_t ib = b - params->before[1];
            for (int32_t c = 0; c < out_dims[2]; c++) {
                const int32_t ic = c - params->before[2];
                const int inside = ia >= 0 && ia < input_dims[0] && ib >= 0 && ib < input_dims[1] && ic >= 0 &&
                                   ic < input_dims[2];
                if (!inside) {
                    fill_s16(output, pad, row);
                } else {
                    const size_t at = (((size_t)ia * (size_t)input_dims[1] + (size_t)ib) * (size_t)input_dims[2] +
                                       (size_t)ic) * (size_t)input_dims[3];
                    fill_s16(output, pad, params->before[3]);
                    memcpy(output + params->before[3], input + at, (size_t)input_dims[3] * sizeof(int16_t));
                    fill_s16(output + params->before[3] + input_dims[3], pad, params->after[3]);
                }
                output += row;
            }
        }
    }
}
