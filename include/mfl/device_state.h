/*
 * A device's persistent state on a storage port (storage.h), safe against
 * power loss at any byte:
 *
 *  - the update counter: mfl_state_next_counter() persists a counter before
 *    handing it out, so no counter is ever used twice, whatever happens;
 *  - the installed model: two slots; an install erases and fills the slot
 *    not in use and writes its header last, so a cut leaves the previous
 *    model in place. mfl_state_restore() re-verifies the stored model
 *    (aggregator signature) at boot and falls back to the older slot, and
 *    to the built-in model when none verifies.
 *
 *  - the learned head: mfl_state_save_head() checkpoints what the device
 *    has learned since its global model the same way (two slots, header
 *    last); mfl_state_restore_head() brings it back if it was learned from
 *    the model the device runs now.
 *
 * Layout: two counter journal sectors, then four equal slots (model A/B,
 * head A/B) sharing what is left. No heap, no floating point.
 *
 *   mfl_state_t st;
 *   mfl_state_open(&st, &storage);
 *   mfl_state_restore(&st, &learner, &aggregator_key, buf, sizeof buf, &version);
 *   mfl_state_next_counter(&st, &counter);              // then sign the update
 *   mfl_state_install_model(&st, msg, len, version);   // after mfl_model_install
 */
#ifndef MFL_DEVICE_STATE_H
#define MFL_DEVICE_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "mfl/crypto.h"
#include "mfl/learner.h"
#include "mfl/storage.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Two slots holding one kind of record; the newer intact one counts. */
typedef struct {
    int32_t current;           /* slot (0 or 1) of the newest intact record, -1: none */
    uint32_t seq[2];           /* write sequence of each intact slot (0: empty or torn) */
    uint32_t len[2];
    uint64_t version[2];
} mfl_state_pair_t;

typedef struct {
    mfl_storage_t *storage;
    uint32_t slot_size;        /* bytes per slot (whole sectors) */
    uint64_t counter;          /* highest counter ever handed out (0: none) */
    uint32_t counter_sector;   /* journal sector holding it (0 or 1) */
    mfl_state_pair_t model;    /* installed model messages */
    mfl_state_pair_t head;     /* checkpoints of the learned head */
} mfl_state_t;

/* Reads the state (never writes). Needs 2 journal sectors and 4 slots of
 * a sector at least. Returns 0, MFL_ERR_FLASH or MFL_ERR_INVALID_ARG. */
int mfl_state_open(mfl_state_t *s, mfl_storage_t *storage);

/* The next counter, persisted before it is returned (1..MFL_COUNTER_MAX;
 * MFL_ERR_INVALID_ARG once they are all spent, MFL_ERR_FLASH). */
int mfl_state_next_counter(mfl_state_t *s, uint64_t *counter);

/* Marks every counter up to `used` as spent (persisted), so the next one
 * is above it. For a device whose journal was lost or rolled back: the
 * aggregator's "counter used" receipt names its last accepted counter
 * (messages.h, MFL_RECEIPT_COUNTER_USED). Nothing changes when the device
 * is already past it. Returns 0, MFL_ERR_FLASH or MFL_ERR_INVALID_ARG
 * (used >= MFL_COUNTER_MAX: no counter would be left). */
int mfl_state_skip_counters(mfl_state_t *s, uint64_t used);

/* Stores a model message (already verified and installed by the caller)
 * as the newest. MFL_ERR_BUFFER_TOO_SMALL if it does not fit a slot. */
int mfl_state_install_model(mfl_state_t *s, const uint8_t *msg, uint32_t len, uint64_t version);

/* At boot: installs the newest stored model that verifies against the
 * aggregator's key into the learner (buf: room for a model message).
 * *version: its version, or 0 when none verifies (MFL_ERR_NO_MODEL: the
 * learner keeps the model's built-in head). */
int mfl_state_restore(mfl_state_t *s, mfl_learner_t *l, const mfl_es256_public_t *aggregator, uint8_t *buf,
                      uint32_t cap, uint64_t *version);

/* Checkpoints the learner's head (master weights, biases, sample count),
 * learned from global model base_version. MFL_ERR_BUFFER_TOO_SMALL if it
 * does not fit a slot. */
int mfl_state_save_head(mfl_state_t *s, const mfl_learner_t *l, uint64_t base_version);

/* Restores the newest head checkpoint into the learner if it was learned
 * from base_version and has the learner's shape; otherwise (or if
 * reading fails) the learner keeps its global head and MFL_ERR_NO_MODEL is
 * returned. */
int mfl_state_restore_head(mfl_state_t *s, mfl_learner_t *l, uint64_t base_version);

#ifdef __cplusplus
}
#endif

#endif /* MFL_DEVICE_STATE_H */
