/*
 * Mbed TLS 2.28 configuration for microfl's devices: what ES256 and
 * SHA-256 need (bignum, ECP on P-256, deterministic ECDSA, HMAC-DRBG for
 * blinding, SHA-256), and for the sync's DTLS port a DTLS 1.2 client with
 * one cipher suite, TLS_PSK_WITH_AES_128_CCM_8 (RFC 7925 section 4.2); no
 * certificates, no file system, no entropy source of its own (the board's
 * comes through the port's callback), and no heap (Mbed TLS's own
 * allocator on a static buffer).
 * Used by scripts/target_deps.sh to build libmbedcrypto (ECDSA) and
 * libmbedtls (DTLS) for Cortex-M4.
 */
#ifndef MFL_MBEDTLS_CONFIG_H
#define MFL_MBEDTLS_CONFIG_H

#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ECDSA_DETERMINISTIC
#define MBEDTLS_HMAC_DRBG_C
#define MBEDTLS_MD_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA256_SMALLER /* ~1 KB less flash, a little slower */
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_NO_PLATFORM_ENTROPY
/* ES256 signing on the M4 image (instructions per signature, QEMU -icount,
 * issue 12): 16.48 M with window 2 and no assembly; MBEDTLS_HAVE_ASM (the
 * UMAAL multiply-accumulate of bn_mul.h) 15.24 M; with window 3 13.71 M,
 * window 4 13.11 M; window 5 no longer fits the 6 KB heap pool. At -O2
 * instead of -Os: 10.78 M (window 3) for 7 KB more flash. Window 3 keeps
 * two steps of margin in the pool for 0.26 KB more flash than window 2. */
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_ECP_WINDOW_SIZE 3
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 0
/* the DTLS client: PSK key exchange, AES-128-CCM-8 records, anti-replay
 * (RFC 6347 section 4.1.2.6), the extended master secret (RFC 7627) */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_PROTO_DTLS
#define MBEDTLS_SSL_DTLS_ANTI_REPLAY
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_KEY_EXCHANGE_PSK_ENABLED
#define MBEDTLS_SSL_CIPHERSUITES MBEDTLS_TLS_PSK_WITH_AES_128_CCM_8
#define MBEDTLS_CIPHER_C
#define MBEDTLS_AES_C
#define MBEDTLS_AES_ROM_TABLES   /* the tables in flash, not built in RAM */
#define MBEDTLS_AES_FEWER_TABLES /* one table of each kind: 6 KB less flash */
#define MBEDTLS_CCM_C
/* records of up to 512 bytes of plaintext each way: a CoAP datagram with a
 * 256-byte block (the sync's default, MFL_COAP_MAX_DATAGRAM 384 in the
 * firmware) and the PSK handshake's messages */
#define MBEDTLS_SSL_IN_CONTENT_LEN 512
#define MBEDTLS_SSL_OUT_CONTENT_LEN 512
/* no heap on the device: a static pool behind calloc/free (crypto_mbedtls.c) */
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C
/* Until the pool is set up nothing may allocate, and a corrupted pool
 * stops the device rather than calling libc's exit (crypto_mbedtls.c). */
#include <stddef.h>
void *mfl_mbedtls_no_calloc(size_t n, size_t size);
void mfl_mbedtls_no_free(void *p);
void mfl_mbedtls_halt(int status);
#define MBEDTLS_PLATFORM_STD_CALLOC mfl_mbedtls_no_calloc
#define MBEDTLS_PLATFORM_STD_FREE mfl_mbedtls_no_free
#define MBEDTLS_PLATFORM_EXIT_MACRO mfl_mbedtls_halt

#include "mbedtls/check_config.h"

#endif
