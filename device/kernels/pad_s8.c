/*
 * PAD and PADV2, int8 (TFLM reference Pad): the input placed at offset
 * `before` of each of the four dimensions of the output, every other
 * element set to the pad value (the output zero point, or PADV2's
 * constant). Codes are copied unchanged, as TFLM copies them (it checks the
 * pad value's quantization against the output's, not the input's). The
 * walk is shared with int16 (copy_walk.h).
 */
#include "copy_walk.h"

void mfl_pad_s8(const mfl_pad_params_t *params, const int32_t input_dims[4], const int8_t *input, int8_t *output)
{
    mfl_pad_walk(params, input_dims, input, output, sizeof(int8_t));
}
