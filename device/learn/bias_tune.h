/*
 * The learner's bias-only fine-tuning of its feature layer (the
 * mfl_bias_tune_t of mfl/learner.h): checks, memory, forward from
 * accumulators and the SGD step on the biases. Internal to the learner.
 */
#ifndef MFL_DEVICE_BIAS_TUNE_H
#define MFL_DEVICE_BIAS_TUNE_H

#include <stddef.h>
#include <stdint.h>

#include "mfl/learner.h"

/* 0 if the op before head_op is a FULLY_CONNECTED that the head alone
 * reads and that has at most MFL_HEAD_MAX_FEATURES inputs, else
 * MFL_ERR_LEARN_CONFIG. */
int mfl_bias_tune_check(const mfl_model_t *m, uint16_t head_op);

/* Bytes mfl_bias_tune_bind places (8-byte aligned parts). */
size_t mfl_bias_tune_bytes(uint16_t features, uint16_t batch);

/* Binds t to the checked feature layer of m, its arrays in mem
 * (mfl_bias_tune_bytes, 8-byte aligned), with feature_scale the layer's
 * output scale (the head's s_x); the biases start as the model's. */
void mfl_bias_tune_bind(mfl_bias_tune_t *t, const mfl_model_t *m, uint16_t head_op, mfl_scale_t feature_scale,
                        void *mem);

/* The layer's accumulators for its int8 input: acc[j] = sum_i (in_i - zp_in) w_ji. */
void mfl_bias_tune_acc(const mfl_bias_tune_t *t, const int8_t *in, int32_t *acc);

/* The layer's int8 output for accumulators acc with the current biases,
 * as its FULLY_CONNECTED kernel computes it. */
void mfl_bias_tune_features(const mfl_bias_tune_t *t, const int32_t *acc, int8_t *out);

/* One step on the biases for a batch whose features are t->x rows
 * 0..batch-1 and whose logit gradients g[unit][sample] (Q0.15, stride
 * MFL_HEAD_GRAD_STRIDE(batch)) the head's step left: delta -= lr / batch *
 * sum_k mask_kj sum_u g_uk W_uj, with W the head's master weights. */
void mfl_bias_tune_step(mfl_bias_tune_t *t, const mfl_head_t *h, const int16_t *g, int batch, mfl_scale_t lr);

/* Back to the model's biases. */
void mfl_bias_tune_reset(mfl_bias_tune_t *t);

/* Feature j's learned bias change set to delta (Q8.24 real units), its
 * int32 bias following, saturated. */
void mfl_bias_tune_set(mfl_bias_tune_t *t, uint16_t j, int32_t delta);

#endif /* MFL_DEVICE_BIAS_TUNE_H */
