/*
 * Device side: turns the learner's head delta into a signed update message
 * (messages.h), with error feedback across updates. No malloc: the caller
 * gives one workspace (mfl_update_work_size()) and keeps the residual
 * (rows x cols int32, zeroed once) between updates.
 */
#ifndef MFL_UPDATE_BUILDER_H
#define MFL_UPDATE_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#include "mfl/learner.h"
#include "mfl/messages.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const uint8_t *device_id;
    size_t device_id_len;
    uint64_t base_version;  /* version of the global head the learner started from */
    uint64_t counter;       /* strictly greater than any counter sent before */
    uint32_t top_k;         /* 0: dense; else send the k largest entries */
} mfl_update_params_t;

/* Head shape of the update: rows = units, cols = features + 1 (bias last). */
size_t mfl_update_work_size(const mfl_learner_t *l, uint32_t top_k);

/* Bytes the signed update can take at most (for the output buffer). */
size_t mfl_update_max_size(const mfl_learner_t *l, size_t device_id_len);

/*
 * Builds and signs the update for the learner's current delta plus the
 * residual; the residual becomes what this update did not carry. Commit
 * the residual (and the counter) only once the update is acknowledged.
 * Returns 0 or MFL_ERR_INVALID_ARG / MFL_ERR_BUFFER_TOO_SMALL /
 * MFL_ERR_NO_SAMPLES (the learner learned nothing since its global head) /
 * crypto errors.
 */
int mfl_update_build(const mfl_learner_t *l, const mfl_update_params_t *p, int32_t *residual,
                     const mfl_es256_private_t *key, void *work, size_t work_size, uint8_t *dst, size_t cap,
                     size_t *len);

/*
 * Installs a model message from the aggregator into the learner: checks the
 * COSE_Sign1 structure and the aggregator's signature (its pinned key),
 * the head's dimensions, that the version is above installed_version
 * (MFL_ERR_PROTO_VALUE otherwise: models only move forward) and, when the
 * message names a backbone (key 10), that it is the learner's model's
 * (MFL_ERR_PROTO_BACKBONE otherwise; mfl/model_identity.h), then makes
 * the message's head the learner's global head. On any error the learner
 * keeps its current head. *version receives the installed version.
 */
int mfl_model_install(mfl_learner_t *l, const uint8_t *msg, size_t len, const mfl_es256_public_t *aggregator,
                      uint64_t installed_version, uint64_t *version);

#ifdef __cplusplus
}
#endif

#endif /* MFL_UPDATE_BUILDER_H */
