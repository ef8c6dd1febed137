/* The aggregator's block-wise reassembly and dedup cache under any sequence
 * of blocks a hostile peer can send: offsets, lengths, repeats, gaps,
 * owners, clocks. Invariants: a completed body is exactly as long as its
 * last block's end (an empty one may have no buffer), never more than
 * max_body, and ends with the last block's bytes; no slot count beyond the
 * table; no memory error (ASan) or leak. */
#include <stdlib.h>
#include <string.h>

#include "../../aggregator/dedup.h"
#include "../../aggregator/reassembly.h"

#define MAX_BODY 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    agg_rsm_t *r = agg_rsm_new(3, MAX_BODY, 5);
    agg_dedup_t *d = agg_dedup_new(8, 10);
    uint64_t now = 0;
    size_t at = 0;
    /* each op: owner(1) offset(2) len(1) flags(1), then len payload bytes */
    while (r && d && at + 5 <= size) {
        const uint8_t owner[2] = {'d', (uint8_t)('0' + data[at] % 5)};
        const size_t offset = ((size_t)data[at + 1] << 8 | data[at + 2]) * (data[at + 4] & 0x80 ? 16 : 1);
        size_t len = data[at + 3];
        const int more = data[at + 4] & 1;
        now += (data[at + 4] >> 1) & 7;
        at += 5;
        len = len > size - at ? size - at : len;
        static const int sessions[2];
        const agg_block_result_t res =
            agg_rsm_block(r, owner, sizeof(owner), &sessions[data[at - 5] >> 7], offset, data + at, len, more, now);
        if (res == AGG_BLOCK_COMPLETE) {
            size_t body_len = 0;
            const uint8_t *body = agg_rsm_body(r, owner, sizeof(owner), &body_len);
            if ((!body && body_len) || body_len != offset + len || body_len > MAX_BODY ||
                (len && memcmp(body + offset, data + at, len))) {
                abort();
            }
            agg_rsm_release(r, owner, sizeof(owner));
        }
        if (agg_rsm_in_use(r) > 3) {
            abort();
        }
        agg_reply_t reply = {.code = (int)res, .content_format = -1};
        agg_dedup_put(d, owner + 1, (uint16_t)offset, data + at, len % 9, &reply, now);
        const agg_reply_t *seen = agg_dedup_get(d, owner + 1, (uint16_t)offset, data + at, len % 9, now);
        if (len % 9 <= 8 && (!seen || seen->code != (int)res)) {
            abort();
        }
        at += len;
    }
    agg_rsm_free(r);
    agg_dedup_free(d);
    return 0;
}
