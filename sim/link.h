/*
 * How virtual devices reach an aggregator: in-process (the aggregator's
 * own update and round code, called directly: no sockets) or over the
 * network (a real mfl-aggregator process the simulator starts, CoAP over
 * DTLS-PSK on loopback through the device library's own sync, mfl/sync.h,
 * on its UDP and DTLS ports: the code a device runs). Both read the same
 * generated config file, so they aggregate identically.
 */
#ifndef MFL_SIM_LINK_H
#define MFL_SIM_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "mfl/crypto.h"
#include "mfl/host/aggregate.h"
#include "mfl/learner.h"
#include "scenario.h"

/* A device's credentials, derived from the scenario's seed and its index. */
typedef struct {
    char id[16];
    uint8_t psk[16];
    mfl_es256_private_t key;
    mfl_es256_public_t pub;
    char group[24];
} sim_identity_t;

int sim_identity(const sim_scenario_t *sc, uint32_t index, sim_identity_t *out);

typedef struct sim_link sim_link_t;

/* Starts an aggregator for one strategy in dir/NAME (fresh state),
 * provisions every device, and writes its config there. fair: balance
 * the regions' weights. */
/* Writes the aggregators' file as a run will (into run_dir, removed
 * after) and reads it with the aggregator's own reader, so that a bad
 * `agg.KEY` is said before the slow work. Returns 0, or an error with msg
 * naming the line and the key. */
int sim_link_check(const sim_scenario_t *sc, const char *run_dir, char *msg, size_t cap);

int sim_link_open(sim_link_t **out, const sim_scenario_t *sc, const char *run_dir, const char *name, int fair,
                  const sim_identity_t *ids, uint32_t n_ids, char *msg, size_t cap);
void sim_link_close(sim_link_t *link);

/* The aggregator's public key (devices pin it). */
const mfl_es256_public_t *sim_link_aggregator_key(const sim_link_t *link);

/* A device fetches the current signed model and installs it into l if it
 * verifies and is newer than *version (*installed 1, *version the new
 * one), else *installed 0. *bytes: the model message's size (0 when the
 * aggregator said it is unchanged). Returns 0, or why it failed (no
 * answer, a model that does not verify, ...): l keeps its head. */
int sim_link_fetch_model(sim_link_t *link, const sim_identity_t *id, mfl_learner_t *l, uint64_t *version,
                         int *installed, size_t *bytes);

/* What the answer to an update said, when it carried a receipt. */
typedef struct {
    int has;                /* a receipt came (not a diagnostic) */
    uint32_t status;        /* enum mfl_receipt_status */
    uint64_t model_version; /* the aggregator's version: for an update accepted now, as it was before
                             * this update's own round (if it completed one); for a duplicate, now */
} sim_receipt_t;

/* A device posts a signed update (counter: the one signed in it); *code is
 * the CoAP response code (class * 100 + detail), e.g. 204 stored, 412
 * stale; *receipt what its receipt said. Returns 0, or an error when no
 * answer came. */
int sim_link_post_update(sim_link_t *link, const sim_identity_t *id, const uint8_t *msg, size_t len,
                         uint64_t counter, int *code, sim_receipt_t *receipt);

/* The aggregator's rule and options, and its max_staleness, as the
 * config file it was started with sets them. */
void sim_link_agg_opts(const sim_link_t *link, mfl_agg_opts_t *opts, uint32_t *max_staleness);

#endif /* MFL_SIM_LINK_H */
