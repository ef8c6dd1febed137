/*
 * Mbed TLS 2.28 configuration for microfl's devices: only what ES256 and
 * SHA-256 need (bignum, ECP on P-256, deterministic ECDSA, HMAC-DRBG for
 * blinding, SHA-256), no network, no file system, no entropy source.
 * Used by scripts/target_deps.sh to build libmbedcrypto for Cortex-M4.
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
#define MBEDTLS_ECP_WINDOW_SIZE 2 /* less RAM for point multiplication */
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 0

#include "mbedtls/check_config.h"

#endif
