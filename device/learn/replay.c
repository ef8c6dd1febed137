/* Replay buffer of feature vectors; see include/mfl/replay.h. */
#include <string.h>

#include "mfl/error.h"
#include "mfl/replay.h"

static uint32_t next_random(mfl_replay_t *r)
{
    uint32_t x = r->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    r->rng = x;
    return x;
}

/* Uniform in [0, n) without modulo bias worth worrying about for n < 2^16. */
static uint32_t below(mfl_replay_t *r, uint32_t n)
{
    return (uint32_t)(((uint64_t)next_random(r) * n) >> 32);
}

size_t mfl_replay_mem_size(uint16_t dim, uint16_t capacity)
{
    return (size_t)capacity * ((size_t)dim + 1);
}

int mfl_replay_init(mfl_replay_t *r, void *mem, size_t mem_size, uint16_t dim, uint16_t capacity, int balanced,
                    uint32_t seed)
{
    if (!r || (!mem && capacity) || dim == 0) {
        return MFL_ERR_INVALID_ARG;
    }
    if (mem_size < mfl_replay_mem_size(dim, capacity)) {
        return MFL_ERR_BUFFER_TOO_SMALL;
    }
    memset(r, 0, sizeof(*r));
    r->features = mem;
    r->labels = (uint8_t *)mem + (size_t)capacity * dim;
    r->dim = dim;
    r->capacity = capacity;
    r->balanced = balanced != 0;
    r->rng = seed ? seed : 0x9E3779B9u;
    return 0;
}

/* A random index among the entries of the most frequent label. */
static uint16_t evict_from_largest_class(mfl_replay_t *r)
{
    uint16_t counts[MFL_REPLAY_MAX_CLASSES] = {0};
    uint8_t largest = r->labels[0];
    for (uint16_t i = 0; i < r->count; i++) {
        const uint8_t c = r->labels[i];
        counts[c]++;
        largest = counts[c] > counts[largest] ? c : largest;
    }
    uint32_t k = below(r, counts[largest]);
    for (uint16_t i = 0; i < r->count; i++) {
        if (r->labels[i] == largest && k-- == 0) {
            return i;
        }
    }
    return 0; /* unreachable */
}

void mfl_replay_add(mfl_replay_t *r, const int8_t *features, uint8_t label)
{
    r->seen++;
    if (r->capacity == 0) {
        return;
    }
    uint16_t slot;
    if (r->count < r->capacity) {
        slot = r->count++;
    } else if (r->balanced) {
        slot = evict_from_largest_class(r);
    } else {
        const uint32_t k = below(r, r->seen); /* reservoir: keep with probability capacity/seen */
        if (k >= r->capacity) {
            return;
        }
        slot = (uint16_t)k;
    }
    memmove(r->features + (size_t)slot * r->dim, features, r->dim); /* a caller may re-offer a stored entry */
    r->labels[slot] = label;
}

uint16_t mfl_replay_pick(mfl_replay_t *r)
{
    return r->count ? (uint16_t)below(r, r->count) : 0;
}
