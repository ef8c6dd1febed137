/*
 * COSE_Sign1 (RFC 9052) with ES256, in microfl's strict profile:
 *
 *   COSE_Sign1 = #6.18([ protected: bstr .cbor { 1: -7, ? 4: kid },
 *                        unprotected: { ? 4: kid },
 *                        payload: bstr,
 *                        signature: bstr .size 64 ])
 *
 * Stricter than COSE (docs/protocol.md explains each): the tag 18 is
 * required; the protected header must be non-empty and carry alg = ES256
 * (-7); only alg and kid are accepted as header parameters; kid may appear
 * in one bucket only; the signature must be exactly 64 bytes. microfl's own
 * messages put kid in the protected header and leave the unprotected
 * header empty (mfl_cose_sign1_encode), so no carrier can swap it.
 */
#ifndef MFL_COSE_H
#define MFL_COSE_H

#include <stddef.h>
#include <stdint.h>

#include "mfl/crypto.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MFL_COSE_ALG_ES256 (-7)
#define MFL_COSE_TAG_SIGN1 18
#define MFL_COSE_MAX_KID 64

/* Bytes of a COSE_Sign1 around a payload of payload_len bytes with a kid
 * of kid_len bytes (encode's exact output size). */
size_t mfl_cose_sign1_size(size_t kid_len, size_t payload_len);

/* Signs payload with key, kid in the protected header, external_aad (may
 * be empty) bound into the signature. Writes dst (dst_cap bytes; *len gets
 * the size used or, with MFL_ERR_BUFFER_TOO_SMALL, needed). */
int mfl_cose_sign1_encode(const uint8_t *kid, size_t kid_len, const uint8_t *payload, size_t payload_len,
                          const uint8_t *external_aad, size_t aad_len, const mfl_es256_private_t *key,
                          uint8_t *dst, size_t dst_cap, size_t *len);

/* A decoded COSE_Sign1: views into the input. */
typedef struct {
    const uint8_t *protected_hdr; /* the protected bstr's contents */
    size_t protected_len;
    const uint8_t *kid;           /* NULL if absent */
    size_t kid_len;
    int kid_protected;            /* 1 if kid is in the protected header */
    int unprotected_count;        /* entries in the unprotected header */
    const uint8_t *payload;
    size_t payload_len;
    const uint8_t *signature;     /* 64 bytes */
} mfl_cose_sign1_t;

/* Strict structural decoding (no signature check). Returns 0 or
 * MFL_ERR_CBOR_* / MFL_ERR_COSE_TAG / MFL_ERR_COSE_HEADER / MFL_ERR_COSE_ALG /
 * MFL_ERR_COSE_SIG_SIZE / MFL_ERR_PROTO_*. */
int mfl_cose_sign1_decode(const uint8_t *msg, size_t len, mfl_cose_sign1_t *out);

/* Checks the signature over ["Signature1", protected, external_aad, payload].
 * Returns 0, MFL_ERR_COSE_SIGNATURE or MFL_ERR_KEY. */
int mfl_cose_sign1_verify(const mfl_cose_sign1_t *m, const uint8_t *external_aad, size_t aad_len,
                          const mfl_es256_public_t *key);

#ifdef __cplusplus
}
#endif

#endif /* MFL_COSE_H */
