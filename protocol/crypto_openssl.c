/*
 * Crypto seam, OpenSSL 3 libcrypto backend (host only): the aggregator
 * verifies with it because it is much faster than Mbed TLS on x86-64.
 * Signing here uses OpenSSL's random nonces (OpenSSL 3.0 has no RFC 6979);
 * verification accepts the same raw r||s signatures as the Mbed TLS backend.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include "mfl/crypto.h"
#include "mfl/error.h"

/* The context lives on OpenSSL's heap; the opaque buffer holds its pointer. */
static EVP_MD_CTX **md_ctx(mfl_sha256_t *ctx)
{
    return (EVP_MD_CTX **)(void *)ctx->opaque.bytes;
}

int mfl_sha256_start(mfl_sha256_t *ctx)
{
    *md_ctx(ctx) = EVP_MD_CTX_new();
    if (!*md_ctx(ctx) || EVP_DigestInit_ex(*md_ctx(ctx), EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(*md_ctx(ctx));
        *md_ctx(ctx) = NULL;
        return MFL_ERR_CRYPTO;
    }
    return 0;
}

int mfl_sha256_update(mfl_sha256_t *ctx, const void *data, size_t len)
{
    return *md_ctx(ctx) && EVP_DigestUpdate(*md_ctx(ctx), data, len) == 1 ? 0 : MFL_ERR_CRYPTO;
}

int mfl_sha256_finish(mfl_sha256_t *ctx, uint8_t out[MFL_SHA256_BYTES])
{
    unsigned int n = 0;
    const int ok = *md_ctx(ctx) && EVP_DigestFinal_ex(*md_ctx(ctx), out, &n) == 1 && n == MFL_SHA256_BYTES;
    EVP_MD_CTX_free(*md_ctx(ctx));
    *md_ctx(ctx) = NULL;
    return ok ? 0 : MFL_ERR_CRYPTO;
}

/* An EVP_PKEY for P-256 from a public point and, optionally, a private scalar. */
static EVP_PKEY *make_pkey(const uint8_t *pub, const uint8_t *priv)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *d = priv ? BN_bin2bn(priv, MFL_ES256_PRIVATE_BYTES, NULL) : NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (bld && ctx && (!priv || d) &&
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, MFL_ES256_PUBLIC_BYTES) == 1 &&
        (!d || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) == 1) &&
        (params = OSSL_PARAM_BLD_to_param(bld)) != NULL && EVP_PKEY_fromdata_init(ctx) == 1) {
        if (EVP_PKEY_fromdata(ctx, &pkey, d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) != 1) {
            pkey = NULL;
        }
    }
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(d);
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

/*
 * Building an EVP_PKEY from a raw point costs OpenSSL 3 about a fifth of a
 * whole verification (provider lookups, point decoding and checks), and the
 * aggregator verifies the same few thousand device keys again and again. So
 * public keys are cached by their exact bytes: direct-mapped, bounded, shared
 * by the aggregator's verify threads under a mutex (an EVP_PKEY is read-only
 * once built; each user holds its own reference while verifying).
 */
#define PKEY_CACHE_SLOTS 4096

static struct {
    uint8_t q[MFL_ES256_PUBLIC_BYTES];
    EVP_PKEY *pkey;
} pkey_cache[PKEY_CACHE_SLOTS];
static pthread_mutex_t pkey_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t pkey_slot(const uint8_t *q)
{
    uint32_t h = 2166136261u; /* FNV-1a over x; the slot is not a secret */
    for (size_t i = 1; i < 33; i++) {
        h = (h ^ q[i]) * 16777619u;
    }
    return h % PKEY_CACHE_SLOTS;
}

/* A new reference to the EVP_PKEY for public point q, from the cache or built. */
static EVP_PKEY *public_pkey(const uint8_t *q)
{
    const size_t slot = pkey_slot(q);
    EVP_PKEY *pkey = NULL;
    pthread_mutex_lock(&pkey_cache_lock);
    if (pkey_cache[slot].pkey && memcmp(pkey_cache[slot].q, q, MFL_ES256_PUBLIC_BYTES) == 0 &&
        EVP_PKEY_up_ref(pkey_cache[slot].pkey) == 1) {
        pkey = pkey_cache[slot].pkey;
    }
    pthread_mutex_unlock(&pkey_cache_lock);
    if (pkey || !(pkey = make_pkey(q, NULL))) {
        return pkey;
    }
    if (EVP_PKEY_up_ref(pkey) == 1) {
        pthread_mutex_lock(&pkey_cache_lock);
        EVP_PKEY *evicted = pkey_cache[slot].pkey;
        memcpy(pkey_cache[slot].q, q, MFL_ES256_PUBLIC_BYTES);
        pkey_cache[slot].pkey = pkey;
        pthread_mutex_unlock(&pkey_cache_lock);
        EVP_PKEY_free(evicted);
    }
    return pkey;
}

int mfl_es256_verify(const mfl_es256_public_t *key, const uint8_t hash[MFL_SHA256_BYTES],
                     const uint8_t sig[MFL_ES256_SIG_BYTES])
{
    EVP_PKEY *pkey = public_pkey(key->q);
    if (!pkey) {
        return MFL_ERR_KEY;
    }
    int err = MFL_ERR_CRYPTO;
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *sv = BN_bin2bn(sig + 32, 32, NULL);
    unsigned char *der = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (s && r && sv && ECDSA_SIG_set0(s, r, sv) == 1) {
        r = sv = NULL; /* owned by s now */
        const int der_len = i2d_ECDSA_SIG(s, &der);
        if (der_len > 0 && ctx && EVP_PKEY_verify_init(ctx) == 1) {
            const int v = EVP_PKEY_verify(ctx, der, (size_t)der_len, hash, MFL_SHA256_BYTES);
            err = v == 1 ? 0 : v == 0 ? MFL_ERR_COSE_SIGNATURE : MFL_ERR_COSE_SIGNATURE;
        }
    }
    OPENSSL_free(der);
    BN_free(r);
    BN_free(sv);
    ECDSA_SIG_free(s);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return err;
}

int mfl_es256_public_from_private(const mfl_es256_private_t *key, mfl_es256_public_t *pub)
{
    int err = MFL_ERR_CRYPTO;
    EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    EC_POINT *point = group ? EC_POINT_new(group) : NULL;
    BIGNUM *d = BN_bin2bn(key->d, MFL_ES256_PRIVATE_BYTES, NULL);
    const BIGNUM *order = group ? EC_GROUP_get0_order(group) : NULL;
    if (point && d && order) {
        if (BN_is_zero(d) || BN_cmp(d, order) >= 0) {
            err = MFL_ERR_KEY;
        } else if (EC_POINT_mul(group, point, d, NULL, NULL, NULL) == 1 &&
                   EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, pub->q, MFL_ES256_PUBLIC_BYTES,
                                      NULL) == MFL_ES256_PUBLIC_BYTES) {
            err = 0;
        }
    }
    BN_clear_free(d);
    EC_POINT_free(point);
    EC_GROUP_free(group);
    return err;
}

int mfl_es256_sign(const mfl_es256_private_t *key, const uint8_t hash[MFL_SHA256_BYTES],
                   uint8_t sig[MFL_ES256_SIG_BYTES])
{
    mfl_es256_public_t pub;
    int err = mfl_es256_public_from_private(key, &pub);
    if (err) {
        return err;
    }
    EVP_PKEY *pkey = make_pkey(pub.q, key->d);
    EVP_PKEY_CTX *ctx = pkey ? EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL) : NULL;
    unsigned char der[80];
    size_t der_len = sizeof(der);
    err = MFL_ERR_CRYPTO;
    if (ctx && EVP_PKEY_sign_init(ctx) == 1 && EVP_PKEY_sign(ctx, der, &der_len, hash, MFL_SHA256_BYTES) == 1) {
        const unsigned char *p = der;
        ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
        if (s && BN_bn2binpad(ECDSA_SIG_get0_r(s), sig, 32) == 32 &&
            BN_bn2binpad(ECDSA_SIG_get0_s(s), sig + 32, 32) == 32) {
            err = 0;
        }
        ECDSA_SIG_free(s);
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return err;
}

const char *mfl_crypto_backend(void)
{
    return "openssl";
}
