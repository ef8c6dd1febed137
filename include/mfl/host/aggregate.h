/*
 * Server-side aggregation strategies (host): pure functions that fold a
 * buffer of device deltas into the next global head. Deltas and heads are
 * Q8.24 int32 arrays of n values (rows x cols of the head, bias last).
 *
 *  - weighted mean (FedAvg; FedBuff when the buffer fills asynchronously):
 *    weight = min(samples, sample_cap, median_cap * median samples)
 *             * (1 + staleness)^-staleness_exponent,
 *    normalised by the sum of the weights (MFL_AGG_NORM_SUM: staleness
 *    only shifts weight between the updates of one buffer) or by the sum of
 *    the sample weights alone (MFL_AGG_NORM_BUFFER: a buffer of stale
 *    updates takes a shorter step, Nguyen et al. 2022, "Federated Learning
 *    with Buffered Asynchronous Aggregation", AISTATS, Alg. 1)
 *  - per-update L2 norm clipping before anything else
 *  - coordinate-wise trimmed mean or median (robust to poisoned updates;
 *    these ignore weights)
 *  - group fairness: the weights within each group are rescaled so that every
 *    group present has the same total weight, whatever its size
 *  - server learning rate: new = global + server_lr * aggregate
 *  - server momentum (FedAvgM: Hsu, Qi & Brown 2019, "Measuring the Effects
 *    of Non-Identical Data Distribution for Federated Visual Classification",
 *    arXiv:1909.06335): v = server_momentum * v + aggregate,
 *    new = global + server_lr * v (mfl_aggregate_momentum)
 */
#ifndef MFL_AGGREGATE_H
#define MFL_AGGREGATE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum mfl_agg_rule { MFL_AGG_MEAN = 0, MFL_AGG_TRIMMED_MEAN = 1, MFL_AGG_MEDIAN = 2 };

/* What the mean's weights are divided by (the mean rule only: the robust
 * rules ignore weights and staleness). With s_i = (1 + staleness_i)^-a and
 * n_i the capped sample count (group-balanced when asked):
 *  - SUM:    w_i = n_i s_i / sum_j n_j s_j. The weights sum to 1, so a
 *            buffer whose updates are all equally stale takes a full step.
 *  - BUFFER: w_i = n_i s_i / sum_j n_j. Staleness scales the step itself;
 *            with equal sample counts this is FedBuff's
 *            (1/K) sum_i s(tau_i) delta_i (Nguyen et al. 2022, Alg. 1). */
enum mfl_agg_staleness_norm { MFL_AGG_NORM_SUM = 0, MFL_AGG_NORM_BUFFER = 1 };

typedef struct {
    const int32_t *delta; /* n values, Q8.24 */
    uint64_t samples;     /* 1..2^32-1 (microfl.cddl; the protocol decoder refuses 0, so an update
                           * of nothing learned never reaches a round); the mean weighs
                           * min(samples, sample_cap). 0 is refused here too (MFL_ERR_INVALID_ARG) */
    uint32_t staleness;   /* model version now - the update's base version */
    uint32_t group;       /* the device's group (region, cohort) */
} mfl_agg_update_t;

typedef struct {
    int rule;                  /* enum mfl_agg_rule */
    double trim_fraction;      /* trimmed mean: fraction dropped at each end, [0, 0.5) */
    uint64_t sample_cap;       /* weights use min(samples, cap); 0 = no cap */
    double median_cap;         /* and min(samples, median_cap x the median of the round's samples):
                                * no update outweighs twice a typical one at 2, however many samples
                                * it claims; 0 = off */
    double staleness_exponent; /* a >= 0 in (1 + staleness)^-a; 0 = ignore staleness */
    double clip_norm_q24;      /* clip each delta's L2 norm to this (Q8.24 units); 0 = no clipping */
    int balance_groups;        /* equal total weight per group (mean rule) */
    double server_lr;          /* > 0; 1 = FedAvg */
    double server_momentum;    /* beta in [0, 1); 0 = no momentum (mfl_aggregate_momentum) */
    int staleness_norm;        /* enum mfl_agg_staleness_norm */
} mfl_agg_opts_t;

/* FedAvg defaults: mean, sample-count weights, no cap, staleness ignored
 * (and normalised by the sum), no clipping, no balancing, server learning
 * rate 1, no momentum. (The aggregator's own defaults cap the weights:
 * docs/aggregator.md.) */
mfl_agg_opts_t mfl_agg_defaults(void);

/* Bytes of scratch mfl_aggregate needs for m updates of n values. */
size_t mfl_agg_scratch_size(size_t m, size_t n);

/*
 * out = global + server_lr * aggregate(updates), each value rounded to
 * nearest (half away from zero) and saturated to int32. updates: m >= 1
 * updates of n Q8.24 values each; global: n Q8.24 values, or NULL (zero);
 * out: n values (the caller's); scratch: see mfl_agg_scratch_size.
 * Returns 0, or MFL_ERR_INVALID_ARG: no update, an update with 0 samples,
 * options out of their ranges (server_momentum must be 0 here: use
 * mfl_aggregate_momentum), scratch too small, a NULL pointer.
 */
int mfl_aggregate(const mfl_agg_opts_t *o, const mfl_agg_update_t *updates, size_t m, size_t n,
                  const int32_t *global, int32_t *out, void *scratch, size_t scratch_size);

/*
 * FedAvgM (Hsu, Qi & Brown 2019: v <- beta v + delta, w <- w - v, where
 * their delta is global - local; ours is local - global, hence the +):
 * v = server_momentum * v + aggregate(updates), then
 * out = global + server_lr * v. velocity: n doubles in Q8.24 units, read
 * and overwritten; the caller keeps it from round to round (zeros before
 * the first) and must persist it with the head it produced for a restart
 * to continue exactly. It is double, not Q8.24 int32, because it never
 * leaves the server and grows to about aggregate / (1 - beta) (10x at 0.9):
 * int32 would saturate it and round it every round. With server_momentum
 * = 0, out is bit for bit mfl_aggregate's. Returns as mfl_aggregate, and
 * MFL_ERR_INVALID_ARG when velocity is NULL.
 */
int mfl_aggregate_momentum(const mfl_agg_opts_t *o, const mfl_agg_update_t *updates, size_t m, size_t n,
                           const int32_t *global, double *velocity, int32_t *out, void *scratch,
                           size_t scratch_size);

#ifdef __cplusplus
}
#endif

#endif /* MFL_AGGREGATE_H */
