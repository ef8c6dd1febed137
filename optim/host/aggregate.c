/* Aggregation strategies (see include/mfl/host/aggregate.h). Host only: double
 * arithmetic, results rounded to Q8.24 at the end. The momentum buffer stays
 * double between rounds (the caller's): rounding it to Q8.24 each round
 * would add an error that momentum then carries on. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/host/aggregate.h"
#include "mfl/error.h"

mfl_agg_opts_t mfl_agg_defaults(void)
{
    mfl_agg_opts_t o = {.rule = MFL_AGG_MEAN, .trim_fraction = 0.1, .sample_cap = 0, .median_cap = 0.0,
                        .staleness_exponent = 0.0, .clip_norm_q24 = 0.0, .balance_groups = 0, .server_lr = 1.0,
                        .server_momentum = 0.0, .staleness_norm = MFL_AGG_NORM_SUM};
    return o;
}

size_t mfl_agg_scratch_size(size_t m, size_t n)
{
    (void)n;
    return 3 * m * sizeof(double); /* weights, clip factors, one coordinate's values */
}

static int32_t saturate(double v)
{
    v = round(v);
    return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

static int compare_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Per-update factor that scales its delta's L2 norm down to the clip norm. */
static void clip_factors(const mfl_agg_opts_t *o, const mfl_agg_update_t *u, size_t m, size_t n, double *clip)
{
    for (size_t i = 0; i < m; i++) {
        double sq = 0.0;
        for (size_t j = 0; j < n; j++) {
            sq += (double)u[i].delta[j] * u[i].delta[j];
        }
        const double norm = sqrt(sq);
        clip[i] = o->clip_norm_q24 > 0.0 && norm > o->clip_norm_q24 ? o->clip_norm_q24 / norm : 1.0;
    }
}

/* The median of the updates' sample counts (tmp: m doubles). */
static double median_samples(const mfl_agg_update_t *u, size_t m, double *tmp)
{
    for (size_t i = 0; i < m; i++) {
        tmp[i] = (double)u[i].samples;
    }
    qsort(tmp, m, sizeof(double), compare_double);
    return m % 2 ? tmp[m / 2] : 0.5 * (tmp[m / 2 - 1] + tmp[m / 2]);
}

/* Scales the weights so that every group present sums to 1 (tmp: m doubles). */
static void balance(const mfl_agg_update_t *u, size_t m, double *w, double *group_total)
{
    for (size_t i = 0; i < m; i++) {
        group_total[i] = 0.0;
        for (size_t k = 0; k < m; k++) {
            group_total[i] += u[k].group == u[i].group ? w[k] : 0.0;
        }
    }
    for (size_t i = 0; i < m; i++) {
        w[i] /= group_total[i];
    }
}

static void normalise(double *w, size_t m)
{
    double total = 0.0;
    for (size_t i = 0; i < m; i++) {
        total += w[i];
    }
    for (size_t i = 0; i < m; i++) {
        w[i] /= total;
    }
}

/* The mean's weights: samples (capped) and staleness decay, optionally
 * rebalanced so that every group present has the same total. SUM folds the
 * decay in before normalising (it only moves weight within the buffer);
 * BUFFER normalises the sample weights and applies the decay after, so the
 * weights sum to the buffer's mean decay and a stale buffer takes a shorter
 * step. SUM's order of operations is the one it always had: its results
 * stay bit for bit what they were. */
static void mean_weights(const mfl_agg_opts_t *o, const mfl_agg_update_t *u, size_t m, double *w, double *tmp)
{
    const int by_buffer = o->staleness_norm == MFL_AGG_NORM_BUFFER;
    const double by_median = o->median_cap > 0.0 ? o->median_cap * median_samples(u, m, tmp) : 0.0;
    for (size_t i = 0; i < m; i++) {
        double s = (double)(o->sample_cap && u[i].samples > o->sample_cap ? o->sample_cap : u[i].samples);
        s = by_median > 0.0 && s > by_median ? by_median : s;
        w[i] = by_buffer ? s : s * pow(1.0 + u[i].staleness, -o->staleness_exponent);
    }
    if (o->balance_groups) {
        balance(u, m, w, tmp);
    }
    normalise(w, m);
    for (size_t i = 0; by_buffer && i < m; i++) {
        w[i] *= pow(1.0 + u[i].staleness, -o->staleness_exponent);
    }
}

/* Coordinate j under the robust rules: trimmed mean or median. */
static double robust(const mfl_agg_opts_t *o, const mfl_agg_update_t *u, const double *clip, size_t m, size_t j,
                     double *vals)
{
    for (size_t i = 0; i < m; i++) {
        vals[i] = u[i].delta[j] * clip[i];
    }
    qsort(vals, m, sizeof(double), compare_double);
    if (o->rule == MFL_AGG_MEDIAN) {
        return m % 2 ? vals[m / 2] : 0.5 * (vals[m / 2 - 1] + vals[m / 2]);
    }
    const size_t drop = (size_t)floor(o->trim_fraction * (double)m);
    double sum = 0.0;
    for (size_t i = drop; i < m - drop; i++) {
        sum += vals[i];
    }
    return sum / (double)(m - 2 * drop);
}

static int check_args(const mfl_agg_opts_t *o, const mfl_agg_update_t *u, size_t m, size_t n, const int32_t *out,
                      const void *scratch, size_t scratch_size)
{
    for (size_t i = 0; u && i < m; i++) {
        if (u[i].samples == 0) {
            return MFL_ERR_INVALID_ARG; /* a weight of zero; the protocol refuses such updates */
        }
    }
    if (!o || !u || m == 0 || !out || !scratch || scratch_size < mfl_agg_scratch_size(m, n) ||
        !(o->server_lr > 0.0) || o->staleness_exponent < 0.0 || o->trim_fraction < 0.0 ||
        o->trim_fraction >= 0.5 || o->rule < MFL_AGG_MEAN || o->rule > MFL_AGG_MEDIAN || o->median_cap < 0.0 ||
        !(o->server_momentum >= 0.0 && o->server_momentum < 1.0) ||
        (o->staleness_norm != MFL_AGG_NORM_SUM && o->staleness_norm != MFL_AGG_NORM_BUFFER)) {
        return MFL_ERR_INVALID_ARG;
    }
    return 0;
}

/* The step: without a velocity out = global + lr * aggregate, with one
 * v = beta v + aggregate and out = global + lr * v. */
static void step(const mfl_agg_opts_t *o, const mfl_agg_update_t *u, size_t m, size_t n, const int32_t *global,
                 double *velocity, int32_t *out, double *scratch)
{
    double *w = scratch, *clip = w + m, *vals = clip + m;
    clip_factors(o, u, m, n, clip);
    if (o->rule == MFL_AGG_MEAN) {
        mean_weights(o, u, m, w, vals);
    }
    for (size_t j = 0; j < n; j++) {
        double agg = 0.0;
        if (o->rule == MFL_AGG_MEAN) {
            for (size_t i = 0; i < m; i++) {
                agg += w[i] * clip[i] * u[i].delta[j];
            }
        } else {
            agg = robust(o, u, clip, m, j, vals);
        }
        if (velocity) {
            velocity[j] = o->server_momentum * velocity[j] + agg;
            agg = velocity[j];
        }
        out[j] = saturate((global ? global[j] : 0) + o->server_lr * agg);
    }
}

int mfl_aggregate(const mfl_agg_opts_t *o, const mfl_agg_update_t *u, size_t m, size_t n,
                  const int32_t *global, int32_t *out, void *scratch, size_t scratch_size)
{
    const int err = check_args(o, u, m, n, out, scratch, scratch_size);
    if (err || o->server_momentum != 0.0) {
        return err ? err : MFL_ERR_INVALID_ARG; /* momentum needs its buffer */
    }
    step(o, u, m, n, global, NULL, out, scratch);
    return 0;
}

int mfl_aggregate_momentum(const mfl_agg_opts_t *o, const mfl_agg_update_t *u, size_t m, size_t n,
                           const int32_t *global, double *velocity, int32_t *out, void *scratch,
                           size_t scratch_size)
{
    const int err = check_args(o, u, m, n, out, scratch, scratch_size);
    if (err || !velocity) {
        return err ? err : MFL_ERR_INVALID_ARG;
    }
    step(o, u, m, n, global, velocity, out, scratch);
    return 0;
}
