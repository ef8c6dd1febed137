/*
 * Reassembly of block-wise (RFC 7959 Block1) update bodies, independent of
 * CoAP. Each owner — a device id, or on the plain test endpoint a session —
 * has at most one body in progress, so one device opening many sessions
 * cannot push the uploads of others out. Blocks are placed by byte offset
 * (NUM << (SZX + 4)), with or without Size1 (RFC 7959 section 4: Size1 is an
 * indication only), growing up to max_body. A block that repeats bytes
 * already held (a retransmission the response cache did not catch) is
 * answered as if new when its bytes match, and refused (4.08) when they
 * differ; block 0 always (re)starts the owner's body, so a client retrying
 * its upload after a lost session or a 4.08 starts clean.
 */
#ifndef MFL_AGG_REASSEMBLY_H
#define MFL_AGG_REASSEMBLY_H

#include <stddef.h>
#include <stdint.h>

#define AGG_OWNER_MAX 32

typedef enum {
    AGG_BLOCK_CONTINUE = 0,   /* held; ask for the next block (2.31) */
    AGG_BLOCK_COMPLETE = 1,   /* the last block: the body is ready (agg_rsm_body) */
    AGG_BLOCK_INCOMPLETE = 2, /* a gap, bytes that contradict what is held, or no body in progress (4.08) */
    AGG_BLOCK_TOO_LARGE = 3,  /* beyond max_body (4.13) */
    AGG_BLOCK_BUSY = 4,       /* every slot holds another owner's recent body (5.03) */
} agg_block_result_t;

typedef struct agg_rsm agg_rsm_t;

/* slots: bodies in progress at once; idle_s: a body untouched this long
 * may be evicted for another owner's. NULL when out of memory. */
agg_rsm_t *agg_rsm_new(size_t slots, size_t max_body, unsigned idle_s);
void agg_rsm_free(agg_rsm_t *r);

/*
 * One block of owner's body: len bytes at offset; more = the M bit. now_s
 * is a monotonic clock in seconds. session tags the body with the session
 * that started it (block 0): a later block from another session of the same
 * owner (a late datagram of an abandoned attempt) gets AGG_BLOCK_INCOMPLETE
 * and leaves the body alone, so two attempts never mix. On
 * AGG_BLOCK_COMPLETE, agg_rsm_body() gives the body until agg_rsm_release()
 * (call it once the body is used).
 */
agg_block_result_t agg_rsm_block(agg_rsm_t *r, const uint8_t *owner, size_t owner_len, const void *session,
                                 size_t offset, const uint8_t *data, size_t len, int more, uint64_t now_s);
const uint8_t *agg_rsm_body(agg_rsm_t *r, const uint8_t *owner, size_t owner_len, size_t *len);
void agg_rsm_release(agg_rsm_t *r, const uint8_t *owner, size_t owner_len);
/* Bodies in progress. */
size_t agg_rsm_in_use(const agg_rsm_t *r);

#endif
