/*
 * MEAN over height and width of an NHWC tensor, int8 (TFLM reference
 * QuantizedMeanOrSum, which TFLM runs for int8 means, whether or not the
 * quantization changes). Per batch and channel: the sum of (input - zero
 * point) over H x W, rescaled by input_scale / output_scale / (H x W) as one
 * quantized multiplier that the importer derived as TFLM does (the ratio's
 * multiplier times 2^s / count, truncated, with the shift lowered by s =
 * floor(log2 count) capped at 32 and at 31 + shift), plus the output zero
 * point, clamped. |sum| <= 255 x H x W < 2^31 because the loader bounds
 * H x W by MFL_MEAN_MAX_COUNT.
 */
#include "mfl/kernels.h"
#include "mfl/quant.h"

void mfl_mean_hw_s8(const mfl_mean_params_t *params, const mfl_dims_t *input_dims, const int8_t *input,
                    int8_t *output)
{
    const mfl_mean_params_t p = *params;
    const size_t pixels = (size_t)input_dims->h * (size_t)input_dims->w;
    const size_t channels = (size_t)input_dims->c;
    for (int32_t n = 0; n < input_dims->n; n++) {
        const int8_t *in_b = input + (size_t)n * pixels * channels;
        for (size_t c = 0; c < channels; c++) {
            int32_t sum = 0;
            for (size_t i = 0; i < pixels; i++) {
                sum += in_b[i * channels + c] + p.input_offset;
            }
            int32_t v = mfl_quant_mul_by_qm_fast(sum, p.multiplier, p.shift);
            v = mfl_quant_add_wrap(v, p.output_offset);
            *output++ = (int8_t)mfl_quant_clamp(v, -128, 127);
        }
    }
}
