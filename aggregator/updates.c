/*
 * Accepting one update, independent of CoAP (server.c calls in; so does the
 * simulator's in-process link). Three stages: the envelope and the sender
 * (agg_update_check), the signature (agg_update_verify, thread-safe), then
 * the body and the store (agg_update_finish).
 *
 * Receipts are true: "accepted" once the update's transaction committed,
 * "duplicate" only when this very signed body is already stored under its
 * counter, "counter used" (4.09) when the counter is spent on another
 * update, each with the device's last accepted counter so that a device
 * whose state was lost can move ahead. What a hostile but correctly signed
 * device can do under the defaults is bounded here: every value within the
 * head's Q8.24 range and the delta's L2 norm within the bound here; its
 * weight capped (sample_cap: twice the round's median by default) and one
 * update per device per round in rounds.c (docs/aggregator.md, "Hostile
 * devices"). A stored update's retransmission is answered "duplicate"
 * before any of those checks: they were passed when it first came.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "aggregator.h"

static void diag(agg_outcome_t *out, int code, const char *text)
{
    out->code = code;
    out->is_receipt = 0;
    out->body_len = (size_t)snprintf((char *)out->body, sizeof(out->body), "%s", text);
}

static void receipt(agg_state_t *s, agg_outcome_t *out, int code, const mfl_update_t *u, uint32_t status,
                    uint64_t last_counter)
{
    const mfl_receipt_t r = {u->device_id, u->device_id_len, u->counter, status, s->version, last_counter};
    out->code = code;
    out->is_receipt = 1;
    if (mfl_receipt_encode(&r, out->body, sizeof(out->body), &out->body_len)) {
        diag(out, 500, "receipt");
    }
}

/* A refusal: counted, logged with the peer and the claimed device, answered. */
static void refuse(agg_state_t *s, agg_outcome_t *out, const uint8_t *kid, size_t kid_len, enum agg_refusal kind,
                   int code, const char *why)
{
    char id[AGG_TOKEN_MAX];
    agg_log_token(kid, kid_len <= MFL_DEVICE_ID_MAX ? kid_len : MFL_DEVICE_ID_MAX, id, sizeof(id));
    agg_count_refusal(s, kind);
    agg_log_at(AGG_LOG_WARNING, "update_rejected", "device=%s code=%d.%02d kind=%s reason=\"%s\" peer=%s", id,
               code / 100, code % 100, agg_refusal_names[kind], why, s->peer[0] ? s->peer : "-");
    diag(out, code, why);
}

int agg_update_check(agg_state_t *s, const uint8_t *identity, size_t identity_len, const uint8_t *msg, size_t len,
                     agg_pending_t *p, agg_outcome_t *out)
{
    mfl_device_rec_t dev;
    memset(out, 0, sizeof(*out));
    memset(p, 0, sizeof(*p));
    p->msg = msg;
    p->len = len;
    int err = mfl_cose_sign1_decode(msg, len, &p->c);
    if (!err && (!p->c.kid || !p->c.kid_protected || p->c.unprotected_count)) {
        err = MFL_ERR_COSE_HEADER;
    }
    if (err) {
        return refuse(s, out, identity, identity_len, AGG_REFUSED_MALFORMED, 400, mfl_strerror(err)), 0;
    }
    if (identity && (identity_len != p->c.kid_len || memcmp(identity, p->c.kid, p->c.kid_len))) {
        return refuse(s, out, identity, identity_len, AGG_REFUSED_IDENTITY, 403,
                      "DTLS identity differs from the COSE kid"), 0;
    }
    err = mfl_store_get_device(s->store, p->c.kid, p->c.kid_len, &dev);
    if (err || dev.revoked) {
        return refuse(s, out, p->c.kid, p->c.kid_len, AGG_REFUSED_UNKNOWN_DEVICE, 403,
                      err ? "unknown device" : "revoked device"), 0;
    }
    p->pub = dev.pub;
    return 1;
}

int agg_update_verify(const agg_pending_t *p)
{
    return mfl_cose_sign1_verify(&p->c, NULL, 0, &p->pub);
}

/* The decoded update's delta as a dense Q8.24 array (the head's shape). */
static int expand_delta(agg_state_t *s, mfl_update_t *u, int32_t *delta)
{
    if (u->index_bytes) { /* k < rows x cols: the decoder checked it */
        const int err = mfl_delta_index_decode(u->index_bytes, u->index_len, u->delta.k,
                                               (uint32_t)s->rows * s->cols, s->index);
        if (err) {
            return err;
        }
        u->delta.index = s->index;
    }
    mfl_delta_expand(&u->delta, delta);
    u->delta.index = NULL;
    return 0;
}

/* The delta's own checks: within the norm bound, and the head it would
 * make stays within Q8.24 (|w| < 128). Returns NULL or why not. */
static const char *delta_problem(const agg_state_t *s, const int32_t *delta, double *norm)
{
    const size_t n = (size_t)s->rows * s->cols;
    double sq = 0.0;
    const char *why = NULL;
    for (size_t i = 0; i < n; i++) {
        const int64_t next = (int64_t)s->global[i] + delta[i];
        sq += (double)delta[i] * delta[i];
        why = !why && (next > INT32_MAX || next < INT32_MIN) ? "delta moves the head out of its Q8.24 range" : why;
    }
    *norm = sqrt(sq) / 16777216.0;
    if (!why && s->norm_bound_q24 && sqrt(sq) > (double)s->norm_bound_q24) {
        why = "delta norm above the bound";
    }
    return why;
}

static int code_for(int err)
{
    return err == MFL_ERR_COSE_SIGNATURE ? 401 : err == MFL_ERR_COSE_KID ? 403 : 400;
}

static void log_digest(const uint8_t digest[32], char out[17]) /* the first 8 bytes: which body */
{
    for (int i = 0; i < 8; i++) {
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
    }
}

/* An update whose counter is spent: the same body (duplicate, the device
 * may stop) or another one (counter used, it must move past last). */
static void answer_spent(agg_state_t *s, const mfl_store_update_t *rec, const mfl_update_t *u, int outcome,
                         uint64_t last, agg_outcome_t *out)
{
    char digest[17], id[AGG_TOKEN_MAX];
    log_digest(rec->digest, digest);
    agg_log_token(rec->device, rec->device_len, id, sizeof(id));
    if (outcome == MFL_STORE_DUPLICATE) {
        s->counters.duplicates++;
        s->counters_dirty = 1;
        agg_log("update_duplicate", "device=%s counter=%llu digest=%s peer=%s", id, (unsigned long long)u->counter,
                digest, s->peer[0] ? s->peer : "-");
        return receipt(s, out, 204, u, MFL_RECEIPT_DUPLICATE, last);
    }
    agg_count_refusal(s, AGG_REFUSED_COUNTER_USED);
    agg_log_at(AGG_LOG_WARNING, "update_counter_used", "device=%s counter=%llu last=%llu digest=%s peer=%s", id,
               (unsigned long long)u->counter, (unsigned long long)last, digest, s->peer[0] ? s->peer : "-");
    receipt(s, out, 409, u, MFL_RECEIPT_COUNTER_USED, last);
}

/* Stores a new update and answers; publishes when K devices have one. */
static void commit(agg_state_t *s, const mfl_store_update_t *rec, const mfl_update_t *u, double norm,
                   agg_outcome_t *out)
{
    int outcome = MFL_STORE_ACCEPTED;
    uint64_t last = 0;
    const int err = mfl_store_accept_update(s->store, rec, &outcome, &last);
    if (err) {
        return diag(out, err == MFL_ERR_NO_DEVICE ? 403 : 500, mfl_strerror(err));
    }
    if (outcome != MFL_STORE_ACCEPTED) {
        return answer_spent(s, rec, u, outcome, last, out);
    }
    char digest[17], id[AGG_TOKEN_MAX];
    log_digest(rec->digest, digest);
    agg_log_token(rec->device, rec->device_len, id, sizeof(id));
    s->accepted++;
    agg_log("update_accepted", "device=%s counter=%llu base=%llu samples=%llu norm=%.4g digest=%s peer=%s", id,
            (unsigned long long)u->counter,
            (unsigned long long)u->base_version, (unsigned long long)u->samples, norm, digest,
            s->peer[0] ? s->peer : "-");
    receipt(s, out, 204, u, MFL_RECEIPT_ACCEPTED, last);
    if (mfl_store_pending_devices(s->store) >= (int64_t)s->cfg.buffer_k) { /* K updates of K devices */
        out->published = agg_publish_round(s, s->cfg.buffer_k) > 0; /* a failure is logged and counted there */
    }
}

void agg_update_finish(agg_state_t *s, const agg_pending_t *p, int verify_err, agg_outcome_t *out)
{
    const mfl_cose_sign1_t *c = &p->c;
    mfl_update_t u;
    memset(out, 0, sizeof(*out));
    int err = verify_err ? verify_err : mfl_update_decode(c->payload, c->payload_len, s->rows, s->cols, &u);
    if (!err && (u.device_id_len != c->kid_len || memcmp(u.device_id, c->kid, c->kid_len))) {
        err = MFL_ERR_COSE_KID;
    }
    err = err ? err : expand_delta(s, &u, s->delta);
    if (err) {
        /* samples out of range has its own reason: a device that sends an
         * update of nothing learned (0) has a bug its operator should see,
         * apart from garbage */
        const enum agg_refusal kind = err == MFL_ERR_COSE_SIGNATURE ? AGG_REFUSED_SIGNATURE
                                      : err == MFL_ERR_COSE_KID ? AGG_REFUSED_IDENTITY
                                      : err == MFL_ERR_PROTO_SAMPLES ? AGG_REFUSED_SAMPLES : AGG_REFUSED_MALFORMED;
        return refuse(s, out, c->kid, c->kid_len, kind, code_for(err), mfl_strerror(err));
    }
    mfl_store_update_t rec = {c->kid, c->kid_len, u.counter, u.base_version, {0}, p->msg, p->len};
    agg_sha256(c->payload, c->payload_len, rec.digest);
    const int stale = u.base_version > s->version || s->version - u.base_version > s->cfg.max_staleness;
    double norm = 0.0;
    const char *why = stale ? NULL : delta_problem(s, s->delta, &norm);
    if (!stale && !why) { /* the store tells a spent counter apart in the same transaction */
        return commit(s, &rec, &u, norm, out);
    }
    /* a stored update's retransmission is "duplicate" whatever has changed
     * since (the version, the head): its checks were passed when it came */
    int outcome = MFL_STORE_NEW;
    uint64_t last = 0;
    err = mfl_store_prior(s->store, &rec, &outcome, &last);
    if (err) {
        return diag(out, err == MFL_ERR_NO_DEVICE ? 403 : 500, mfl_strerror(err));
    }
    if (outcome != MFL_STORE_NEW) {
        return answer_spent(s, &rec, &u, outcome, last, out);
    }
    if (stale) {
        agg_count_refusal(s, AGG_REFUSED_STALE);
        char id[AGG_TOKEN_MAX];
        agg_log_token(c->kid, c->kid_len <= MFL_DEVICE_ID_MAX ? c->kid_len : MFL_DEVICE_ID_MAX, id, sizeof(id));
        agg_log_at(AGG_LOG_WARNING, "update_stale", "device=%s base=%llu version=%llu peer=%s", id,
                   (unsigned long long)u.base_version, (unsigned long long)s->version, s->peer[0] ? s->peer : "-");
        return receipt(s, out, 412, &u, MFL_RECEIPT_STALE, last);
    }
    refuse(s, out, c->kid, c->kid_len, AGG_REFUSED_DELTA, 400, why);
}

void agg_handle_update(agg_state_t *s, const uint8_t *identity, size_t identity_len, const uint8_t *msg,
                       size_t len, agg_outcome_t *out)
{
    agg_pending_t p;
    if (agg_update_check(s, identity, identity_len, msg, len, &p, out)) {
        agg_update_finish(s, &p, agg_update_verify(&p), out);
    }
}
