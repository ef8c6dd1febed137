/*
 * microfl's messages (protocol/microfl.cddl is the normative schema):
 *  - update  (device -> aggregator), signed COSE_Sign1 with the device key;
 *  - model   (aggregator -> device), signed with the aggregator key;
 *  - receipt (aggregator -> device, the answer to an update) and
 *  - status  (aggregator's status resource), plain CBOR inside DTLS.
 * Every body is a map with small integer keys in ascending order; key 1 is
 * the format: (version << 4) | message type. Decoders are strict and
 * allocate nothing: decoded messages point into the input.
 */
#ifndef MFL_MESSAGES_H
#define MFL_MESSAGES_H

#include <stddef.h>
#include <stdint.h>

#include "mfl/cose.h"
#include "mfl/delta.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MFL_PROTO_VERSION 1
enum mfl_msg_type { MFL_MSG_UPDATE = 1, MFL_MSG_MODEL = 2, MFL_MSG_RECEIPT = 3, MFL_MSG_STATUS = 4 };
#define MFL_PROTO_FORMAT(type) ((MFL_PROTO_VERSION << 4) | (type))

#define MFL_DEVICE_ID_MAX 32
#define MFL_MODEL_ID_MAX 64
#define MFL_METRICS_MAX 8
#define MFL_GROUPS_MAX 16
/* Ranges the schema gives (protocol/microfl.cddl): versions and counters
 * fit a signed 64-bit integer (the aggregator's SQLite store), sample
 * counts 32 bits. Out of range: MFL_ERR_PROTO_MODEL_VERSION, _COUNTER,
 * _SAMPLES. */
#define MFL_VERSION_MAX 9223372036854775807ull
#define MFL_COUNTER_MAX 9223372036854775807ull
#define MFL_SAMPLES_MAX 4294967295ull
/* An update's largest step per int8 value, Q8.24: one real unit, so that
 * every value q * step (|q| <= 128) fits int32 (MFL_ERR_PROTO_SCALE). */
#define MFL_UPDATE_STEP_MAX (1ull << 24)

typedef struct {
    uint32_t key;
    int64_t value;
} mfl_metric_t;

typedef struct {
    const uint8_t *device_id;  /* 1..32 bytes; equals the COSE kid */
    size_t device_id_len;
    uint64_t base_version;     /* model version the delta was trained from, 1..MFL_VERSION_MAX */
    uint64_t counter;          /* per-device, strictly increasing, 1..MFL_COUNTER_MAX */
    uint64_t samples;          /* labelled samples behind the delta, 1..MFL_SAMPLES_MAX */
    mfl_delta_q_t delta;       /* encode: caller's arrays; decode: see below */
    int8_t shift_storage[MFL_DELTA_MAX_ROWS]; /* decode: delta.shift points here */
    const uint8_t *index_bytes;/* decode: LEB128 sparse indices (NULL when dense) */
    size_t index_len;
    uint32_t n_metrics;
    mfl_metric_t metrics[MFL_METRICS_MAX];
} mfl_update_t;

/* Body of an update into dst (count-only with dst NULL); *len gets the
 * bytes used or needed. The delta's sparse indices are written as LEB128. */
int mfl_update_encode(const mfl_update_t *u, uint8_t *dst, size_t cap, size_t *len);

/*
 * Decodes an update body. delta.values (k int8 values) points into src;
 * delta.shift points into the decoded struct's own storage; delta.index is
 * NULL and index_bytes/index_len hold the sparse indices (decode them with
 * mfl_delta_index_decode). rows and cols are checked against the expected
 * head shape (0 = do not check). Returns 0, MFL_ERR_CBOR_*, MFL_ERR_PROTO_*
 * (among them the range errors MFL_ERR_PROTO_MODEL_VERSION, _COUNTER,
 * _SAMPLES, and MFL_ERR_PROTO_SCALE for a row step above
 * MFL_UPDATE_STEP_MAX).
 */
int mfl_update_decode(const uint8_t *src, size_t len, uint16_t rows, uint16_t cols, mfl_update_t *u);

/* Sign / verify-and-decode helpers: body + COSE_Sign1 with kid = device id. */
int mfl_update_sign(const mfl_update_t *u, const mfl_es256_private_t *key, uint8_t *scratch, size_t scratch_cap,
                    uint8_t *dst, size_t cap, size_t *len);

typedef struct {
    uint32_t max_staleness;    /* S: oldest base version accepted is version - S */
    uint64_t max_delta_norm_q24; /* L2 norm bound on a delta, Q8.24 (0 = none) */
    uint32_t drift_max_q24;    /* per-weight drift bound for device learners (0 = none) */
} mfl_bounds_t;

typedef struct {
    const char *model_id;      /* 1..64 bytes of text */
    size_t model_id_len;
    uint64_t version;
    uint8_t prev_hash[32];     /* SHA-256 of the previous model message (zeros for the first) */
    mfl_delta_q_t head;        /* head weights, dense, rows x cols (cols = features) */
    int8_t shift_storage[MFL_DELTA_MAX_ROWS]; /* decode: head.shift points here */
    const int32_t *bias;       /* encode: [rows] Q8.24 */
    const uint8_t *bias_bytes; /* decode: rows x int32 big-endian */
    mfl_bounds_t bounds;
    uint8_t has_backbone;      /* key 10 present (optional) */
    uint8_t backbone[32];      /* the base model's backbone identity (mfl_model_backbone_id) */
} mfl_model_msg_t;

int mfl_model_msg_encode(const mfl_model_msg_t *m, uint8_t *dst, size_t cap, size_t *len);
/* Decodes a model body (the version must be 1..MFL_VERSION_MAX:
 * MFL_ERR_PROTO_MODEL_VERSION). */
int mfl_model_msg_decode(const uint8_t *src, size_t len, uint16_t rows, uint16_t cols, mfl_model_msg_t *m);
/* Bias i of a decoded model message (Q8.24). */
int32_t mfl_model_msg_bias(const mfl_model_msg_t *m, uint16_t row);

/* What a receipt says of the update it answers. Only ACCEPTED and
 * DUPLICATE mean the update is stored: a device commits its residual on
 * those two and on nothing else. */
enum mfl_receipt_status {
    MFL_RECEIPT_ACCEPTED = 0,     /* stored now (CoAP 2.04) */
    MFL_RECEIPT_DUPLICATE = 1,    /* this very update (same counter, same signed body) was stored before (2.04) */
    MFL_RECEIPT_STALE = 2,        /* not stored: base version too old (4.12) */
    MFL_RECEIPT_REJECTED = 3,     /* not stored (reserved) */
    MFL_RECEIPT_COUNTER_USED = 4, /* not stored: counter not above last_counter, and another update
                                   * (or one no longer known) holds it; resend above last_counter (4.09) */
};

typedef struct {
    const uint8_t *device_id;
    size_t device_id_len;
    uint64_t counter;
    uint32_t status;           /* enum mfl_receipt_status */
    uint64_t model_version;    /* the aggregator's current version */
    uint64_t last_counter;     /* the device's last accepted counter (0: none, or an older aggregator) */
} mfl_receipt_t;

/* "accepted", "duplicate", "stale", "rejected", "counter used" ("?" otherwise). */
const char *mfl_receipt_status_name(uint32_t status);

int mfl_receipt_encode(const mfl_receipt_t *r, uint8_t *dst, size_t cap, size_t *len);
int mfl_receipt_decode(const uint8_t *src, size_t len, mfl_receipt_t *r);

typedef struct {
    const char *name;
    size_t name_len;
    uint64_t devices, accepted;
} mfl_group_status_t;

typedef struct {
    uint64_t round, model_version, accepted, rejected;
    uint32_t n_groups;
    mfl_group_status_t groups[MFL_GROUPS_MAX];
} mfl_status_t;

int mfl_status_encode(const mfl_status_t *s, uint8_t *dst, size_t cap, size_t *len);
int mfl_status_decode(const uint8_t *src, size_t len, mfl_status_t *s);

/* The message type of a body (key 1), checking the version: returns the
 * type (> 0) or an MFL_ERR_* code. */
int mfl_msg_type(const uint8_t *src, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* MFL_MESSAGES_H */
