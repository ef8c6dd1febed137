/*
 * Label-free recalibration of a convolution's per-channel statistics on the
 * device: the int8, integer-only form of batch-norm statistics adaptation
 * (AdaBN: Li et al., "Revisiting Batch Normalization For Practical Domain
 * Adaptation", 2017; Schneider et al., "Improving robustness against
 * common corruptions by covariate shift adaptation", NeurIPS 2020).
 *
 * A model made on one sensor's data meets shifted inputs on a device (a
 * darker, lower-contrast or noisier camera). Batch normalisation is folded
 * into the weights of an int8 model, so its statistics cannot be swapped;
 * instead, for one CONV_2D or DEPTHWISE_CONV_2D operator (normally the
 * first), the device measures the mean and standard deviation of each
 * output channel's accumulator over its own unlabelled inputs, compares
 * them with the same figures measured on the data the model was made from
 * (the reference, computed with these functions when the model is made and
 * shipped beside it), and rescales that operator's per-channel
 * requantization and bias so that every channel's pre-activation has the
 * reference mean and spread again:
 *
 *     acc' = a_c (acc - mean_dev) + mean_ref,  a_c = std_ref / std_dev
 *     multiplier' = multiplier x a_c,  bias' = (mean_ref + bias) / a_c - mean_dev
 *
 * (acc = sum of weight x (input - input zero point), bias excluded), with
 * a_c clamped to [1/8, 8] so that a channel with almost no spread on the
 * device (or in the reference) cannot blow up. The result runs through the
 * interpreter's requantization override (mfl_interp_set_override); the
 * model image, in flash, is never written. Later layers see inputs
 * distributed as at home, and a head learned on recalibrated features
 * transfers between devices whose sensors differ.
 *
 * Integer only, no allocation: the caller owns every array. Two ways to
 * gather the statistics, chosen by the operator's shape:
 *  - patch moments, for a CONV_2D of at most MFL_RECAL_MAX_PATCH taps
 *    (KH x KW x input channels: a first layer on grey or RGB pixels): the
 *    sums of every input patch and of its outer product (taps + taps x
 *    (taps + 1) / 2 int64s); each channel's moments follow exactly as
 *    w.S1 and w'S2w. Per output position that costs taps x (taps + 3) / 2
 *    multiply-accumulates whatever the channel count (54 for 3x3 grey
 *    against 144 for the 16 channels' accumulators);
 *  - accumulators, otherwise: every channel's accumulator at every
 *    position, summed with its square (two int64s per channel); the
 *    squares are shifted right by `sq_shift` bits where needed to fit.
 * Both hold MFL_RECAL_MAX_POSITIONS positions.
 */
#ifndef MFL_RECALIBRATE_H
#define MFL_RECALIBRATE_H

#include <stddef.h>
#include <stdint.h>

#include "mfl/interpreter.h"
#include "mfl/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Output positions (per channel) the statistics can hold: 2^23, e.g.
 * 10,700 inputs of 28 x 28 positions. */
#define MFL_RECAL_MAX_POSITIONS (1u << 23)
/* Largest patch (taps) gathered as patch moments: 3 x 3 x 3. */
#define MFL_RECAL_MAX_PATCH 27

/* A channel's accumulator distribution. */
typedef struct {
    int32_t mean;   /* accumulator units (input scale x weight scale), rounded */
    uint32_t std16; /* standard deviation x 16 (4 fractional bits), rounded */
} mfl_recal_moment_t;

/* Running sums over observed inputs for one operator; the arrays are the
 * caller's (mfl_recal_stats_init places them in `mem`). */
typedef struct {
    const mfl_model_t *model;
    uint16_t op;         /* the CONV_2D or DEPTHWISE_CONV_2D operator measured */
    uint16_t channels;   /* its output channels */
    uint16_t patch;      /* taps of a patch gathered as patch moments, or 0: accumulators */
    uint8_t sq_shift;    /* accumulators: squares are summed >> sq_shift */
    uint32_t positions;  /* output positions observed, per channel */
    int64_t *sum;        /* patch: [patch] sums of each tap; accumulators: [channels] sums */
    int64_t *sum_sq;     /* patch: [patch (patch + 1) / 2] sums of tap products, upper triangle
                          * row by row; accumulators: [channels] sums of squares >> sq_shift */
    int32_t *chunk;      /* patch: one input's sums before they join sum and sum_sq */
} mfl_recal_stats_t;

/* Bytes of `mem` mfl_recal_stats_init needs for operator `op`: patch
 * moments 12 x (taps + taps (taps + 1) / 2) (648 for 3 x 3 grey),
 * accumulators 16 per output channel; 0 when op is not a CONV_2D or
 * DEPTHWISE_CONV_2D. */
size_t mfl_recal_stats_mem_size(const mfl_model_t *model, uint16_t op);

/* Empty statistics for operator `op` of a loaded model. mem (8-byte
 * aligned, mem_size bytes) holds the sums and must outlive *s. Returns 0,
 * MFL_ERR_INVALID_ARG (NULL, op out of range), MFL_ERR_UNSUPPORTED_OP (op
 * is not an int8 CONV_2D or DEPTHWISE_CONV_2D: 16x8 ones are not
 * recalibrated) or MFL_ERR_BUFFER_TOO_SMALL. */
int mfl_recal_stats_init(mfl_recal_stats_t *s, const mfl_model_t *model, uint16_t op, void *mem, size_t mem_size);

/* Adds one input: runs operators [0, op) of `it` (bound to the same model;
 * write the input with mfl_interp_input first) and accumulates operator
 * op's accumulators at every output position. Costs the operators before
 * op plus one pass of op's multiply-accumulates. Returns 0,
 * MFL_ERR_INVALID_ARG (NULL, another model) or MFL_ERR_RECAL_STATS (the
 * statistics already hold MFL_RECAL_MAX_POSITIONS positions: nothing is
 * added). */
int mfl_recal_observe(mfl_recal_stats_t *s, mfl_interp_t *it);

/* Each channel's mean and standard deviation (out: [channels]). Returns 0,
 * MFL_ERR_INVALID_ARG or MFL_ERR_RECAL_STATS (nothing observed). */
int mfl_recal_moments(const mfl_recal_stats_t *s, mfl_recal_moment_t *out);

/*
 * The recalibrated requantization of operator `op` of a loaded model:
 * given the reference moments (the model's data) and the device's (both
 * [channels]), writes bias, multiplier and shift ([channels] each, the
 * caller's) and fills *ovr to point at them, ready for
 * mfl_interp_set_override. Returns 0, MFL_ERR_INVALID_ARG (NULL, op not a
 * CONV_2D/DEPTHWISE_CONV_2D of the model) or MFL_ERR_RECAL_RANGE (a
 * channel's new bias or shift falls outside int32 or the kernels' shift
 * range; nothing is usable then, keep the model's own requantization).
 */
int mfl_recal_compute(const mfl_model_t *model, uint16_t op, const mfl_recal_moment_t *reference,
                      const mfl_recal_moment_t *device, int32_t *bias, int32_t *multiplier, int32_t *shift,
                      mfl_requant_override_t *ovr);

#ifdef __cplusplus
}
#endif

#endif /* MFL_RECALIBRATE_H */
