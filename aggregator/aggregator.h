/* Internal interfaces of the aggregator (aggregator/). */
#ifndef MFL_AGGREGATOR_INTERNAL_H
#define MFL_AGGREGATOR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mfl/host/aggregate.h"
#include "mfl/learner.h"
#include "mfl/messages.h"
#include "mfl/host/store.h"

/* ---- configuration (config.c) ---- */
typedef struct {
    char listen[128];        /* DTLS endpoint host:port */
    char plain_listen[128];  /* plain CoAP endpoint, tests only ("" = none) */
    char data_dir[1024];
    char model[1024];        /* the base .mfl model (its head is federated) */
    char model_id[64];
    char key[1024];          /* aggregator signing key (PEM) */
    char cert[1024];         /* DTLS certificates (optional, beside PSK): server certificate, */
    char cert_key[1024];     /* its private key, */
    char ca[1024];           /* and the CA that signs device certificates (CN = device id), */
    char cert_listen[128];   /* served on their own DTLS endpoint */
    uint32_t buffer_k;       /* a new model every K accepted updates */
    uint32_t max_staleness;  /* S */
    double max_delta_norm;   /* real units; 0 = none, AGG_NORM_AUTO = the base head's own norm */
    uint32_t max_body;       /* bytes of one update body */
    uint32_t max_sessions, max_handshakes, session_timeout_s;
    uint32_t verify_threads; /* signature checks off the event loop (0 = on it) */
    int durability;          /* enum mfl_durability */
    mfl_agg_opts_t agg;
} agg_config_t;

#define AGG_NORM_AUTO (-1.0)
/* Largest norm bound in real units whose Q8.24 value fits the model's
 * 64-bit bound field with room to spare. */
#define AGG_NORM_MAX 1e9
/* sample_cap = auto: an update weighs at most this many times the median
 * sample count of its round */
#define AGG_MEDIAN_CAP 2.0

/* Reads FILE (key = value lines, # comments). Returns 0 or -1 with msg. */
int agg_config_load(const char *path, agg_config_t *c, char *msg, size_t cap);
void agg_config_defaults(agg_config_t *c);

/* ---- rounds (rounds.c): accepting updates and publishing models ---- */
typedef struct {
    agg_config_t cfg;
    mfl_store_t *store;
    mfl_es256_private_t key;
    uint8_t *model_image;
    mfl_model_t model;
    mfl_learner_t learner;   /* only to read the model's global head */
    uint8_t *arena, *learner_mem;
    uint16_t rows, cols;     /* head delta shape: units x (features + 1) */
    int32_t *global;         /* current global head, rows x cols, Q8.24 */
    int32_t *delta;          /* scratch: one update's dense delta, rows x cols */
    uint32_t *index;         /* scratch: one sparse update's indices, rows x cols */
    uint64_t norm_bound_q24; /* delta L2 norm bound in force, Q8.24 (0 = none) */
    uint64_t version;
    uint8_t *model_msg;      /* current signed model message */
    size_t model_msg_len;
    uint64_t accepted, rejected, rounds;
} agg_state_t;

int agg_state_open(agg_state_t *s, const agg_config_t *cfg, char *msg, size_t cap);
void agg_state_close(agg_state_t *s);

/* Outcome of one POSTed update: a CoAP response code (class * 100 + detail,
 * e.g. 204, 400) and either a receipt or a diagnostic text. */
typedef struct {
    int code;
    uint8_t body[128];
    size_t body_len;
    int is_receipt;
    int published;           /* a new model was published */
} agg_outcome_t;

/* An update between its checks: the signature check, the costly part, may
 * run on another thread (agg_update_verify touches nothing shared); the
 * other two stages run on the event loop, which owns the store. */
typedef struct {
    const uint8_t *msg;      /* the caller's copy of the body; c points into it */
    size_t len;
    mfl_cose_sign1_t c;
    mfl_es256_public_t pub;  /* the sending device's key */
} agg_pending_t;

/* Decodes the COSE envelope, matches the DTLS identity to the kid and looks
 * the device up. Returns 1 when the update awaits its signature check, 0
 * when it was refused (out filled). */
int agg_update_check(agg_state_t *s, const uint8_t *identity, size_t identity_len, const uint8_t *msg, size_t len,
                     agg_pending_t *p, agg_outcome_t *out);
/* The ES256 check: thread-safe, no shared state. Returns 0 or an error. */
int agg_update_verify(const agg_pending_t *p);
/* Decodes and checks the body, commits it, answers, and publishes a model
 * every K accepted updates. */
void agg_update_finish(agg_state_t *s, const agg_pending_t *p, int verify_err, agg_outcome_t *out);

/* All three stages in a row.
 * identity: the DTLS PSK identity (NULL on the plain test endpoint). */
void agg_handle_update(agg_state_t *s, const uint8_t *identity, size_t identity_len, const uint8_t *msg,
                       size_t len, agg_outcome_t *out);

/* Folds the pending updates into a new signed model when at least k_min
 * are pending. Returns 1 if a model was published, 0 if not, < 0 on error. */
int agg_publish_round(agg_state_t *s, uint32_t k_min);

/* The status message body. */
int agg_status(agg_state_t *s, uint8_t *buf, size_t cap, size_t *len);

void agg_log(const char *event, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* SHA-256 (zeros if the crypto backend fails). */
void agg_sha256(const uint8_t *data, size_t len, uint8_t out[32]);
/* Where log lines go (NULL: stderr); the simulator's in-process
 * aggregators write to a file per strategy. */
void agg_log_to(FILE *f);

#endif
