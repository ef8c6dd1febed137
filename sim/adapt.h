/*
 * Adaptation of the frozen backbone to each device's sensor, without
 * labels, as the baselines and adapted strategies of docs/sim.md use it:
 *
 *  - standardisation: the device maps its pixels so that their mean and
 *    standard deviation over its unlabelled inputs match the maker's
 *    images' (the cheap fix a practitioner tries first);
 *  - recalibration: the device library's per-channel recalibration of the
 *    first convolution (mfl/recalibrate.h) from the same inputs.
 *
 * A device's unlabelled inputs are the images of its first `recal_inputs`
 * training samples (labels unused): a deployed device sees far more
 * unlabelled inputs than labelled ones (every input it classifies). Both
 * use integer arithmetic only, as a device would. The features of every
 * training and test sample of every device are computed once through the
 * adapted backbone.
 */
#ifndef MFL_SIM_ADAPT_H
#define MFL_SIM_ADAPT_H

#include <stddef.h>
#include <stdint.h>

#include "world.h"

enum sim_adapt_kind { SIM_ADAPT_STANDARDIZE = 1, SIM_ADAPT_RECALIBRATE = 2 };

typedef struct {
    enum sim_adapt_kind kind;
    uint16_t features;     /* head input size */
    uint32_t train, test;  /* samples per device: train_per_device, test_per_device */
    int8_t *feature;       /* devices x (train + test) x features: a device's training samples, then its test samples */
    int32_t *acc;          /* NULL, or the same samples' feature-layer accumulators (mfl_learner_feature_acc),
                            * for learners that tune that layer's biases */
    uint16_t inputs;       /* the feature layer's input length, with layer_in */
    int8_t *layer_in;      /* NULL, or the same samples' feature-layer inputs (mfl_learner_layer_input), for
                            * learners that tune that layer's weights */
} sim_adapted_t;

/* What sim_adapt_build keeps beside the features. */
enum { SIM_ADAPT_WITH_ACC = 1, SIM_ADAPT_WITH_LAYER_INPUT = 2 };

/* Computes every device's adapted features, and with `with`
 * (SIM_ADAPT_WITH_*) their feature layer's accumulators or inputs too.
 * Returns 0, or an MFL_ERR_* code with a sentence in msg (no convolution
 * to recalibrate, no dense feature layer to tune, memory). */
int sim_adapt_build(sim_adapted_t *a, const sim_world_t *w, enum sim_adapt_kind kind, int with, char *msg,
                    size_t cap);
void sim_adapt_free(sim_adapted_t *a);

static inline const int8_t *sim_adapted_train(const sim_adapted_t *a, uint32_t device, uint32_t j)
{
    return a->feature + ((size_t)device * (a->train + a->test) + j) * a->features;
}

static inline const int8_t *sim_adapted_test(const sim_adapted_t *a, uint32_t device, uint32_t j)
{
    return sim_adapted_train(a, device, a->train + j);
}

/* Accumulators of device's sample j: its training samples, then test. */
static inline const int32_t *sim_adapted_acc(const sim_adapted_t *a, uint32_t device, uint32_t j)
{
    return a->acc + ((size_t)device * (a->train + a->test) + j) * a->features;
}

/* The feature layer's input of device's sample j: its training samples, then test. */
static inline const int8_t *sim_adapted_layer_in(const sim_adapted_t *a, uint32_t device, uint32_t j)
{
    return a->layer_in + ((size_t)device * (a->train + a->test) + j) * a->inputs;
}

#endif /* MFL_SIM_ADAPT_H */
