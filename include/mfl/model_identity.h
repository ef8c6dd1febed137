/*
 * The identity of a model's backbone: which base model a federated head
 * belongs to. Device and aggregator compute it the same way; the
 * aggregator records it in its store and puts it in every model message
 * (key 10, protocol/microfl.cddl), and mfl_model_install() refuses a head
 * whose message names another backbone (MFL_ERR_PROTO_BACKBONE).
 */
#ifndef MFL_MODEL_IDENTITY_H
#define MFL_MODEL_IDENTITY_H

#include <stdint.h>

#include "mfl/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MFL_BACKBONE_ID_BYTES 32

/*
 * SHA-256 of the model's tensor table, operator table and data section,
 * with the head's own values hashed as zeros: its weights, its bias, its
 * FULLY_CONNECTED requantization words and the head block's per-unit weight
 * scales, which federated rounds change. What remains names every layer
 * before the head, the features' quantization and the head's shape.
 *  model: a loaded model with a trainable head (header->head_op set).
 *  out:   32 bytes.
 * Cost: one SHA-256 pass over the model's data (about as many bytes as
 * the model file). Returns 0, MFL_ERR_NO_HEAD, or the crypto seam's error.
 */
int mfl_model_backbone_id(const mfl_model_t *model, uint8_t out[MFL_BACKBONE_ID_BYTES]);

#ifdef __cplusplus
}
#endif

#endif /* MFL_MODEL_IDENTITY_H */
