/* Host CoAP/DTLS client on libcoap (see include/mfl/host/coap_client.h). */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <coap3/coap.h>

#include "mfl/host/coap_client.h"
#include "mfl/error.h"

typedef struct {
    int done, failed, code, too_large;
    const char *why;        /* why the attempt failed, for --verbose */
    uint32_t max_age;       /* Max-Age of a 5.03, seconds (0: none) */
    uint8_t *body;
    size_t len, max;
} exchange_t;

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

void mfl_coap_client_defaults(mfl_coap_client_t *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->host, sizeof(c->host), "127.0.0.1");
    c->port = 5684;
    c->dtls = 1;
    c->timeout_ms = 150000; /* a safety net: libcoap ends an attempt itself (NACK) after MAX_RETRANSMIT */
    c->retries = 6;
    c->backoff_ms = 500;
    c->deadline_ms = 300000;
    c->max_response = 1 << 20;
    c->seed = (unsigned)time(NULL) ^ (unsigned)getpid();
}

/* libcoap gave up on the request: too many retransmissions, the DTLS
 * handshake failed, a reset or an ICMP error. The attempt ends now. */
static void on_nack(coap_session_t *session, const coap_pdu_t *sent, const coap_nack_reason_t reason,
                    const coap_mid_t mid)
{
    (void)sent, (void)mid;
    exchange_t *x = coap_get_app_data(coap_session_get_context(session));
    if (!x) {
        return;
    }
    static const char *const why[] = {"too many retransmissions", "not deliverable", "reset", "DTLS failed",
                                      "ICMP error"};
    x->failed = 1;
    x->why = reason >= COAP_NACK_TOO_MANY_RETRIES && reason <= COAP_NACK_ICMP_ISSUE ? why[reason] : "NACK";
}

static int on_event(coap_session_t *session, const coap_event_t event)
{
    exchange_t *x = coap_get_app_data(coap_session_get_context(session));
    if (x && (event == COAP_EVENT_DTLS_ERROR || event == COAP_EVENT_DTLS_CLOSED)) {
        x->failed = 1;
        x->why = event == COAP_EVENT_DTLS_ERROR ? "DTLS error" : "DTLS closed";
    }
    return 0;
}

static coap_response_t on_response(coap_session_t *session, const coap_pdu_t *sent, const coap_pdu_t *received,
                                   const coap_mid_t mid)
{
    (void)sent, (void)mid;
    exchange_t *x = coap_get_app_data(coap_session_get_context(session));
    const coap_pdu_code_t code = coap_pdu_get_code(received);
    const uint8_t *data = NULL;
    size_t len = 0, offset = 0, total = 0;
    if (!x || x->done || (coap_get_data_large(received, &len, &data, &offset, &total) && (offset || len != total))) {
        /* libcoap 4.3.1 hands a Block2 block it already had (a response to a
         * retransmitted request) to the application on its own, even in
         * single-body mode: only the whole body counts */
        return COAP_RESPONSE_OK;
    }
    x->code = (code >> 5) * 100 + (code & 31);
    coap_opt_iterator_t it;
    const coap_opt_t *age = coap_check_option(received, COAP_OPTION_MAXAGE, &it);
    x->max_age = age ? coap_decode_var_bytes(coap_opt_value(age), coap_opt_length(age)) : 0;
    if (coap_get_data_large(received, &len, &data, &offset, &total)) {
        if (len > x->max) {
            x->too_large = 1;
        } else if ((x->body = malloc(len ? len : 1)) != NULL) {
            memcpy(x->body, data, len);
            x->len = len;
        }
    }
    x->done = 1;
    return COAP_RESPONSE_OK;
}

static void add_path(coap_pdu_t *pdu, const char *path)
{
    while (*path) {
        const char *slash = strchr(path, '/');
        const size_t n = slash ? (size_t)(slash - path) : strlen(path);
        coap_add_option(pdu, COAP_OPTION_URI_PATH, n, (const uint8_t *)path);
        path += n + (slash ? 1 : 0);
    }
}

static coap_session_t *open_session(const mfl_coap_client_t *c, coap_context_t *ctx)
{
    coap_address_t dst;
    coap_address_init(&dst);
    dst.addr.sin.sin_family = AF_INET;
    dst.addr.sin.sin_port = htons(c->port);
    dst.size = sizeof(dst.addr.sin);
    if (inet_pton(AF_INET, c->host, &dst.addr.sin.sin_addr) != 1) {
        return NULL;
    }
    if (!c->dtls) {
        return coap_new_client_session(ctx, NULL, &dst, COAP_PROTO_UDP);
    }
    if (c->cert) {
        coap_dtls_pki_t pki;
        memset(&pki, 0, sizeof(pki));
        pki.version = COAP_DTLS_PKI_SETUP_VERSION;
        pki.verify_peer_cert = 1;
        pki.check_common_ca = 1;
        pki.cert_chain_validation = 1;
        pki.cert_chain_verify_depth = 3;
        pki.pki_key.key_type = COAP_PKI_KEY_PEM;
        pki.pki_key.key.pem.public_cert = c->cert;
        pki.pki_key.key.pem.private_key = c->cert_key;
        pki.pki_key.key.pem.ca_file = c->ca;
        return coap_new_client_session_pki(ctx, NULL, &dst, COAP_PROTO_DTLS, &pki);
    }
    coap_dtls_cpsk_t cpsk;
    memset(&cpsk, 0, sizeof(cpsk));
    cpsk.version = COAP_DTLS_CPSK_SETUP_VERSION;
    cpsk.psk_info.identity.s = c->identity;
    cpsk.psk_info.identity.length = c->identity_len;
    cpsk.psk_info.key.s = c->psk;
    cpsk.psk_info.key.length = c->psk_len;
    return coap_new_client_session_psk2(ctx, NULL, &dst, COAP_PROTO_DTLS, &cpsk);
}

/* The session kept between requests: a device's GET and POST share one
 * DTLS handshake, which on a lossy link is the costliest exchange. */
struct mfl_coap_conn {
    coap_context_t *ctx;
    coap_session_t *session;
    uint64_t last_used_ms;
};

#define REUSE_MS 30000 /* an older session may have been dropped by the server: start afresh */

void mfl_coap_client_close(mfl_coap_client_t *c)
{
    if (c && c->conn) {
        coap_session_release(c->conn->session);
        coap_free_context(c->conn->ctx);
        free(c->conn);
        c->conn = NULL;
    }
}

static mfl_coap_conn_t *connect_to(mfl_coap_client_t *c)
{
    if (c->conn && now_ms() - c->conn->last_used_ms > REUSE_MS) {
        mfl_coap_client_close(c);
    }
    if (c->conn) {
        return c->conn;
    }
    mfl_coap_conn_t *k = calloc(1, sizeof(*k));
    if (!k || !(k->ctx = coap_new_context(NULL))) {
        free(k);
        return NULL;
    }
    coap_context_set_block_mode(k->ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
    coap_register_response_handler(k->ctx, on_response);
    coap_register_nack_handler(k->ctx, on_nack);
    coap_register_event_handler(k->ctx, on_event);
    if (!(k->session = open_session(c, k->ctx))) {
        coap_free_context(k->ctx);
        free(k);
        return NULL;
    }
    c->conn = k;
    return k;
}

/* One attempt, in the kept session or a new one: 0 with x filled, or -1
 * when no answer came within timeout_ms (or libcoap gave up sooner); a
 * failed attempt's session is dropped, so the next one starts afresh. */
static int attempt(mfl_coap_client_t *c, coap_request_t method, const char *path, uint16_t format,
                   const uint8_t *body, size_t body_len, unsigned timeout_ms, exchange_t *x)
{
    mfl_coap_conn_t *k = connect_to(c);
    if (!k) {
        return -1;
    }
    coap_set_app_data(k->ctx, x);
    coap_session_t *session = k->session;
    coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, (coap_pdu_code_t)method, coap_new_message_id(session),
                                    coap_session_max_pdu_size(session));
    uint8_t token[8];
    size_t token_len;
    coap_session_new_token(session, &token_len, token);
    int rc = -1;
    if (pdu && coap_add_token(pdu, token_len, token)) {
        if (c->etag_len && method == COAP_REQUEST_GET) {
            coap_add_option(pdu, COAP_OPTION_ETAG, c->etag_len, c->etag);
        }
        add_path(pdu, path);
        if (body) {
            uint8_t b[2];
            coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT, coap_encode_var_safe(b, sizeof(b), format), b);
            coap_add_data_large_request(session, pdu, body_len, body, NULL, NULL);
        }
        if (coap_send(session, pdu) != COAP_INVALID_MID) {
            const uint64_t until = now_ms() + timeout_ms;
            while (!x->done && !x->failed && now_ms() < until) {
                coap_io_process(k->ctx, 100);
            }
            rc = x->done ? 0 : -1;
        }
    } else if (pdu) {
        coap_delete_pdu(pdu);
    }
    k->last_used_ms = now_ms();
    coap_set_app_data(k->ctx, NULL);
    if (rc || x->code == 408 || x->code >= 500) {
        mfl_coap_client_close(c);
    }
    return rc;
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Worth another attempt: no answer, a broken block-wise sequence (4.08:
 * the transfer starts again from block 0), or the server's trouble (5.xx). */
static int retryable(int answered, int code)
{
    return !answered || code == 408 || code >= 500;
}

/* The wait before the next attempt: backoff with jitter (a random 50..150 %,
 * so that devices that failed together do not retry together), at least
 * the Max-Age a 5.03 asked for. */
static uint64_t next_wait(uint64_t backoff, uint32_t max_age_s, unsigned *seed)
{
    uint64_t wait = backoff / 2 + (uint64_t)rand_r(seed) % (backoff + 1);
    return wait < (uint64_t)max_age_s * 1000 ? (uint64_t)max_age_s * 1000 : wait;
}

int mfl_coap_request(mfl_coap_client_t *c, const char *method, const char *path, uint16_t content_format,
                     const uint8_t *body, size_t body_len, int *code, uint8_t **resp, size_t *resp_len)
{
    static int started;
    if (!started) {
        coap_startup();
        coap_set_log_level(LOG_EMERG);
        started = 1;
    }
    const coap_request_t m = !strcmp(method, "POST") ? COAP_REQUEST_POST : COAP_REQUEST_GET;
    const uint64_t start = now_ms(), deadline = c->deadline_ms ? start + c->deadline_ms : UINT64_MAX;
    uint64_t backoff = c->backoff_ms ? c->backoff_ms : 1;
    unsigned seed = c->seed;
    int last_code = 0;
    for (unsigned a = 0; a <= c->retries; a++) {
        const uint64_t now = now_ms();
        const uint64_t left = deadline > now ? deadline - now : 0;
        exchange_t x = {.max = c->max_response};
        const int answered = left > 0 && attempt(c, m, path, content_format, body, body_len,
                                                 (unsigned)(left < c->timeout_ms ? left : c->timeout_ms), &x) == 0;
        if (c->stats) {
            c->stats->attempts++;
        }
        if (answered && !retryable(1, x.code)) {
            if (c->stats) {
                c->stats->elapsed_ms = now_ms() - start;
            }
            if (x.too_large) {
                return MFL_ERR_PROTO_SIZE;
            }
            *code = x.code;
            *resp = x.body;
            *resp_len = x.len;
            return 0;
        }
        free(x.body);
        last_code = answered ? x.code : last_code;
        const uint64_t wait = next_wait(backoff, answered ? x.max_age : 0, &seed);
        if (a == c->retries || now_ms() + wait >= deadline) {
            break;
        }
        if (c->verbose) {
            char what[64];
            snprintf(what, sizeof(what), "no answer (%s)", x.why ? x.why : "timed out");
            if (answered) {
                snprintf(what, sizeof(what), "answer %d.%02d", x.code / 100, x.code % 100);
            }
            fprintf(stderr, "coap: %s %s: %s after %.1f s; attempt %u of %u in %.1f s\n", method, path, what,
                    (double)(now_ms() - now) / 1000.0, a + 2, c->retries + 1, (double)wait / 1000.0);
        }
        sleep_ms(wait);
        backoff = backoff * 2 > 30000 ? 30000 : backoff * 2;
    }
    if (c->stats) {
        c->stats->elapsed_ms = now_ms() - start;
    }
    *code = last_code;
    return MFL_ERR_IO;
}
