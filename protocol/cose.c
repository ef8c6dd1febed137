/*
 * COSE_Sign1 / ES256 in microfl's strict profile (see include/mfl/cose.h).
 * The Sig_structure is never built in memory: its CBOR framing is hashed
 * piece by piece around the protected header, external AAD and payload.
 */
#include <string.h>

#include "mfl/cbor.h"
#include "mfl/cose.h"
#include "mfl/error.h"

#define HDR_ALG 1
#define HDR_KID 4
#define SIG_CONTEXT "Signature1"

/* The protected header {1: -7, 4: kid}: at most 1 + 1 + 1 + 1 + 2 + 64 bytes. */
static size_t protected_header(const uint8_t *kid, size_t kid_len, uint8_t *buf, size_t cap)
{
    mfl_cbor_writer_t w;
    mfl_cbor_writer_init(&w, buf, cap);
    mfl_cbor_put_map(&w, 2);
    mfl_cbor_put_uint(&w, HDR_ALG);
    mfl_cbor_put_int(&w, MFL_COSE_ALG_ES256);
    mfl_cbor_put_uint(&w, HDR_KID);
    mfl_cbor_put_bytes(&w, kid, kid_len);
    return w.err ? 0 : w.len;
}

/* SHA-256 of Sig_structure = ["Signature1", protected, external_aad, payload]. */
static int sig_structure_hash(const uint8_t *prot, size_t prot_len, const uint8_t *aad, size_t aad_len,
                              const uint8_t *payload, size_t payload_len, uint8_t hash[MFL_SHA256_BYTES])
{
    uint8_t frame[32];
    mfl_sha256_t sha;
    mfl_cbor_writer_t w;
    int err = mfl_sha256_start(&sha);
    /* the array header and the context string */
    mfl_cbor_writer_init(&w, frame, sizeof(frame));
    mfl_cbor_put_array(&w, 4);
    mfl_cbor_put_text(&w, SIG_CONTEXT, sizeof(SIG_CONTEXT) - 1);
    err = err ? err : mfl_sha256_update(&sha, frame, w.len);
    const struct {
        const uint8_t *data;
        size_t len;
    } parts[3] = {{prot, prot_len}, {aad, aad_len}, {payload, payload_len}};
    for (int i = 0; i < 3 && !err; i++) {
        /* each part is a bstr: its header, then its bytes */
        mfl_cbor_writer_init(&w, frame, sizeof(frame));
        mfl_cbor_put_uint(&w, parts[i].len);
        frame[0] = (uint8_t)(frame[0] | 0x40); /* major type 2 (bstr) instead of 0 */
        err = mfl_sha256_update(&sha, frame, w.len);
        if (!err && parts[i].len) {
            err = mfl_sha256_update(&sha, parts[i].data, parts[i].len);
        }
    }
    return err ? err : mfl_sha256_finish(&sha, hash);
}

size_t mfl_cose_sign1_size(size_t kid_len, size_t payload_len)
{
    /* count-only writers: no buffers, no kid bytes needed */
    const size_t prot_len = protected_header((const uint8_t *)"", kid_len, NULL, 0);
    mfl_cbor_writer_t w;
    mfl_cbor_writer_init(&w, NULL, 0);
    mfl_cbor_put_tag(&w, MFL_COSE_TAG_SIGN1);
    mfl_cbor_put_array(&w, 4);
    mfl_cbor_put_uint(&w, prot_len); /* bstr header: same size as a uint's */
    w.len += prot_len;
    mfl_cbor_put_map(&w, 0);
    mfl_cbor_put_uint(&w, payload_len);
    w.len += payload_len;
    mfl_cbor_put_uint(&w, MFL_ES256_SIG_BYTES);
    return w.len + MFL_ES256_SIG_BYTES;
}

int mfl_cose_sign1_encode(const uint8_t *kid, size_t kid_len, const uint8_t *payload, size_t payload_len,
                          const uint8_t *external_aad, size_t aad_len, const mfl_es256_private_t *key,
                          uint8_t *dst, size_t dst_cap, size_t *len)
{
    uint8_t prot[8 + MFL_COSE_MAX_KID];
    if (!kid || kid_len == 0 || kid_len > MFL_COSE_MAX_KID || (!payload && payload_len) || !key || !len) {
        return MFL_ERR_INVALID_ARG;
    }
    const size_t prot_len = protected_header(kid, kid_len, prot, sizeof(prot));
    uint8_t hash[MFL_SHA256_BYTES], sig[MFL_ES256_SIG_BYTES];
    mfl_cbor_writer_t w;
    mfl_cbor_writer_init(&w, dst, dst_cap);
    mfl_cbor_put_tag(&w, MFL_COSE_TAG_SIGN1);
    mfl_cbor_put_array(&w, 4);
    mfl_cbor_put_bytes(&w, prot, prot_len);
    mfl_cbor_put_map(&w, 0);
    mfl_cbor_put_bytes(&w, payload, payload_len);
    *len = w.len + 2 + MFL_ES256_SIG_BYTES;
    if (w.err || !dst || dst_cap < *len) {
        return MFL_ERR_BUFFER_TOO_SMALL;
    }
    int err = sig_structure_hash(prot, prot_len, external_aad, aad_len, payload, payload_len, hash);
    err = err ? err : mfl_es256_sign(key, hash, sig);
    if (err) {
        return err;
    }
    mfl_cbor_put_bytes(&w, sig, sizeof(sig));
    return w.err;
}

/* Header map entries: alg (1) must be -7; kid (4) a bstr of 1..64 bytes;
 * nothing else. */
static int read_header_map(mfl_cbor_reader_t *r, uint64_t n, int *has_alg, mfl_cose_sign1_t *m, int is_protected)
{
    int64_t last = INT64_MIN;
    for (uint64_t i = 0; i < n; i++) {
        int64_t key;
        int err = mfl_cbor_get_key(r, &key, &last);
        if (err) {
            return err == MFL_ERR_PROTO_TYPE ? MFL_ERR_COSE_HEADER : err;
        }
        if (key == HDR_ALG) {
            int64_t alg;
            err = mfl_cbor_get_int(r, &alg);
            if (err == MFL_ERR_PROTO_TYPE || (!err && alg != MFL_COSE_ALG_ES256)) {
                return MFL_ERR_COSE_ALG;
            }
            if (err) {
                return err;
            }
            if (!is_protected) {
                return MFL_ERR_COSE_HEADER; /* alg must be protected */
            }
            *has_alg = 1;
        } else if (key == HDR_KID) {
            if (m->kid) {
                return MFL_ERR_COSE_HEADER; /* kid in both buckets */
            }
            err = mfl_cbor_get_bytes(r, &m->kid, &m->kid_len, MFL_COSE_MAX_KID);
            if (err || m->kid_len == 0) {
                return err == MFL_ERR_CBOR_TRUNCATED ? err : MFL_ERR_COSE_HEADER;
            }
            m->kid_protected = is_protected;
        } else {
            return MFL_ERR_COSE_HEADER;
        }
    }
    return 0;
}

static int decode_protected(const uint8_t *prot, size_t len, mfl_cose_sign1_t *m)
{
    if (len == 0) {
        return MFL_ERR_COSE_HEADER; /* the profile needs alg protected */
    }
    int err = mfl_cbor_check(prot, len, 1);
    if (err) {
        return err;
    }
    mfl_cbor_reader_t r;
    uint64_t n;
    int has_alg = 0;
    mfl_cbor_reader_init(&r, prot, len);
    err = mfl_cbor_get_map(&r, &n);
    if (err || n == 0) {
        return MFL_ERR_COSE_HEADER; /* not a map, or an empty one (h'A0') */
    }
    err = read_header_map(&r, n, &has_alg, m, 1);
    return err ? err : has_alg ? 0 : MFL_ERR_COSE_ALG;
}

int mfl_cose_sign1_decode(const uint8_t *msg, size_t len, mfl_cose_sign1_t *out)
{
    mfl_cose_sign1_t m;
    memset(&m, 0, sizeof(m));
    if (!msg || !out) {
        return MFL_ERR_INVALID_ARG;
    }
    /* the tag first: anything else (COSE_Sign, untagged) is not ours */
    mfl_cbor_reader_t r;
    mfl_cbor_item_t it;
    uint64_t n;
    mfl_cbor_reader_init(&r, msg, len);
    int err = mfl_cbor_next(&r, &it);
    if (err || it.type != MFL_CBOR_TAG || it.value != MFL_COSE_TAG_SIGN1) {
        return err ? err : MFL_ERR_COSE_TAG;
    }
    err = mfl_cbor_check(msg, len, 3);
    if (err) {
        return err;
    }
    err = mfl_cbor_get_array(&r, &n);
    if (err || n != 4) {
        return err ? err : MFL_ERR_PROTO_TYPE;
    }
    err = mfl_cbor_get_bytes(&r, &m.protected_hdr, &m.protected_len, 8 + MFL_COSE_MAX_KID);
    if (err) {
        return err == MFL_ERR_PROTO_TYPE || err == MFL_ERR_PROTO_SIZE ? MFL_ERR_COSE_HEADER : err;
    }
    err = decode_protected(m.protected_hdr, m.protected_len, &m);
    if (err) {
        return err;
    }
    int has_alg = 0;
    err = mfl_cbor_get_map(&r, &n);
    err = err == MFL_ERR_PROTO_TYPE ? MFL_ERR_COSE_HEADER : err;
    err = err ? err : read_header_map(&r, n, &has_alg, &m, 0);
    if (err) {
        return err;
    }
    m.unprotected_count = (int)n;
    size_t sig_len;
    err = mfl_cbor_get_bytes(&r, &m.payload, &m.payload_len, SIZE_MAX);
    err = err ? err : mfl_cbor_get_bytes(&r, &m.signature, &sig_len, SIZE_MAX);
    if (err) {
        return err;
    }
    if (sig_len != MFL_ES256_SIG_BYTES) {
        return MFL_ERR_COSE_SIG_SIZE;
    }
    *out = m;
    return 0;
}

int mfl_cose_sign1_verify(const mfl_cose_sign1_t *m, const uint8_t *external_aad, size_t aad_len,
                          const mfl_es256_public_t *key)
{
    uint8_t hash[MFL_SHA256_BYTES];
    if (!m || !key || !m->signature) {
        return MFL_ERR_INVALID_ARG;
    }
    int err = sig_structure_hash(m->protected_hdr, m->protected_len, external_aad, aad_len, m->payload,
                                 m->payload_len, hash);
    return err ? err : mfl_es256_verify(key, hash, m->signature);
}
