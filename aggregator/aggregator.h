/* Internal interfaces of the aggregator (aggregator/). */
#ifndef MFL_AGGREGATOR_INTERNAL_H
#define MFL_AGGREGATOR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "mfl/host/aggregate.h"
#include "mfl/model.h"
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
    char metrics_listen[128]; /* HTTP /metrics and /status ("" = off) */
    uint32_t buffer_k;       /* a new model every K accepted updates */
    uint32_t max_staleness;  /* S */
    double max_delta_norm;   /* real units; 0 = none, AGG_NORM_AUTO = the base head's own norm */
    uint32_t max_body;       /* bytes of one update body */
    uint32_t max_sessions, max_handshakes, session_timeout_s;
    uint32_t verify_threads; /* signature checks off the event loop (0 = on it) */
    int durability;          /* enum mfl_durability */
    int log_level;           /* enum agg_log_level: the least severe event logged */
    mfl_agg_opts_t agg;
} agg_config_t;

#define AGG_NORM_AUTO (-1.0)
/* Largest norm bound in real units whose Q8.24 value fits the model's
 * 64-bit bound field with room to spare. */
#define AGG_NORM_MAX 1e9
/* sample_cap = auto: an update weighs at most this many times the median
 * sample count of its round */
#define AGG_MEDIAN_CAP 2.0

/* Reads FILE (key = value lines, # comments). Every value is checked
 * against its documented range; a key set twice, an unknown key or a bad
 * value is refused. Returns 0, or -1 with msg = "FILE:LINE: what". */
int agg_config_load(const char *path, agg_config_t *c, char *msg, size_t cap);
void agg_config_defaults(agg_config_t *c);
/* The first key whose value differs between a and b, or NULL. */
const char *agg_config_diff(const agg_config_t *a, const agg_config_t *b);
/* Logs the effective settings (event `config`). */
void agg_config_log(const agg_config_t *c);
/* HOST:PORT ([IPv6]:PORT; HOST a literal or a name, resolved here) into
 * addr. Returns 0, or -1 with why. */
int agg_parse_address(const char *text, struct sockaddr_storage *addr, socklen_t *len, char *why, size_t cap);
/* "ADDR:PORT" or "[ADDR]:PORT" of an IPv4/IPv6 socket address. */
void agg_format_address(const struct sockaddr *a, char *out, size_t cap);

/* ---- counters: what /fl/v1/status and /metrics report ---- */
#define AGG_PEER_MAX 64 /* "[IPv6]:port" and its NUL */

/* Why a request was refused; the names are the `reason` label of
 * mfl_aggregator_refused_total (docs/aggregator.md, "Metrics"). */
enum agg_refusal {
    AGG_REFUSED_MALFORMED,      /* 4.00: not a COSE_Sign1 update, bad values */
    AGG_REFUSED_IDENTITY,       /* 4.03: DTLS identity, kid and body disagree */
    AGG_REFUSED_UNKNOWN_DEVICE, /* 4.03: unknown or revoked device */
    AGG_REFUSED_SIGNATURE,      /* 4.01 */
    AGG_REFUSED_DELTA,          /* 4.00: norm or range of the delta */
    AGG_REFUSED_COUNTER_USED,   /* 4.09 */
    AGG_REFUSED_STALE,          /* 4.12 */
    AGG_REFUSED_SAMPLES,        /* 4.00: a sample count outside 1..2^32-1 (0: nothing learned, no weight) */
    AGG_REFUSED_HANDSHAKE,      /* a DTLS handshake refused or failed */
    AGG_REFUSED_COUNT
};
extern const char *const agg_refusal_names[AGG_REFUSED_COUNT];

typedef struct {
    uint64_t refused[AGG_REFUSED_COUNT];
    uint64_t duplicates;       /* retransmitted updates answered "duplicate" */
    uint64_t publish_failures; /* rounds that could not publish */
    uint64_t publishes;        /* models published by this process */
    double publish_seconds;    /* their CPU time, summed */
    uint64_t model_reads, status_reads;
} agg_counters_t;

/* ---- rounds (rounds.c): accepting updates and publishing models ---- */
typedef struct {
    agg_config_t cfg;
    const char *cfg_path;    /* the configuration file (SIGHUP reads it again); NULL in the simulator */
    int lock_fd;             /* data_dir/lock, held (flock) while the state is open; -1 = none */
    char peer[AGG_PEER_MAX]; /* the peer of the request being handled, for the log ("" = in-process) */
    agg_counters_t counters; /* kept durable in the store (saved every few seconds and at shutdown) */
    int counters_dirty;
    mfl_store_t *store;
    mfl_es256_private_t key;
    uint8_t *model_image;
    mfl_model_t model;
    uint8_t backbone[32];    /* the base model's backbone identity, in every model message */
    uint16_t rows, cols;     /* head delta shape: units x (features + 1) */
    int32_t *global;         /* current global head, rows x cols, Q8.24 */
    double *momentum;        /* server momentum buffer v (FedAvgM), rows x cols, Q8.24 units; zeros when
                              * server_momentum = 0. Stored with each model, like the head */
    int32_t *delta;          /* scratch: one update's dense delta, rows x cols */
    uint32_t *index;         /* scratch: one sparse update's indices, rows x cols */
    uint64_t norm_bound_q24; /* delta L2 norm bound in force, Q8.24 (0 = none) */
    uint64_t version;
    uint8_t *model_msg;      /* current signed model message */
    size_t model_msg_len;
    uint64_t accepted, rejected, rounds; /* accepted: every device's count in the store; rounds: version - 1 */
} agg_state_t;

/* The base model's head as rows of [weights (features), bias] in Q8.24
 * (malloc'd into *global; rows = units, cols = features + 1), exactly as a
 * device's learner reads it (base_head.c). Returns 0, MFL_ERR_NO_HEAD or
 * MFL_ERR_NO_MEMORY. */
int agg_read_base_head(const mfl_model_t *m, int32_t **global, uint16_t *rows, uint16_t *cols);

/* ---- startup checks (startup.c) ---- */
/* Takes data_dir/lock (flock, non-blocking; creates data_dir). Returns 0,
 * or MFL_ERR_IO with msg naming the other aggregator's pid. */
int agg_lock_data_dir(agg_state_t *s, char *msg, size_t cap);
void agg_unlock_data_dir(agg_state_t *s);
/* The base model against the identity the store recorded (recorded on a
 * first start). Returns 0 or MFL_ERR_INVALID_ARG with msg. */
int agg_check_base(agg_state_t *s, int first_start, char *msg, size_t cap);
/* The signing key against the latest stored model's signature. Returns 0
 * or MFL_ERR_COSE_SIGNATURE with msg. */
int agg_check_key(agg_state_t *s, char *msg, size_t cap);
/* The counters from the store (counters.c). */
int agg_counters_load(agg_state_t *s);

/* Counts one refusal (and marks the counters for saving). */
void agg_count_refusal(agg_state_t *s, enum agg_refusal why);
/* Saves the counters to the store if they changed. Returns 0 or an error. */
int agg_counters_save(agg_state_t *s);
/* Printable ASCII of untrusted bytes for a log value: '"', '\\' and
 * anything not printable become \xNN; cut to fit cap. */
void agg_escape(const uint8_t *data, size_t len, char *out, size_t cap);
/* A log value of untrusted bytes: as they are when they are printable
 * ASCII without '"', '=', '\\' or spaces, else quoted and escaped, so that
 * no id can add or fake a field. cap >= 4 * len + 3 holds any. */
void agg_log_token(const uint8_t *data, size_t len, char *out, size_t cap);
#define AGG_TOKEN_MAX (4 * MFL_DEVICE_ID_MAX + 3)

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

/* ---- the log (log.c): one stream of `ts=... level=... event=... key=value` lines ---- */
enum agg_log_level { AGG_LOG_DEBUG = 0, AGG_LOG_INFO = 1, AGG_LOG_WARNING = 2, AGG_LOG_ERROR = 3 };

/* An event at info level. */
void agg_log(const char *event, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An event at a given level; dropped below the level set. */
void agg_log_at(int level, const char *event, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void agg_log_set_level(int level);
/* "debug", "info", "warning" → *level. Returns 0 or -1. */
int agg_log_level_parse(const char *text, int *level);
const char *agg_log_level_name(int level);
/* SHA-256 (zeros if the crypto backend fails). */
void agg_sha256(const uint8_t *data, size_t len, uint8_t out[32]);
/* Where log lines go (NULL: stderr); the simulator's in-process
 * aggregators write to a file per strategy. */
void agg_log_to(FILE *f);

#endif
