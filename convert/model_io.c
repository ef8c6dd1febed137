/*
 * Real values at a model's edges (mfl/host/model_io.h): TensorFlow Lite
 * Micro's QUANTIZE (float32 -> int8) and DEQUANTIZE (int8 -> float32)
 * arithmetic, with the scale a model records, so that the host feeds and
 * reads a model converted with float edges exactly as TFLM would.
 *
 * Numerics: the quotient x / scale is one float32 division (correctly
 * rounded, the same on every IEEE-754 host); roundf rounds half away from
 * zero as TFLM's TfLiteRound; the zero point is added in integers after the
 * conversion. Out-of-range quotients are clamped while still in float
 * (every float above 2^31 would clamp to 127 anyway), so that no input makes
 * the conversion to int undefined.
 */
#include <math.h>
#include <string.h>

#include "mfl/error.h"
#include "mfl/host/model_io.h"

float mfl_io_scale(const mfl_io_info_t *io)
{
    float f = 0.0f;
    if (io) {
        memcpy(&f, &io->scale_f32, sizeof(f));
    }
    return f;
}

int8_t mfl_io_quantize(const mfl_io_info_t *io, float x)
{
    float r = roundf(x / mfl_io_scale(io));
    if (isnan(r)) {
        return -128; /* TFLM on x86-64: (int32_t)NaN is INT32_MIN, clamped */
    }
    r = r < -1024.0f ? -1024.0f : r > 1024.0f ? 1024.0f : r; /* beyond: clamped alike */
    const int32_t q = (int32_t)r + io->zero_point;
    return (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
}

float mfl_io_dequantize(const mfl_io_info_t *io, int8_t q)
{
    return (float)((double)mfl_io_scale(io) * (double)((int32_t)q - io->zero_point));
}

int mfl_io_quantize_f32(const mfl_io_info_t *io, const uint8_t *src, size_t n, int8_t *dst)
{
    if (!io || !(mfl_io_scale(io) > 0.0f) || (n && (!src || !dst))) {
        return MFL_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < n; i++) {
        float x;
        memcpy(&x, src + 4 * i, 4); /* little-endian, as the host (x86-64, AArch64) */
        dst[i] = mfl_io_quantize(io, x);
    }
    return 0;
}

int mfl_io_dequantize_s8(const mfl_io_info_t *io, const int8_t *src, size_t n, uint8_t *dst)
{
    if (!io || !(mfl_io_scale(io) > 0.0f) || (n && (!src || !dst))) {
        return MFL_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < n; i++) {
        const float x = mfl_io_dequantize(io, src[i]);
        memcpy(dst + 4 * i, &x, 4);
    }
    return 0;
}
