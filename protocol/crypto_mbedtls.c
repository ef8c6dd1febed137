/*
 * Crypto seam, Mbed TLS backend (2.28). Used on the device and by the host
 * tools. Signatures are RFC 6979 deterministic; the blinding that Mbed TLS
 * requires during signing is drawn from an HMAC-DRBG seeded with the key
 * and the hash, so no entropy source is needed.
 */
#include <string.h>

#include <mbedtls/ecdsa.h>
#include <mbedtls/hmac_drbg.h>
#include <mbedtls/sha256.h>

#include "mfl/crypto.h"
#include "mfl/error.h"

_Static_assert(sizeof(mbedtls_sha256_context) <= sizeof(((mfl_sha256_t *)0)->opaque), "sha256 context");

static mbedtls_sha256_context *sha_ctx(mfl_sha256_t *ctx)
{
    return (mbedtls_sha256_context *)(void *)ctx->opaque.bytes;
}

int mfl_sha256_start(mfl_sha256_t *ctx)
{
    mbedtls_sha256_init(sha_ctx(ctx));
    return mbedtls_sha256_starts_ret(sha_ctx(ctx), 0) ? MFL_ERR_CRYPTO : 0;
}

int mfl_sha256_update(mfl_sha256_t *ctx, const void *data, size_t len)
{
    return mbedtls_sha256_update_ret(sha_ctx(ctx), data, len) ? MFL_ERR_CRYPTO : 0;
}

int mfl_sha256_finish(mfl_sha256_t *ctx, uint8_t out[MFL_SHA256_BYTES])
{
    const int err = mbedtls_sha256_finish_ret(sha_ctx(ctx), out);
    mbedtls_sha256_free(sha_ctx(ctx));
    return err ? MFL_ERR_CRYPTO : 0;
}

typedef struct {
    mbedtls_ecp_group grp;
    mbedtls_mpi d, r, s;
    mbedtls_ecp_point q;
    mbedtls_hmac_drbg_context drbg;
} ec_t;

#if defined(MBEDTLS_MEMORY_BUFFER_ALLOC_C)
#include <mbedtls/memory_buffer_alloc.h>
/* Devices have no heap: Mbed TLS takes its bignums from this static pool
 * (ES256 signing peaks at a few KB; see docs/firmware.md). */
#ifndef MFL_MBEDTLS_POOL_BYTES
#define MFL_MBEDTLS_POOL_BYTES 6144
#endif
static unsigned char mbedtls_pool[MFL_MBEDTLS_POOL_BYTES];

void *mfl_mbedtls_no_calloc(size_t n, size_t size)
{
    (void)n, (void)size;
    return NULL;
}

void mfl_mbedtls_no_free(void *p)
{
    (void)p;
}

void mfl_mbedtls_halt(int status)
{
    (void)status;
    for (;;) {
    }
}

static int pool_ready;

static void pool_init(void)
{
    if (!pool_ready) {
        mbedtls_memory_buffer_alloc_init(mbedtls_pool, sizeof(mbedtls_pool));
        pool_ready = 1;
    }
}

void mfl_mbedtls_use_pool(unsigned char *pool, size_t len)
{
    mbedtls_memory_buffer_alloc_init(pool, len);
    pool_ready = 1;
}
#else
static void pool_init(void)
{
}
#endif

static void ec_init(ec_t *e)
{
    pool_init();
    mbedtls_ecp_group_init(&e->grp);
    mbedtls_mpi_init(&e->d);
    mbedtls_mpi_init(&e->r);
    mbedtls_mpi_init(&e->s);
    mbedtls_ecp_point_init(&e->q);
    mbedtls_hmac_drbg_init(&e->drbg);
}

static void ec_free(ec_t *e)
{
    mbedtls_ecp_group_free(&e->grp);
    mbedtls_mpi_free(&e->d);
    mbedtls_mpi_free(&e->r);
    mbedtls_mpi_free(&e->s);
    mbedtls_ecp_point_free(&e->q);
    mbedtls_hmac_drbg_free(&e->drbg);
}

/* Group, private scalar (checked) and a deterministic blinding generator. */
static int ec_load_private(ec_t *e, const mfl_es256_private_t *key, const uint8_t *seed_extra, size_t extra_len)
{
    uint8_t seed[MFL_ES256_PRIVATE_BYTES + MFL_SHA256_BYTES];
    memcpy(seed, key->d, MFL_ES256_PRIVATE_BYTES);
    memcpy(seed + MFL_ES256_PRIVATE_BYTES, seed_extra, extra_len);
    if (mbedtls_ecp_group_load(&e->grp, MBEDTLS_ECP_DP_SECP256R1) ||
        mbedtls_hmac_drbg_seed_buf(&e->drbg, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), seed,
                                   MFL_ES256_PRIVATE_BYTES + extra_len)) {
        return MFL_ERR_CRYPTO;
    }
    if (mbedtls_mpi_read_binary(&e->d, key->d, MFL_ES256_PRIVATE_BYTES) || mbedtls_ecp_check_privkey(&e->grp, &e->d)) {
        return MFL_ERR_KEY;
    }
    return 0;
}

int mfl_es256_sign(const mfl_es256_private_t *key, const uint8_t hash[MFL_SHA256_BYTES],
                   uint8_t sig[MFL_ES256_SIG_BYTES])
{
    ec_t e;
    ec_init(&e);
    int err = ec_load_private(&e, key, hash, MFL_SHA256_BYTES);
    if (!err && (mbedtls_ecdsa_sign_det_ext(&e.grp, &e.r, &e.s, &e.d, hash, MFL_SHA256_BYTES, MBEDTLS_MD_SHA256,
                                             mbedtls_hmac_drbg_random, &e.drbg) ||
                 mbedtls_mpi_write_binary(&e.r, sig, 32) || mbedtls_mpi_write_binary(&e.s, sig + 32, 32))) {
        err = MFL_ERR_CRYPTO;
    }
    ec_free(&e);
    return err;
}

int mfl_es256_verify(const mfl_es256_public_t *key, const uint8_t hash[MFL_SHA256_BYTES],
                     const uint8_t sig[MFL_ES256_SIG_BYTES])
{
    ec_t e;
    ec_init(&e);
    int err = 0, rc = 0;
    if ((rc = mbedtls_ecp_group_load(&e.grp, MBEDTLS_ECP_DP_SECP256R1)) != 0) {
        err = MFL_ERR_CRYPTO;
    } else if ((rc = mbedtls_ecp_point_read_binary(&e.grp, &e.q, key->q, MFL_ES256_PUBLIC_BYTES)) != 0 ||
               (rc = mbedtls_ecp_check_pubkey(&e.grp, &e.q)) != 0) {
        err = MFL_ERR_KEY;
    } else if ((rc = mbedtls_mpi_read_binary(&e.r, sig, 32)) != 0 || (rc = mbedtls_mpi_read_binary(&e.s, sig + 32, 32)) != 0) {
        err = MFL_ERR_CRYPTO;
    } else if ((rc = mbedtls_ecdsa_verify(&e.grp, hash, MFL_SHA256_BYTES, &e.q, &e.r, &e.s)) != 0) {
        err = MFL_ERR_COSE_SIGNATURE;
    }
    ec_free(&e);
    /* a device's pool running out is not a bad signature or a bad key */
    return rc == MBEDTLS_ERR_MPI_ALLOC_FAILED ? MFL_ERR_NO_MEMORY : err;
}

int mfl_es256_public_from_private(const mfl_es256_private_t *key, mfl_es256_public_t *pub)
{
    ec_t e;
    ec_init(&e);
    static const uint8_t label[] = "public";
    int err = ec_load_private(&e, key, label, sizeof(label));
    size_t olen = 0;
    if (!err && (mbedtls_ecp_mul(&e.grp, &e.q, &e.d, &e.grp.G, mbedtls_hmac_drbg_random, &e.drbg) ||
                 mbedtls_ecp_point_write_binary(&e.grp, &e.q, MBEDTLS_ECP_PF_UNCOMPRESSED, &olen, pub->q,
                                                MFL_ES256_PUBLIC_BYTES) ||
                 olen != MFL_ES256_PUBLIC_BYTES)) {
        err = MFL_ERR_CRYPTO;
    }
    ec_free(&e);
    return err;
}

const char *mfl_crypto_backend(void)
{
    return "mbedtls";
}
