/*
 * Host port of the device's network client (Linux-class devices, the
 * simulator, relays): CoAP over DTLS-PSK with libcoap, block-wise in both
 * directions. Within an attempt libcoap retransmits confirmable messages
 * (RFC 7252 section 4.2); an attempt that gets no answer, or a 4.08 (a
 * block-wise transfer broken, e.g. by a lost session) or a 5.xx, is
 * repeated in a new session after an exponential backoff with jitter,
 * within a bounded total time. POSTing an update is idempotent: the
 * aggregator answers "duplicate" for the same signed update it already
 * stored, so retrying after a lost acknowledgement is safe.
 */
#ifndef MFL_COAP_CLIENT_H
#define MFL_COAP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mfl_coap_conn mfl_coap_conn_t;

typedef struct {
    unsigned attempts;        /* attempts made (1: answered the first time) */
    uint64_t elapsed_ms;      /* from the first attempt to the answer (or to giving up) */
} mfl_coap_stats_t;

typedef struct {
    char host[64];            /* IPv4 address */
    uint16_t port;
    int dtls;                 /* 1: DTLS-PSK; 0: plain CoAP (test endpoints only) */
    const uint8_t *identity;  /* PSK identity = device id */
    size_t identity_len;
    const uint8_t *psk;
    size_t psk_len;
    const char *cert;         /* certificates instead of PSK (PEM files): device certificate, */
    const char *cert_key;     /* its key, */
    const char *ca;           /* and the CA that signs the aggregator's certificate */
    unsigned timeout_ms;      /* per attempt (default 150 s; libcoap gives up sooner on its own) */
    unsigned retries;         /* attempts after the first (default 6) */
    unsigned backoff_ms;      /* before the first retry, doubled each time up to 30 s, times a
                               * random 0.5..1.5 (default 500 ms); a 5.03's Max-Age is waited at least */
    unsigned deadline_ms;     /* all attempts and waits together (default 300 s; 0: no bound) */
    unsigned seed;            /* jitter (default: time and pid) */
    int verbose;              /* 1: say on stderr why each retry happens */
    mfl_coap_stats_t *stats;  /* optional: what the last request cost */
    uint8_t etag[8];          /* sent with GETs when etag_len > 0: a server that still has */
    size_t etag_len;          /* this representation answers 2.03 Valid, without a body */
    size_t max_response;      /* largest response body accepted */
    mfl_coap_conn_t *conn;    /* internal: the session kept between requests (NULL at first);
                               * mfl_coap_client_close() ends it */
} mfl_coap_client_t;

void mfl_coap_client_defaults(mfl_coap_client_t *c);
/* Ends the kept session, if any (c stays usable). */
void mfl_coap_client_close(mfl_coap_client_t *c);

/*
 * One request: method "GET" or "POST", path like "fl/v1/model", optional
 * body with its content format. On success *code is the response code
 * (class * 100 + detail) and *resp (malloc'd, the caller frees it) its
 * body. Retries on no answer, 4.08 and 5.xx. Returns 0, MFL_ERR_IO (no
 * final answer within the attempts and the deadline; *code is the last
 * retryable code seen, or 0 if none came) or MFL_ERR_PROTO_SIZE (response
 * above max_response). Requests made within 30 s of each other share one
 * DTLS session; one that fails is not reused.
 */
int mfl_coap_request(mfl_coap_client_t *c, const char *method, const char *path, uint16_t content_format,
                     const uint8_t *body, size_t body_len, int *code, uint8_t **resp, size_t *resp_len);

#ifdef __cplusplus
}
#endif

#endif /* MFL_COAP_CLIENT_H */
