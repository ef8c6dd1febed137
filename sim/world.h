/*
 * The simulated world: Fashion-MNIST split into a home-region slice (the
 * base model's training data) and one pool of images per region as that
 * region's sensors see them, the devices' local train/test samples drawn
 * from their region's pool with their class priors, and the int8 feature
 * vectors the device library's backbone computes for every sample used.
 */
#ifndef MFL_SIM_WORLD_H
#define MFL_SIM_WORLD_H

#include <stdint.h>
#include <stdio.h>

#include "mfl/host/dataset.h"
#include "mfl/host/train.h"
#include "mfl/model.h"
#include "scenario.h"

typedef struct {
    uint32_t region;
    uint32_t *train;        /* sample ids (sim_world_features()) in collection order */
    uint8_t *train_label;
    uint32_t *test;
    uint8_t *test_label;
} sim_device_data_t;

typedef struct {
    const sim_scenario_t *sc;
    mfl_dataset_t train_set, test_set;
    uint8_t *model_image;    /* the base model */
    size_t model_size;
    mfl_model_t model;
    uint16_t features;       /* head input size */
    uint32_t pool_train, pool_test;   /* images per region */
    uint32_t samples;        /* sample ids: regions x (pool_train + pool_test) */
    int8_t *feature;         /* samples x features, computed for used ids only */
    uint8_t *used;
    sim_device_data_t *dev;  /* sc->devices */
    FILE *progress;          /* a terminal to redraw a status line on, or NULL */
    mfl_net_t base_net;      /* the float network the base model was exported from, kept when
                              * sim_world_needs_float(); params NULL otherwise */
} sim_world_t;

/* The base model at sc->base: missing (to be trained), trained by the
 * simulator from the same inputs (cached: reused), from other inputs
 * (stale: trained again, in place), or supplied by the user (no
 * BASE.inputs beside it: used as it is). */
enum sim_base_status { SIM_BASE_MISSING, SIM_BASE_CACHED, SIM_BASE_STALE, SIM_BASE_SUPPLIED };
enum sim_base_status sim_base_status(const sim_scenario_t *sc);

/* 1 when a selected strategy fine-tunes the base model's float network
 * (the fine-tuned references): the world then keeps it in base_net. A base
 * the simulator trains is written with that network beside it
 * (sim_base_float_path: BASE.float, the float model file format of
 * mfl/host/train.h); a cached base whose BASE.float is missing or does not
 * export to the very same BASE is trained again from the same inputs
 * (training is deterministic, so BASE comes out the same: the log says if
 * it did not), which keeps the cache key (BASE.inputs) as it was. A
 * supplied base has no float network: those strategies are refused. */
int sim_world_needs_float(const sim_scenario_t *sc);
void sim_base_float_path(const sim_scenario_t *sc, char *out, size_t cap);

/* Loads the data, trains or loads the base model, draws every device's
 * samples and computes their features. Prints progress to `log`. */
int sim_world_build(sim_world_t *w, const sim_scenario_t *sc, FILE *log, char *msg, size_t cap);
/* The same, redrawing a status line on `progress` (NULL: none; the run's
 * progress FILE, NULL with --quiet or when stderr is not a terminal) while
 * the base model trains (epoch, batch) and features are computed (how
 * many so far): both take seconds. The results are the same either way. */
int sim_world_build_progress(sim_world_t *w, const sim_scenario_t *sc, FILE *log, FILE *progress, char *msg,
                             size_t cap);
void sim_world_free(sim_world_t *w);

static inline const int8_t *sim_world_features(const sim_world_t *w, uint32_t id)
{
    return w->feature + (size_t)id * w->features;
}

/* The base model's training images (indices into train_set) in the seeded
 * order it is trained and calibrated on: the home region's slice, each
 * image kept with its class's home prior. *idx is malloc'd. Returns 0 or
 * MFL_ERR_NO_MEMORY. */
int sim_world_base_selection(const sim_world_t *w, uint32_t **idx, size_t *n);

/* The int8 model input (784 values, pixel - 128, row-major 28x28) of
 * sample id as its region's sensor sees it: deterministic per (seed,
 * region, image). id < w->samples; input holds 784 values (caller's). */
void sim_world_input(const sim_world_t *w, uint32_t id, int8_t *input);

/* The sensor's effects on a 28 x 28 scene of pixel levels (row-major
 * doubles, 0..255), exposed for tests; see() applies them in the order
 * warp, occlude, blur (docs/sim.md). in and out are distinct buffers of
 * 784 values.
 * warp: out(x, y) = in at the point the motion brings there: shifted by
 *   (dx, dy) whole pixels and turned by `degrees` (clockwise on screen,
 *   y pointing down) about the centre (13.5, 13.5), bilinear, `fill`
 *   outside the image.
 * blur: the mean of the (2 radius + 1)^2 window, clipped to the image.
 * occlude: the size x size square at (x0, y0) set to value, in place. */
void sim_sensor_warp(const double *in, double *out, double degrees, int dx, int dy, double fill);
void sim_sensor_blur(const double *in, double *out, uint32_t radius);
void sim_sensor_occlude(double *px, uint32_t x0, uint32_t y0, uint32_t size, double value);

/* splitmix64: the simulator's seeded randomness (never for keys' secrecy). */
static inline uint64_t sim_mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
/* The start of an independent stream: one per purpose (tag), seed and up
 * to two indices (device, round, region, image). Each input goes through
 * its own splitmix64 round, so streams of nearby seeds and indices share
 * nothing: XOR-ing them into one word (seed ^ device) made seeds 1, 2 and 3
 * the same population with devices swapped within blocks of four. */
enum sim_stream_tag {
    SIM_STREAM_BASE = 1,   /* the base model's training images */
    SIM_STREAM_DATA,       /* a device's samples (index: device) */
    SIM_STREAM_SENSOR,     /* a region's view of an image (region, image) */
    SIM_STREAM_LEARNER,    /* a device's learner (device) */
    SIM_STREAM_ROUND,      /* availability and dropout (round, device) */
    SIM_STREAM_ARRIVAL,    /* arrival order at the aggregator (round, device) */
    SIM_STREAM_ORACLE,     /* the oracle's shuffles */
    SIM_STREAM_KEYS,       /* test keys of simulated devices (device) */
    SIM_STREAM_POSE,       /* a region's pose and occluder for an image (region, image) */
};
static inline uint64_t sim_stream(uint64_t seed, enum sim_stream_tag tag, uint64_t a, uint64_t b)
{
    return sim_mix(sim_mix(sim_mix(sim_mix(seed) ^ (uint64_t)tag) ^ a) ^ b);
}

/* Uniform in [0, 1) from a stream position. */
static inline double sim_uniform(uint64_t *state)
{
    *state = sim_mix(*state);
    return (double)(*state >> 11) * (1.0 / 9007199254740992.0);
}

/* Fisher-Yates shuffle of order[0..n) from a stream position. */
static inline void sim_shuffle(uint32_t *order, size_t n, uint64_t *state)
{
    for (size_t k = n; k > 1; k--) {
        const size_t j = (size_t)(sim_uniform(state) * (double)k);
        const uint32_t t = order[k - 1];
        order[k - 1] = order[j];
        order[j] = t;
    }
}

#endif /* MFL_SIM_WORLD_H */
