/*
 * The global head a federation starts from: the base model's own head,
 * read from the model's records (its FULLY_CONNECTED weights and bias,
 * the per-unit weight scales of the head block) and turned into the
 * learner's Q8.24 master form by the same function devices use
 * (mfl_head_from_quantized), so that version 1 is bit-exact with what each
 * device computes from the same model. No interpreter, arena or learner.
 */
#include <stdlib.h>
#include <string.h>

#include "aggregator.h"
#include "mfl/head.h"

int agg_read_base_head(const mfl_model_t *m, int32_t **global, uint16_t *rows, uint16_t *cols)
{
    const mfl_model_header_t *hd = m->header;
    if (hd->head_op == MFL_NONE) {
        return MFL_ERR_NO_HEAD;
    }
    const mfl_op_rec_t *op = &m->ops[hd->head_op]; /* the loader checked it is FULLY_CONNECTED */
    const mfl_tensor_rec_t *w = &m->tensors[op->inputs[1]];
    const uint32_t units = (uint32_t)w->dims[0], features = (uint32_t)w->dims[1];
    if (w->rank != 2 || units == 0 || units > MFL_DELTA_MAX_ROWS || features == 0 ||
        features > MFL_HEAD_MAX_FEATURES || w->size != units * features) {
        return MFL_ERR_NO_HEAD;
    }
    const mfl_head_rec_t *hr = (const mfl_head_rec_t *)(const void *)(m->data + hd->head_params_offset);
    const int32_t *w_m = (const int32_t *)(const void *)(hr + 1); /* m[units], then e[units] */
    const int has_bias = op->n_inputs > 2 && op->inputs[2] != MFL_NONE;
    int32_t *master_w = malloc((size_t)units * features * 4), *master_b = malloc(units * 4);
    int32_t *bias = calloc(units, 4);
    mfl_scale_t *scale = malloc(units * sizeof(mfl_scale_t));
    int32_t *out = malloc((size_t)units * (features + 1) * 4);
    int err = master_w && master_b && bias && scale && out ? 0 : MFL_ERR_NO_MEMORY;
    if (!err) {
        if (has_bias) {
            memcpy(bias, m->data + m->tensors[op->inputs[2]].offset, units * 4);
        }
        for (uint32_t i = 0; i < units; i++) {
            scale[i] = (mfl_scale_t){w_m[i], w_m[units + i]};
        }
        mfl_head_t h = {.units = (uint16_t)units, .features = (uint16_t)features,
                        .feature_scale = {hr->feature_scale_m, hr->feature_scale_e}, .w = master_w, .b = master_b};
        const mfl_head_q_t q = {.w = (int8_t *)(uintptr_t)(m->data + w->offset), .bias = bias, .scale = scale};
        mfl_head_from_quantized(&h, &q);
        for (uint32_t r = 0; r < units; r++) { /* rows of [weights..., bias] */
            memcpy(out + (size_t)r * (features + 1), master_w + (size_t)r * features, features * 4);
            out[(size_t)r * (features + 1) + features] = master_b[r];
        }
        *global = out;
        *rows = (uint16_t)units;
        *cols = (uint16_t)(features + 1);
        out = NULL;
    }
    free(master_w), free(master_b), free(bias), free(scale), free(out);
    return err;
}
