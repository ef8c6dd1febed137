/*
 * Fixed-point training of a model's head (its last FULLY_CONNECTED layer),
 * integer only, for devices without an FPU. See docs/learning.md for the
 * number formats and the overflow reasoning.
 *
 * The head computes logits z = W x + b on real features
 * x_j = s_x (q_j - zp_x) from the int8 feature vector q. microfl keeps a
 * master copy of W and b in Q8.24 (real = value / 2^24) and trains it with
 * SGD on softmax cross-entropy; the int8 weights, int32 biases and
 * multipliers the inference kernel uses are requantized from the master.
 * Nothing here allocates: every array is the caller's.
 */
#ifndef MFL_HEAD_H
#define MFL_HEAD_H

#include <stddef.h>
#include <stdint.h>

#include "mfl/scale.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MFL_HEAD_FRAC 24 /* master weights and biases: real = value / 2^24 */
#define MFL_HEAD_PROB_FRAC 30 /* probabilities and logit gradients: real = value / 2^30 */
#define MFL_HEAD_MAX_UNITS 256
#define MFL_HEAD_MAX_FEATURES 4096
#define MFL_HEAD_MAX_BATCH 64

typedef struct {
    uint16_t units, features;
    int32_t feature_zp;         /* zero point of the int8 features */
    mfl_scale_t feature_scale;  /* s_x */
    mfl_scale_t output_scale;   /* scale of the int8 logits the kernel produces */
    int32_t act_min, act_max;   /* the head op's fused activation range */
    int32_t output_zp;          /* zero point of those logits */
    int32_t *w;                 /* master weights [units][features], Q8.24 */
    int32_t *b;                 /* master biases [units], Q8.24 */
} mfl_head_t;

/* The int8 form of the head that the FULLY_CONNECTED kernel runs. */
typedef struct {
    int8_t *w;          /* [units][features] */
    int32_t *bias;      /* [units] */
    int32_t *multiplier;/* [units] */
    int32_t *shift;     /* [units] */
    mfl_scale_t *scale; /* [units] weight scales */
} mfl_head_q_t;

/* Master weights and biases from an int8 head (q->w, q->bias, q->scale). */
void mfl_head_from_quantized(mfl_head_t *h, const mfl_head_q_t *q);

/* Logits of one feature vector in Q8.24 (saturated to int32). */
void mfl_head_logits(const mfl_head_t *h, const int8_t *x, int32_t *z);

/* Softmax of `units` Q8.24 logits into Q2.30 probabilities (p may be z). */
void mfl_head_softmax(const int32_t *z, int units, int32_t *p);

/*
 * One SGD step on a batch of `batch` feature vectors x[k] with labels y[k]:
 * W -= lr / batch * sum_k (p_k - onehot(y_k)) x_k^T, b likewise.
 * g: scratch of batch * units int32 (left holding the logit gradients,
 * [unit][sample]). If w0/w0_scale are given (the global
 * head), weights are kept within drift (Q8.24, > 0) of it.
 * Returns 0 or MFL_ERR_INVALID_ARG (label out of range, batch too large).
 */
int mfl_head_sgd_step(mfl_head_t *h, const int8_t *const *x, const uint8_t *y, int batch, mfl_scale_t lr,
                      int32_t *g, const int8_t *w0, const mfl_scale_t *w0_scale, int32_t drift);

/*
 * Requantizes the master into q: per unit, scale = max|W| / 127,
 * w = round(W / scale), bias = round(b / (s_x scale)), multiplier =
 * s_x scale / output_scale. Returns 0, or MFL_ERR_INVALID_ARG if a
 * multiplier falls outside the kernel's shift range (q is then partly
 * written; callers keep a copy or requantize again after more training).
 */
int mfl_head_requantize(const mfl_head_t *h, mfl_head_q_t *q);

#ifdef __cplusplus
}
#endif

#endif /* MFL_HEAD_H */
