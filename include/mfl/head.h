/*
 * Fixed-point training of a model's head (its last FULLY_CONNECTED layer),
 * integer only, for devices without an FPU. See docs/learning.md for the
 * number formats and the overflow reasoning.
 *
 * The head computes logits z = W x + b on real features
 * x_j = s_x (q_j - zp_x) from the int8 feature vector q. microfl keeps a
 * master copy of W and b in Q8.24 (real = value / 2^24) and trains it with
 * SGD, on softmax cross-entropy (classification: mfl_head_sgd_step) or on
 * the mean squared error of the head's output against a target vector
 * (regression and reconstruction: mfl_head_sgd_step_mse); the int8
 * weights, int32 biases and multipliers the inference kernel uses are
 * requantized from the master. Nothing here allocates: every array is the
 * caller's.
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
#define MFL_HEAD_GRAD_FRAC 15 /* probabilities and logit gradients, int16: real = value / 2^15 */
#define MFL_HEAD_MAX_UNITS 256       /* classification: labels are uint8 */
#define MFL_HEAD_MAX_UNITS_MSE 4096  /* regression (mfl_head_sgd_step_mse): RAM is the real limit */
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

/*
 * Softmax of `units` (1..MFL_HEAD_MAX_UNITS) Q8.24 logits into Q0.15
 * probabilities p[units] in [0, 32767]. exp(z_i - max z) is 2^(-u) for
 * u = (max z - z_i) log2(e), from a 65-entry table of 2^(-i/64) with linear
 * interpolation (relative error < 1.5e-5) in Q0.23; anything below 2^-23
 * is 0. p_i = round(2^15 e_i / sum e) within one unit of the exact value.
 * z is left holding the exp values (Q0.23): it is the softmax's scratch.
 */
void mfl_head_softmax(int32_t *z, int units, int16_t *p);

/* Samples per unit in the gradient scratch: batch rounded up to even, so
 * that gradients pair up for the dual 16-bit multiply-add (SMLAD). */
#define MFL_HEAD_GRAD_STRIDE(batch) (((batch) + 1) & ~1)

/*
 * One SGD step on softmax cross-entropy for a batch of `batch` (1..64)
 * int8 feature vectors x[k] (features each) with labels y[k] < units:
 *   W -= lr / batch * sum_k (p_k - onehot(y_k)) (x_k - zp_x)^T s_x,
 *   b -= lr / batch * sum_k (p_k - onehot(y_k)),
 * with the logits z = b + s_x W (x - zp_x) in Q8.24 from a 16-bit copy of
 * each row of W (15 bits relative to the row's largest weight, made at the
 * start of the step), probabilities and gradients in Q0.15
 * (mfl_head_softmax), and each weight's batch sum an int32 of paired
 * 16-bit products (|sum| < 2^15 * 255 * 64 < 2^29). Each change rounds to
 * nearest in Q8.24 (ties up for the usual learning rates, whose step scale
 * is below 2^-1; ties away from zero otherwise); weights and biases
 * saturate.
 * scratch: the caller's, mfl_head_step_scratch_size() bytes, 4-byte
 * aligned; it starts with the logit gradients [unit][sample] in int16
 * Q0.15, MFL_HEAD_GRAD_STRIDE(batch) per unit (a padding sample of an odd
 * batch is 0), which the step leaves there. If w0/w0_scale are given (the global int8
 * head and its row scales), weights are kept within drift (Q8.24, > 0) of
 * it (w0_scale is then required). Returns 0 or MFL_ERR_INVALID_ARG (batch
 * outside 1..MFL_HEAD_MAX_BATCH, units outside 1..MFL_HEAD_MAX_UNITS,
 * features outside 1..MFL_HEAD_MAX_FEATURES, a label out of range, w0
 * without w0_scale), the head then unchanged.
 */
int mfl_head_sgd_step(mfl_head_t *h, const int8_t *const *x, const uint8_t *y, int batch, mfl_scale_t lr,
                      void *scratch, const int8_t *w0, const mfl_scale_t *w0_scale, int32_t drift);

/*
 * As mfl_head_sgd_step, with the softmax of the logits clamped to the
 * head output's range (act_min..act_max on output_scale and output_zp:
 * what the int8 head can give), the gradient passed straight through the
 * clamp (Bengio et al. 2013). Cross-entropy on unclamped logits drives
 * the right class's logit past the output's range and stops pushing the
 * wrong ones down once the right one leads in the master; the int8 head
 * then gives several classes the same saturated code and its argmax is
 * wrong. Clamped, a wrong class tied at the limit keeps half the
 * probability and keeps being pushed down until the int8 head ranks it
 * below. The learner uses this one. Same arguments and errors.
 */
int mfl_head_sgd_step_clamped(mfl_head_t *h, const int8_t *const *x, const uint8_t *y, int batch, mfl_scale_t lr,
                              void *scratch, const int8_t *w0, const mfl_scale_t *w0_scale, int32_t drift);

/* Bytes of scratch mfl_head_sgd_step needs for this head and batch:
 * 2 units MFL_HEAD_GRAD_STRIDE(batch) + 2 (units rounded up to a multiple
 * of 4, plus 1) (features rounded up to a multiple of 4) + 8 units. */
size_t mfl_head_step_scratch_size(uint16_t units, uint16_t features, int batch);

/*
 * One SGD step on the mean squared error of the head's output, for
 * regression and reconstruction heads (an autoencoder's last layer): a
 * batch of `batch` (1..64) int8 feature vectors x[k] (features each) and
 * int8 target vectors t[k] (units each, in the quantization of the head's
 * output: real target T_ki = s_out (t[k][i] - output_zp)). With the real
 * output Y = clamp(z, lo, hi) of the logits z = b + s_x W (x - zp_x) (lo,
 * hi: the head's fused activation range act_min..act_max in real units),
 * the loss of a sample is L = (1/units) sum_i (Y_i - T_i)^2 and the step
 *   W -= lr / batch * sum_k dL/dz_k (x_k - zp_x)^T s_x,
 *   b -= lr / batch * sum_k dL/dz_k,  with dL/dz_ki = 2 (Y_ki - T_ki) / units
 * (standard SGD on the per-value mean squared error an autoencoder trains
 * on; online last-layer learning of an autoencoder on a microcontroller
 * as in TinyOL, Ren et al. IJCNN 2021; the clamp passes the gradient
 * straight through, Bengio et al. 2013, so a unit pushed past the range is
 * pulled back rather than left dead).
 * Formats: z from the 16-bit shadow as in mfl_head_sgd_step, T from the
 * int8 target with one exact scale product, both Q8.24 (saturated: an
 * output scale above 128/255 saturates); the errors D = Y - T (Q8.24,
 * saturated to int32) are stored as int16 with one exponent for the batch
 * (block floating point: g = round(D / 2^sh), sh >= 0 the least that keeps
 * every |g| <= 32767, raised sample by sample with the earlier samples
 * rounded again), so the update's sums and the bias sums have exactly the
 * bounds of mfl_head_sgd_step (|g| <= 2^15) whatever the units; 2 / units
 * and 2^sh go into the step's one scale. Rounding, saturation and the
 * drift limit as in mfl_head_sgd_step.
 * scratch: mfl_head_mse_scratch_size() bytes, 4-byte aligned; it starts
 * with the int16 errors g [unit][sample] (MFL_HEAD_GRAD_STRIDE(batch) per
 * unit, an odd batch's padding sample 0), which the step leaves there, and
 * *grad_shift (if not NULL) gets sh: dL/dz_ki = 2 g_ki 2^(sh - 24) / units.
 * Returns 0 or MFL_ERR_INVALID_ARG (batch outside 1..MFL_HEAD_MAX_BATCH,
 * units outside 1..MFL_HEAD_MAX_UNITS_MSE, features outside
 * 1..MFL_HEAD_MAX_FEATURES, a NULL target, w0 without w0_scale), the head
 * then unchanged.
 */
int mfl_head_sgd_step_mse(mfl_head_t *h, const int8_t *const *x, const int8_t *const *t, int batch, mfl_scale_t lr,
                          void *scratch, const int8_t *w0, const mfl_scale_t *w0_scale, int32_t drift,
                          int *grad_shift);

/* Bytes of scratch mfl_head_sgd_step_mse needs: those of
 * mfl_head_step_scratch_size plus 4 units (one sample's logits). */
size_t mfl_head_mse_scratch_size(uint16_t units, uint16_t features, int batch);

/*
 * Requantizes the master into q: per unit, scale s_w = max|W| / 127,
 * w = round(W / s_w) (ties away from zero), bias = round(b / (s_x s_w)),
 * multiplier = s_x s_w / output_scale. Where that multiplier would fall
 * below the kernel's range (a row near zero: its weights move the output
 * by under 1/32 of an int8 step) or the bias would not fit int32, s_w is
 * raised by the least power of two that fixes both and the weights are
 * quantized on it (a row near zero then gets zero weights and keeps its
 * bias). Returns 0, or MFL_ERR_INVALID_ARG if a multiplier is above the
 * kernel's range (outputs scaled beyond 2^30), q then untouched.
 */
int mfl_head_requantize(const mfl_head_t *h, mfl_head_q_t *q);

#ifdef __cplusplus
}
#endif

#endif /* MFL_HEAD_H */
