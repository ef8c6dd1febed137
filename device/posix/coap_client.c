/* Host CoAP/DTLS client on libcoap (see include/mfl/coap_client.h). */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <coap3/coap.h>

#include "mfl/coap_client.h"
#include "mfl/error.h"

typedef struct {
    int done, code, too_large;
    uint8_t *body;
    size_t len, max;
} exchange_t;

void mfl_coap_client_defaults(mfl_coap_client_t *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->host, sizeof(c->host), "127.0.0.1");
    c->port = 5684;
    c->dtls = 1;
    c->timeout_ms = 5000;
    c->retries = 4;
    c->backoff_ms = 200;
    c->max_response = 1 << 20;
}

static coap_response_t on_response(coap_session_t *session, const coap_pdu_t *sent, const coap_pdu_t *received,
                                   const coap_mid_t mid)
{
    (void)sent, (void)mid;
    exchange_t *x = coap_get_app_data(coap_session_get_context(session));
    const coap_pdu_code_t code = coap_pdu_get_code(received);
    const uint8_t *data = NULL;
    size_t len = 0, offset = 0, total = 0;
    x->code = (code >> 5) * 100 + (code & 31);
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

/* One attempt: 0 with x filled, or -1 when no answer came in time. */
static int attempt(const mfl_coap_client_t *c, coap_request_t method, const char *path, uint16_t format,
                   const uint8_t *body, size_t body_len, exchange_t *x)
{
    coap_context_t *ctx = coap_new_context(NULL);
    if (!ctx) {
        return -1;
    }
    coap_context_set_block_mode(ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
    coap_set_app_data(ctx, x);
    coap_register_response_handler(ctx, on_response);
    coap_session_t *session = open_session(c, ctx);
    int rc = -1;
    if (session) {
        coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, (coap_pdu_code_t)method, coap_new_message_id(session),
                                        coap_session_max_pdu_size(session));
        uint8_t token[8];
        size_t token_len;
        coap_session_new_token(session, &token_len, token);
        if (pdu && coap_add_token(pdu, token_len, token)) {
            add_path(pdu, path);
            if (body) {
                uint8_t b[2];
                coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT, coap_encode_var_safe(b, sizeof(b), format), b);
                coap_add_data_large_request(session, pdu, body_len, body, NULL, NULL);
            }
            if (coap_send(session, pdu) != COAP_INVALID_MID) {
                unsigned waited = 0;
                while (!x->done && waited < c->timeout_ms) {
                    const int spent = coap_io_process(ctx, 100);
                    waited += spent > 0 ? (unsigned)spent : 100;
                }
                rc = x->done ? 0 : -1;
            }
        }
        coap_session_release(session);
    }
    coap_free_context(ctx);
    return rc;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int mfl_coap_request(const mfl_coap_client_t *c, const char *method, const char *path, uint16_t content_format,
                     const uint8_t *body, size_t body_len, int *code, uint8_t **resp, size_t *resp_len)
{
    static int started;
    if (!started) {
        coap_startup();
        coap_set_log_level(LOG_EMERG);
        started = 1;
    }
    const coap_request_t m = !strcmp(method, "POST") ? COAP_REQUEST_POST : COAP_REQUEST_GET;
    unsigned backoff = c->backoff_ms;
    for (unsigned a = 0; a <= c->retries; a++) {
        exchange_t x = {.max = c->max_response};
        if (attempt(c, m, path, content_format, body, body_len, &x) == 0 && x.code < 500) {
            if (x.too_large) {
                return MFL_ERR_PROTO_SIZE;
            }
            *code = x.code;
            *resp = x.body;
            *resp_len = x.len;
            return 0;
        }
        free(x.body);
        if (a < c->retries) {
            sleep_ms(backoff);
            backoff *= 2;
        }
    }
    return MFL_ERR_IO;
}
