/* Installing a signed model from the aggregator (see update_builder.h). */
#include <string.h>

#include "mfl/error.h"
#include "mfl/model_identity.h"
#include "mfl/update_builder.h"

int mfl_model_install(mfl_learner_t *l, const uint8_t *msg, size_t len, const mfl_es256_public_t *aggregator,
                      uint64_t installed_version, uint64_t *version)
{
    mfl_cose_sign1_t c;
    mfl_model_msg_t m;
    mfl_scale_t scale[MFL_DELTA_MAX_ROWS];
    int32_t bias[MFL_DELTA_MAX_ROWS];
    if (!l || !msg || !aggregator || !version) {
        return MFL_ERR_INVALID_ARG;
    }
    int err = mfl_cose_sign1_decode(msg, len, &c);
    err = err ? err : mfl_cose_sign1_verify(&c, NULL, 0, aggregator);
    err = err ? err : mfl_model_msg_decode(c.payload, c.payload_len, l->head.units, l->head.features, &m);
    if (err) {
        return err;
    }
    if (m.version <= installed_version) {
        return MFL_ERR_PROTO_VALUE;
    }
    if (m.has_backbone) { /* a head trained on another backbone's features would be wrong here */
        uint8_t mine[MFL_BACKBONE_ID_BYTES];
        err = mfl_model_backbone_id(l->model, mine);
        if (err || memcmp(mine, m.backbone, sizeof(mine))) {
            return err ? err : MFL_ERR_PROTO_BACKBONE;
        }
    }
    for (uint16_t r = 0; r < m.head.rows; r++) {
        /* row step = m * 2^(e + s_r) in Q8.24 units = m * 2^(e + s_r - 24) real */
        scale[r] = mfl_scale_from_int(m.head.m ? m.head.m : 1, MFL_HEAD_FRAC - m.head.e - m.head.shift[r]);
        bias[r] = mfl_model_msg_bias(&m, r);
    }
    err = mfl_learner_install_global(l, m.head.values, scale, bias, m.head.rows, m.head.cols);
    if (!err) {
        *version = m.version;
    }
    return err;
}
