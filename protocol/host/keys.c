/* ES256 key files through Mbed TLS's pk module (host only); see keys.h. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>

#include "mfl/error.h"
#include "mfl/host/host_io.h"
#include "mfl/host/keys.h"

/* The P-256 key inside a parsed pk context, or NULL. */
static mbedtls_ecp_keypair *p256(mbedtls_pk_context *pk)
{
    if (mbedtls_pk_get_type(pk) != MBEDTLS_PK_ECKEY) {
        return NULL;
    }
    mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*pk);
    return ec->grp.id == MBEDTLS_ECP_DP_SECP256R1 ? ec : NULL;
}

int mfl_key_load_private(const char *path, mfl_es256_private_t *key)
{
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    int err = mbedtls_pk_parse_keyfile(&pk, path, NULL) ? MFL_ERR_KEY : 0;
    mbedtls_ecp_keypair *ec = err ? NULL : p256(&pk);
    if (!err && (!ec || mbedtls_mpi_write_binary(&ec->d, key->d, sizeof(key->d)))) {
        err = MFL_ERR_KEY;
    }
    mbedtls_pk_free(&pk);
    if (err && access(path, R_OK) != 0) {
        err = MFL_ERR_IO;
    }
    return err;
}

int mfl_key_load_public(const char *path, mfl_es256_public_t *key)
{
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    int err = mbedtls_pk_parse_public_keyfile(&pk, path) ? MFL_ERR_KEY : 0;
    if (err) { /* a private key file also gives the public key */
        mfl_es256_private_t priv;
        mbedtls_pk_free(&pk);
        err = mfl_key_load_private(path, &priv);
        return err ? err : mfl_es256_public_from_private(&priv, key);
    }
    mbedtls_ecp_keypair *ec = p256(&pk);
    size_t olen = 0;
    if (!ec || mbedtls_ecp_point_write_binary(&ec->grp, &ec->Q, MBEDTLS_ECP_PF_UNCOMPRESSED, &olen, key->q,
                                              sizeof(key->q)) ||
        olen != sizeof(key->q)) {
        err = MFL_ERR_KEY;
    }
    mbedtls_pk_free(&pk);
    return err;
}

int mfl_key_generate(mfl_es256_private_t *key)
{
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_ecp_keypair ec;
    static const unsigned char pers[] = "microfl keygen";
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_ecp_keypair_init(&ec);
    int err = 0;
    if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, pers, sizeof(pers)) ||
        mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, &ec, mbedtls_ctr_drbg_random, &drbg) ||
        mbedtls_mpi_write_binary(&ec.d, key->d, sizeof(key->d))) {
        err = MFL_ERR_CRYPTO;
    }
    mbedtls_ecp_keypair_free(&ec);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
    return err;
}

/* Writes a text file created with the given mode (atomically). */
static int write_pem(const char *path, const unsigned char *pem, mode_t mode)
{
    const size_t len = strlen((const char *)pem);
    int err = mfl_write_file(path, pem, len);
    if (!err && chmod(path, mode) != 0) {
        err = MFL_ERR_IO;
    }
    return err;
}

int mfl_key_save(const mfl_es256_private_t *key, const char *path_private, const char *path_public)
{
    mfl_es256_public_t pub;
    int err = mfl_es256_public_from_private(key, &pub);
    if (err) {
        return err;
    }
    mbedtls_pk_context pk;
    unsigned char pem[1024];
    mbedtls_pk_init(&pk);
    if (mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY))) {
        mbedtls_pk_free(&pk);
        return MFL_ERR_CRYPTO;
    }
    mbedtls_ecp_keypair *ec = mbedtls_pk_ec(pk);
    if (mbedtls_ecp_group_load(&ec->grp, MBEDTLS_ECP_DP_SECP256R1) ||
        mbedtls_mpi_read_binary(&ec->d, key->d, sizeof(key->d)) ||
        mbedtls_ecp_point_read_binary(&ec->grp, &ec->Q, pub.q, sizeof(pub.q))) {
        err = MFL_ERR_KEY;
    }
    /* the private key file is created 0600 before any key byte is written */
    if (!err && path_private) {
        err = mbedtls_pk_write_key_pem(&pk, pem, sizeof(pem)) ? MFL_ERR_CRYPTO : 0;
        const mode_t old = umask(077);
        err = err ? err : write_pem(path_private, pem, 0600);
        umask(old);
    }
    if (!err && path_public) {
        err = mbedtls_pk_write_pubkey_pem(&pk, pem, sizeof(pem)) ? MFL_ERR_CRYPTO : 0;
        err = err ? err : write_pem(path_public, pem, 0644);
    }
    mbedtls_platform_zeroize(pem, sizeof(pem));
    mbedtls_pk_free(&pk);
    return err;
}
