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
} sim_adapted_t;

/* Computes every device's adapted features. Returns 0, or an MFL_ERR_*
 * code with a sentence in msg (no convolution to recalibrate, memory). */
int sim_adapt_build(sim_adapted_t *a, const sim_world_t *w, enum sim_adapt_kind kind, char *msg, size_t cap);
void sim_adapt_free(sim_adapted_t *a);

static inline const int8_t *sim_adapted_train(const sim_adapted_t *a, uint32_t device, uint32_t j)
{
    return a->feature + ((size_t)device * (a->train + a->test) + j) * a->features;
}

static inline const int8_t *sim_adapted_test(const sim_adapted_t *a, uint32_t device, uint32_t j)
{
    return sim_adapted_train(a, device, a->train + j);
}

#endif /* MFL_SIM_ADAPT_H */
