/*
 * The device learner: runs a model whose head keeps learning on the
 * device's own labelled data, with no malloc and no floating point.
 *
 *   mfl_learner_t l;
 *   static uint8_t arena[...], mem[...];  // sizes: mfl_model_arena_size(),
 *                                          // mfl_learner_mem_size()
 *   mfl_learner_init(&l, &model, arena, sizeof arena, mem, sizeof mem, 256, NULL);
 *   mfl_learner_predict(&l, image, len, &label);
 *   mfl_learner_learn(&l, image, len, true_label);  // adapt
 *   mfl_learner_reset(&l);                          // back to the global head
 *
 * Regression and reconstruction models (an autoencoder, whose last
 * FULLY_CONNECTED reproduces its input) learn from a target vector
 * instead of a label (opts.loss = MFL_LOSS_MSE):
 *
 *   o.loss = MFL_LOSS_MSE;  // mem: mfl_learner_mem_size_for(&model, 16, &o)
 *   mfl_learner_init(&l, &model, arena, sizeof arena, mem, sizeof mem, 16, &o);
 *   mfl_learner_target_from_input(&l, frame, len, target); // autoencoder: target = input
 *   mfl_learner_learn_target(&l, frame, len, target);
 *
 * The head is the model's last FULLY_CONNECTED, whatever follows it: a
 * SOFTMAX, a DEQUANTIZE taken off at the import (the output stays int8
 * on the device), or nothing; the ops after it run as the model says.
 * The backbone (every op before the head) runs from the model in flash;
 * the head runs from the learner's RAM copy, which starts equal to the
 * model's (bit-exact) and is requantized from a Q8.24 master before the
 * first inference after learning. The difference master - global is the
 * update a device sends.
 */
#ifndef MFL_LEARNER_H
#define MFL_LEARNER_H

#include <stddef.h>
#include <stdint.h>

#include "mfl/head.h"
#include "mfl/interpreter.h"
#include "mfl/replay.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the head learns to minimise. */
typedef enum {
    MFL_LOSS_CROSS_ENTROPY = 0, /* softmax cross-entropy of the head's logits on a uint8 class label
                                 * (classification; heads of 1..MFL_HEAD_MAX_UNITS units) */
    MFL_LOSS_MSE = 1,           /* mean squared error of the head's output against a target vector, in
                                 * real units (regression, an autoencoder's reconstruction; heads of
                                 * 1..MFL_HEAD_MAX_UNITS_MSE units): mfl_head_sgd_step_mse */
} mfl_learn_loss_t;

typedef struct {
    mfl_scale_t lr;        /* learning rate, as an integer scale (mfl_scale_from_int(655, 16) = 0.01);
                            * this and the two below: m normalised (mfl/scale.h) or 0 where allowed,
                            * exponent within +-100 (rates 2^-131 to 2^69) */
    uint16_t batch;        /* samples per SGD step: the new one plus batch - 1 replayed, 1..64 */
    uint16_t steps;        /* SGD steps per mfl_learner_learn() call, >= 1 */
    uint8_t balanced;      /* class-balanced replay buffer (else reservoir sampling) */
    int32_t drift_max;     /* max |W - W_global| per weight in Q8.24 real units; 0 = unlimited */
    uint32_t seed;         /* replay sampling */
    mfl_scale_t bias_lr;   /* learning rate of the feature layer's biases (bias-only fine-tuning,
                            * TinyTL); m = 0: that layer stays as in the model. Cross-entropy only */
    uint8_t loss;          /* mfl_learn_loss_t */
    mfl_scale_t weight_lr; /* learning rate of the feature layer's weights, per input code (see
                            * mfl_weight_tune_t); m = 0: they stay as in the model. Cross-entropy only;
                            * needs weight_tuning */
    const struct mfl_weight_tuning *weight_tuning; /* &mfl_weight_tuning to tune the weights (linking it
                                                    * into the firmware), or NULL */
} mfl_learn_opts_t;

/* lr 0.02, batch 8, 1 step, balanced buffer, no drift limit, feature
 * layer frozen, cross-entropy. */
mfl_learn_opts_t mfl_learn_defaults(void);

/*
 * Bias-only fine-tuning of the feature layer: the FULLY_CONNECTED op whose
 * output is the head's input (Cai et al., "TinyTL: Reduce Memory, Not
 * Parameters for Efficient On-Device Learning", NeurIPS 2020, restricted to
 * the one layer below the head). Its weights stay in flash; each output
 * feature j gets a learned change delta[j] of its bias, in real units, and
 * the layer's int32 accumulators (sum_i (x_i - zp_in) w_ji, before the
 * bias) are kept for every replayed sample instead of its int8 features,
 * so that a replayed sample's features follow the biases as they learn.
 * The biases stay on the device (personal, as batch-norm parameters do in
 * FedBN, Li et al. ICLR 2021): updates carry the head only.
 */
typedef struct {
    uint16_t op;          /* the feature layer's op index */
    uint16_t inputs;      /* its input length */
    uint16_t features;    /* its output length (the head's features) */
    int32_t input_offset; /* minus its input zero point */
    int32_t output_zp, act_min, act_max;
    const int8_t *w;             /* its weights [features][inputs], in the model */
    const int32_t *mult, *shift; /* its requantization, per feature or one for all */
    uint8_t per_channel;
    mfl_scale_t *to_acc; /* [features]: Q8.24 real -> accumulator units, 2^-24 / (s_in s_wj) */
    int32_t *bias0;      /* [features] the model's int32 biases */
    int32_t *delta;      /* [features] the learned change, Q8.24 real units */
    int32_t *bias;       /* [features] bias0 + delta in accumulator units: what features use */
    int32_t *acc;        /* [features] the last input's accumulators */
    int8_t *x;           /* [batch][features] a batch's features; row 0: the last input's */
} mfl_bias_tune_t;

/*
 * Fine-tuning of the feature layer's weights (opts.weight_lr set): the
 * dense layer below the head learns all its weights, as the float
 * reference MFL_TRAIN_DENSE of mfl/host/train.h does, with the head's
 * logit gradients carried one layer down (a feature's gradient is the sum
 * over units of the logit gradient times the head's master weight, 0
 * where the feature's code is clamped), and each weight's gradient that
 * times its input code x_i - zp, summed over the batch. The rule is SGD on
 * V_ji = s_in s_wj w_ji, the real weight per input code, which needs no
 * input scale (the model records none): SGD on the real weights with rate
 * r is weight_lr = r s_in^2. The weights stay on the device, as the tuned
 * biases do (updates carry the head only; Liang et al., "Think Locally,
 * Act Globally: Federated Learning with Local and Global Representations",
 * 2020, keep the representation local in the same way).
 * Memory, for a layer of I inputs and F features: the int8 weights the
 * FULLY_CONNECTED kernel runs (I F bytes), their int16 master in 1/256 of
 * a code (2 I F), a step's gradients and inputs in int16 (2 B (F + I),
 * B the batch rounded up to even); each replayed sample is the layer's I
 * input bytes.
 */
typedef struct {
    const int8_t *w_model; /* [features][inputs] the model's weights, in flash */
    int8_t *w;             /* [features][inputs] the int8 weights the layer runs: round(master / 256) */
    int16_t *master;       /* [features][inputs] the learned weights, in 1/256 of a weight code, within
                            * half a code of [-127, 127] */
    int16_t *gx;           /* [features][batch rounded up to even] a step's feature gradients, block
                            * floating point (one shift for the step), 0 in the pad */
    int16_t *xs;           /* [inputs][batch rounded up to even] a step's input codes minus the zero point */
} mfl_weight_tune_t;

/* The weight tuning's code, which a firmware links only when it names
 * mfl_weight_tuning (about 1.8 KB of Cortex-M4 flash), as operators are
 * linked only when registered (mfl/op_resolver.h). Internal entries. */
typedef struct mfl_weight_tuning {
    size_t (*bytes)(uint16_t inputs, uint16_t features, uint16_t batch);
    void (*bind)(mfl_weight_tune_t *wt, mfl_bias_tune_t *bt, uint16_t batch, void *mem);
    void (*step)(mfl_weight_tune_t *wt, const mfl_bias_tune_t *bt, const mfl_head_t *h, const int16_t *g,
                 const int8_t *const *in, int batch, mfl_scale_t lr);
    void (*reset)(mfl_weight_tune_t *wt, uint16_t inputs, uint16_t features);
} mfl_weight_tuning_t;

extern const mfl_weight_tuning_t mfl_weight_tuning;

/* The heads a learner can predict with (do no harm: FedRep / Ditto-style
 * personalisation keeps the device's own head next to the global one, and
 * a device uses whichever serves it best). */
typedef enum {
    MFL_HEAD_SHIPPED = 0, /* the model's own head, from flash, exactly as shipped */
    MFL_HEAD_GLOBAL = 1,  /* the global head it learns from: the model's, or the last one installed */
    MFL_HEAD_OWN = 2,     /* the learner's head: the global one and what the device learned since */
} mfl_head_choice_t;

typedef struct {
    mfl_interp_t interp;
    const mfl_model_t *model;
    uint16_t head_op;
    mfl_head_t head;       /* master copy */
    mfl_head_q_t q;        /* int8 copy the kernel runs */
    const int8_t *w0;      /* global head weights: in the model, or w0_ram once installed */
    mfl_scale_t *w0_scale; /* their per-unit scales */
    int32_t *b0;           /* global biases, Q8.24 */
    int8_t *w0_ram;        /* an installed global head's weights */
    int global_installed;  /* 0: the model's own head; 1: installed from a model message */
    void *g;               /* the SGD step's scratch (mfl_head_step_scratch_size) */
    int int8_stale;        /* the master has learned since q was requantized */
    mfl_replay_t replay;
    mfl_learn_opts_t opts;
    uint32_t rng;
    uint32_t updates; /* SGD steps since the global head */
    uint32_t samples; /* distinct samples the head learned from since the global head: the new
                       * ones, or the whole replay buffer once trained on (an update's weight) */
    int tune;         /* opts.bias_lr or weight_lr set: bt is bound, the replay holds
                       * accumulators (biases only) or the feature layer's inputs (weights) */
    mfl_bias_tune_t bt;
    int tune_weights; /* opts.weight_lr set: wt is bound, bt's layer runs wt.w */
    mfl_weight_tune_t wt;
    mfl_head_choice_t use; /* the head mfl_learner_infer and mfl_learner_predict run (default OWN) */
} mfl_learner_t;

/* Bytes of learner memory for this model, a replay buffer of
 * replay_capacity vectors and batches of up to `batch`, with the feature
 * layer frozen and cross-entropy (mfl_learner_mem_size_for with the
 * defaults and that batch). 0 if the learner cannot take the model (no
 * head, more than one input, more than MFL_HEAD_MAX_UNITS units). */
size_t mfl_learner_mem_size(const mfl_model_t *model, uint16_t replay_capacity, uint16_t batch);

/*
 * Bytes of learner memory for this model with these options (NULL: the
 * defaults) and a replay buffer of replay_capacity entries: what
 * mfl_learner_init needs, for any loss. 0 if the learner cannot take the
 * model with them (as mfl_learner_init's errors other than the arena's).
 * For a head of U units and F features (docs/learning.md, "Memory"):
 * 8 bytes per weight U F (Q8.24 master, int8 copy, installed global head,
 * the step's int16 shadow, rows padded to a multiple of 4), 44 per unit,
 * the step's gradients 2 U (batch rounded up to even), one row of feature
 * offsets; MFL_LOSS_MSE adds 4 U (one sample's logits), and each replay
 * entry holds F + U + 1 bytes (features, target, an unused label) instead
 * of F + 1. The AD autoencoder's 640 x 128 head, batch 8, 16 entries:
 * see docs/learning.md.
 */
size_t mfl_learner_mem_size_for(const mfl_model_t *model, uint16_t replay_capacity,
                                const mfl_learn_opts_t *opts);

/* As mfl_learner_mem_size for a learner that also tunes the feature
 * layer's biases (opts.bias_lr set): each replayed sample takes 4 bytes
 * per feature instead of 1, plus 16 bytes per feature and `batch` feature
 * vectors. 0 if the model has no head or its feature layer cannot be
 * tuned (see mfl_learner_init). */
size_t mfl_learner_mem_size_tuned(const mfl_model_t *model, uint16_t replay_capacity, uint16_t batch);

/*
 * Binds a loaded model with a trainable head to an arena (for activations)
 * and mem (for the head and the replay buffer), both the caller's and used
 * until the learner is dropped; mem must be 8-byte aligned and at least
 * mfl_learner_mem_size_for(model, replay_capacity, opts) bytes. opts NULL
 * means defaults.
 * With opts->bias_lr set, the op before the head must be a FULLY_CONNECTED
 * whose output is the head's input and is read by the head only, with at
 * most 4096 inputs; mem is then mfl_learner_mem_size_tuned() bytes.
 * With opts->loss = MFL_LOSS_MSE the head may have up to
 * MFL_HEAD_MAX_UNITS_MSE units and learns from targets only
 * (mfl_learner_learn_target*); bias tuning is not available then.
 * Returns 0, MFL_ERR_NO_HEAD, MFL_ERR_ARENA_TOO_SMALL, MFL_ERR_BUFFER_TOO_SMALL
 * (mem), MFL_ERR_LEARN_CONFIG (options out of range, an unknown loss,
 * bias or weight tuning with MFL_LOSS_MSE, weight_lr without
 * weight_tuning, a head wider than the loss allows, a
 * feature layer that cannot be tuned, or a model with more than one
 * input: the learner feeds one) or MFL_ERR_INVALID_ARG (NULL l, model or
 * mem; mem not 8-byte aligned).
 */
int mfl_learner_init(mfl_learner_t *l, const mfl_model_t *model, void *arena, size_t arena_size, void *mem,
                     size_t mem_size, uint16_t replay_capacity, const mfl_learn_opts_t *opts);

/* Runs the whole model with the learner's head; *output is the model's
 * output tensor (in the arena). input: the model's int8 input bytes.
 * After learning, the int8 head is first requantized from the master.
 * Returns 0, MFL_ERR_INVALID_ARG (input length, or a learned head whose
 * requantization multiplier left the kernel's range: the previous int8
 * head is kept) or an interpreter error. */
int mfl_learner_infer(mfl_learner_t *l, const int8_t *input, size_t len, const int8_t **output,
                      size_t *out_len);

/* The class with the largest head output (logit) for an input; errors as
 * mfl_learner_infer. (On a regression head: the unit with the largest
 * output, which means nothing in particular.) */
int mfl_learner_predict(mfl_learner_t *l, const int8_t *input, size_t len, int *label);

/* The class the learner's int8 head gives a feature vector (from
 * mfl_learner_features), without the arena: the same logits as
 * mfl_learner_predict, for callers that keep features instead of inputs.
 * Returns 0, MFL_ERR_INVALID_ARG (as mfl_learner_infer) or
 * MFL_ERR_LEARN_CONFIG (a head of more than MFL_HEAD_MAX_UNITS units). */
int mfl_learner_predict_features(mfl_learner_t *l, const int8_t *features, int *label);

/* The learner's own head's int8 outputs for a feature vector (features:
 * head.features bytes in the head input's quantization; out: head.units
 * bytes, the caller's, in the head output's quantization): the bytes
 * mfl_learner_infer writes to the head's output tensor before the ops
 * after the head (a SOFTMAX, say) run. For regression heads of any width:
 * a device scores a frame (reconstruction error) with it. Returns 0 or
 * MFL_ERR_INVALID_ARG (NULL pointers, or as mfl_learner_infer). */
int mfl_learner_head_output(mfl_learner_t *l, const int8_t *features, int8_t *out);

/* An autoencoder's target for an input: the model's int8 input codes
 * (len bytes, the model's input 0) requantized into the head output's
 * quantization, t_i = round(s_in / s_out (x_i - zp_in)) + zp_out held to
 * [-128, 127] (integer only), into target (len bytes, the caller's; it
 * may be input itself). Needs len = head units = the input's elements and
 * an input scale recorded in the model (format 3). Returns 0 or
 * MFL_ERR_INVALID_ARG (NULL pointers, another length, an int16 input, no
 * input scale). */
int mfl_learner_target_from_input(const mfl_learner_t *l, const int8_t *input, size_t len, int8_t *target);

/* Requantizes the int8 head from the master now if it has learned since
 * (the next inference would): to pay that cost at a chosen time, or before
 * threads share the learner for mfl_learner_predict_features, which then
 * only reads it. Returns 0 or MFL_ERR_INVALID_ARG (as mfl_learner_infer). */
int mfl_learner_requantize(mfl_learner_t *l);

/* Runs the backbone only; *features points at the int8 feature vector
 * (with tuned biases: computed with them, in the learner's memory, valid
 * until the next call on the learner). */
int mfl_learner_features(mfl_learner_t *l, const int8_t *input, size_t len, const int8_t **features);

/* Tuning learners: runs the backbone up to the feature layer and gives
 * that layer's int32 accumulators for the input (*acc: features values, in
 * the learner's memory, valid until the next call), which
 * mfl_learner_learn_acc and mfl_learner_features_from_acc take: callers
 * that keep samples keep these. Returns 0, MFL_ERR_LEARN_CONFIG (not a
 * tuning learner), MFL_ERR_INVALID_ARG or an interpreter error. */
int mfl_learner_feature_acc(mfl_learner_t *l, const int8_t *input, size_t len, const int32_t **acc);

/* Tuning learners: the int8 features (features bytes into out) that the
 * feature layer gives for these accumulators with the learner's current
 * biases. Returns 0, MFL_ERR_LEARN_CONFIG or MFL_ERR_INVALID_ARG. */
int mfl_learner_features_from_acc(const mfl_learner_t *l, const int32_t *acc, int8_t *out);

/* Weight-tuning learners (opts.weight_lr set): runs the backbone up to
 * the feature layer and gives that layer's int8 input (*in: *len bytes,
 * in the arena, valid until the next call on the learner), which
 * mfl_learner_learn_layer_input and mfl_learner_features_from_layer_input
 * take: callers that keep samples keep these. Returns 0,
 * MFL_ERR_LEARN_CONFIG (weights not tuned), MFL_ERR_INVALID_ARG or an
 * interpreter error. */
int mfl_learner_layer_input(mfl_learner_t *l, const int8_t *input, size_t len, const int8_t **in,
                            size_t *in_len);

/* Weight-tuning learners: the int8 features (features bytes into out) the
 * feature layer gives this input (bt.inputs bytes) with its current
 * weights and biases. Returns 0, MFL_ERR_LEARN_CONFIG or
 * MFL_ERR_INVALID_ARG. */
int mfl_learner_features_from_layer_input(mfl_learner_t *l, const int8_t *in, int8_t *out);

/*
 * Weight-tuning learners: the feature layer's learned parameters as one
 * features x (inputs + 1) int32 tensor, the form in which devices would
 * exchange them (as the head's rows are weights then bias, Q8.24): row j
 * holds feature j's weights w_ji in 2^-MFL_LAYER_WEIGHT_FRAC of the int8
 * weight code (the master's 1/256 of a code, times 256: the model's own
 * code c reads c * 65536), then its bias's learned change in Q8.24 real
 * units (mfl_bias_tune_t.delta; 0 until biases are tuned). The tensor
 * holds no scale: every device of a model shares the layer's per-feature
 * weight scales, which stay the model's.
 */
#define MFL_LAYER_WEIGHT_FRAC 16

/* Reads that tensor into out (n values: features * (inputs + 1), the
 * caller's). Returns 0, MFL_ERR_LEARN_CONFIG (weights not tuned),
 * MFL_ERR_PROTO_DIMENSION (n is not the tensor's size) or
 * MFL_ERR_INVALID_ARG; on an error out is untouched. */
int mfl_learner_layer_read(const mfl_learner_t *l, int32_t *out, size_t n);

/* Sets the layer from such a tensor (n values, read only): each weight is
 * rounded to the master's 1/256 of a code (half away from zero) and held
 * to its range (within half a code of [-127, 127]), and the int8 weights
 * the layer runs follow; each bias change is taken as it is, the layer's
 * int32 bias saturating. The head, the replay buffer and the sample count
 * are untouched (a replayed sample's features follow the new layer);
 * mfl_learner_reset_bias still goes back to the model's layer. Returns 0,
 * MFL_ERR_LEARN_CONFIG, MFL_ERR_PROTO_DIMENSION or MFL_ERR_INVALID_ARG,
 * and then changes nothing. */
int mfl_learner_layer_install(mfl_learner_t *l, const int32_t *layer, size_t n);

/* Weight-tuning learners: as mfl_learner_learn, from the feature layer's
 * input (mfl_learner_layer_input). Each SGD step trains the head, then
 * the layer's biases (if bias_lr is set) and then its weights, all from
 * the gradients of the same forward pass. Returns 0, MFL_ERR_LABEL,
 * MFL_ERR_LEARN_CONFIG (weights not tuned) or MFL_ERR_INVALID_ARG. */
int mfl_learner_learn_layer_input(mfl_learner_t *l, const int8_t *in, uint8_t label);

/* Learns one labelled input: computes its features, adds them to the
 * replay buffer, runs opts.steps SGD steps (each on the new sample and
 * batch - 1 replayed ones); the int8 head is requantized before the next
 * inference.
 * Returns 0, MFL_ERR_LABEL (label >= units), MFL_ERR_LEARN_CONFIG (a
 * regression learner: mfl_learner_learn_target), MFL_ERR_INVALID_ARG or
 * an interpreter error. */
int mfl_learner_learn(mfl_learner_t *l, const int8_t *input, size_t len, uint8_t label);

/* As mfl_learner_learn, from a feature vector (units = head input size).
 * MFL_ERR_LEARN_CONFIG on a tuning learner (its replay holds accumulators:
 * use mfl_learner_learn_acc) or a regression learner. */
int mfl_learner_learn_features(mfl_learner_t *l, const int8_t *features, uint8_t label);

/*
 * Regression learners (opts.loss = MFL_LOSS_MSE): learns one input with
 * its target, the head output it should have given: target is head.units
 * int8 values in the head output's quantization (real T = s_out (t -
 * zp_out)); an autoencoder's is its own input, made with
 * mfl_learner_target_from_input. Computes the input's features, runs
 * opts.steps SGD steps on the mean squared error (mfl_head_sgd_step_mse:
 * the new sample and batch - 1 replayed ones), then stores features and
 * target as one replay entry (F + U + 1 bytes). target stays the
 * caller's and is read before the call returns; it must not lie in the
 * learner's arena (the backbone's activations would overwrite it).
 * Returns 0, MFL_ERR_LEARN_CONFIG (not a regression learner),
 * MFL_ERR_INVALID_ARG (NULL pointers, input length, a target in the
 * arena) or an interpreter error.
 */
int mfl_learner_learn_target(mfl_learner_t *l, const int8_t *input, size_t len, const int8_t *target);

/* As mfl_learner_learn_target, from a feature vector (head.features
 * bytes, from mfl_learner_features or kept by the caller). Returns 0,
 * MFL_ERR_LEARN_CONFIG (not a regression learner) or MFL_ERR_INVALID_ARG
 * (NULL pointers). */
int mfl_learner_learn_features_target(mfl_learner_t *l, const int8_t *features, const int8_t *target);

/* Tuning learners: as mfl_learner_learn, from the feature layer's
 * accumulators (mfl_learner_feature_acc). Each SGD step trains the head
 * and then the feature layer's biases: the gradient of each bias is that
 * of its feature (sum over units of the logit gradient times the head's
 * weight, its weights after the step) where the feature's code lies
 * strictly inside the layer's activation range, else 0. Returns 0,
 * MFL_ERR_LABEL, MFL_ERR_LEARN_CONFIG (not a tuning learner) or
 * MFL_ERR_INVALID_ARG. */
int mfl_learner_learn_acc(mfl_learner_t *l, const int32_t *acc, uint8_t label);

/* `epochs` passes over the replay buffer in random batches; the head has
 * then learned from every sample in the buffer (samples >= replay.count). */
int mfl_learner_train_buffer(mfl_learner_t *l, uint16_t epochs);

/* The class head `which` gives a feature vector (as
 * mfl_learner_predict_features for MFL_HEAD_OWN). The global head is the
 * model's own until a head is installed, then the installed int8 weights
 * on their row scales, each row's bias and multiplier derived as it runs
 * (no memory kept for them). Returns 0, MFL_ERR_INVALID_ARG (as
 * mfl_learner_predict_features; for MFL_HEAD_GLOBAL also an installed row
 * whose multiplier or bias leaves the kernel's range). */
int mfl_learner_predict_features_with(mfl_learner_t *l, mfl_head_choice_t which, const int8_t *features,
                                      int *label);

/*
 * Do no harm: counts, for each of the three heads, how many of n held-out
 * labelled feature vectors (features: n x head features, row-major;
 * labels[n]) it classifies right (correct[3], by mfl_head_choice_t, may be
 * NULL) and gives in *chosen the one to use: the shipped head unless the
 * global one is right strictly more often, and the device's own only if it
 * is right strictly more often than both; with n = 0, the shipped head.
 * Held-out samples must not be learned from (mfl_learner_learn*), or the
 * own head's count flatters it. Returns 0 or MFL_ERR_INVALID_ARG (as
 * mfl_learner_predict_features_with, or a label out of range).
 */
int mfl_learner_choose_head(mfl_learner_t *l, const int8_t *features, const uint8_t *labels, uint16_t n,
                            mfl_head_choice_t *chosen, uint16_t *correct);

/* The head mfl_learner_infer and mfl_learner_predict run from now on
 * (MFL_HEAD_OWN after init). Learning always trains the own head. Returns
 * 0 or MFL_ERR_INVALID_ARG. */
int mfl_learner_use_head(mfl_learner_t *l, mfl_head_choice_t which);

/* Back to the model's (global) head; the replay buffer and the tuned
 * feature-layer biases and weights (the device's own) are kept. */
int mfl_learner_reset(mfl_learner_t *l);

/* Back to the model's own feature-layer biases and weights (nothing for a
 * learner that does not tune them). Returns 0 or MFL_ERR_INVALID_ARG. */
int mfl_learner_reset_bias(mfl_learner_t *l);

/*
 * Installs a new global head from a verified model message (the caller has
 * checked its signature and that its version is newer): the learner's head
 * and its reference for deltas become the message's head. The replay
 * buffer is kept. Returns 0 or MFL_ERR_PROTO_DIMENSION (another head shape).
 */
int mfl_learner_install_global(mfl_learner_t *l, const int8_t *weights, const mfl_scale_t *row_scale,
                               const int32_t *bias_q24, uint16_t units, uint16_t features);

/* The head's change since the global head for one unit: delta[j] for its
 * weights (j < features) and delta[features] for its bias, Q8.24. */
int mfl_learner_delta(const mfl_learner_t *l, uint16_t unit, int32_t *delta);

#ifdef __cplusplus
}
#endif

#endif /* MFL_LEARNER_H */
