/*
 * Host port of the device's network client (Linux-class devices, the
 * simulator, relays): CoAP over DTLS-PSK with libcoap, block-wise in both
 * directions, retries with exponential backoff. POSTing an update is
 * idempotent: the aggregator answers a duplicate receipt for a counter it
 * already committed, so retrying after a lost acknowledgement is safe.
 */
#ifndef MFL_COAP_CLIENT_H
#define MFL_COAP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

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
    unsigned timeout_ms;      /* per attempt */
    unsigned retries;         /* attempts after the first */
    unsigned backoff_ms;      /* before the first retry, doubled each time */
    size_t max_response;      /* largest response body accepted */
} mfl_coap_client_t;

void mfl_coap_client_defaults(mfl_coap_client_t *c);

/*
 * One request: method "GET" or "POST", path like "fl/v1/model", optional
 * body with its content format. On success *code is the response code
 * (class * 100 + detail) and *resp (malloc'd) its body. Retries on timeout
 * and 5.xx. Returns 0, MFL_ERR_IO (no answer after every attempt) or
 * MFL_ERR_PROTO_SIZE (response above max_response).
 */
int mfl_coap_request(const mfl_coap_client_t *c, const char *method, const char *path, uint16_t content_format,
                     const uint8_t *body, size_t body_len, int *code, uint8_t **resp, size_t *resp_len);

#ifdef __cplusplus
}
#endif

#endif /* MFL_COAP_CLIENT_H */
