/*
 * Static memory planner: places activation tensors in one arena so that
 * tensors alive at the same time never share bytes, and tensors whose
 * lifetimes do not overlap reuse the same memory.
 *
 * Greedy placement: take buffers one at a time and put each at the lowest
 * offset where it does not collide with any placed buffer alive at the same
 * time. Two orders are tried — largest first (as TFLM's GreedyMemoryPlanner)
 * and execution order — and the smaller arena is kept. Buffers can alias
 * another (a RESHAPE output shares its input's memory); an alias group is
 * planned as one buffer alive over the union of its members' lifetimes.
 *
 * Pure function on caller arrays: no allocation, O(n^3) worst case in the
 * number of tensors (n is at most a few hundred). Runs on the host when a
 * model is written, and can run on a device.
 */
#ifndef MFL_PLANNER_H
#define MFL_PLANNER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint32_t size;  /* bytes; 0 = not planned (constant or unused tensor) */
    int32_t first;  /* first op that needs the buffer (-1: before the first op) */
    int32_t last;   /* last op that needs it (>= first) */
    int32_t alias;  /* index of the item whose memory this one shares, or -1 */
} mfl_plan_item_t;

/*
 * Plans n items. On success offsets[i] holds item i's offset (aligned to
 * `align`, a power of two) and *arena_size the bytes needed. Items are
 * modified: alias roots get the union lifetime of their group.
 * Returns 0, or MFL_ERR_INVALID_ARG for a bad alias (a cycle, an
 * out-of-range index, or an alias larger than its root).
 */
int mfl_plan_arena(mfl_plan_item_t *items, size_t n, uint32_t align, uint32_t *offsets,
                   uint32_t *arena_size);

#ifdef __cplusplus
}
#endif

#endif /* MFL_PLANNER_H */
