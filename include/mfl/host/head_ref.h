/*
 * Float32 reference of the head trainer (host only): the same SGD on the
 * same features with the same hyper-parameters, init and sample order as
 * mfl_head_sgd_step, in plain float. Tests hold the fixed-point learner to it.
 */
#ifndef MFL_HEAD_REF_H
#define MFL_HEAD_REF_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int units, features;
    float feature_scale;
    int32_t feature_zp;
    float *w; /* [units][features], caller's */
    float *b; /* [units], caller's */
} mfl_head_ref_t;

/* W = q * scale[i], b = bias * s_x * scale[i]. */
void mfl_head_ref_from_quantized(mfl_head_ref_t *h, const int8_t *q, const int32_t *bias, const double *scale);

void mfl_head_ref_logits(const mfl_head_ref_t *h, const int8_t *x, float *z);

/* One SGD step on softmax cross-entropy, batch-averaged. */
void mfl_head_ref_step(mfl_head_ref_t *h, const int8_t *const *x, const uint8_t *y, int batch, float lr);

int mfl_head_ref_predict(const mfl_head_ref_t *h, const int8_t *x);

#ifdef __cplusplus
}
#endif

#endif /* MFL_HEAD_REF_H */
