/*
 * The learner's entries that its optional parts (weight_tune.c) call,
 * kept out of the public header. Internal to the device library.
 */
#ifndef MFL_DEVICE_LEARNER_INTERNAL_H
#define MFL_DEVICE_LEARNER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "mfl/learner.h"

/* Tuning learners: the backbone up to the feature layer; *in its input
 * (*n bytes, in the arena). Errors as mfl_learner_infer. */
int mfl_learner_run_to_layer_input(mfl_learner_t *l, const int8_t *input, size_t len, const int8_t **in,
                                   size_t *n);

/* opts.steps SGD steps on a sample (features, accumulators or layer
 * input, as the learner's replay holds) and replayed ones, then the sample
 * into the replay buffer. Returns 0, MFL_ERR_LABEL or a step's error. */
int mfl_learner_learn_sample(mfl_learner_t *l, const void *sample, uint8_t label);

#endif /* MFL_DEVICE_LEARNER_INTERNAL_H */
