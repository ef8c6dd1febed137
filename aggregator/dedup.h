/*
 * Message deduplication (RFC 7252 section 4.5): the response given to each
 * confirmable request, kept for EXCHANGE_LIFETIME and keyed by session,
 * Message ID and token, so that a retransmitted request — its ACK was lost
 * — gets the same response again and is never processed twice. A 4-way set
 * per hash of the key, the oldest entry replaced; a miss only costs a
 * second processing, which the update path makes harmless (counters and
 * digests), so the cache needs no more than a few seconds' traffic.
 */
#ifndef MFL_AGG_DEDUP_H
#define MFL_AGG_DEDUP_H

#include <stddef.h>
#include <stdint.h>

/* A response as the server gives it to a POST, and as it is replayed. */
typedef struct {
    int code;            /* class * 100 + detail, e.g. 204, 231, 409 */
    int content_format;  /* -1: no Content-Format option */
    uint32_t size1;      /* Size1 option (4.13), 0: none */
    uint32_t max_age;    /* Max-Age option (5.03), 0: none */
    uint8_t body[128];
    size_t body_len;
} agg_reply_t;

typedef struct agg_dedup agg_dedup_t;

/* entries: rounded up to a power of two; lifetime_s: EXCHANGE_LIFETIME
 * (RFC 7252 section 4.8.2: 247 s with the default parameters). */
agg_dedup_t *agg_dedup_new(size_t entries, unsigned lifetime_s);
void agg_dedup_free(agg_dedup_t *d);

void agg_dedup_put(agg_dedup_t *d, const void *session, uint16_t mid, const uint8_t *token, size_t token_len,
                   const agg_reply_t *reply, uint64_t now_s);
/* The response given to this request, or NULL. */
const agg_reply_t *agg_dedup_get(agg_dedup_t *d, const void *session, uint16_t mid, const uint8_t *token,
                                 size_t token_len, uint64_t now_s);
/* Drops a session's entries (its memory may be reused by a new session). */
void agg_dedup_forget(agg_dedup_t *d, const void *session);

#endif
