/*
 * PAD and PADV2, int8 (TFLM reference Pad): the input placed at offset
 * `before` of each of the four dimensions of the output, every other
 * element set to the pad value (the output zero point, or PADV2's
 * constant). Codes are copied unchanged, as TFLM copies them (it checks the
 * pad value's quantization against the output's, not the input's). Shapes
 * are right-aligned to four dimensions; the loader checked that output =
 * before + input + after on each, with non-negative paddings.
 */
#include <string.h>

#include "mfl/kernels.h"

void mfl_pad_s8(const mfl_pad_params_t *params, const int32_t input_dims[4], const int8_t *input, int8_t *output)
{
    int32_t out_dims[4];
    for (int i = 0; i < 4; i++) {
        out_dims[i] = params->before[i] + input_dims[i] + params->after[i];
    }
    const size_t row = (size_t)out_dims[3];
    const int8_t pad = (int8_t)params->pad_value;
    for (int32_t a = 0; a < out_dims[0]; a++) {
        const int32_t ia = a - params->before[0];
        for (int32_t b = 0; b < out_dims[1]; b++) {
            const int32_t ib = b - params->before[1];
            for (int32_t c = 0; c < out_dims[2]; c++) {
                const int32_t ic = c - params->before[2];
                const int inside = ia >= 0 && ia < input_dims[0] && ib >= 0 && ib < input_dims[1] && ic >= 0 &&
                                   ic < input_dims[2];
                if (!inside) {
                    memset(output, pad, row);
                } else {
                    const size_t at = (((size_t)ia * (size_t)input_dims[1] + (size_t)ib) * (size_t)input_dims[2] +
                                       (size_t)ic) * (size_t)input_dims[3];
                    memset(output, pad, (size_t)params->before[3]);
                    memcpy(output + params->before[3], input + at, (size_t)input_dims[3]);
                    memset(output + params->before[3] + input_dims[3], pad, (size_t)params->after[3]);
                }
                output += row;
            }
        }
    }
}
