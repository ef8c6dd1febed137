/*
 * The learner's fine-tuning of its feature layer's weights (the
 * mfl_weight_tune_t of mfl/learner.h): memory, binding and the SGD step.
 * Internal to the learner; the biases, features and accumulators stay
 * with bias_tune.h, whose layer runs this module's RAM weights.
 */
#ifndef MFL_DEVICE_WEIGHT_TUNE_H
#define MFL_DEVICE_WEIGHT_TUNE_H

#include <stddef.h>
#include <stdint.h>

#include "mfl/learner.h"

/* Bytes mfl_weight_tune_bind places (8-byte aligned parts). */
size_t mfl_weight_tune_bytes(uint16_t inputs, uint16_t features, uint16_t batch);

/* Binds wt to the feature layer bt is bound to, for batches of up to
 * `batch`, its arrays in mem (mfl_weight_tune_bytes, 8-byte aligned); the
 * weights start as the model's and bt's layer runs them from RAM from now
 * on. */
void mfl_weight_tune_bind(mfl_weight_tune_t *wt, mfl_bias_tune_t *bt, uint16_t batch, void *mem);

/* One step on the weights for a batch whose layer inputs are in[0..batch-1]
 * (bt->inputs bytes each), whose features are bt->x rows and whose logit
 * gradients g (Q0.15, stride MFL_HEAD_GRAD_STRIDE(batch)) the head's step
 * left; see mfl_weight_tune_t for the rule. */
void mfl_weight_tune_step(mfl_weight_tune_t *wt, const mfl_bias_tune_t *bt, const mfl_head_t *h,
                          const int16_t *g, const int8_t *const *in, int batch, mfl_scale_t lr);

/* The weights in 2^-MFL_LAYER_WEIGHT_FRAC of a code into row j of out
 * (stride inputs + 1, the bias column left alone), and back: rounded to
 * the master, held to its range. */
void mfl_weight_tune_read(const mfl_weight_tune_t *wt, uint16_t inputs, uint16_t features, int32_t *out);
void mfl_weight_tune_install(mfl_weight_tune_t *wt, uint16_t inputs, uint16_t features, const int32_t *layer);

/* Back to the model's weights. */
void mfl_weight_tune_reset(mfl_weight_tune_t *wt, uint16_t inputs, uint16_t features);

#endif /* MFL_DEVICE_WEIGHT_TUNE_H */
