/* Internal: a small seeded generator (splitmix64) for reproducible training. */
#ifndef MFL_OPTIM_RNG_H
#define MFL_OPTIM_RNG_H

#include <stdint.h>

static inline uint64_t mfl_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double mfl_rng_uniform(uint64_t *state)
{
    return (double)(mfl_rng_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [0, n). */
static inline uint32_t mfl_rng_below(uint64_t *state, uint32_t n)
{
    return (uint32_t)(mfl_rng_uniform(state) * n);
}

#endif
