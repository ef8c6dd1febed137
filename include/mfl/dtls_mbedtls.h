/*
 * A datagram port secured with DTLS 1.2 (RFC 6347) on Mbed TLS, for the
 * device's sync (include/mfl/sync.h): it sits on another datagram port (UDP,
 * a modem's serial line) and hands the sync plaintext CoAP datagrams. The
 * profile is RFC 7925's for constrained devices: pre-shared key with the
 * device id as identity, TLS_PSK_WITH_AES_128_CCM_8 first (then AES-128-CCM
 * and AES-128-GCM where the build has them); certificates instead of the PSK
 * on hosts (ECDHE-ECDSA, the aggregator's chain checked against a CA).
 *
 * Non-blocking like every port: the handshake advances whenever the port is
 * used (the sync polls it), its flights retransmitted on the clock given
 * (RFC 6347 section 4.2.4, 1 s doubling to 16 s). A datagram sent while the
 * handshake runs is held (the latest one) and goes out as soon as the
 * session is up. reset() (an unanswered request) drops the session and
 * handshakes again on the next send. A handshake that ends for good — the
 * aggregator's fatal alert (an unknown or revoked device), two handshakes
 * in a row whose Finished it never answered though it answered the flights
 * before (a wrong PSK: OpenSSL drops what it cannot check), or its
 * certificate failing to verify — is reported once, as
 * MFL_ERR_DTLS_REFUSED or MFL_ERR_DTLS_PEER, by the next send or receive
 * (and Mbed TLS's allocator running out, as MFL_ERR_NO_MEMORY);
 * the sync then ends its operation with that error instead of retrying. No heap of its own: Mbed TLS takes its
 * record buffers from its allocator (the C library's on hosts, a static
 * pool on the microcontroller: docs/porting.md).
 */
#ifndef MFL_DTLS_MBEDTLS_H
#define MFL_DTLS_MBEDTLS_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/hmac_drbg.h>
#include <mbedtls/ssl.h>
#if defined(MBEDTLS_X509_CRT_PARSE_C) && defined(MBEDTLS_FS_IO)
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#define MFL_DTLS_CERTIFICATES 1
#endif

#include "mfl/coap_exchange.h"
#include "mfl/datagram_port.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    mfl_datagram_port_t lower;     /* where the DTLS records go (UDP, serial, ...) */
    const uint8_t *identity;       /* PSK identity = the device id (RFC 7925 section 4.2) */
    size_t identity_len;
    const uint8_t *psk;            /* the pre-shared key, 1..64 bytes (NULL with certificates) */
    size_t psk_len;
    uint32_t (*clock_ms)(void);    /* a wrapping millisecond clock: the handshake's retransmissions */
    /* entropy for the DRBG behind the handshake's randoms: fills len bytes,
     * returns 0 (at least 32 bytes are asked for at init) */
    int (*entropy)(void *ctx, unsigned char *buf, size_t len);
    void *entropy_ctx;
    const char *cert_file, *key_file, *ca_file; /* hosts: PEM files instead of the PSK (CN = device id) */
} mfl_dtls_config_t;

typedef struct {
    mfl_dtls_config_t cfg;
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_hmac_drbg_context drbg;
#ifdef MFL_DTLS_CERTIFICATES
    mbedtls_x509_crt cert, ca;
    mbedtls_pk_context key;
#endif
    int up;                        /* the handshake is done: records carry data */
    int started;                   /* a handshake is in progress */
    uint32_t timer_start, timer_int, timer_fin; /* Mbed TLS's timer (ms; fin 0: stopped) */
    uint8_t held[MFL_COAP_MAX_DATAGRAM]; /* the datagram waiting for the handshake */
    size_t held_len;
    uint32_t handshakes;           /* handshakes completed */
    uint32_t silent_finishes;      /* handshakes in a row that timed out after our Finished */
    int refused;                   /* a handshake ended for good: MFL_ERR_DTLS_REFUSED or _PEER, reported
                                    * once by the next send or receive (0: none) */
    int last_error;                /* the last Mbed TLS error (negative), 0: none */
} mfl_dtls_t;

/*
 * Sets up the session state and fills *port (whose ctx is d). Returns 0,
 * MFL_ERR_INVALID_ARG (a missing lower port, clock or entropy, no PSK and
 * no certificates, a PSK above 64 bytes), MFL_ERR_KEY (a certificate, key
 * or CA file that does not parse: d->last_error says why), or MFL_ERR_CRYPTO
 * (Mbed TLS refused the configuration or the entropy).
 */
int mfl_dtls_init(mfl_dtls_t *d, const mfl_dtls_config_t *cfg, mfl_datagram_port_t *port);

/* Sends a close_notify if a session is up, and frees Mbed TLS's state. */
void mfl_dtls_free(mfl_dtls_t *d);

#ifdef __cplusplus
}
#endif

#endif /* MFL_DTLS_MBEDTLS_H */
