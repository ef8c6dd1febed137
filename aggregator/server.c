/*
 * The aggregator's CoAP side on libcoap (OpenSSL DTLS build): one event
 * loop (coap_io_process), DTLS-PSK with identity = device id, resources
 * under /fl/v1/. Block-wise update bodies are reassembled here, never by
 * libcoap: libcoap 4.3.1 would allocate whatever Size1 a client declares,
 * so bodies above max_body are refused with 4.13 before any allocation.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <coap3/coap.h>

#include "aggregator.h"
#include "dedup.h"
#include "endpoints.h"
#include "metrics.h"
#include "reassembly.h"
#include "server.h"
#include "verify_pool.h"

#define MAX_JOBS 256          /* updates awaiting their signature check; more are checked inline */
#define DEDUP_ENTRIES 16384   /* responses kept for retransmitted requests */
#define EXCHANGE_LIFETIME_S 247 /* RFC 7252 section 4.8.2, default parameters */
#define BODY_IDLE_S 60        /* a block-wise body untouched this long may give its slot away */
#define BUSY_RETRY_S 2        /* Max-Age of a 5.03: when the device may try again */

static struct {
    agg_state_t *state;
    coap_resource_t *model[2]; /* one per context: PSK, certificates */
    agg_rsm_t *bodies;       /* block-wise bodies in progress, one per device */
    agg_dedup_t *dedup;      /* responses to confirmable POSTs */
    agg_pool_t *pool;        /* NULL: signatures checked on the event loop */
    agg_job_t *jobs[MAX_JOBS];
    agg_loop_stats_t stats;  /* sessions, handshakes, retransmissions answered from the dedup cache */
    volatile sig_atomic_t quit, reload;
} srv;

static void on_signal(int sig)
{
    if (sig == SIGHUP) {
        srv.reload = 1;
    } else {
        srv.quit = 1;
    }
}

/* The peer of a session, for the log: "ADDR:PORT". */
static void peer_text(coap_session_t *session, char out[AGG_PEER_MAX])
{
    const coap_address_t *a = session ? coap_session_get_addr_remote(session) : NULL;
    if (!a) {
        snprintf(out, AGG_PEER_MAX, "-");
        return;
    }
    agg_format_address(&a->addr.sa, out, AGG_PEER_MAX);
}

/* libcoap's messages (and its DTLS layer's) in the one log stream. */
/* MFL_COAP_DEBUG=1 in the environment shows libcoap's and the DTLS
 * layer's own debugging whatever log_level says. */
static void set_coap_log_level(int level)
{
    const coap_log_t l = getenv("MFL_COAP_DEBUG") || level == AGG_LOG_DEBUG ? LOG_DEBUG
                         : level == AGG_LOG_INFO ? LOG_NOTICE : LOG_WARNING;
    coap_set_log_level(l);
    coap_dtls_set_log_level(l);
}

static void coap_log_line(coap_log_t level, const char *message)
{
    char text[400];
    size_t n = strlen(message);
    while (n && (message[n - 1] == '\n' || message[n - 1] == ' ')) {
        n--; /* libcoap ends its messages with a newline */
    }
    agg_escape((const uint8_t *)message, n, text, sizeof(text));
    const int ours = level <= LOG_ERR ? AGG_LOG_ERROR : level <= LOG_WARNING ? AGG_LOG_WARNING
                     : level <= LOG_INFO ? AGG_LOG_INFO : AGG_LOG_DEBUG;
    agg_log_at(ours, "coap", "msg=\"%s\"", text);
}

static int coap_code(int code)
{
    return COAP_RESPONSE_CODE(code);
}

/* What the server keeps on a session (its app data). Freed when libcoap
 * reports the session gone; libcoap 4.3.1 frees the sessions still open
 * at shutdown without that event, so every record is also on a list the
 * server frees after the contexts. */
typedef struct session_info {
    struct session_info *prev, *next;
    uint8_t connected; /* the DTLS handshake completed */
    uint8_t refused;   /* the identity was refused (logged then) */
    char cn[MFL_DEVICE_ID_MAX + 1]; /* a certificate's CN (the device id), "" for PSK */
} session_info_t;

static session_info_t *session_infos; /* every record held */

static session_info_t *session_info(coap_session_t *session)
{
    session_info_t *i = coap_session_get_app_data(session);
    if (!i && (i = calloc(1, sizeof(*i))) != NULL) {
        i->next = session_infos;
        if (session_infos) {
            session_infos->prev = i;
        }
        session_infos = i;
        coap_session_set_app_data(session, i);
    }
    return i;
}

static void session_info_free(session_info_t *i)
{
    if (!i) {
        return;
    }
    if (i->prev) {
        i->prev->next = i->next;
    } else {
        session_infos = i->next;
    }
    if (i->next) {
        i->next->prev = i->prev;
    }
    free(i);
}

/* ---- DTLS-PSK: identity = device id, key from the store ---- */

static coap_bin_const_t psk_out;
static uint8_t psk_buf[64];

static const coap_bin_const_t *validate_identity(coap_bin_const_t *identity, coap_session_t *session, void *arg)
{
    agg_state_t *s = arg;
    mfl_device_rec_t dev;
    int found = 0;
    if (!identity || identity->length == 0 || identity->length > MFL_DEVICE_ID_MAX ||
        !(found = !mfl_store_get_device(s->store, identity->s, identity->length, &dev)) || dev.revoked) {
        char peer[AGG_PEER_MAX], id[4 * MFL_DEVICE_ID_MAX + 1];
        peer_text(session, peer);
        /* at most the first MFL_DEVICE_ID_MAX bytes of a longer identity, and its length */
        agg_escape(identity ? identity->s : NULL, identity ? (identity->length <= MFL_DEVICE_ID_MAX ? identity->length
                   : MFL_DEVICE_ID_MAX) : 0, id, sizeof(id));
        session_info_t *info = session_info(session);
        if (info) {
            info->refused = 1;
        }
        agg_count_refusal(s, AGG_REFUSED_HANDSHAKE);
        agg_log_at(AGG_LOG_WARNING, "handshake_refused", "peer=%s identity=\"%s\" identity_bytes=%zu reason=%s", peer,
                   id, identity ? identity->length : 0,
                   !identity || identity->length == 0 || identity->length > MFL_DEVICE_ID_MAX ? "bad_identity"
                   : found ? "revoked" : "unknown_device");
        return NULL;
    }
    memcpy(psk_buf, dev.psk, dev.psk_len);
    psk_out.s = psk_buf;
    psk_out.length = dev.psk_len;
    return &psk_out;
}

/* ---- DTLS certificates: the peer's CN is its device id ---- */

static int validate_cn(const char *cn, const uint8_t *cert, size_t cert_len, coap_session_t *session,
                       unsigned depth, int validated, void *arg)
{
    (void)cert, (void)cert_len;
    agg_state_t *s = arg;
    mfl_device_rec_t dev;
    if (!validated) {
        return 0;
    }
    if (depth > 0) {
        return 1; /* a CA in the chain, validated against the configured CA */
    }
    const size_t len = cn ? strlen(cn) : 0;
    if (len == 0 || len > MFL_DEVICE_ID_MAX || mfl_store_get_device(s->store, (const uint8_t *)cn, len, &dev) ||
        dev.revoked) {
        char peer[AGG_PEER_MAX], id[4 * MFL_DEVICE_ID_MAX + 1];
        peer_text(session, peer);
        agg_escape((const uint8_t *)cn, len <= MFL_DEVICE_ID_MAX ? len : 0, id, sizeof(id));
        session_info_t *info = session_info(session);
        if (info) {
            info->refused = 1;
        }
        agg_count_refusal(s, AGG_REFUSED_HANDSHAKE);
        agg_log_at(AGG_LOG_WARNING, "handshake_refused", "peer=%s identity=\"%s\" reason=unknown_or_revoked_cn",
                   peer, id);
        return 0;
    }
    session_info_t *info = session_info(session);
    if (!info) {
        return 0;
    }
    memcpy(info->cn, cn, len + 1);
    return 1;
}

/* The authenticated peer: its PSK identity, or its certificate's CN. */
static const uint8_t *peer_identity(coap_session_t *session, size_t *len)
{
    const coap_bin_const_t *psk = coap_session_get_psk_identity(session);
    if (psk && psk->length) {
        *len = psk->length;
        return psk->s;
    }
    const session_info_t *info = coap_session_get_app_data(session);
    *len = info ? strlen(info->cn) : 0;
    return info ? (const uint8_t *)info->cn : NULL;
}

/* ---- resources ---- */

static void log_read(coap_session_t *session, const char *event, const char *answer)
{
    char peer[AGG_PEER_MAX], id[4 * MFL_DEVICE_ID_MAX + 1];
    size_t len = 0;
    const uint8_t *identity = peer_identity(session, &len);
    peer_text(session, peer);
    agg_escape(identity, len <= MFL_DEVICE_ID_MAX ? len : 0, id, sizeof(id));
    uint64_t *count = !strcmp(event, "model_read") ? &srv.state->counters.model_reads
                                                   : &srv.state->counters.status_reads;
    ++*count;
    agg_log(event, "peer=%s identity=\"%s\" version=%llu answer=%s", peer, id,
            (unsigned long long)srv.state->version, answer);
}

static void get_model(coap_resource_t *r, coap_session_t *session, const coap_pdu_t *req, const coap_string_t *query,
                      coap_pdu_t *resp)
{
    agg_state_t *s = srv.state;
    coap_opt_iterator_t it;
    const coap_opt_t *etag = coap_check_option(req, COAP_OPTION_ETAG, &it);
    if (etag && coap_opt_length(etag) <= 8 &&
        coap_decode_var_bytes8(coap_opt_value(etag), coap_opt_length(etag)) == s->version) {
        /* the device has this version (its ETag): 2.03 Valid, nothing to send
         * again (RFC 7252 5.10.6; on a thin link a model is several blocks) */
        uint8_t b[8];
        log_read(session, "model_read", "valid");
        coap_pdu_set_code(resp, COAP_RESPONSE_CODE(203));
        coap_add_option(resp, COAP_OPTION_ETAG, coap_encode_var_safe8(b, sizeof(b), s->version), b);
        return;
    }
    coap_block_b_t block;
    if (!coap_get_block_b(session, req, COAP_OPTION_BLOCK2, &block) || block.num == 0) { /* once per fetch */
        log_read(session, "model_read", "content");
    }
    coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CONTENT);
    coap_add_data_large_response(r, session, req, resp, query, COAP_MEDIATYPE_APPLICATION_COSE_SIGN1, -1,
                                 s->version, s->model_msg_len, s->model_msg, NULL, NULL);
}

static void get_status(coap_resource_t *r, coap_session_t *session, const coap_pdu_t *req,
                       const coap_string_t *query, coap_pdu_t *resp)
{
    static uint8_t buf[2048];
    size_t len = 0;
    log_read(session, "status_read", "content");
    if (agg_status(srv.state, buf, sizeof(buf), &len)) {
        coap_pdu_set_code(resp, COAP_RESPONSE_CODE_INTERNAL_ERROR);
        return;
    }
    coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CONTENT);
    coap_add_data_large_response(r, session, req, resp, query, COAP_MEDIATYPE_APPLICATION_CBOR, 0, 0, len, buf,
                                 NULL, NULL);
}

static uint64_t now_s(void)
{
    coap_tick_t t;
    coap_ticks(&t);
    return (uint64_t)(t / COAP_TICKS_PER_SECOND);
}

static void add_uint_option(coap_pdu_t *pdu, coap_option_num_t number, uint32_t value)
{
    uint8_t b[4];
    coap_add_option(pdu, number, coap_encode_var_safe(b, sizeof(b), value), b);
}

static void apply(coap_pdu_t *resp, const agg_reply_t *r)
{
    coap_pdu_set_code(resp, (coap_pdu_code_t)coap_code(r->code));
    if (r->content_format >= 0) {
        add_uint_option(resp, COAP_OPTION_CONTENT_FORMAT, (uint32_t)r->content_format);
    }
    if (r->max_age) {
        add_uint_option(resp, COAP_OPTION_MAXAGE, r->max_age);
    }
    if (r->size1) {
        add_uint_option(resp, COAP_OPTION_SIZE1, r->size1);
    }
    if (r->body_len) {
        coap_add_data(resp, r->body_len, r->body);
    }
}

/* Answers a request and keeps the answer for its retransmissions. */
static void answer(coap_session_t *session, const coap_pdu_t *req, coap_pdu_t *resp, const agg_reply_t *r)
{
    apply(resp, r);
    if (coap_pdu_get_type(req) == COAP_MESSAGE_CON) {
        const coap_bin_const_t token = coap_pdu_get_token(req);
        agg_dedup_put(srv.dedup, session, (uint16_t)coap_pdu_get_mid(req), token.s, token.length, r, now_s());
    }
}

static agg_reply_t text_reply(int code, const char *text)
{
    agg_reply_t r = {.code = code, .content_format = -1};
    r.body_len = (size_t)snprintf((char *)r.body, sizeof(r.body), "%s", text);
    return r;
}

/* The answer to an update; a new model also goes to its observers. */
static agg_reply_t outcome_reply(const agg_outcome_t *out)
{
    agg_reply_t r = {.code = out->code, .content_format = out->is_receipt ? COAP_MEDIATYPE_APPLICATION_CBOR : -1};
    memcpy(r.body, out->body, out->body_len);
    r.body_len = out->body_len;
    for (int i = 0; out->published && i < 2; i++) {
        if (srv.model[i]) {
            coap_resource_notify_observers(srv.model[i], NULL);
        }
    }
    return r;
}

static int session_busy(coap_session_t *session)
{
    for (int i = 0; i < MAX_JOBS; i++) {
        if (srv.jobs[i] && srv.jobs[i]->session == session) {
            return 1;
        }
    }
    return 0;
}

static agg_job_t **free_job_slot(void)
{
    for (int i = 0; i < MAX_JOBS; i++) {
        if (!srv.jobs[i]) {
            return &srv.jobs[i];
        }
    }
    return NULL;
}

static void end_job(agg_job_t *job)
{
    for (int i = 0; i < MAX_JOBS; i++) {
        srv.jobs[i] = srv.jobs[i] == job ? NULL : srv.jobs[i];
    }
    free(job->body);
    free(job);
}

/* Hands the update's signature check to the pool and answers later with a
 * separate response. Returns 0 when the update must be handled inline (no
 * pool, pool full, a retransmission, out of memory); otherwise 1, with
 * out->code set if the update was refused before the check. */
static int start_job(coap_session_t *session, const coap_pdu_t *req, const uint8_t *id, size_t id_len,
                     const uint8_t *body, size_t body_len, agg_outcome_t *out)
{
    if (!srv.pool) {
        return 0;
    }
    if (session_busy(session)) {
        /* a second update while the first is being checked: committing it
         * first would make the earlier counter look like a replay */
        memset(out, 0, sizeof(*out));
        out->code = 503;
        out->body_len = (size_t)snprintf((char *)out->body, sizeof(out->body), "one update at a time per session");
        return 1;
    }
    agg_job_t **slot = free_job_slot();
    agg_job_t *job = slot ? calloc(1, sizeof(*job)) : NULL;
    if (job && !(job->body = malloc(body_len))) {
        free(job);
        job = NULL;
    }
    if (!job) {
        return 0;
    }
    memcpy(job->body, body, body_len);
    if (!agg_update_check(srv.state, id, id_len, job->body, body_len, &job->pending, out)) {
        free(job->body);
        free(job);
        return 1;
    }
    job->session = session;
    job->mid = (uint16_t)coap_pdu_get_mid(req);
    const coap_bin_const_t token = coap_pdu_get_token(req);
    job->token_len = token.length <= sizeof(job->token) ? token.length : 0;
    memcpy(job->token, token.s, job->token_len);
    job->confirmable = coap_pdu_get_type(req) == COAP_MESSAGE_CON;
    /* a separate response is a CON of its own; libcoap 4.3.1 clients do not
     * ACK a retransmitted copy of one they already took, so with NSTART = 1
     * one lost ACK would hold the session's next answers for the whole
     * retransmission time (~90 s). Let later answers overtake it. */
    if (coap_session_get_nstart(session) < 4) {
        coap_session_set_nstart(session, 4);
    }
    job->async = coap_register_async(session, req, 0);
    if (!job->async) {
        free(job->body);
        free(job);
        return 0;
    }
    coap_async_set_app_data(job->async, job);
    *slot = job;
    agg_pool_submit(srv.pool, job);
    return 1;
}

/* A request whose update is with the pool: either the second call for the
 * separate response (the check is done), or the client retransmitting. */
static int finish_job(coap_session_t *session, const coap_pdu_t *req, coap_pdu_t *resp)
{
    coap_async_t *async = srv.pool ? coap_find_async(session, coap_pdu_get_token(req)) : NULL;
    agg_job_t *job = async ? coap_async_get_app_data(async) : NULL;
    if (!job) {
        return 0;
    }
    if (!job->triggered) {
        return 1; /* a retransmission while the check runs: another empty ACK */
    }
    agg_outcome_t out;
    peer_text(session, srv.state->peer);
    agg_update_finish(srv.state, &job->pending, job->verify_err, &out);
    const agg_reply_t r = outcome_reply(&out);
    apply(resp, &r);
    if (job->confirmable) { /* for a retransmission of the request that arrives after this answer */
        agg_dedup_put(srv.dedup, session, job->mid, job->token, job->token_len, &r, now_s());
    }
    end_job(job); /* libcoap frees the async itself once this handler returns */
    return 1;
}

/* Finished checks: trigger their separate responses, or drop those whose
 * session went away (nothing was committed; the device retries). */
static void collect_jobs(void)
{
    agg_job_t *job = agg_pool_take_done(srv.pool);
    while (job) {
        agg_job_t *next = job->next;
        if (job->session) {
            job->triggered = 1;
            coap_async_trigger(job->async);
        } else {
            end_job(job);
        }
        job = next;
    }
}

/* Who a block-wise body belongs to: the device (so that a new session
 * can resume it and many sessions cannot take many slots), or on the
 * plain test endpoint, which has no identity, the session. */
static size_t body_owner(coap_session_t *session, uint8_t owner[AGG_OWNER_MAX])
{
    size_t len = 0;
    const uint8_t *id = peer_identity(session, &len);
    if (id && len && len <= AGG_OWNER_MAX) {
        memcpy(owner, id, len);
        return len;
    }
    memcpy(owner, &session, sizeof(session));
    return sizeof(session);
}

static uint32_t uint_option(const coap_pdu_t *pdu, coap_option_num_t number, int *present)
{
    coap_opt_iterator_t it;
    const coap_opt_t *o = coap_check_option(pdu, number, &it);
    *present = o != NULL;
    return o ? coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o)) : 0;
}

/* The block's place in the body; 0 with *r set when it is refused or
 * awaits more blocks, 1 when the body is complete. */
static int take_block(coap_session_t *session, const coap_pdu_t *req, const uint8_t *owner, size_t owner_len,
                      const uint8_t **body, size_t *body_len, agg_reply_t *r)
{
    const agg_state_t *s = srv.state;
    int has_format = 0, has_size1 = 0;
    const uint32_t format = uint_option(req, COAP_OPTION_CONTENT_FORMAT, &has_format);
    const uint32_t size1 = uint_option(req, COAP_OPTION_SIZE1, &has_size1);
    size_t len = 0, offset = 0, total = 0;
    const uint8_t *data = NULL;
    coap_block_b_t block;
    const int blockwise = coap_get_block_b(session, req, COAP_OPTION_BLOCK1, &block);
    coap_get_data_large(req, &len, &data, &offset, &total);
    coap_opt_iterator_t it;
    if (!blockwise && coap_check_option(req, COAP_OPTION_BLOCK1, &it)) {
        *r = text_reply(400, "invalid Block1 option (SZX 7 is reserved)"); /* RFC 7959 2.2 */
        return 0;
    }
    if (!has_format || format != COAP_MEDIATYPE_APPLICATION_COSE_SIGN1) {
        *r = text_reply(415, "content-format must be 18 (COSE_Sign1)");
        return 0;
    }
    if ((has_size1 && size1 > s->cfg.max_body) || (!blockwise && len > s->cfg.max_body)) {
        agg_rsm_release(srv.bodies, owner, owner_len);
        *r = text_reply(413, "update body too large");
        r->size1 = s->cfg.max_body;
        return 0;
    }
    if (!blockwise) { /* one datagram: no reassembly, and any body left half-sent is abandoned */
        agg_rsm_release(srv.bodies, owner, owner_len);
        *body = data;
        *body_len = len;
        if (!len) {
            *r = text_reply(400, "empty body");
        }
        return len > 0;
    }
    offset = (size_t)block.num << (block.szx + 4);
    switch (agg_rsm_block(srv.bodies, owner, owner_len, session, offset, data, len, block.m, now_s())) {
    case AGG_BLOCK_COMPLETE:
        *body = agg_rsm_body(srv.bodies, owner, owner_len, body_len);
        if (!*body_len) {
            agg_rsm_release(srv.bodies, owner, owner_len);
            *r = text_reply(400, "empty body");
        }
        return *body_len > 0;
    case AGG_BLOCK_CONTINUE: *r = (agg_reply_t){.code = 231, .content_format = -1}; return 0;
    case AGG_BLOCK_TOO_LARGE:
        *r = text_reply(413, "update body too large");
        r->size1 = s->cfg.max_body;
        return 0;
    case AGG_BLOCK_BUSY:
        *r = text_reply(503, "too many block-wise uploads in progress");
        r->max_age = BUSY_RETRY_S;
        return 0;
    default: *r = text_reply(408, "block out of sequence: start again from block 0"); return 0;
    }
}

static void post_update(coap_resource_t *res, coap_session_t *session, const coap_pdu_t *req,
                        const coap_string_t *query, coap_pdu_t *resp)
{
    (void)res, (void)query;
    if (finish_job(session, req, resp)) {
        return;
    }
    const coap_bin_const_t token = coap_pdu_get_token(req);
    const agg_reply_t *seen = agg_dedup_get(srv.dedup, session, (uint16_t)coap_pdu_get_mid(req), token.s,
                                            token.length, now_s());
    if (seen) { /* a retransmission: the same answer, nothing done twice */
        srv.stats.retransmissions++;
        apply(resp, seen);
        return;
    }
    peer_text(session, srv.state->peer);
    uint8_t owner[AGG_OWNER_MAX];
    const size_t owner_len = body_owner(session, owner);
    const uint8_t *body = NULL;
    size_t body_len = 0;
    agg_reply_t r;
    if (!take_block(session, req, owner, owner_len, &body, &body_len, &r)) {
        return answer(session, req, resp, &r);
    }
    size_t id_len = 0;
    const uint8_t *id = peer_identity(session, &id_len);
    agg_outcome_t out;
    if (!start_job(session, req, id, id_len, body, body_len, &out)) {
        agg_handle_update(srv.state, id, id_len, body, body_len, &out);
        r = outcome_reply(&out);
        answer(session, req, resp, &r);
    } else if (out.code) { /* refused before the signature check */
        r = outcome_reply(&out);
        answer(session, req, resp, &r);
    } /* else: no code set, libcoap sends an empty ACK; the answer follows when the check is done */
    agg_rsm_release(srv.bodies, owner, owner_len);
}

static int on_event(coap_session_t *session, coap_event_t event)
{
    session_info_t *info = coap_session_get_app_data(session);
    if (event == COAP_EVENT_DTLS_CONNECTED && (info = session_info(session)) != NULL) {
        info->connected = 1;
        srv.stats.handshakes++;
        srv.stats.sessions++; /* libcoap 4.3.1 raises no SESSION_NEW for DTLS: counted from here */
    }
    if (event == COAP_EVENT_SERVER_SESSION_DEL && info && info->connected && srv.stats.sessions) {
        srv.stats.sessions--;
    }
    /* A handshake that fails after its identity was accepted: an alert, or,
     * with a wrong PSK, nothing at all (DTLS drops records whose MAC fails,
     * RFC 6347 4.1.2.7), so the session simply ends unconnected. */
    const int ended_unconnected = event == COAP_EVENT_SERVER_SESSION_DEL && !(info && info->connected);
    if ((event == COAP_EVENT_DTLS_ERROR || ended_unconnected) && !(info && info->refused) &&
        coap_session_get_proto(session) == COAP_PROTO_DTLS) {
        char peer[AGG_PEER_MAX], id[4 * MFL_DEVICE_ID_MAX + 1];
        const coap_bin_const_t *psk = coap_session_get_psk_identity(session);
        if ((info = session_info(session)) != NULL) {
            info->refused = 1; /* logged once */
        }
        peer_text(session, peer);
        agg_escape(psk ? psk->s : NULL, psk && psk->length <= MFL_DEVICE_ID_MAX ? psk->length : 0, id, sizeof(id));
        agg_count_refusal(srv.state, AGG_REFUSED_HANDSHAKE);
        agg_log_at(AGG_LOG_WARNING, "handshake_failed", "peer=%s identity=\"%s\" reason=\"%s\"", peer, id,
                   event == COAP_EVENT_DTLS_ERROR ? "DTLS alert or error"
                                                  : "handshake not completed (a wrong PSK, or the peer went away)");
    }
    if (event == COAP_EVENT_SERVER_SESSION_DEL) {
        /* a device's body outlives its session (it may resume in a new
         * one); a session-owned one (plain endpoint) goes with it */
        agg_rsm_release(srv.bodies, (const uint8_t *)&session, sizeof(session));
        agg_dedup_forget(srv.dedup, session);
        for (int i = 0; i < MAX_JOBS; i++) { /* libcoap frees its asyncs with the session */
            if (srv.jobs[i] && srv.jobs[i]->session == session && srv.jobs[i]->triggered) {
                end_job(srv.jobs[i]); /* out of the pool: nobody else will */
            } else if (srv.jobs[i] && srv.jobs[i]->session == session) {
                srv.jobs[i]->session = NULL; /* collect_jobs drops it */
            }
        }
        session_info_free(coap_session_get_app_data(session));
        coap_session_set_app_data(session, NULL);
    }
    return 0;
}

static coap_resource_t *resource(coap_context_t *ctx, const char *path, coap_request_t method,
                                 coap_method_handler_t handler)
{
    coap_resource_t *r = coap_resource_init(coap_make_str_const(path), 0);
    coap_register_request_handler(r, method, handler);
    coap_add_resource(ctx, r);
    return r;
}

/* One libcoap context: PSK (the main endpoint, and the plain test endpoint)
 * or certificates (libcoap 4.3.1's OpenSSL layer fails PSK handshakes on a
 * context that also has a certificate set up, so certificates get their
 * own context and endpoint, cert_listen). */
static coap_context_t *make_context(agg_state_t *s, int with_certs, int index)
{
    static coap_dtls_spsk_t spsk;
    static coap_dtls_pki_t pki;
    coap_context_t *ctx = coap_new_context(NULL);
    if (!ctx) {
        return NULL;
    }
    coap_context_set_block_mode(ctx, COAP_BLOCK_USE_LIBCOAP); /* bodies reassembled here, capped */
    coap_context_set_max_idle_sessions(ctx, s->cfg.max_sessions);
    coap_context_set_max_handshake_sessions(ctx, s->cfg.max_handshakes);
    coap_context_set_session_timeout(ctx, s->cfg.session_timeout_s);
    coap_register_event_handler(ctx, on_event);
    int err;
    if (!with_certs) {
        memset(&spsk, 0, sizeof(spsk));
        spsk.version = COAP_DTLS_SPSK_SETUP_VERSION;
        spsk.validate_id_call_back = validate_identity;
        spsk.id_call_back_arg = s;
        err = coap_context_set_psk2(ctx, &spsk) ? 0 : -1;
        err = err ? err : agg_add_endpoint(ctx, "dtls", s->cfg.listen, COAP_PROTO_DTLS);
        if (!err && s->cfg.plain_listen[0]) {
            err = agg_add_endpoint(ctx, "plain", s->cfg.plain_listen, COAP_PROTO_UDP);
        }
    } else { /* the CN of a certificate signed by the configured CA names the device */
        memset(&pki, 0, sizeof(pki));
        pki.version = COAP_DTLS_PKI_SETUP_VERSION;
        pki.verify_peer_cert = 1;
        pki.check_common_ca = 1;
        pki.cert_chain_validation = 1;
        pki.cert_chain_verify_depth = 3;
        pki.validate_cn_call_back = validate_cn;
        pki.cn_call_back_arg = s;
        pki.pki_key.key_type = COAP_PKI_KEY_PEM;
        pki.pki_key.key.pem.public_cert = s->cfg.cert;
        pki.pki_key.key.pem.private_key = s->cfg.cert_key;
        pki.pki_key.key.pem.ca_file = s->cfg.ca;
        err = coap_context_set_pki(ctx, &pki) ? 0 : -1;
        err = err ? err : agg_add_endpoint(ctx, "certificates", s->cfg.cert_listen, COAP_PROTO_DTLS);
    }
    if (err) {
        coap_free_context(ctx);
        return NULL;
    }
    srv.model[index] = resource(ctx, "fl/v1/model", COAP_REQUEST_GET, get_model);
    coap_resource_set_get_observable(srv.model[index], 1);
    resource(ctx, "fl/v1/update", COAP_REQUEST_POST, post_update);
    resource(ctx, "fl/v1/status", COAP_REQUEST_GET, get_status);
    return ctx;
}

#define COUNTERS_SAVE_S 5 /* how often changed counters are written to the store */

static void save_counters_now_and_then(void)
{
    static uint64_t last;
    const uint64_t now = now_s();
    if (srv.state->counters_dirty && now - last >= COUNTERS_SAVE_S) {
        last = now;
        if (agg_counters_save(srv.state)) {
            agg_log_at(AGG_LOG_ERROR, "counters_not_saved", "reason=\"store error\"");
        }
    }
}

/* SIGHUP: the configuration file is read again and what can change while
 * serving (log_level) takes effect; every other change is named and needs
 * a restart. Devices and their keys are read from the store at each
 * handshake, so provisioning needs no reload. */
static void reload(void)
{
    agg_config_t now;
    char msg[512];
    const agg_config_t *was = &srv.state->cfg;
    if (agg_config_load(srv.state->cfg_path, &now, msg, sizeof(msg))) {
        agg_log_at(AGG_LOG_ERROR, "reload_failed", "reason=\"%s; the running settings stay\"", msg);
        return;
    }
    const int level = now.log_level, was_level = was->log_level;
    now.log_level = was_level;
    const char *changed = agg_config_diff(&now, was);
    agg_log_set_level(level < was_level ? level : was_level); /* the reload itself is logged either way */
    agg_log("reloaded", "log_level=%s restart_needed=%s%s", agg_log_level_name(level), changed ? "yes changed=" : "no",
            changed ? changed : "");
    agg_log_set_level(level);
    set_coap_log_level(level);
    srv.state->cfg.log_level = level;
}

/* One poll over both contexts' epoll descriptors and the pool's pipe;
 * libcoap does its I/O and timers in coap_io_process(COAP_IO_NO_WAIT),
 * which also arms the timerfd inside its epoll descriptor for the next
 * retransmission or session timeout, so the poll wakes for timers without
 * asking again (each ask is a timerfd_settime system call). The 1 s bound
 * only lets a signal end the loop. */
static void run_loop(coap_context_t *ctx[2])
{
    struct pollfd fds[4];
    nfds_t n = 0;
    for (int i = 0; i < 2; i++) {
        if (ctx[i]) {
            fds[n++] = (struct pollfd){.fd = coap_context_get_coap_fd(ctx[i]), .events = POLLIN};
        }
    }
    if (srv.pool) {
        fds[n++] = (struct pollfd){.fd = agg_pool_fd(srv.pool), .events = POLLIN};
    }
    if (agg_metrics_fd() >= 0) {
        fds[n++] = (struct pollfd){.fd = agg_metrics_fd(), .events = POLLIN};
    }
    while (!srv.quit) {
        if (srv.reload) {
            srv.reload = 0;
            reload();
        }
        if (srv.pool) {
            collect_jobs();
        }
        save_counters_now_and_then();
        agg_metrics_run();
        for (int i = 0; i < 2; i++) {
            if (ctx[i]) {
                coap_io_process(ctx[i], COAP_IO_NO_WAIT);
            }
        }
        poll(fds, n, 1000); /* EINTR (SIGTERM) simply ends the wait */
    }
}

int agg_server_run(agg_state_t *s)
{
    memset(&srv, 0, sizeof(srv));
    srv.state = s;
    coap_startup();
    /* MFL_COAP_DEBUG=1 in the environment shows libcoap's and the DTLS layer's own logs */
    coap_set_log_handler(coap_log_line);
    set_coap_log_level(s->cfg.log_level);
    coap_context_t *ctx[2] = {make_context(s, 0, 0), s->cfg.cert[0] ? make_context(s, 1, 1) : NULL};
    int ok = ctx[0] && (!s->cfg.cert[0] || ctx[1]);
    if (ok && coap_context_get_coap_fd(ctx[0]) < 0) { /* the loop polls libcoap's epoll descriptors */
        agg_log("error", "reason=\"this libcoap was built without epoll support\"");
        ok = 0;
    }
    if (ok && s->cfg.verify_threads && !(srv.pool = agg_pool_start(s->cfg.verify_threads))) {
        ok = 0;
    }
    /* one body in progress per device at most, and no more than sessions */
    srv.bodies = ok ? agg_rsm_new(s->cfg.max_sessions ? s->cfg.max_sessions : 1024, s->cfg.max_body, BODY_IDLE_S)
                    : NULL;
    srv.dedup = ok ? agg_dedup_new(DEDUP_ENTRIES, EXCHANGE_LIFETIME_S) : NULL;
    ok = ok && srv.bodies && srv.dedup;
    char msg[300];
    if (ok && s->cfg.metrics_listen[0] && agg_metrics_start(s, &srv.stats, msg, sizeof(msg))) {
        agg_log_at(AGG_LOG_ERROR, "startup_failed", "reason=\"%s\"", msg);
        ok = 0;
    }
    if (!ok) {
        agg_pool_stop(srv.pool);
        agg_rsm_free(srv.bodies);
        agg_dedup_free(srv.dedup);
        coap_free_context(ctx[0]);
        coap_free_context(ctx[1]);
        coap_cleanup();
        return -1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    char cap[32];
    if (s->cfg.agg.median_cap > 0.0) {
        snprintf(cap, sizeof(cap), "%gx_median", s->cfg.agg.median_cap);
    } else {
        snprintf(cap, sizeof(cap), "%llu", (unsigned long long)s->cfg.agg.sample_cap);
    }
    agg_log("listening",
            "dtls=%s certificates=%s plain=%s verify_threads=%u version=%llu sample_cap=%s max_delta_norm=%.6g",
            s->cfg.listen, s->cfg.cert[0] ? s->cfg.cert_listen : "off",
            s->cfg.plain_listen[0] ? s->cfg.plain_listen : "off", s->cfg.verify_threads,
            (unsigned long long)s->version, cap, (double)s->norm_bound_q24 / 16777216.0);
    run_loop(ctx);
    agg_log("shutdown", "accepted=%llu rejected=%llu version=%llu retransmissions_answered=%llu",
            (unsigned long long)s->accepted, (unsigned long long)s->rejected, (unsigned long long)s->version,
            (unsigned long long)srv.stats.retransmissions);
    agg_metrics_stop();
    agg_pool_stop(srv.pool); /* frees the jobs it still holds */
    for (int i = 0; i < MAX_JOBS; i++) {
        if (srv.jobs[i] && srv.jobs[i]->triggered) {
            end_job(srv.jobs[i]);
        }
    }
    coap_free_context(ctx[0]);
    coap_free_context(ctx[1]);
    coap_cleanup();
    while (session_infos) { /* sessions libcoap freed without telling */
        session_info_free(session_infos);
    }
    agg_rsm_free(srv.bodies);
    agg_dedup_free(srv.dedup);
    return 0;
}
