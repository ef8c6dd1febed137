/*
 * FULLY_CONNECTED's int32 accumulators without bias or requantization:
 * acc[o] = sum_i (input[i] + input_offset) * weights[o][i], for the
 * learner's tuning of a feature layer's biases (mfl/learner.h), which
 * keeps a sample's accumulators to recompute its features as the biases
 * learn. Internal to the device library: input [in_features] int8,
 * weights [out_features][in_features] int8, acc [out_features], the
 * caller's; input_offset in [-127, 128]; in_features <= 2^15 keeps every
 * sum inside int32 (the sums are the FULLY_CONNECTED kernel's before its
 * bias, bit for bit, on either path).
 */
#ifndef MFL_KERNELS_FULLY_CONNECTED_ACC_H
#define MFL_KERNELS_FULLY_CONNECTED_ACC_H

#include <stdint.h>

/* The selected path's (mfl_kernels_select). */
void mfl_fully_connected_acc_s8(int32_t in_features, const int8_t *input, int32_t input_offset, int32_t out_features,
                                const int8_t *weights, int32_t *acc);

void mfl_fully_connected_acc_s8_portable(int32_t in_features, const int8_t *input, int32_t input_offset,
                                         int32_t out_features, const int8_t *weights, int32_t *acc);

/* Armv7E-M DSP extension (or its emulation): four rows per pass, SMLAD. */
void mfl_fully_connected_acc_s8_dsp(int32_t in_features, const int8_t *input, int32_t input_offset,
                                    int32_t out_features, const int8_t *weights, int32_t *acc);

#endif /* MFL_KERNELS_FULLY_CONNECTED_ACC_H */
