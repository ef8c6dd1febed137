/*
 * The feature layer shared by the devices of one strategy
 * (`federated-dense-shared`): an estimate of what carrying that layer in
 * updates and models would give, before the protocol carries it
 * (docs/sim.md, "What is not built: federating the feature layer").
 *
 * The head travels through the real aggregator as in every federated
 * strategy. The layer (mfl_learner_layer_read's features x (inputs + 1)
 * tensor) does not travel: when the aggregator accepts a device's update,
 * the device's layer change since it installed its base version's layer is
 * kept here, and when the aggregator has published a new version, the
 * kept changes are folded by the aggregator's own rule and options
 * (mfl_aggregate_momentum, its config's rule, weights, staleness, balance,
 * server rate and momentum) with the round's own choice of updates: one a
 * device, in order of acceptance, the later ones waiting for a later
 * round, and those older than max_staleness dropped, as
 * aggregator/rounds.c does. A device that fetches a version installs that
 * version's layer. What the estimate leaves out: the wire (no bytes are
 * counted for the layer: a dense layer change is about 33 KB, docs/sim.md
 * costs it), clipping and the norm bound (they are in the head's units),
 * and error feedback (a lost update's layer change is lost).
 * Host only (malloc).
 */
#ifndef MFL_SIM_SHARED_LAYER_H
#define MFL_SIM_SHARED_LAYER_H

#include <stdint.h>

#include "mfl/host/aggregate.h"
#include "mfl/learner.h"

typedef struct sim_shared_layer sim_shared_layer_t;

/* The shared layer starts as l's (a weight-tuning learner as initialised:
 * the model's layer) at version 1. Returns 0, MFL_ERR_LEARN_CONFIG (l does
 * not tune weights) or MFL_ERR_NO_MEMORY. */
int sim_shared_layer_open(sim_shared_layer_t **out, const mfl_learner_t *l, const mfl_agg_opts_t *opts,
                          uint32_t max_staleness);
void sim_shared_layer_free(sim_shared_layer_t *s);

/* The aggregator is at `version` (a fetched model's, a receipt's): if
 * that is the next version, the round that made it is folded in (its
 * layer and server momentum kept only if the round completes). Returns
 * 0, MFL_ERR_INVALID_ARG when versions were skipped (a round not seen:
 * two stored updates whose answers were both lost) or went back, or the
 * aggregation's error. */
int sim_shared_layer_observe(sim_shared_layer_t *s, uint64_t version);

/* Installs the layer of `version` (the latest, or one at most
 * max_staleness older) into l, and notes the layer a device holds after
 * installing it (not thread-safe). Returns 0, MFL_ERR_INVALID_ARG (a
 * version not kept) or mfl_learner_layer_install's or _read's error. */
int sim_shared_layer_install(sim_shared_layer_t *s, uint64_t version, mfl_learner_t *l);

/* The aggregator accepted device's update, learned in l from base_version
 * (whose layer l installed) on `samples` samples; group: its region.
 * Returns 0, MFL_ERR_INVALID_ARG (a base version not kept, or that no
 * device installed), mfl_learner_layer_read's error or MFL_ERR_NO_MEMORY. */
int sim_shared_layer_accept(sim_shared_layer_t *s, const mfl_learner_t *l, uint32_t device, uint64_t base_version,
                            uint64_t samples, uint32_t group);

#endif /* MFL_SIM_SHARED_LAYER_H */
