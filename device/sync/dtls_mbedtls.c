/*
 * The DTLS datagram port on Mbed TLS (include/mfl/dtls_mbedtls.h): a
 * non-blocking client session over another datagram port.
 */
#include <string.h>

#include <mbedtls/md.h>
#if defined(MBEDTLS_X509_CRT_PARSE_C)
#include <mbedtls/x509.h>
#endif

#include "mfl/dtls_mbedtls.h"
#include "mfl/error.h"

/* RFC 7925 section 4.2's mandatory suite first; the others only where the
 * build has them (the device's Mbed TLS configuration keeps CCM_8 alone). */
static const int psk_suites[] = {
#ifdef MBEDTLS_CCM_C
    MBEDTLS_TLS_PSK_WITH_AES_128_CCM_8, MBEDTLS_TLS_PSK_WITH_AES_128_CCM,
#endif
#ifdef MBEDTLS_GCM_C
    MBEDTLS_TLS_PSK_WITH_AES_128_GCM_SHA256,
#endif
    0};

#ifdef MFL_DTLS_CERTIFICATES
static const int cert_suites[] = {
#ifdef MBEDTLS_CCM_C
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8, MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CCM,
#endif
#ifdef MBEDTLS_GCM_C
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
#endif
    0};
#endif

/* Mbed TLS's record layer on the lower port. A datagram the link drops is
 * as good as sent (DTLS retransmits its flights, CoAP its messages). */
static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    mfl_dtls_t *d = ctx;
    d->cfg.lower.send(d->cfg.lower.ctx, buf, len);
    return (int)len;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    mfl_dtls_t *d = ctx;
    const int n = d->cfg.lower.receive(d->cfg.lower.ctx, buf, len);
    return n > 0 ? n : MBEDTLS_ERR_SSL_WANT_READ; /* nothing waiting, or one bad datagram dropped */
}

static void set_timer(void *ctx, uint32_t int_ms, uint32_t fin_ms)
{
    mfl_dtls_t *d = ctx;
    d->timer_start = d->cfg.clock_ms();
    d->timer_int = int_ms;
    d->timer_fin = fin_ms;
}

/* -1 stopped, 0 running, 1 intermediate delay passed, 2 final delay passed */
static int get_timer(void *ctx)
{
    const mfl_dtls_t *d = ctx;
    if (!d->timer_fin) {
        return -1;
    }
    const uint32_t elapsed = d->cfg.clock_ms() - d->timer_start;
    return elapsed >= d->timer_fin ? 2 : elapsed >= d->timer_int ? 1 : 0;
}

/* Forgets the session: the next send handshakes again. */
static void drop_session(mfl_dtls_t *d, int err)
{
    if (err) {
        d->last_error = err;
    }
    mbedtls_ssl_session_reset(&d->ssl);
    d->up = d->started = 0;
    d->timer_fin = 0;
}

/* Advances the handshake; once it is done, the held datagram goes out. */
static void step_handshake(mfl_dtls_t *d)
{
    if (d->up || !d->started) {
        return;
    }
    const int rc = mbedtls_ssl_handshake(&d->ssl);
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
        return;
    }
    if (rc) { /* refused (a wrong key: the server's alert or silence), or timed out */
        /* Timed out after our Finished (waiting for the server's
         * ChangeCipherSpec, Finished or NewSessionTicket, all later
         * states): it answered our first flights but could not check our
         * Finished — a wrong PSK — when this happens twice in a row; else
         * its last flight was lost five times twice, rare even at 30 % loss. */
        const int after_finished =
            rc == MBEDTLS_ERR_SSL_TIMEOUT && d->ssl.state >= MBEDTLS_SSL_SERVER_CHANGE_CIPHER_SPEC;
        d->silent_finishes = after_finished ? d->silent_finishes + 1u : 0u;
        if (rc == MBEDTLS_ERR_SSL_ALLOC_FAILED) {
            d->refused = MFL_ERR_NO_MEMORY; /* Mbed TLS's pool is too small: retrying cannot help */
        } else if (rc == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE || d->silent_finishes >= 2) {
            d->refused = MFL_ERR_DTLS_REFUSED;
            d->silent_finishes = 0;
        }
#if defined(MBEDTLS_X509_CRT_PARSE_C)
        if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
            d->refused = MFL_ERR_DTLS_PEER;
        }
#endif
        drop_session(d, rc);
        d->started = !d->refused && d->held_len; /* a request waits: handshake again at once */
        return;
    }
    d->up = 1;
    d->handshakes++;
    d->silent_finishes = 0;
    if (d->held_len) {
        mbedtls_ssl_write(&d->ssl, d->held, d->held_len);
        d->held_len = 0;
    }
}

/* The handshake's definitive failure, once. */
static int take_refusal(mfl_dtls_t *d)
{
    const int err = d->refused;
    d->refused = 0;
    return err;
}

static int dtls_send(void *ctx, const uint8_t *datagram, size_t len)
{
    mfl_dtls_t *d = ctx;
    if (d->refused) {
        d->held_len = 0;
        return take_refusal(d);
    }
    if (d->up) {
        const int rc = mbedtls_ssl_write(&d->ssl, datagram, len);
        if (rc == (int)len) {
            return 0;
        }
        drop_session(d, rc < 0 ? rc : 0); /* a session that cannot send: start again */
    }
    if (len > sizeof(d->held)) {
        return MFL_ERR_BUFFER_TOO_SMALL;
    }
    memcpy(d->held, datagram, len); /* the latest request supersedes an older one */
    d->held_len = len;
    d->started = 1;
    step_handshake(d);
    return take_refusal(d);
}

static int dtls_receive(void *ctx, uint8_t *buf, size_t cap)
{
    mfl_dtls_t *d = ctx;
    if (!d->up) {
        step_handshake(d);
        return take_refusal(d);
    }
    const int rc = mbedtls_ssl_read(&d->ssl, buf, cap);
    if (rc > 0) {
        return rc;
    }
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE || rc == MBEDTLS_ERR_SSL_TIMEOUT) {
        return 0;
    }
    drop_session(d, rc < 0 ? rc : 0); /* close_notify (0), or a fatal alert */
    return 0;
}

/* A new session on a fresh lower link (a new source port for UDP: the
 * server would take a new ClientHello on the old one for a record of the
 * session it still holds, and drop it). */
static void dtls_reset(void *ctx)
{
    mfl_dtls_t *d = ctx;
    if (d->up || d->started) {
        drop_session(d, 0);
    }
    if (d->cfg.lower.reset) {
        d->cfg.lower.reset(d->cfg.lower.ctx);
    }
}

static int configure_identity(mfl_dtls_t *d)
{
    const mfl_dtls_config_t *c = &d->cfg;
    if (c->psk) {
        mbedtls_ssl_conf_ciphersuites(&d->conf, psk_suites);
        return mbedtls_ssl_conf_psk(&d->conf, c->psk, c->psk_len, c->identity, c->identity_len) ? MFL_ERR_CRYPTO
                                                                                                  : 0;
    }
#ifdef MFL_DTLS_CERTIFICATES
    int rc = mbedtls_x509_crt_parse_file(&d->cert, c->cert_file);
    rc = rc ? rc : mbedtls_x509_crt_parse_file(&d->ca, c->ca_file);
    rc = rc ? rc : mbedtls_pk_parse_keyfile(&d->key, c->key_file, NULL);
    if (rc) {
        d->last_error = rc;
        return MFL_ERR_KEY;
    }
    mbedtls_ssl_conf_ciphersuites(&d->conf, cert_suites);
    mbedtls_ssl_conf_authmode(&d->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&d->conf, &d->ca, NULL);
    return mbedtls_ssl_conf_own_cert(&d->conf, &d->cert, &d->key) ? MFL_ERR_KEY : 0;
#else
    return MFL_ERR_INVALID_ARG;
#endif
}

int mfl_dtls_init(mfl_dtls_t *d, const mfl_dtls_config_t *cfg, mfl_datagram_port_t *port)
{
    if (!d || !cfg || !port || !cfg->lower.send || !cfg->lower.receive || !cfg->clock_ms || !cfg->entropy ||
        (!cfg->psk && !(cfg->cert_file && cfg->key_file && cfg->ca_file)) || (cfg->psk && cfg->psk_len == 0) ||
        cfg->psk_len > 64 || (cfg->psk && (!cfg->identity || cfg->identity_len == 0))) {
        return MFL_ERR_INVALID_ARG;
    }
    memset(d, 0, sizeof(*d));
    d->cfg = *cfg;
    mbedtls_ssl_init(&d->ssl);
    mbedtls_ssl_config_init(&d->conf);
    mbedtls_hmac_drbg_init(&d->drbg);
#ifdef MFL_DTLS_CERTIFICATES
    mbedtls_x509_crt_init(&d->cert);
    mbedtls_x509_crt_init(&d->ca);
    mbedtls_pk_init(&d->key);
#endif
    static const unsigned char personal[] = "microfl dtls";
    int err = mbedtls_hmac_drbg_seed(&d->drbg, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), cfg->entropy,
                                     cfg->entropy_ctx, personal, sizeof(personal) - 1)
                  ? MFL_ERR_CRYPTO
                  : 0;
    err = err ? err
              : mbedtls_ssl_config_defaults(&d->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_DATAGRAM,
                                            MBEDTLS_SSL_PRESET_DEFAULT)
                    ? MFL_ERR_CRYPTO
                    : 0;
    if (!err) {
        mbedtls_ssl_conf_rng(&d->conf, mbedtls_hmac_drbg_random, &d->drbg);
        mbedtls_ssl_conf_handshake_timeout(&d->conf, 1000, 16000);
        err = configure_identity(d);
    }
    err = err ? err : mbedtls_ssl_setup(&d->ssl, &d->conf) ? MFL_ERR_CRYPTO : 0;
    if (err) {
        mfl_dtls_free(d);
        return err;
    }
    mbedtls_ssl_set_bio(&d->ssl, d, bio_send, bio_recv, NULL);
    mbedtls_ssl_set_timer_cb(&d->ssl, d, set_timer, get_timer);
    mbedtls_ssl_set_mtu(&d->ssl, 1280); /* IPv6's minimum: a whole CoAP block and its record header fit */
    port->send = dtls_send;
    port->receive = dtls_receive;
    port->reset = dtls_reset;
    port->ctx = d;
    return 0;
}

void mfl_dtls_free(mfl_dtls_t *d)
{
    if (!d) {
        return;
    }
    if (d->up) {
        mbedtls_ssl_close_notify(&d->ssl);
    }
    mbedtls_ssl_free(&d->ssl);
    mbedtls_ssl_config_free(&d->conf);
    mbedtls_hmac_drbg_free(&d->drbg);
#ifdef MFL_DTLS_CERTIFICATES
    mbedtls_x509_crt_free(&d->cert);
    mbedtls_x509_crt_free(&d->ca);
    mbedtls_pk_free(&d->key);
#endif
    d->up = d->started = 0;
}
