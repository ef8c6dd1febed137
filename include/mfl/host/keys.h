/*
 * Host only: ES256 keys in standard files. Private keys are read from PEM or
 * DER (SEC1 "EC PRIVATE KEY" or PKCS#8); public keys from PEM or DER
 * SubjectPublicKeyInfo, or derived from a private key file. Written as PEM,
 * the private key with mode 0600.
 */
#ifndef MFL_KEYS_H
#define MFL_KEYS_H

#include "mfl/crypto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Returns 0, MFL_ERR_IO or MFL_ERR_KEY (not a P-256 key). */
int mfl_key_load_private(const char *path, mfl_es256_private_t *key);
int mfl_key_load_public(const char *path, mfl_es256_public_t *key);

/* A fresh key from the system's entropy. */
int mfl_key_generate(mfl_es256_private_t *key);

/* Writes path_private (0600) and path_public as PEM. */
int mfl_key_save(const mfl_es256_private_t *key, const char *path_private, const char *path_public);

#ifdef __cplusplus
}
#endif

#endif /* MFL_KEYS_H */
