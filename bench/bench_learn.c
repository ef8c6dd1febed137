/*
 * bench_learn UNITS FEATURES BATCH STEPS: runs STEPS learning steps (one
 * fixed-point SGD step on BATCH feature vectors), each followed by the
 * requantization to int8 that the next inference needs, on a synthetic
 * head. scripts/bench.sh runs it under callgrind twice, collecting only
 * inside learning_step() or requantize_head(), and divides by STEPS.
 * Also prints the learner's RAM per head parameter and per replay entry.
 */
#include <stdio.h>
#include <stdlib.h>

#include "mfl/head.h"
#include "mfl/replay.h"

__attribute__((noinline)) int learning_step(mfl_head_t *h, const int8_t *const *x, const uint8_t *y, int batch,
                                            mfl_scale_t lr, void *g);
__attribute__((noinline)) int requantize_head(const mfl_head_t *h, mfl_head_q_t *q);

__attribute__((noinline)) int learning_step(mfl_head_t *h, const int8_t *const *x, const uint8_t *y, int batch,
                                            mfl_scale_t lr, void *g)
{
    return mfl_head_sgd_step(h, x, y, batch, lr, g, NULL, NULL, 0);
}

__attribute__((noinline)) int requantize_head(const mfl_head_t *h, mfl_head_q_t *q)
{
    return mfl_head_requantize(h, q);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_learn UNITS FEATURES BATCH STEPS\n");
        return 2;
    }
    const int units = atoi(argv[1]), features = atoi(argv[2]), batch = atoi(argv[3]), steps = atoi(argv[4]);
    if (units < 2 || units > MFL_HEAD_MAX_UNITS || features < 1 || features > MFL_HEAD_MAX_FEATURES || batch < 1 ||
        batch > MFL_HEAD_MAX_BATCH || steps < 1) {
        return 2;
    }
    const size_t params = (size_t)units * features;
    mfl_head_t h = {.units = (uint16_t)units, .features = (uint16_t)features, .feature_zp = -128,
                    .feature_scale = mfl_scale_from_int(1, 5), .output_scale = mfl_scale_from_int(1, 3),
                    .act_min = -128, .act_max = 127, .output_zp = 0,
                    .w = calloc(params, 4), .b = calloc((size_t)units, 4)};
    mfl_head_q_t q = {malloc(params), malloc((size_t)units * 4), malloc((size_t)units * 4),
                      malloc((size_t)units * 4), malloc((size_t)units * sizeof(mfl_scale_t))};
    int8_t *data = malloc((size_t)batch * features);
    const int8_t *x[MFL_HEAD_MAX_BATCH];
    uint8_t y[MFL_HEAD_MAX_BATCH];
    const size_t g_bytes = mfl_head_step_scratch_size((uint16_t)units, (uint16_t)features, batch);
    void *g = malloc(g_bytes);
    uint32_t r = 1;
    for (size_t i = 0; i < (size_t)batch * features; i++) {
        r ^= r << 13, r ^= r >> 17, r ^= r << 5;
        data[i] = (int8_t)(r & 0x7F) - 100;
    }
    for (int k = 0; k < batch; k++) {
        x[k] = data + (size_t)k * features;
        y[k] = (uint8_t)(k % units);
    }
    const mfl_scale_t lr = mfl_scale_from_int(1311, 16);
    int err = 0;
    for (int s = 0; s < steps && !err; s++) {
        err = learning_step(&h, x, y, batch, lr, g);
        err = err ? err : requantize_head(&h, &q);
    }
    /* learner RAM: Q8.24 master (4) + int8 copy (1) per parameter; per unit:
     * master bias, bias, multiplier, shift (4 x 4), two scales (2 x 8); the
     * step's scratch. */
    const size_t ram = params * 5 + (size_t)units * 32 + g_bytes;
    printf("head %dx%d: %zu parameters, learner RAM %zu bytes = %.2f bytes/parameter; replay %zu bytes/entry\n",
           units, features, params, ram, (double)ram / (double)params, mfl_replay_mem_size((uint16_t)features, 1));
    return err ? 1 : 0;
}
