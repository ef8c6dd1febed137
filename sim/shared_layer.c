/* The feature layer shared beside the protocol, an estimate (shared_layer.h). */
#include <stdlib.h>
#include <string.h>

#include "mfl/error.h"
#include "shared_layer.h"

typedef struct {
    uint32_t device, group;
    uint64_t base, samples;
} pending_t;

/* One kept version: the aggregator-side layer (Q8.24 biases, 2^-16 codes:
 * fractions the devices' masters cannot hold included) and, once a device
 * installed it, the form a device holds after installing it, which its
 * change is measured from. */
typedef struct {
    uint64_t version; /* 0: empty */
    int32_t *exact;
    int32_t *installed;
    int has_installed;
} kept_t;

struct sim_shared_layer {
    mfl_agg_opts_t opts;
    uint32_t max_staleness;
    size_t n;             /* values in the layer tensor */
    uint64_t version;     /* the latest */
    size_t n_kept;        /* max_staleness + 1: version v in kept[v % n_kept] */
    kept_t *kept;
    double *velocity;     /* server momentum, n */
    double *next_velocity; /* a round's, n: kept only if the round completes */
    pending_t *pending;   /* accepted, not folded yet, in order of acceptance */
    int32_t *deltas;      /* their layer changes, n each */
    size_t count, cap;
    int32_t *scratch;     /* n */
};

static kept_t *kept_of(const sim_shared_layer_t *s, uint64_t version)
{
    kept_t *k = &s->kept[version % s->n_kept];
    return version && k->version == version ? k : NULL;
}

/* The slot for a new version, its arrays allocated once. */
static kept_t *keep(sim_shared_layer_t *s, uint64_t version)
{
    kept_t *k = &s->kept[version % s->n_kept];
    k->exact = k->exact ? k->exact : malloc(s->n * sizeof(int32_t));
    k->installed = k->installed ? k->installed : malloc(s->n * sizeof(int32_t));
    if (!k->exact || !k->installed) {
        return NULL; /* the slot keeps what it held */
    }
    k->version = version;
    k->has_installed = 0;
    return k;
}

int sim_shared_layer_open(sim_shared_layer_t **out, const mfl_learner_t *l, const mfl_agg_opts_t *opts,
                          uint32_t max_staleness)
{
    *out = NULL;
    if (!l->tune_weights) {
        return MFL_ERR_LEARN_CONFIG;
    }
    sim_shared_layer_t *s = calloc(1, sizeof(*s));
    if (!s) {
        return MFL_ERR_NO_MEMORY;
    }
    s->opts = *opts;
    s->opts.clip_norm_q24 = 0; /* the head's units: see shared_layer.h */
    s->max_staleness = max_staleness;
    s->n = (size_t)l->bt.features * (l->bt.inputs + 1u);
    s->n_kept = (size_t)max_staleness + 1u;
    s->kept = calloc(s->n_kept, sizeof(kept_t));
    s->velocity = calloc(s->n, sizeof(double));
    s->next_velocity = malloc(s->n * sizeof(double));
    s->scratch = malloc(s->n * sizeof(int32_t));
    s->version = 1;
    kept_t *k = s->kept && s->velocity && s->next_velocity && s->scratch ? keep(s, 1) : NULL;
    int err = k ? mfl_learner_layer_read(l, k->exact, s->n) : MFL_ERR_NO_MEMORY;
    if (err) {
        sim_shared_layer_free(s);
        return err;
    }
    *out = s;
    return 0;
}

void sim_shared_layer_free(sim_shared_layer_t *s)
{
    if (!s) {
        return;
    }
    for (size_t i = 0; s->kept && i < s->n_kept; i++) {
        free(s->kept[i].exact);
        free(s->kept[i].installed);
    }
    free(s->kept);
    free(s->velocity);
    free(s->next_velocity);
    free(s->pending);
    free(s->deltas);
    free(s->scratch);
    free(s);
}

int sim_shared_layer_install(sim_shared_layer_t *s, uint64_t version, mfl_learner_t *l)
{
    kept_t *k = kept_of(s, version);
    if (!k) {
        return MFL_ERR_INVALID_ARG;
    }
    int err = mfl_learner_layer_install(l, k->exact, s->n);
    if (!err && !k->has_installed) { /* what every device holds after installing it */
        err = mfl_learner_layer_read(l, k->installed, s->n);
        k->has_installed = err == 0;
    }
    return err;
}

int sim_shared_layer_accept(sim_shared_layer_t *s, const mfl_learner_t *l, uint32_t device, uint64_t base_version,
                            uint64_t samples, uint32_t group)
{
    const kept_t *k = kept_of(s, base_version);
    if (!k || !k->has_installed) {
        return MFL_ERR_INVALID_ARG;
    }
    if (s->count == s->cap) {
        const size_t cap = s->cap ? 2 * s->cap : 16;
        pending_t *p = realloc(s->pending, cap * sizeof(*p));
        s->pending = p ? p : s->pending;
        int32_t *d = p ? realloc(s->deltas, cap * s->n * sizeof(int32_t)) : NULL;
        if (!d) {
            return MFL_ERR_NO_MEMORY;
        }
        s->deltas = d;
        s->cap = cap;
    }
    int32_t *delta = s->deltas + s->count * s->n;
    const int err = mfl_learner_layer_read(l, delta, s->n);
    if (err) {
        return err;
    }
    for (size_t i = 0; i < s->n; i++) { /* weights: within int32 by far; bias changes may saturate */
        const int64_t d = (int64_t)delta[i] - k->installed[i];
        delta[i] = (int32_t)(d > INT32_MAX ? INT32_MAX : d < INT32_MIN ? INT32_MIN : d);
    }
    s->pending[s->count++] = (pending_t){device, group, base_version, samples};
    return 0;
}

/* The round that made version s->version + 1: one update a device in order
 * of acceptance, stale ones dropped, the rest kept for a later round
 * (aggregator/rounds.c's collect()). */
static int fold(sim_shared_layer_t *s)
{
    const uint64_t prev = s->version;
    mfl_agg_update_t *u = calloc(s->count ? s->count : 1, sizeof(*u));
    uint8_t *in_round = calloc(s->count ? s->count : 1, 1);
    if (!u || !in_round) {
        free(u), free(in_round);
        return MFL_ERR_NO_MEMORY;
    }
    size_t m = 0;
    for (size_t i = 0; i < s->count; i++) {
        const pending_t *p = &s->pending[i];
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) {
            seen = in_round[j] == 1 && s->pending[j].device == p->device;
        }
        if (prev - p->base > s->max_staleness) {
            in_round[i] = 2; /* dropped */
        } else if (!seen) {
            in_round[i] = 1;
            u[m++] = (mfl_agg_update_t){s->deltas + i * s->n, p->samples, (uint32_t)(prev - p->base), p->group};
        }
    }
    const kept_t *from = kept_of(s, prev);
    int err = 0;
    memcpy(s->next_velocity, s->velocity, s->n * sizeof(double));
    if (m) {
        const size_t size = mfl_agg_scratch_size(m, s->n);
        void *scratch = malloc(size);
        err = scratch ? mfl_aggregate_momentum(&s->opts, u, m, s->n, from->exact, s->next_velocity, s->scratch,
                                               scratch, size)
                      : MFL_ERR_NO_MEMORY;
        free(scratch);
    } else {
        memcpy(s->scratch, from->exact, s->n * sizeof(int32_t));
    }
    kept_t *to = err ? NULL : keep(s, prev + 1);
    err = err ? err : to ? 0 : MFL_ERR_NO_MEMORY;
    if (!err) { /* the round completes: its layer and momentum are kept */
        memcpy(to->exact, s->scratch, s->n * sizeof(int32_t));
        double *v = s->velocity;
        s->velocity = s->next_velocity;
        s->next_velocity = v;
        size_t left = 0; /* the waiting ones move up, in order */
        for (size_t i = 0; i < s->count; i++) {
            if (!in_round[i]) {
                s->pending[left] = s->pending[i];
                memmove(s->deltas + left * s->n, s->deltas + i * s->n, s->n * sizeof(int32_t));
                left++;
            }
        }
        s->count = left;
        s->version = prev + 1;
    }
    free(u);
    free(in_round);
    return err;
}

int sim_shared_layer_observe(sim_shared_layer_t *s, uint64_t version)
{
    if (version == s->version) {
        return 0;
    }
    return version == s->version + 1 ? fold(s) : MFL_ERR_INVALID_ARG;
}
