/*
 * Bounded replay buffer of int8 feature vectors and their labels, in caller
 * memory. Learning a new case replays old ones with it, so that the head
 * does not forget what it knew. Raw inputs are never stored.
 *
 * Replacement when full: class-balanced (evict a random entry of the most
 * frequent class, so rare classes keep their examples) or reservoir
 * sampling (a uniform sample of everything seen).
 */
#ifndef MFL_REPLAY_H
#define MFL_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MFL_REPLAY_MAX_CLASSES 256

typedef struct {
    int8_t *features;   /* capacity x dim */
    uint8_t *labels;    /* capacity */
    uint16_t dim, capacity, count;
    uint8_t balanced;
    uint32_t seen;      /* vectors offered so far */
    uint32_t rng;       /* xorshift32 state */
} mfl_replay_t;

/* Bytes of memory a buffer of `capacity` vectors of `dim` bytes needs. */
size_t mfl_replay_mem_size(uint16_t dim, uint16_t capacity);

/* Returns 0, or MFL_ERR_INVALID_ARG / MFL_ERR_BUFFER_TOO_SMALL (mem_size). */
int mfl_replay_init(mfl_replay_t *r, void *mem, size_t mem_size, uint16_t dim, uint16_t capacity, int balanced,
                    uint32_t seed);

/* Offers one vector; it is stored, replaces another, or (reservoir) is
 * dropped. */
void mfl_replay_add(mfl_replay_t *r, const int8_t *features, uint8_t label);

/* A uniformly random stored index (count must be > 0). */
uint16_t mfl_replay_pick(mfl_replay_t *r);

static inline const int8_t *mfl_replay_features(const mfl_replay_t *r, uint16_t i)
{
    return r->features + (size_t)i * r->dim;
}

#ifdef __cplusplus
}
#endif

#endif /* MFL_REPLAY_H */
