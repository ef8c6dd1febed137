/* Greedy-by-size static memory planner; see include/mfl/planner.h. */
#include "mfl/error.h"
#include "mfl/planner.h"

#define UNPLACED UINT32_MAX

/* The root of an alias chain, or -1 for a cycle or a bad index. */
static int32_t alias_root(const mfl_plan_item_t *items, size_t n, size_t i)
{
    int32_t r = (int32_t)i;
    for (size_t steps = 0; items[r].alias >= 0; steps++) {
        if ((size_t)items[r].alias >= n || steps >= n) {
            return -1;
        }
        r = items[r].alias;
    }
    return r;
}

static int lifetimes_overlap(const mfl_plan_item_t *a, const mfl_plan_item_t *b)
{
    return a->first <= b->last && b->first <= a->last;
}

static uint32_t align_up(uint32_t x, uint32_t align)
{
    return (x + align - 1) & ~(align - 1);
}

/* Merge every alias group's lifetime into its root. */
static int merge_aliases(mfl_plan_item_t *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (items[i].alias < 0 || items[i].size == 0) {
            continue;
        }
        const int32_t r = alias_root(items, n, i);
        if (r < 0 || items[i].size > items[r].size) {
            return MFL_ERR_INVALID_ARG;
        }
        items[r].first = items[i].first < items[r].first ? items[i].first : items[r].first;
        items[r].last = items[i].last > items[r].last ? items[i].last : items[r].last;
    }
    return 0;
}

/* Lowest aligned offset where item i fits among the placed items alive with it. */
static uint32_t lowest_fit(const mfl_plan_item_t *items, size_t n, const uint32_t *offsets, size_t i,
                           uint32_t align)
{
    uint32_t candidate = 0;
    for (;;) {
        uint32_t next = candidate;
        for (size_t j = 0; j < n; j++) {
            if (offsets[j] == UNPLACED || items[j].alias >= 0 || !lifetimes_overlap(&items[i], &items[j])) {
                continue;
            }
            const uint32_t end = offsets[j] + items[j].size;
            if (candidate < end && offsets[j] < candidate + items[i].size) {
                next = align_up(end, align) > next ? align_up(end, align) : next;
            }
        }
        if (next == candidate) {
            return candidate;
        }
        candidate = next; /* strictly increases: terminates */
    }
}

int mfl_plan_arena(mfl_plan_item_t *items, size_t n, uint32_t align, uint32_t *offsets,
                   uint32_t *arena_size)
{
    if ((!items && n) || (!offsets && n) || !arena_size || align == 0 || (align & (align - 1))) {
        return MFL_ERR_INVALID_ARG;
    }
    int err = merge_aliases(items, n);
    if (err) {
        return err;
    }
    for (size_t i = 0; i < n; i++) {
        offsets[i] = UNPLACED;
    }
    uint32_t total = 0;
    for (;;) {
        size_t best = n;
        for (size_t i = 0; i < n; i++) { /* largest unplaced root */
            if (offsets[i] == UNPLACED && items[i].alias < 0 && items[i].size > 0 &&
                (best == n || items[i].size > items[best].size)) {
                best = i;
            }
        }
        if (best == n) {
            break;
        }
        offsets[best] = lowest_fit(items, n, offsets, best, align);
        total = offsets[best] + items[best].size > total ? offsets[best] + items[best].size : total;
    }
    for (size_t i = 0; i < n; i++) {
        if (items[i].size == 0) {
            offsets[i] = 0;
        } else if (items[i].alias >= 0) {
            offsets[i] = offsets[alias_root(items, n, i)];
        }
    }
    *arena_size = align_up(total, align);
    return 0;
}
