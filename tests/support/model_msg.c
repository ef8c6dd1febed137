/* A signed model message for the device tests (test_support.h); its own
 * file, so that only the tests that call it link the COSE code and need a
 * crypto backend. */
#include <string.h>
#include "mfl/cose.h"
#include "mfl/delta.h"
#include "mfl/messages.h"
#include "test_support.h"

size_t ts_signed_model_msg(uint16_t rows, uint16_t features, uint64_t version, const mfl_es256_private_t *key,
                           uint8_t *out, size_t cap)
{
    return ts_signed_model_msg_for(rows, features, version, NULL, key, out, cap);
}

size_t ts_signed_model_msg_for(uint16_t rows, uint16_t features, uint64_t version, const uint8_t *backbone,
                               const mfl_es256_private_t *key, uint8_t *out, size_t cap)
{
    int32_t w[10 * 64], bias[10];
    int8_t values[10 * 64], shift[10];
    assert_true(rows <= 10 && (size_t)rows * features <= sizeof(w) / sizeof(w[0]));
    for (size_t i = 0; i < (size_t)rows * features; i++) {
        w[i] = (int32_t)((i * 2654435761u + version * 40503u) % 2000000u) - 1000000;
    }
    for (uint16_t r = 0; r < rows; r++) {
        bias[r] = (int32_t)(r * 100000u * version);
    }
    mfl_model_msg_t m = {.model_id = "m", .model_id_len = 1, .version = version, .bias = bias};
    if (backbone) {
        m.has_backbone = 1;
        memcpy(m.backbone, backbone, sizeof(m.backbone));
    }
    m.head.shift = shift;
    m.head.values = values;
    uint8_t body[4096];
    size_t body_len, len;
    assert_int_equal(mfl_delta_quantize(w, NULL, rows, features, (uint32_t)rows * features, &m.head), 0);
    assert_int_equal(mfl_model_msg_encode(&m, body, sizeof(body), &body_len), 0);
    assert_int_equal(mfl_cose_sign1_encode((const uint8_t *)"m", 1, body, body_len, NULL, 0, key, out, cap, &len), 0);
    return len;
}
