/*
 * The crypto seam: SHA-256 and ES256 (ECDSA on P-256 with SHA-256, raw
 * 64-byte r||s signatures) behind one small interface, with one file per
 * backend: crypto_mbedtls.c (device and host) and crypto_openssl.c (host:
 * OpenSSL's libcrypto verifies much faster, for the aggregator). A program
 * links exactly one backend library (mfl_crypto_mbedtls or
 * mfl_crypto_openssl). With Mbed TLS, signing is deterministic (RFC 6979):
 * no RNG is needed on the device; OpenSSL 3.0 signs with random nonces.
 */
#ifndef MFL_CRYPTO_H
#define MFL_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MFL_ES256_PRIVATE_BYTES 32
#define MFL_ES256_PUBLIC_BYTES 65 /* 0x04 || X || Y */
#define MFL_ES256_SIG_BYTES 64    /* r || s */
#define MFL_SHA256_BYTES 32

typedef struct {
    uint8_t d[MFL_ES256_PRIVATE_BYTES]; /* big-endian scalar */
} mfl_es256_private_t;

typedef struct {
    uint8_t q[MFL_ES256_PUBLIC_BYTES]; /* uncompressed point */
} mfl_es256_public_t;

/* Streaming SHA-256; the backend keeps its context in `opaque`. */
typedef struct {
    union {
        uint8_t bytes[256];
        uint64_t align;
    } opaque;
} mfl_sha256_t;

int mfl_sha256_start(mfl_sha256_t *ctx);
int mfl_sha256_update(mfl_sha256_t *ctx, const void *data, size_t len);
int mfl_sha256_finish(mfl_sha256_t *ctx, uint8_t out[MFL_SHA256_BYTES]);

/* Deterministic ECDSA signature of a SHA-256 hash. Returns 0,
 * MFL_ERR_KEY (the scalar is not a valid private key) or MFL_ERR_CRYPTO. */
int mfl_es256_sign(const mfl_es256_private_t *key, const uint8_t hash[MFL_SHA256_BYTES],
                   uint8_t sig[MFL_ES256_SIG_BYTES]);

/* Returns 0 for a valid signature, MFL_ERR_COSE_SIGNATURE for an invalid
 * one, MFL_ERR_KEY for a public key not on the curve. */
int mfl_es256_verify(const mfl_es256_public_t *key, const uint8_t hash[MFL_SHA256_BYTES],
                     const uint8_t sig[MFL_ES256_SIG_BYTES]);

int mfl_es256_public_from_private(const mfl_es256_private_t *key, mfl_es256_public_t *pub);

/* Devices' Mbed TLS backend only (built with its static allocator): gives
 * Mbed TLS a pool of len bytes instead of the built-in 6 KB one, before
 * anything else uses Mbed TLS — for a firmware that also runs the DTLS
 * port, whose record buffers and session come from the same pool. The
 * pool stays the caller's for good. */
void mfl_mbedtls_use_pool(unsigned char *pool, size_t len);

/* The backend's name ("mbedtls", "openssl"). */
const char *mfl_crypto_backend(void);

#ifdef __cplusplus
}
#endif

#endif /* MFL_CRYPTO_H */
