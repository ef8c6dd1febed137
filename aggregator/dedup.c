/* Message deduplication (see dedup.h). */
#include <stdlib.h>
#include <string.h>

#include "dedup.h"

#define WAYS 4

typedef struct {
    const void *session; /* NULL: empty */
    uint16_t mid;
    uint8_t token[8];
    size_t token_len;
    uint64_t at_s;
    agg_reply_t reply;
} entry_t;

struct agg_dedup {
    entry_t *e;
    size_t sets; /* power of two */
    unsigned lifetime_s;
};

agg_dedup_t *agg_dedup_new(size_t entries, unsigned lifetime_s)
{
    agg_dedup_t *d = calloc(1, sizeof(*d));
    size_t sets = 1;
    while (sets * WAYS < entries) {
        sets *= 2;
    }
    if (d && (d->e = calloc(sets * WAYS, sizeof(entry_t))) != NULL) {
        d->sets = sets;
        d->lifetime_s = lifetime_s;
        return d;
    }
    free(d);
    return NULL;
}

void agg_dedup_free(agg_dedup_t *d)
{
    if (d) {
        free(d->e);
        free(d);
    }
}

static entry_t *set_of(agg_dedup_t *d, const void *session, uint16_t mid)
{
    uint64_t h = (uint64_t)(uintptr_t)session * 0x9E3779B97F4A7C15ull ^ mid;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    return d->e + (h & (d->sets - 1)) * WAYS;
}

static int same(const entry_t *e, const void *session, uint16_t mid, const uint8_t *token, size_t token_len)
{
    return e->session == session && e->mid == mid && e->token_len == token_len &&
           !memcmp(e->token, token, token_len);
}

void agg_dedup_put(agg_dedup_t *d, const void *session, uint16_t mid, const uint8_t *token, size_t token_len,
                   const agg_reply_t *reply, uint64_t now_s)
{
    if (!session || token_len > 8) {
        return;
    }
    entry_t *set = set_of(d, session, mid), *slot = set;
    for (int w = 0; w < WAYS; w++) {
        if (same(&set[w], session, mid, token, token_len) || !set[w].session) {
            slot = &set[w];
            break;
        }
        slot = set[w].at_s < slot->at_s ? &set[w] : slot; /* else the oldest */
    }
    slot->session = session;
    slot->mid = mid;
    memcpy(slot->token, token, token_len);
    slot->token_len = token_len;
    slot->at_s = now_s;
    slot->reply = *reply;
}

const agg_reply_t *agg_dedup_get(agg_dedup_t *d, const void *session, uint16_t mid, const uint8_t *token,
                                 size_t token_len, uint64_t now_s)
{
    entry_t *set = set_of(d, session, mid);
    for (int w = 0; session && w < WAYS; w++) {
        if (same(&set[w], session, mid, token, token_len) && now_s - set[w].at_s <= d->lifetime_s) {
            return &set[w].reply;
        }
    }
    return NULL;
}

void agg_dedup_forget(agg_dedup_t *d, const void *session)
{
    for (size_t i = 0; i < d->sets * WAYS; i++) {
        if (d->e[i].session == session) {
            memset(&d->e[i], 0, sizeof(entry_t));
        }
    }
}
