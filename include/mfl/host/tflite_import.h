/*
 * Host-only importer: converts an int8 .tflite model into a microfl model
 * image. Everything TFLite computes in floating point at model preparation
 * (multipliers, shifts, activation ranges, padding) is computed here, the
 * TFLite way, so that the device runs integer-only and bit-exact.
 *
 * Supported: one subgraph with one int8 input and one int8 output, and the
 * operators CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, AVERAGE_POOL_2D,
 * MAX_POOL_2D, ADD (equal shapes), RESHAPE and SOFTMAX, with fused
 * NONE/RELU/RELU6/RELU_N1_TO_1, int8 activations and int8 weights
 * (per-channel or per-tensor) with int32 biases.
 */
#ifndef MFL_TFLITE_IMPORT_H
#define MFL_TFLITE_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * tflite/len: the .tflite file bytes (untrusted).
 * On success *image (malloc'd; the caller frees it) holds a model image of
 * *image_size bytes that mfl_model_load() accepts; the last FULLY_CONNECTED
 * operator is marked as the trainable head.
 * On failure returns MFL_ERR_TFLITE_FORMAT (malformed file),
 * MFL_ERR_TFLITE_UNSUPPORTED (operator, type or feature microfl lacks),
 * MFL_ERR_TFLITE_QUANT (missing/inconsistent quantization), or
 * MFL_ERR_NO_MEMORY, and writes a one-line explanation into msg (naming the
 * operator or tensor at fault), truncated to msg_cap bytes.
 */
int mfl_tflite_import(const uint8_t *tflite, size_t len, uint8_t **image, size_t *image_size, char *msg,
                      size_t msg_cap);

#ifdef __cplusplus
}
#endif

#endif /* MFL_TFLITE_IMPORT_H */
