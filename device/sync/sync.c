/*
 * The device's sync with the aggregator as a polled state machine
 * (include/mfl/sync.h): one CoAP exchange at a time on the datagram port,
 * whole requests retried with exponential back-off and jitter, and the
 * receipt rules of docs/protocol.md.
 */
#include <string.h>

#include "mfl/cose.h"
#include "mfl/error.h"
#include "mfl/sync.h"
#include "mfl/update_builder.h"

enum { OP_NONE, OP_FETCH, OP_UPDATE };

static const char *const model_path[] = {"fl", "v1", "model"};
static const char *const update_path[] = {"fl", "v1", "update"};

mfl_sync_config_t mfl_sync_default_config(void)
{
    mfl_sync_config_t c;
    memset(&c, 0, sizeof(c));
    c.coap = mfl_coap_default_params();
    c.retry_base_ms = 500;
    c.retry_max_ms = 30000;
    c.max_attempts = 8;
    return c;
}

size_t mfl_sync_model_max_size(const mfl_learner_t *l)
{
    /* the body: the dense int8 head, a shift and an int32 bias per row,
     * and at most 256 bytes of keys, model id, version, hash and bounds */
    const size_t rows = l->head.units, cols = l->head.features;
    return mfl_cose_sign1_size(MFL_DEVICE_ID_MAX, rows * (cols + 6) + 256);
}

static size_t residual_bytes(const mfl_learner_t *l)
{
    return (size_t)l->head.units * (l->head.features + 1u) * sizeof(int32_t);
}

int mfl_sync_init(mfl_sync_t *s, const mfl_sync_config_t *cfg)
{
    if (!s || !cfg || !cfg->port.send || !cfg->port.receive || !cfg->device_id || cfg->device_id_len == 0 ||
        cfg->device_id_len > MFL_DEVICE_ID_MAX || cfg->max_attempts == 0) {
        return MFL_ERR_INVALID_ARG;
    }
    memset(s, 0, sizeof(*s));
    s->cfg = *cfg;
    s->version = cfg->version;
    s->rng = cfg->seed ? cfg->seed : 0x2545F491u;
    s->next_mid = (uint16_t)(s->rng >> 16);
    return 0;
}

/* What fetching a model needs (the state is optional: without it a model
 * is installed but not stored). */
static int can_fetch(const mfl_sync_config_t *c)
{
    return c->learner && c->aggregator && c->model_buf && c->model_cap;
}

/* What building and sending an update needs. */
static int can_build(const mfl_sync_config_t *c)
{
    return c->learner && c->state && c->key && c->residual && c->residual_work && c->update_buf && c->work &&
           (uintptr_t)c->work % 8 == 0 && c->update_cap >= mfl_update_max_size(c->learner, c->device_id_len) &&
           c->work_size >= mfl_update_work_size(c->learner, c->top_k);
}

static uint32_t next_random(mfl_sync_t *s)
{
    uint32_t x = s->rng;
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    return s->rng = x;
}

static int reached(uint32_t now, uint32_t when)
{
    return (int32_t)(now - when) >= 0; /* a wrapping clock */
}

/* The ETag of a model version: big-endian, shortest form (the aggregator's). */
static uint8_t version_etag(uint64_t version, uint8_t etag[8])
{
    uint8_t n = 0;
    for (uint64_t v = version; v; v >>= 8) {
        n++;
    }
    for (uint8_t i = 0; i < n; i++) {
        etag[i] = (uint8_t)(version >> (8 * (n - 1 - i)));
    }
    return n;
}

/* Puts the current operation's request on the link (a fresh exchange: new
 * message ID and token; an update resends the same signed bytes). */
static int start_request(mfl_sync_t *s, uint32_t now)
{
    mfl_coap_request_t req;
    memset(&req, 0, sizeof(req));
    if (s->op == OP_FETCH) {
        req.code = MFL_COAP_GET;
        memcpy(req.path, model_path, sizeof(model_path));
        req.etag = s->etag;
        req.etag_len = version_etag(s->version, s->etag); /* none for version 0: nothing installed yet */
        req.content_format = -1;
        req.response = s->cfg.model_buf;
        req.response_cap = s->cfg.model_cap;
    } else {
        req.code = MFL_COAP_POST;
        memcpy(req.path, update_path, sizeof(update_path));
        req.content_format = 18; /* application/cose; cose-type="cose-sign1" (RFC 9052) */
        req.body = s->cfg.update_buf;
        req.body_len = s->update_len;
        req.response = s->response;
        req.response_cap = sizeof(s->response);
    }
    req.path_len = 3;
    const uint32_t t = next_random(s);
    const uint8_t token[4] = {(uint8_t)t, (uint8_t)(t >> 8), (uint8_t)(t >> 16), (uint8_t)(t >> 24)};
    const int err = mfl_coap_exchange_start(&s->x, &s->cfg.coap, &req, s->next_mid, token, sizeof(token),
                                            next_random(s), now);
    /* the exchange numbers its messages (one per block) from here: the next
     * exchange starts past them, so no message ID is reused within
     * EXCHANGE_LIFETIME (RFC 7252 section 4.4), even if the server makes
     * it fall back to 16-byte blocks */
    const size_t blocks = (s->op == OP_FETCH ? s->cfg.model_cap : s->update_len) / 16u + 2u;
    s->next_mid = (uint16_t)(s->next_mid + (blocks > 64u ? blocks : 64u));
    s->attempt++;
    s->stats.attempts++;
    s->in_exchange = err == 0;
    s->wake_ms = now;
    return err;
}

static int end(mfl_sync_t *s, int err, mfl_sync_outcome_t outcome)
{
    s->op = OP_NONE;
    s->in_exchange = 0;
    s->outcome = err ? MFL_SYNC_NONE : outcome;
    return err;
}

/* Another try after a back-off of min(base * 2^(attempt-1), max) times a
 * random factor in [0.5, 1] ("equal jitter"), unless the attempts are used up. */
static int retry_later(mfl_sync_t *s, int err, uint32_t now)
{
    s->last_error = err;
    if (s->attempt >= s->cfg.max_attempts) {
        return end(s, err, MFL_SYNC_NONE);
    }
    uint32_t delay = s->cfg.retry_base_ms;
    for (uint8_t i = 1; i < s->attempt && delay < s->cfg.retry_max_ms; i++) {
        delay *= 2;
    }
    delay = delay < s->cfg.retry_max_ms ? delay : s->cfg.retry_max_ms;
    delay = delay / 2 + next_random(s) % (delay / 2 + 1);
    s->in_exchange = 0;
    s->wake_ms = now + delay;
    return MFL_SYNC_PENDING;
}

/* Answers that say "try again later" (RFC 7252 5.9.3, 4.08 of RFC 7959 2.9.2, 4.29 of RFC 8516). */
static int transient(uint8_t code)
{
    return code >> 5 == 5 || code == MFL_COAP_CODE(4, 8) || code == MFL_COAP_CODE(4, 29);
}

/* Whether a model message that mfl_model_install() refused with
 * MFL_ERR_PROTO_VALUE is well formed and simply not newer than the
 * installed one (and not a field out of range, which is a refusal). */
static int not_newer(mfl_sync_t *s)
{
    mfl_cose_sign1_t c;
    mfl_model_msg_t m;
    const mfl_learner_t *l = s->cfg.learner;
    return mfl_cose_sign1_decode(s->cfg.model_buf, s->x.response_len, &c) == 0 &&
           mfl_model_msg_decode(c.payload, c.payload_len, l->head.units, l->head.features, &m) == 0 &&
           m.version <= s->version;
}

static int model_answered(mfl_sync_t *s, uint32_t now)
{
    const uint8_t code = s->x.response_code;
    if (code == MFL_COAP_CODE(2, 3)) {
        return end(s, 0, MFL_SYNC_MODEL_CURRENT);
    }
    if (transient(code)) {
        return retry_later(s, MFL_ERR_SYNC_UNAVAILABLE, now);
    }
    if (code != MFL_COAP_CODE(2, 5)) {
        return end(s, MFL_ERR_SYNC_REFUSED, MFL_SYNC_NONE);
    }
    uint64_t installed = s->version;
    int err = mfl_model_install(s->cfg.learner, s->cfg.model_buf, s->x.response_len, s->cfg.aggregator, s->version,
                                &installed);
    if (err == MFL_ERR_PROTO_VALUE && not_newer(s)) {
        return end(s, 0, MFL_SYNC_MODEL_CURRENT);
    }
    if (!err && s->cfg.state) {
        err = mfl_state_install_model(s->cfg.state, s->cfg.model_buf, (uint32_t)s->x.response_len, installed);
    }
    if (!err) {
        s->version = installed;
    }
    return end(s, err, MFL_SYNC_MODEL_INSTALLED);
}

/* Signs the learner's update under a new counter, persisted first; the
 * residual of the update starts from the committed one. */
static int build_update(mfl_sync_t *s)
{
    const mfl_sync_config_t *c = &s->cfg;
    memcpy(c->residual_work, c->residual, residual_bytes(c->learner));
    int err = mfl_state_next_counter(c->state, &s->counter);
    /* version 0 (no model message installed): the built-in model, version 1 */
    const mfl_update_params_t p = {c->device_id, c->device_id_len, s->version ? s->version : 1, s->counter, c->top_k};
    return err ? err
               : mfl_update_build(c->learner, &p, c->residual_work, c->key, c->work, c->work_size, c->update_buf,
                                  c->update_cap, &s->update_len);
}

static int receipt_for_us(mfl_sync_t *s)
{
    mfl_receipt_t *r = &s->receipt;
    const int ok = mfl_receipt_decode(s->response, s->x.response_len, r) == 0 && r->counter == s->counter &&
                   r->device_id_len == s->cfg.device_id_len &&
                   !memcmp(r->device_id, s->cfg.device_id, r->device_id_len);
    if (!ok) {
        memset(r, 0, sizeof(*r)); /* nothing of it is reported */
    }
    return ok;
}

/* A "counter used" receipt's last counter, if the device may jump past
 * it: 0 (an aggregator that does not say: one step), or at least the
 * counter sent and no more than 2^32 above it — a receipt that would
 * spend the counter space (a buggy aggregator, or on a plain link anyone)
 * is refused rather than obeyed. */
static int plausible_jump(const mfl_sync_t *s)
{
    const uint64_t last = s->receipt.last_counter;
    return last == 0 || (last >= s->counter && last - s->counter <= UINT64_C(0xFFFFFFFF) && last < INT64_MAX - 1);
}

static int update_answered(mfl_sync_t *s, uint32_t now)
{
    const uint8_t code = s->x.response_code;
    if (transient(code)) {
        return retry_later(s, MFL_ERR_SYNC_UNAVAILABLE, now);
    }
    if (code == MFL_COAP_CODE(4, 12)) {
        receipt_for_us(s); /* its model_version, for the caller to report */
        return end(s, MFL_ERR_SYNC_STALE, MFL_SYNC_NONE);
    }
    if (code != MFL_COAP_CODE(2, 4) && code != MFL_COAP_CODE(4, 9)) {
        return end(s, MFL_ERR_SYNC_REFUSED, MFL_SYNC_NONE);
    }
    if (!receipt_for_us(s)) {
        return end(s, MFL_ERR_SYNC_RECEIPT, MFL_SYNC_NONE);
    }
    const uint32_t status = s->receipt.status;
    if (code == MFL_COAP_CODE(2, 4) && (status == MFL_RECEIPT_ACCEPTED || status == MFL_RECEIPT_DUPLICATE)) {
        if (!s->relayed) {
            memcpy(s->cfg.residual, s->cfg.residual_work, residual_bytes(s->cfg.learner));
        }
        return end(s, 0, MFL_SYNC_UPDATE_STORED);
    }
    if (code != MFL_COAP_CODE(4, 9) || status != MFL_RECEIPT_COUNTER_USED) {
        return end(s, MFL_ERR_SYNC_RECEIPT, MFL_SYNC_NONE); /* a status its code does not allow */
    }
    if (!plausible_jump(s)) {
        memset(&s->receipt, 0, sizeof(s->receipt));
        return end(s, MFL_ERR_SYNC_RECEIPT, MFL_SYNC_NONE);
    }
    if (s->counter_moved || s->relayed) {
        return end(s, MFL_ERR_SYNC_REFUSED, MFL_SYNC_NONE);
    }
    /* the device's counter journal is behind the aggregator: jump past it */
    s->counter_moved = 1;
    s->counter_used = s->counter;
    s->aggregator_last = s->receipt.last_counter;
    int err = mfl_state_skip_counters(s->cfg.state, s->receipt.last_counter);
    err = err ? err : build_update(s);
    if (err) {
        return end(s, err, MFL_SYNC_NONE);
    }
    s->attempt = 0;
    err = start_request(s, now);
    return err ? end(s, err, MFL_SYNC_NONE) : MFL_SYNC_PENDING;
}

static int begin(mfl_sync_t *s, int op, uint32_t now)
{
    s->op = op;
    s->attempt = 0;
    s->counter_moved = 0;
    s->counter_used = s->aggregator_last = 0;
    s->outcome = MFL_SYNC_NONE;
    s->last_error = 0;
    s->response_code = 0;
    const int err = start_request(s, now);
    return err ? end(s, err, MFL_SYNC_NONE) : 0;
}

int mfl_sync_fetch_model(mfl_sync_t *s, uint32_t now_ms)
{
    if (!s || !can_fetch(&s->cfg)) {
        return MFL_ERR_INVALID_ARG;
    }
    return s->op ? MFL_ERR_BUSY : begin(s, OP_FETCH, now_ms);
}

int mfl_sync_send_update(mfl_sync_t *s, uint32_t now_ms)
{
    if (!s || !can_build(&s->cfg)) {
        return MFL_ERR_INVALID_ARG;
    }
    if (s->op) {
        return MFL_ERR_BUSY;
    }
    if (s->cfg.learner->samples == 0) {
        return MFL_ERR_NO_SAMPLES; /* before a counter is spent */
    }
    const int err = build_update(s);
    s->relayed = 0;
    return err ? err : begin(s, OP_UPDATE, now_ms);
}

int mfl_sync_post_signed(mfl_sync_t *s, size_t len, uint64_t counter, uint32_t now_ms)
{
    if (!s || !s->cfg.update_buf || len == 0 || len > s->cfg.update_cap) {
        return MFL_ERR_INVALID_ARG;
    }
    if (s->op) {
        return MFL_ERR_BUSY;
    }
    s->update_len = len;
    s->counter = counter;
    s->relayed = 1;
    return begin(s, OP_UPDATE, now_ms);
}

/* A port's error that ends the operation: retrying cannot help. */
static int definitive(int err)
{
    return err == MFL_ERR_DTLS_REFUSED || err == MFL_ERR_DTLS_PEER || err == MFL_ERR_NO_MEMORY;
}

static void send_datagram(mfl_sync_t *s, const uint8_t *d, size_t len)
{
    if (!d) {
        return;
    }
    const int err = s->cfg.port.send(s->cfg.port.ctx, d, len);
    if (err == 0) {
        s->stats.datagrams_sent++;
        s->stats.bytes_sent += (uint32_t)len;
    } else if (definitive(err)) {
        s->link_error = err;
    }
}

/* Feeds what the port holds to the exchange (datagrams between exchanges,
 * late answers to an earlier one, are dropped); at most 16 per poll, so a
 * flood cannot hold the caller's loop. */
static void take_datagrams(mfl_sync_t *s, uint32_t now)
{
    for (int i = 0; i < 16; i++) {
        const int n = s->cfg.port.receive(s->cfg.port.ctx, s->rx, sizeof(s->rx));
        if (definitive(n)) {
            s->link_error = n;
        }
        if (n == 0 || (n < 0 && n != MFL_ERR_BUFFER_TOO_SMALL)) {
            break; /* nothing waiting, or the link is down for now */
        }
        if (n < 0) {
            continue; /* one oversized datagram: the next may be fine */
        }
        s->stats.datagrams_received++;
        s->stats.bytes_received += (uint32_t)n;
        if (s->in_exchange && !s->x.done) {
            const uint8_t *out = NULL;
            size_t out_len = 0;
            mfl_coap_exchange_receive(&s->x, s->rx, (size_t)n, now, &out, &out_len);
            send_datagram(s, out, out_len);
        }
    }
}

void mfl_sync_cancel(mfl_sync_t *s)
{
    if (s && s->op) {
        end(s, 0, MFL_SYNC_NONE);
    }
}

int mfl_sync_poll(mfl_sync_t *s, uint32_t now_ms)
{
    if (!s) {
        return MFL_ERR_INVALID_ARG;
    }
    take_datagrams(s, now_ms);
    if (!s->op) {
        s->link_error = 0;
        return 0;
    }
    if (s->link_error) {
        const int err = s->link_error;
        s->link_error = 0;
        return end(s, err, MFL_SYNC_NONE);
    }
    if (!s->in_exchange) { /* backing off */
        if (!reached(now_ms, s->wake_ms)) {
            return MFL_SYNC_PENDING;
        }
        const int err = start_request(s, now_ms);
        if (err) {
            return end(s, err, MFL_SYNC_NONE);
        }
    }
    const uint8_t *out = NULL;
    size_t out_len = 0;
    mfl_coap_exchange_poll(&s->x, now_ms, &out, &out_len);
    send_datagram(s, out, out_len);
    if (s->link_error) {
        const int err = s->link_error;
        s->link_error = 0;
        return end(s, err, MFL_SYNC_NONE);
    }
    if (!s->x.done) {
        s->wake_ms = s->x.wake_ms;
        return MFL_SYNC_PENDING;
    }
    s->in_exchange = 0;
    s->response_code = s->x.error ? 0 : s->x.response_code;
    if (s->x.error == MFL_ERR_BUFFER_TOO_SMALL) {
        return end(s, MFL_ERR_BUFFER_TOO_SMALL, MFL_SYNC_NONE);
    }
    if (s->x.error) { /* timed out, reset, or a block-wise transfer broken off */
        if (s->cfg.port.reset) {
            s->cfg.port.reset(s->cfg.port.ctx); /* a fresh session for the retry */
        }
        return retry_later(s, s->x.error, now_ms);
    }
    s->last_error = 0;
    return s->op == OP_FETCH ? model_answered(s, now_ms) : update_answered(s, now_ms);
}
