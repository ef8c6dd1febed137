/* Greedy static memory planner; see include/mfl/planner.h. */
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

/* Placement orders tried; the plan with the smaller arena wins. Largest
 * first packs big buffers well; execution order finds the plans where a
 * small early buffer must sit where a large later one leaves room (the
 * first layers of MobileNet-style models). */
enum { ORDER_LARGEST_FIRST, ORDER_EXECUTION, ORDER_COUNT };

static int placed_before(const mfl_plan_item_t *a, const mfl_plan_item_t *b, int order)
{
    if (order == ORDER_EXECUTION && a->first != b->first) {
        return a->first < b->first;
    }
    return a->size > b->size;
}

/* Places every root item in the given order; returns the bytes used. */
static uint32_t plan_in_order(const mfl_plan_item_t *items, size_t n, uint32_t align, uint32_t *offsets,
                              int order)
{
    for (size_t i = 0; i < n; i++) {
        offsets[i] = UNPLACED;
    }
    uint32_t total = 0;
    for (;;) {
        size_t best = n;
        for (size_t i = 0; i < n; i++) {
            if (offsets[i] == UNPLACED && items[i].alias < 0 && items[i].size > 0 &&
                (best == n || placed_before(&items[i], &items[best], order))) {
                best = i;
            }
        }
        if (best == n) {
            return total;
        }
        offsets[best] = lowest_fit(items, n, offsets, best, align);
        total = offsets[best] + items[best].size > total ? offsets[best] + items[best].size : total;
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
    int best_order = 0;
    uint32_t best_total = UINT32_MAX;
    for (int order = 0; order < ORDER_COUNT; order++) {
        const uint32_t total = plan_in_order(items, n, align, offsets, order);
        if (total < best_total) {
            best_total = total;
            best_order = order;
        }
    }
    plan_in_order(items, n, align, offsets, best_order);
    for (size_t i = 0; i < n; i++) {
        if (items[i].size == 0) {
            offsets[i] = 0;
        } else if (items[i].alias >= 0) {
            offsets[i] = offsets[alias_root(items, n, i)];
        }
    }
    *arena_size = align_up(best_total, align);
    return 0;
}
