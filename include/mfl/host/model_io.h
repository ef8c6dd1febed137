/*
 * Real values at a model's inputs and outputs, on the host.
 *
 * A device exchanges int8 codes with a model; people and data sets have
 * real numbers. These helpers convert between the two with the scale and
 * zero point the model records (mfl_model_input_info / _output_info in
 * mfl/model.h), with TensorFlow Lite Micro's own float arithmetic, so that
 * a model converted with float input and output (its QUANTIZE and
 * DEQUANTIZE taken off by the importer) gives on the host, bit for bit,
 * the floats TFLM's interpreter gives:
 *
 *   quantize:   q = clamp(round_half_away(x / scale) + zero_point, -128, 127),
 *               the division in float32 (TFLM's AffineQuantize)
 *   dequantize: x = (float)((double)scale * (q - zero_point)) (TFLM's Dequantize)
 *
 * Host only (floats); devices use the integer scale (mfl_scale_t).
 * Float data in files is IEEE-754 binary32, little-endian, as TFLite's.
 */
#ifndef MFL_HOST_MODEL_IO_H
#define MFL_HOST_MODEL_IO_H

#include <stddef.h>
#include <stdint.h>

#include "mfl/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The recorded scale as TFLite stored it, or 0 when the model does not
 * record it (an image of format 1 or 2). */
float mfl_io_scale(const mfl_io_info_t *io);

/* x quantized as TFLM's QUANTIZE float32 -> int8 does (NaN gives -128, as
 * TFLM's x86-64 build). io must record its scale (mfl_io_scale > 0). */
int8_t mfl_io_quantize(const mfl_io_info_t *io, float x);

/* q dequantized as TFLM's DEQUANTIZE int8 -> float32 does. */
float mfl_io_dequantize(const mfl_io_info_t *io, int8_t q);

/* n values of a tensor: src holds n little-endian float32 (any alignment),
 * dst receives n int8 codes. Returns 0, or MFL_ERR_INVALID_ARG (a NULL
 * pointer, or no recorded scale). */
int mfl_io_quantize_f32(const mfl_io_info_t *io, const uint8_t *src, size_t n, int8_t *dst);

/* n int8 codes to n little-endian float32 at dst (any alignment). Returns
 * 0, or MFL_ERR_INVALID_ARG (a NULL pointer, or no recorded scale). */
int mfl_io_dequantize_s8(const mfl_io_info_t *io, const int8_t *src, size_t n, uint8_t *dst);

#ifdef __cplusplus
}
#endif

#endif /* MFL_HOST_MODEL_IO_H */
