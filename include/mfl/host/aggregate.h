/*
 * Server-side aggregation strategies (host): pure functions that fold a
 * buffer of device deltas into the next global head. Deltas and heads are
 * Q8.24 int32 arrays of n values (rows x cols of the head, bias last).
 *
 *  - weighted mean (FedAvg; FedBuff when the buffer fills asynchronously):
 *    weight = min(samples, sample_cap, median_cap * median samples)
 *             * (1 + staleness)^-staleness_exponent
 *  - per-update L2 norm clipping before anything else
 *  - coordinate-wise trimmed mean or median (robust to poisoned updates;
 *    these ignore weights)
 *  - group fairness: the weights within each group are rescaled so that every
 *    group present has the same total weight, whatever its size
 *  - server learning rate: new = global + server_lr * aggregate
 */
#ifndef MFL_AGGREGATE_H
#define MFL_AGGREGATE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum mfl_agg_rule { MFL_AGG_MEAN = 0, MFL_AGG_TRIMMED_MEAN = 1, MFL_AGG_MEDIAN = 2 };

typedef struct {
    const int32_t *delta; /* n values, Q8.24 */
    uint64_t samples;     /* >= 1 (microfl.cddl); the mean weighs min(samples, sample_cap) */
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
} mfl_agg_opts_t;

/* FedAvg defaults: mean, sample-count weights, no cap, staleness ignored,
 * no clipping, no balancing, server learning rate 1. (The aggregator's
 * own defaults cap the weights: docs/aggregator.md.) */
mfl_agg_opts_t mfl_agg_defaults(void);

/* Bytes of scratch mfl_aggregate needs for m updates of n values. */
size_t mfl_agg_scratch_size(size_t m, size_t n);

/*
 * out = global + server_lr * aggregate(updates). global may be NULL (zero).
 * Returns 0, or MFL_ERR_INVALID_ARG (no update, an update with 0 samples,
 * bad options, scratch too small: see mfl_agg_scratch_size).
 */
int mfl_aggregate(const mfl_agg_opts_t *o, const mfl_agg_update_t *updates, size_t m, size_t n,
                  const int32_t *global, int32_t *out, void *scratch, size_t scratch_size);

#ifdef __cplusplus
}
#endif

#endif /* MFL_AGGREGATE_H */
