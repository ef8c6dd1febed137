/*
 * RELU6, int8 (TFLM Relu6Quantized): a clamp of the raw codes. TFLM's
 * bounds are the input zero point and the code of 6.0 in the input's own
 * quantization; it never requantizes, so when the output tensor's
 * quantization differs from the input's the codes are still the input's
 * (TensorFlow Lite's mobile kernel requantizes). The importer reproduces
 * TFLM and docs/model-format.md says so.
 */
#include "mfl/kernels.h"
#include "mfl/quant.h"

void mfl_relu6_s8(int32_t lo, int32_t hi, int32_t size, const int8_t *input, int8_t *output)
{
    for (int32_t i = 0; i < size; i++) {
        output[i] = (int8_t)mfl_quant_clamp(input[i], lo, hi);
    }
}
