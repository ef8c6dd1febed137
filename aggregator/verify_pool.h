/* Internal: signature checks on worker threads (verify_pool.c).
 *
 * The event loop hands each update's ES256 check, about 85 % of the cost of
 * an update, to a small pool of threads and keeps decoding, SQLite and DTLS
 * for itself; finished jobs come back through a pipe the loop polls. */
#ifndef MFL_AGGREGATOR_VERIFY_POOL_H
#define MFL_AGGREGATOR_VERIFY_POOL_H

#include "aggregator.h"

typedef struct agg_job {
    struct agg_job *next;    /* queue link (pool lock) */
    agg_pending_t pending;   /* read-only for the workers */
    int verify_err;          /* written by the worker */
    uint8_t *body;           /* the job's copy of the update; pending points into it */
    void *session;           /* event loop only; NULL once the session is gone */
    void *async;             /* event loop only: the libcoap separate response */
    int triggered;           /* event loop only: checked, answer under way */
    uint16_t mid;            /* event loop only: the request's Message ID and token, */
    uint8_t token[8];        /* to answer its retransmissions after the separate */
    size_t token_len;        /* response went out (dedup.h) */
    int confirmable;
} agg_job_t;

typedef struct agg_pool agg_pool_t;

/* Starts `threads` workers (at most 16). Returns NULL on failure. */
agg_pool_t *agg_pool_start(unsigned threads);
void agg_pool_stop(agg_pool_t *pool);
/* Readable when finished jobs are waiting for agg_pool_take_done. */
int agg_pool_fd(const agg_pool_t *pool);
void agg_pool_submit(agg_pool_t *pool, agg_job_t *job);
/* All finished jobs (a list linked by next), in no particular order. */
agg_job_t *agg_pool_take_done(agg_pool_t *pool);

#endif
