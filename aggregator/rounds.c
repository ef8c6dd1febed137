/*
 * The aggregator's state and its models, independent of CoAP: opening the
 * state (key, base model, store), and rounds. A round folds the pending
 * updates into the global head with the configured strategy
 * (optim/host/aggregate.c), signs the new model, chains it to the previous
 * one by hash and commits it with the removal of the updates it folded, in
 * one transaction. Accepting updates is updates.c.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aggregator.h"
#include "mfl/host/keys.h"
#include "mfl/host/model_file.h"
#include "mfl/model_identity.h"

/* The signed model message for the current global head and version. */
static int build_model_msg(agg_state_t *s, const uint8_t prev_hash[32], uint8_t **out, size_t *out_len)
{
    const uint16_t features = (uint16_t)(s->cols - 1);
    const size_t n = (size_t)s->rows * features;
    int32_t *w = malloc(n * sizeof(int32_t)), bias[MFL_DELTA_MAX_ROWS];
    int8_t *values = malloc(n), shift[MFL_DELTA_MAX_ROWS];
    const size_t cap = 64 + n + 4u * s->rows + 256;
    uint8_t *body = malloc(cap), *msg = malloc(cap + 128);
    int err = w && values && body && msg ? 0 : MFL_ERR_NO_MEMORY;
    for (size_t r = 0; !err && r < s->rows; r++) {
        memcpy(w + r * features, s->global + r * s->cols, features * sizeof(int32_t));
        bias[r] = s->global[r * s->cols + features];
    }
    mfl_model_msg_t m = {.model_id = s->cfg.model_id, .model_id_len = strlen(s->cfg.model_id),
                         .version = s->version, .bias = bias,
                         .bounds = {s->cfg.max_staleness, s->norm_bound_q24, 0}};
    memcpy(m.prev_hash, prev_hash, 32);
    m.has_backbone = 1;
    memcpy(m.backbone, s->backbone, sizeof(m.backbone));
    m.head.shift = shift;
    m.head.values = values;
    size_t body_len = 0;
    err = err ? err : mfl_delta_quantize(w, NULL, s->rows, features, (uint32_t)n, &m.head);
    err = err ? err : mfl_model_msg_encode(&m, body, cap, &body_len);
    err = err ? err : mfl_cose_sign1_encode((const uint8_t *)s->cfg.model_id, strlen(s->cfg.model_id), body,
                                            body_len, NULL, 0, &s->key, msg, cap + 128, out_len);
    free(w), free(values), free(body);
    if (err) {
        free(msg);
        return err;
    }
    *out = msg;
    return 0;
}

void agg_sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
    mfl_sha256_t h;
    if (mfl_sha256_start(&h) || mfl_sha256_update(&h, data, len) || mfl_sha256_finish(&h, out)) {
        memset(out, 0, 32);
    }
}

/* A model's stored state (models.head): the exact head as little-endian
 * int32, then, when server_momentum > 0, the momentum buffer as
 * little-endian IEEE-754 binary64, so that a restart continues bit for bit
 * (docs/aggregator.md, "Weights and steps"). One blob in the model's own row:
 * the store commits it with the model and the updates it folded, in one
 * transaction, so no crash can pair a model with another round's momentum. */
_Static_assert(sizeof(double) == sizeof(uint64_t), "the momentum is stored as binary64");

static size_t state_bytes(const agg_state_t *s, int with_momentum)
{
    return (size_t)s->rows * s->cols * (4 + (with_momentum ? 8 : 0));
}

static void put_state(const agg_state_t *s, uint8_t *out)
{
    const size_t n = (size_t)s->rows * s->cols;
    for (size_t i = 0; i < n; i++) {
        const uint32_t v = (uint32_t)s->global[i];
        for (int b = 0; b < 4; b++) {
            out[4 * i + b] = (uint8_t)(v >> 8 * b);
        }
    }
    for (size_t i = 0; s->cfg.agg.server_momentum > 0.0 && i < n; i++) {
        uint64_t bits;
        memcpy(&bits, &s->momentum[i], 8);
        for (int b = 0; b < 8; b++) {
            out[4 * n + 8 * i + b] = (uint8_t)(bits >> 8 * b);
        }
    }
}

static void get_state(agg_state_t *s, const uint8_t *in, int with_momentum)
{
    const size_t n = (size_t)s->rows * s->cols;
    for (size_t i = 0; i < n; i++) {
        s->global[i] = (int32_t)((uint32_t)in[4 * i] | (uint32_t)in[4 * i + 1] << 8 |
                                 (uint32_t)in[4 * i + 2] << 16 | (uint32_t)in[4 * i + 3] << 24);
    }
    for (size_t i = 0; with_momentum && i < n; i++) {
        uint64_t bits = 0;
        for (int b = 0; b < 8; b++) {
            bits |= (uint64_t)in[4 * n + 8 * i + b] << 8 * b;
        }
        memcpy(&s->momentum[i], &bits, 8);
    }
}

/* Publishes a model with the exact state it came from (put_state). */
static int publish(agg_state_t *s, uint64_t version, const uint8_t *msg, size_t len, const int64_t *folded,
                   size_t n_folded)
{
    const size_t bytes = state_bytes(s, s->cfg.agg.server_momentum > 0.0);
    uint8_t *state = malloc(bytes);
    if (!state) {
        return MFL_ERR_NO_MEMORY;
    }
    put_state(s, state);
    const int err = mfl_store_publish_model(s->store, version, msg, len, state, bytes, folded, n_folded);
    free(state);
    return err;
}

/* The exact state stored with the latest model; 0 when there is one. The
 * momentum is read when it is configured and stored; otherwise it stays
 * zero (logged: server_momentum was off, or the store is older). */
static int state_from_store(agg_state_t *s)
{
    const int want = s->cfg.agg.server_momentum > 0.0;
    uint8_t *state = malloc(state_bytes(s, 1));
    int with = 1;
    int err = state ? mfl_store_latest_head(s->store, s->version, state, state_bytes(s, 1)) : MFL_ERR_NO_MEMORY;
    if (err == MFL_ERR_NO_MODEL) { /* of that size: a head without momentum, or none */
        with = 0;
        err = mfl_store_latest_head(s->store, s->version, state, state_bytes(s, 0));
    }
    if (!err) {
        get_state(s, state, with && want);
    }
    if (!err && want != with) {
        agg_log_at(AGG_LOG_WARNING, "momentum_reset", "version=%llu reason=\"%s\"", (unsigned long long)s->version,
                   want ? "no momentum stored with this model: it starts from zero"
                        : "server_momentum is 0: the stored momentum is not used");
    }
    free(state);
    return err;
}

/* The global head from a stored model message (after a restart). */
static int global_from_model_msg(agg_state_t *s)
{
    mfl_cose_sign1_t c;
    mfl_model_msg_t m;
    int err = mfl_cose_sign1_decode(s->model_msg, s->model_msg_len, &c);
    err = err ? err : mfl_model_msg_decode(c.payload, c.payload_len, s->rows, (uint16_t)(s->cols - 1), &m);
    if (err) {
        return err;
    }
    for (uint16_t r = 0; r < s->rows; r++) {
        for (uint16_t j = 0; j + 1 < s->cols; j++) {
            s->global[(size_t)r * s->cols + j] = mfl_delta_dequant(&m.head, r, m.head.values[(size_t)r * m.head.cols + j]);
        }
        s->global[(size_t)r * s->cols + s->cols - 1] = mfl_model_msg_bias(&m, r);
    }
    s->version = m.version;
    return 0;
}

static int open_model(agg_state_t *s, char *msg, size_t cap)
{
    size_t size;
    int err = mfl_model_file_read(s->cfg.model, &s->model_image, &size, msg, cap);
    err = err ? err : mfl_model_load(&s->model, s->model_image, size);
    if (err) {
        if (!msg[0]) {
            snprintf(msg, cap, "%s: %s", s->cfg.model, mfl_strerror(err));
        }
        return err;
    }
    err = agg_read_base_head(&s->model, &s->global, &s->rows, &s->cols);
    err = err ? err : mfl_model_backbone_id(&s->model, s->backbone);
    if (err) {
        snprintf(msg, cap, "%s: no trainable head: %s", s->cfg.model, mfl_strerror(err));
        return err;
    }
    const size_t n = (size_t)s->rows * s->cols;
    s->delta = calloc(n, sizeof(int32_t));
    s->index = calloc(n, sizeof(uint32_t));
    s->momentum = calloc(n, sizeof(double)); /* all-zero bits are 0.0 in binary64 */
    if (!s->delta || !s->index || !s->momentum) {
        return MFL_ERR_NO_MEMORY;
    }
    double sq = 0.0;
    for (size_t i = 0; i < n; i++) {
        sq += (double)s->global[i] * s->global[i];
    }
    /* auto: no update may move the head by more than the base head's own
     * size (docs/aggregator.md, "Hostile devices") */
    s->norm_bound_q24 = (uint64_t)llround(s->cfg.max_delta_norm == AGG_NORM_AUTO ? sqrt(sq)
                                                                                 : s->cfg.max_delta_norm * 16777216.0);
    return 0;
}

int agg_state_open(agg_state_t *s, const agg_config_t *cfg, char *msg, size_t cap)
{
    memset(s, 0, sizeof(*s));
    s->cfg = *cfg;
    s->lock_fd = -1;
    msg[0] = '\0';
    agg_log_set_level(cfg->log_level);
    int err = mfl_key_load_private(cfg->key, &s->key);
    if (err) {
        snprintf(msg, cap, "key %s: %s", cfg->key, err == MFL_ERR_IO ? strerror(errno) : mfl_strerror(err));
        return err;
    }
    err = open_model(s, msg, cap);
    err = err ? err : agg_lock_data_dir(s, msg, cap);
    if (!err && (err = mfl_store_open(cfg->data_dir, cfg->durability, &s->store)) != 0) {
        snprintf(msg, cap, "%s: %s", cfg->data_dir, mfl_strerror(err));
    }
    /* a provisioning command writing beside the server holds the database
     * for under a millisecond: wait for it rather than answer 5.00 */
    err = err ? err : mfl_store_set_busy_timeout(s->store, 100);
    err = err ? err : mfl_store_latest_model(s->store, &s->version, &s->model_msg, &s->model_msg_len);
    if (!err && s->model_msg) {
        /* the model's int8 head for its version and checks; the exact
         * head, when the store has it, for the rounds that follow */
        err = global_from_model_msg(s);
        if (err) {
            snprintf(msg, cap, "stored model does not match %s: %s", cfg->model, mfl_strerror(err));
        }
        err = err ? err : agg_check_key(s, msg, cap);
        err = err ? err : agg_check_base(s, 0, msg, cap);
        if (!err && state_from_store(s) != 0) {
            agg_log("head_rebuilt", "version=%llu reason=\"no exact head stored: continuing from the model's int8 "
                    "head\"", (unsigned long long)s->version);
        }
    } else if (!err) { /* first start: version 1 is the base model's head */
        const uint8_t zero[32] = {0};
        s->version = 1;
        err = agg_check_base(s, 1, msg, cap);
        err = err ? err : build_model_msg(s, zero, &s->model_msg, &s->model_msg_len);
        err = err ? err : publish(s, 1, s->model_msg, s->model_msg_len, NULL, 0);
        if (err && !msg[0]) {
            snprintf(msg, cap, "cannot publish the first model: %s", mfl_strerror(err));
        }
    }
    if (!err && (err = agg_counters_load(s)) != 0) {
        snprintf(msg, cap, "%s: cannot read the counters: %s", cfg->data_dir, mfl_strerror(err));
    }
    return err;
}

void agg_state_close(agg_state_t *s)
{
    agg_counters_save(s);
    mfl_store_close(s->store);
    agg_unlock_data_dir(s);
    free(s->model_image), free(s->global), free(s->model_msg);
    free(s->delta), free(s->index), free(s->momentum);
    memset(&s->key, 0, sizeof(s->key));
    s->lock_fd = -1;
}

/* ---- aggregation round ---- */

/* A round folds at most one update per device, the oldest: a device that
 * sends many updates in a row cannot fill a round by itself (the others
 * wait, pending, for later rounds). */
typedef struct {
    agg_state_t *s;
    mfl_agg_update_t *updates;
    int32_t *deltas;
    size_t count, cap;
    int64_t *folded;          /* rowids this round takes (or drops, if unreadable) */
    size_t n_folded;
    mfl_device_rec_t *devices; /* the device of each update taken */
    char (*groups)[64];
} round_t;

static int in_round(const round_t *r, const uint8_t *id, size_t len)
{
    for (size_t i = 0; i < r->count; i++) {
        if (r->devices[i].id_len == len && !memcmp(r->devices[i].id, id, len)) {
            return 1;
        }
    }
    return 0;
}

static uint32_t group_index(round_t *r, const char *group)
{
    for (uint32_t g = 0; g < r->count; g++) {
        if (!strcmp(r->groups[g], group)) {
            return g;
        }
    }
    return (uint32_t)r->count; /* a group first seen at this update's slot */
}

/* A pending update the round drops rather than folds: logged (the device
 * when its envelope is readable) and removed with the round. */
static void drop(round_t *r, int64_t rowid, const mfl_cose_sign1_t *c, uint64_t counter, const char *why)
{
    char id[AGG_TOKEN_MAX] = "-";
    if (c->kid) {
        agg_log_token(c->kid, c->kid_len <= MFL_DEVICE_ID_MAX ? c->kid_len : MFL_DEVICE_ID_MAX, id, sizeof(id));
    }
    agg_log("update_dropped", "device=%s counter=%llu reason=%s", id, (unsigned long long)counter, why);
    r->folded[r->n_folded++] = rowid;
}

static int collect(void *ctx, int64_t rowid, const uint8_t *msg, size_t len)
{
    round_t *r = ctx;
    agg_state_t *s = r->s;
    mfl_cose_sign1_t c;
    mfl_update_t u;
    if (r->count == r->cap) {
        return 1;
    }
    memset(&c, 0, sizeof(c));
    memset(&u, 0, sizeof(u));
    const size_t n = (size_t)s->rows * s->cols;
    int32_t *delta = r->deltas + r->count * n;
    mfl_device_rec_t *dev = &r->devices[r->count];
    /* stored updates were verified before they were committed: one that no
     * longer decodes (a store written by another version, a sample count
     * of 0 included) is dropped, never folded with a made-up weight */
    if (mfl_cose_sign1_decode(msg, len, &c) || mfl_update_decode(c.payload, c.payload_len, s->rows, s->cols, &u) ||
        mfl_store_get_device(s->store, c.kid, c.kid_len, dev) ||
        (u.index_bytes && mfl_delta_index_decode(u.index_bytes, u.index_len, u.delta.k, (uint32_t)n, s->index))) {
        drop(r, rowid, &c, u.counter, "unreadable");
        return 0;
    }
    const uint64_t staleness = s->version - u.base_version;
    if (dev->revoked || staleness > s->cfg.max_staleness) {
        /* revoked since it was accepted, or waited (behind the device's
         * earlier updates) until its base is too old: dropped */
        drop(r, rowid, &c, u.counter, dev->revoked ? "revoked" : "stale");
        return 0;
    }
    if (in_round(r, c.kid, c.kid_len)) {
        return 0; /* this device's next update: a later round */
    }
    u.delta.index = u.index_bytes ? s->index : NULL;
    mfl_delta_expand(&u.delta, delta);
    snprintf(r->groups[r->count], sizeof(r->groups[0]), "%s", dev->group);
    r->updates[r->count] = (mfl_agg_update_t){delta, u.samples, (uint32_t)(s->version - u.base_version),
                                              group_index(r, dev->group)};
    r->count++;
    r->folded[r->n_folded++] = rowid;
    return 0;
}

int agg_publish_round(agg_state_t *s, uint32_t k_min)
{
    const clock_t started = clock(); /* CPU time of the round, for the log */
    const int64_t devices = mfl_store_pending_devices(s->store), pending = mfl_store_pending_count(s->store);
    if (devices < 0 || pending < 0) {
        return MFL_ERR_STORE;
    }
    if (devices < (int64_t)(k_min ? k_min : 1)) {
        return 0;
    }
    const size_t n = (size_t)s->rows * s->cols, cap = (size_t)devices, rows = (size_t)pending;
    round_t r = {.s = s, .cap = cap};
    r.updates = calloc(cap, sizeof(*r.updates));
    r.deltas = calloc(cap * n, sizeof(int32_t));
    r.groups = calloc(cap, sizeof(*r.groups));
    r.devices = calloc(cap, sizeof(*r.devices));
    r.folded = calloc(rows, sizeof(*r.folded));
    const size_t scratch_size = mfl_agg_scratch_size(cap, n);
    void *scratch = malloc(scratch_size);
    int32_t *next = malloc(n * sizeof(int32_t));
    double *next_v = malloc(n * sizeof(double)); /* the momentum after this round, kept if it publishes */
    int err = r.updates && r.deltas && r.groups && r.devices && r.folded && scratch && next && next_v
                  ? 0 : MFL_ERR_NO_MEMORY;
    err = err ? err : mfl_store_each_pending(s->store, collect, &r) < 0 ? MFL_ERR_STORE : 0;
    if (!err && r.count) {
        memcpy(next_v, s->momentum, n * sizeof(double));
        err = mfl_aggregate_momentum(&s->cfg.agg, r.updates, r.count, n, s->global, next_v, next, scratch,
                                     scratch_size);
    }
    uint8_t *msg = NULL;
    size_t len = 0;
    if (!err && r.count) {
        uint8_t prev[32];
        agg_sha256(s->model_msg, s->model_msg_len, prev);
        int32_t *keep = s->global;
        double *keep_v = s->momentum;
        s->global = next;
        s->momentum = next_v;
        s->version++;
        err = build_model_msg(s, prev, &msg, &len);
        err = err ? err : publish(s, s->version, msg, len, r.folded, r.n_folded);
        if (err) { /* nothing published: back to the previous state */
            s->global = keep;
            s->momentum = keep_v;
            s->version--;
            free(msg);
        } else {
            next = keep;
            next_v = keep_v;
            free(s->model_msg);
            s->model_msg = msg;
            s->model_msg_len = len;
            s->rounds++;
            s->counters.publishes++;
            s->counters.publish_seconds += (double)(clock() - started) / CLOCKS_PER_SEC;
            agg_log("model_published", "version=%llu updates=%zu bytes=%zu ms=%.2f", (unsigned long long)s->version,
                    r.count, len, (double)(clock() - started) * 1e3 / CLOCKS_PER_SEC);
        }
    }
    if (!err && !r.count && r.n_folded) { /* only dropped updates: no model, but they go */
        err = mfl_store_publish_model(s->store, 0, NULL, 0, NULL, 0, r.folded, r.n_folded);
    }
    free(r.updates), free(r.deltas), free(r.groups), free(r.devices), free(r.folded), free(scratch), free(next);
    free(next_v);
    if (err) { /* the updates stay pending; the next accepted one tries again */
        s->counters.publish_failures++;
        s->counters_dirty = 1;
        agg_log_at(AGG_LOG_ERROR, "publish_failed", "version=%llu pending=%lld reason=\"%s\"",
                   (unsigned long long)s->version + 1, (long long)pending, mfl_strerror(err));
    }
    return err ? err : r.count > 0;
}

typedef struct {
    mfl_status_t *st;
    char names[MFL_GROUPS_MAX][64];
} groups_t;

static int add_group(void *ctx, const char *group, uint64_t devices, uint64_t accepted)
{
    groups_t *g = ctx;
    mfl_status_t *st = g->st;
    if (st->n_groups == MFL_GROUPS_MAX) {
        return 1; /* the status lists the first 16 groups */
    }
    snprintf(g->names[st->n_groups], sizeof(g->names[0]), "%s", group);
    st->groups[st->n_groups] = (mfl_group_status_t){g->names[st->n_groups], strlen(g->names[st->n_groups]),
                                                    devices, accepted};
    st->n_groups++;
    return 0;
}

int agg_status(agg_state_t *s, uint8_t *buf, size_t cap, size_t *len)
{
    mfl_status_t st = {.round = s->rounds, .model_version = s->version, .accepted = s->accepted,
                       .rejected = s->rejected, .n_groups = 0};
    groups_t g = {.st = &st};
    mfl_store_each_group(s->store, add_group, &g);
    return mfl_status_encode(&st, buf, cap, len);
}
