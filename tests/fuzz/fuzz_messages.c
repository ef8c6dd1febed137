/*
 * Fuzz target for every protocol decoder: the input goes through the strict
 * CBOR check, COSE_Sign1 decoding (and, if it decodes, signature checking
 * against a fixed key), and each message decoder, both as a bare body and as
 * the payload of a decoded COSE_Sign1.
 */
#include <stdlib.h>
#include <string.h>

#include "mfl/cbor.h"
#include "mfl/messages.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode_bodies(const uint8_t *body, size_t len)
{
    mfl_update_t u;
    mfl_model_msg_t m;
    mfl_receipt_t r;
    mfl_status_t s;
    (void)mfl_msg_type(body, len);
    if (mfl_update_decode(body, len, 0, 0, &u) == 0 && u.index_bytes) {
        uint32_t *index = malloc((size_t)u.delta.k * sizeof(uint32_t) + 1);
        if (index && mfl_delta_index_decode(u.index_bytes, u.index_len, u.delta.k,
                                            (uint32_t)u.delta.rows * u.delta.cols, index) == 0) {
            u.delta.index = index;
            for (uint32_t j = 0; j < u.delta.k; j++) {
                (void)mfl_delta_dequant(&u.delta, (uint16_t)(index[j] / u.delta.cols), u.delta.values[j]);
            }
        }
        free(index);
    }
    if (mfl_model_msg_decode(body, len, 0, 0, &m) == 0) {
        (void)mfl_model_msg_bias(&m, (uint16_t)(m.head.rows - 1));
    }
    (void)mfl_receipt_decode(body, len, &r);
    (void)mfl_status_decode(body, len, &s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mfl_es256_public_t key;
    if (!key.q[0]) {
        mfl_es256_private_t priv;
        memset(priv.d, 7, sizeof(priv.d));
        mfl_es256_public_from_private(&priv, &key);
    }
    (void)mfl_cbor_check(data, size, 4);
    decode_bodies(data, size);
    mfl_cose_sign1_t m;
    if (mfl_cose_sign1_decode(data, size, &m) == 0) {
        (void)mfl_cose_sign1_verify(&m, NULL, 0, &key);
        decode_bodies(m.payload, m.payload_len);
    }
    return 0;
}
