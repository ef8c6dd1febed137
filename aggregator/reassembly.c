/* Block-wise body reassembly (see reassembly.h). Slots are found by a hash
 * of the owner (chained buckets over a fixed pool), so a block costs one
 * short chain walk whatever the number of bodies in progress; only a full
 * table scans, to find an idle slot to evict. */
#include <stdlib.h>
#include <string.h>

#include "reassembly.h"

#define NONE UINT32_MAX

typedef struct {
    uint8_t owner[AGG_OWNER_MAX];
    size_t owner_len;
    uint8_t *buf;       /* grows by doubling, up to max_body */
    size_t len, cap;    /* bytes held: [0, len) contiguous */
    uint64_t touched_s;
    const void *session; /* the session that sent block 0 */
    uint32_t next;      /* next slot in the bucket, or in the free list */
    int used;
} slot_t;

struct agg_rsm {
    slot_t *slots;
    uint32_t *bucket;   /* first slot of each hash bucket */
    uint32_t n_slots, n_buckets, free_head;
    size_t max_body, in_use;
    unsigned idle_s;
};

static uint32_t hash(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 16777619u;
    }
    return h;
}

agg_rsm_t *agg_rsm_new(size_t slots, size_t max_body, unsigned idle_s)
{
    agg_rsm_t *r = calloc(1, sizeof(*r));
    if (!r || slots == 0 || slots >= NONE) {
        free(r);
        return NULL;
    }
    r->n_slots = (uint32_t)slots;
    r->n_buckets = r->n_slots;
    r->slots = calloc(slots, sizeof(slot_t));
    r->bucket = malloc(slots * sizeof(uint32_t));
    if (!r->slots || !r->bucket) {
        agg_rsm_free(r);
        return NULL;
    }
    for (uint32_t i = 0; i < r->n_slots; i++) {
        r->bucket[i] = NONE;
        r->slots[i].next = i + 1 < r->n_slots ? i + 1 : NONE;
    }
    r->free_head = 0;
    r->max_body = max_body;
    r->idle_s = idle_s;
    return r;
}

void agg_rsm_free(agg_rsm_t *r)
{
    if (r) {
        for (uint32_t i = 0; r->slots && i < r->n_slots; i++) {
            free(r->slots[i].buf);
        }
        free(r->slots);
        free(r->bucket);
        free(r);
    }
}

static uint32_t *link_to(agg_rsm_t *r, const uint8_t *owner, size_t owner_len)
{
    uint32_t *at = &r->bucket[hash(owner, owner_len) % r->n_buckets];
    while (*at != NONE) {
        const slot_t *s = &r->slots[*at];
        if (s->owner_len == owner_len && !memcmp(s->owner, owner, owner_len)) {
            return at;
        }
        at = &r->slots[*at].next;
    }
    return at; /* the chain's end: *at == NONE */
}

static slot_t *find(agg_rsm_t *r, const uint8_t *owner, size_t owner_len)
{
    const uint32_t i = *link_to(r, owner, owner_len);
    return i == NONE ? NULL : &r->slots[i];
}

void agg_rsm_release(agg_rsm_t *r, const uint8_t *owner, size_t owner_len)
{
    uint32_t *at = link_to(r, owner, owner_len);
    const uint32_t i = *at;
    if (i == NONE) {
        return;
    }
    slot_t *s = &r->slots[i];
    *at = s->next;
    free(s->buf);
    memset(s, 0, sizeof(*s));
    s->next = r->free_head;
    r->free_head = i;
    r->in_use--;
}

/* A slot for a new body: a free one, else the one idle longest if it has
 * been idle idle_s at least. NULL: busy. */
static slot_t *take(agg_rsm_t *r, const uint8_t *owner, size_t owner_len, uint64_t now_s)
{
    if (r->free_head == NONE) {
        slot_t *oldest = NULL;
        for (uint32_t i = 0; i < r->n_slots; i++) {
            oldest = !oldest || r->slots[i].touched_s < oldest->touched_s ? &r->slots[i] : oldest;
        }
        if (now_s - oldest->touched_s < r->idle_s) {
            return NULL;
        }
        agg_rsm_release(r, oldest->owner, oldest->owner_len);
    }
    const uint32_t i = r->free_head;
    slot_t *s = &r->slots[i];
    r->free_head = s->next;
    memcpy(s->owner, owner, owner_len);
    s->owner_len = owner_len;
    s->used = 1;
    uint32_t *end = link_to(r, owner, owner_len);
    s->next = NONE;
    *end = i;
    r->in_use++;
    return s;
}

/* Copies data to [offset, offset + len), growing the buffer. */
static int put(slot_t *s, size_t offset, const uint8_t *data, size_t len, size_t max_body)
{
    const size_t end = offset + len;
    if (end > s->cap) {
        size_t cap = s->cap ? s->cap : 1024;
        while (cap < end) {
            cap *= 2;
        }
        cap = cap > max_body ? max_body : cap;
        uint8_t *grown = realloc(s->buf, cap);
        if (!grown) {
            return -1;
        }
        s->buf = grown;
        s->cap = cap;
    }
    if (len) { /* a zero-length block may come before any buffer exists */
        memcpy(s->buf + offset, data, len);
    }
    s->len = end > s->len ? end : s->len;
    return 0;
}

agg_block_result_t agg_rsm_block(agg_rsm_t *r, const uint8_t *owner, size_t owner_len, const void *session,
                                 size_t offset, const uint8_t *data, size_t len, int more, uint64_t now_s)
{
    if (owner_len == 0 || owner_len > AGG_OWNER_MAX) {
        return AGG_BLOCK_INCOMPLETE;
    }
    if (offset > r->max_body || len > r->max_body - offset) {
        agg_rsm_release(r, owner, owner_len);
        return AGG_BLOCK_TOO_LARGE;
    }
    slot_t *s = find(r, owner, owner_len);
    if (offset == 0) {
        /* a body starts (again): clients send blocks in order, so what was
         * held beyond block 0 belongs to an abandoned attempt */
        s = s ? s : take(r, owner, owner_len, now_s);
        if (!s) {
            return AGG_BLOCK_BUSY;
        }
        s->len = 0;
        s->session = session;
    } else if (s && s->session != session) {
        return AGG_BLOCK_INCOMPLETE; /* another attempt's block: not this body's */
    } else {
        /* a repeated block must bring the bytes already held */
        const size_t overlap = s && offset < s->len ? (s->len - offset < len ? s->len - offset : len) : 0;
        if (!s || offset > s->len || memcmp(s->buf + offset, data, overlap)) {
            agg_rsm_release(r, owner, owner_len); /* nothing in progress, a gap, or a contradiction */
            return AGG_BLOCK_INCOMPLETE;
        }
    }
    s->touched_s = now_s;
    if (put(s, offset, data, len, r->max_body)) {
        agg_rsm_release(r, owner, owner_len);
        return AGG_BLOCK_BUSY; /* out of memory: let the device retry later */
    }
    if (!more) { /* the last block ends the body, whatever was held beyond it */
        s->len = offset + len;
        return AGG_BLOCK_COMPLETE;
    }
    return AGG_BLOCK_CONTINUE;
}

const uint8_t *agg_rsm_body(agg_rsm_t *r, const uint8_t *owner, size_t owner_len, size_t *len)
{
    const slot_t *s = find(r, owner, owner_len);
    *len = s ? s->len : 0;
    return s ? s->buf : NULL;
}

size_t agg_rsm_in_use(const agg_rsm_t *r)
{
    return r->in_use;
}
