/* The backbone identity of a model (see mfl/model_identity.h). */
#include <string.h>

#include "mfl/crypto.h"
#include "mfl/error.h"
#include "mfl/model_identity.h"

typedef struct {
    const uint8_t *from, *to; /* [from, to) is hashed as zeros */
} span_t;

/* Hashes [p, end) with the part inside blank as zeros; returns end. */
static int hash_span(mfl_sha256_t *h, const uint8_t *p, const uint8_t *end, span_t blank)
{
    static const uint8_t zeros[64];
    int err = 0;
    while (!err && p < end) {
        if (p >= blank.from && p < blank.to) {
            const size_t n = (size_t)(blank.to - p) < sizeof(zeros) ? (size_t)(blank.to - p) : sizeof(zeros);
            err = mfl_sha256_update(h, zeros, n);
            p += n;
        } else {
            const uint8_t *stop = p < blank.from && blank.from < end ? blank.from : end;
            err = mfl_sha256_update(h, p, (size_t)(stop - p));
            p = stop;
        }
    }
    return err;
}

int mfl_model_backbone_id(const mfl_model_t *m, uint8_t out[MFL_BACKBONE_ID_BYTES])
{
    if (!m || !out || !m->header || m->header->head_op == MFL_NONE) {
        return MFL_ERR_NO_HEAD;
    }
    const mfl_model_header_t *hd = m->header;
    const mfl_op_rec_t *op = &m->ops[hd->head_op];
    const mfl_tensor_rec_t *w = &m->tensors[op->inputs[1]];
    const mfl_tensor_rec_t *b = op->n_inputs > 2 && op->inputs[2] != MFL_NONE ? &m->tensors[op->inputs[2]] : NULL;
    const uint8_t *d = m->data;
    /* the head's weights, its bias, its operator's requantization words
     * (after the mfl_fc_rec_t) and the head block's weight scales (after
     * its mfl_head_rec_t), sorted by start below */
    span_t blank[4] = {
        {d + w->offset, d + w->offset + w->size},
        {b ? d + b->offset : d, b ? d + b->offset + b->size : d},
        {d + op->params_offset + sizeof(mfl_fc_rec_t), d + op->params_offset + op->params_size},
        {d + hd->head_params_offset + sizeof(mfl_head_rec_t), d + hd->head_params_offset + hd->head_params_size},
    };
    for (int i = 0; i < 4; i++) {
        for (int j = i + 1; j < 4; j++) {
            if (blank[j].from < blank[i].from) {
                const span_t t = blank[i];
                blank[i] = blank[j], blank[j] = t;
            }
        }
    }
    mfl_sha256_t h;
    int err = mfl_sha256_start(&h);
    err = err ? err : mfl_sha256_update(&h, m->tensors, (size_t)hd->n_tensors * sizeof(mfl_tensor_rec_t));
    err = err ? err : mfl_sha256_update(&h, m->ops, (size_t)hd->n_ops * sizeof(mfl_op_rec_t));
    const uint8_t *p = d, *end = d + hd->data_size;
    for (int i = 0; !err && i < 4; i++) {
        if (blank[i].to <= blank[i].from || blank[i].from < p) {
            continue; /* empty, or inside a span already blanked */
        }
        err = hash_span(&h, p, blank[i].to, blank[i]);
        p = blank[i].to;
    }
    err = err ? err : hash_span(&h, p, end, (span_t){end, end});
    return err ? err : mfl_sha256_finish(&h, out);
}
