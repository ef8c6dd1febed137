/* Block-wise bodies (aggregator/reassembly.c) and the dedup cache
 * (aggregator/dedup.c): the server's two defences against a lossy link. */
#include <string.h>

#include "../../aggregator/dedup.h"
#include "../../aggregator/reassembly.h"
#include "test_support.h"

#define OWNER(s) (const uint8_t *)(s), strlen(s)

static uint8_t body[1000];

static void fill(void)
{
    for (size_t i = 0; i < sizeof(body); i++) {
        body[i] = (uint8_t)(i * 37 + 11);
    }
}

/* Sends body[0, n) in blocks of `block` bytes from block `from` on. */
static agg_block_result_t send_blocks(agg_rsm_t *r, const char *owner, size_t n, size_t block, size_t from)
{
    agg_block_result_t res = AGG_BLOCK_INCOMPLETE;
    for (size_t at = from * block; at < n; at += block) {
        const size_t len = n - at < block ? n - at : block;
        res = agg_rsm_block(r, OWNER(owner), NULL, at, body + at, len, at + len < n, 0);
        if (res != AGG_BLOCK_CONTINUE) {
            break;
        }
    }
    return res;
}

static void expect_body(agg_rsm_t *r, const char *owner, size_t n)
{
    size_t len = 0;
    const uint8_t *got = agg_rsm_body(r, OWNER(owner), &len);
    assert_non_null(got);
    assert_int_equal(len, n);
    assert_memory_equal(got, body, n);
}

static void test_blocks_by_offset(void **state)
{
    (void)state;
    fill();
    agg_rsm_t *r = agg_rsm_new(4, 1000, 60);
    /* no Size1 anywhere: blocks placed by offset, the last one ends the body */
    assert_int_equal(send_blocks(r, "dev1", 999, 32, 0), AGG_BLOCK_COMPLETE);
    expect_body(r, "dev1", 999);
    agg_rsm_release(r, OWNER("dev1"));
    assert_int_equal(agg_rsm_in_use(r), 0);
    /* a repeated block with the same bytes is answered as before and
     * changes nothing; with other bytes it is refused and the body dropped */
    assert_int_equal(agg_rsm_block(r, OWNER("dev1"), NULL, 0, body, 64, 1, 0), AGG_BLOCK_CONTINUE);
    assert_int_equal(agg_rsm_block(r, OWNER("dev1"), NULL, 64, body + 64, 64, 1, 0), AGG_BLOCK_CONTINUE);
    assert_int_equal(agg_rsm_block(r, OWNER("dev1"), NULL, 64, body + 64, 64, 1, 0), AGG_BLOCK_CONTINUE);
    assert_int_equal(send_blocks(r, "dev1", 640, 64, 2), AGG_BLOCK_COMPLETE);
    expect_body(r, "dev1", 640);
    assert_int_equal(agg_rsm_block(r, OWNER("dev2"), NULL, 0, body, 64, 1, 0), AGG_BLOCK_CONTINUE);
    uint8_t other[64];
    memset(other, 0xEE, sizeof(other));
    assert_int_equal(agg_rsm_block(r, OWNER("dev2"), NULL, 0 + 32, other, 32, 1, 0), AGG_BLOCK_INCOMPLETE);
    assert_int_equal(agg_rsm_block(r, OWNER("dev2"), NULL, 64, body + 64, 64, 1, 0), AGG_BLOCK_INCOMPLETE);
    /* a gap */
    assert_int_equal(agg_rsm_block(r, OWNER("dev3"), NULL, 0, body, 64, 1, 0), AGG_BLOCK_CONTINUE);
    assert_int_equal(agg_rsm_block(r, OWNER("dev3"), NULL, 128, body + 128, 64, 1, 0), AGG_BLOCK_INCOMPLETE);
    /* block 0 starts the body again: a client retrying after a lost session */
    assert_int_equal(agg_rsm_block(r, OWNER("dev4"), NULL, 0, body, 64, 1, 0), AGG_BLOCK_CONTINUE);
    assert_int_equal(agg_rsm_block(r, OWNER("dev4"), NULL, 64, other, 64, 1, 0), AGG_BLOCK_CONTINUE);
    assert_int_equal(send_blocks(r, "dev4", 300, 64, 0), AGG_BLOCK_COMPLETE);
    expect_body(r, "dev4", 300);
    /* the block size may change between blocks (RFC 7959 2.5): offsets count */
    agg_rsm_release(r, OWNER("dev4"));
    assert_int_equal(agg_rsm_block(r, OWNER("dev4"), NULL, 0, body, 128, 1, 0), AGG_BLOCK_CONTINUE);
    assert_int_equal(send_blocks(r, "dev4", 500, 32, 4), AGG_BLOCK_COMPLETE);
    expect_body(r, "dev4", 500);
    /* beyond max_body, declared by the offset or by the length */
    assert_int_equal(agg_rsm_block(r, OWNER("dev4"), NULL, 992, body, 16, 1, 0), AGG_BLOCK_TOO_LARGE);
    assert_int_equal(agg_rsm_block(r, OWNER("dev4"), NULL, (size_t)1 << 40, body, 16, 1, 0), AGG_BLOCK_TOO_LARGE);
    agg_rsm_free(r);
}

/* One device opening many sessions holds one slot; a full table evicts only
 * a body idle for idle_s, otherwise it says busy (5.03). */
/* A late block from another session of the same device (an abandoned
 * attempt) does not mix into the body another session started. */
static void test_sessions_do_not_mix(void **state)
{
    (void)state;
    fill();
    int old_session, new_session;
    agg_rsm_t *r = agg_rsm_new(2, 1000, 60);
    assert_int_equal(agg_rsm_block(r, OWNER("dev1"), &old_session, 0, body, 64, 1, 0), AGG_BLOCK_CONTINUE);
    assert_int_equal(agg_rsm_block(r, OWNER("dev1"), &new_session, 0, body + 1, 64, 1, 1), AGG_BLOCK_CONTINUE);
    assert_int_equal(agg_rsm_block(r, OWNER("dev1"), &old_session, 64, body + 64, 64, 1, 1), AGG_BLOCK_INCOMPLETE);
    assert_int_equal(agg_rsm_block(r, OWNER("dev1"), &new_session, 64, body + 65, 64, 0, 2), AGG_BLOCK_COMPLETE);
    size_t len = 0;
    const uint8_t *got = agg_rsm_body(r, OWNER("dev1"), &len);
    assert_int_equal(len, 128);
    assert_memory_equal(got, body + 1, 128);
    agg_rsm_free(r);
}

static void test_slots_fair_per_device(void **state)
{
    (void)state;
    fill();
    agg_rsm_t *r = agg_rsm_new(2, 1000, 60);
    assert_int_equal(agg_rsm_block(r, OWNER("honest"), NULL, 0, body, 64, 1, 0), AGG_BLOCK_CONTINUE);
    for (int session = 0; session < 100; session++) { /* same identity, new sessions, new bodies */
        assert_int_equal(agg_rsm_block(r, OWNER("greedy"), NULL, 0, body + session, 64, 1, 10), AGG_BLOCK_CONTINUE);
    }
    assert_int_equal(agg_rsm_in_use(r), 2);
    assert_int_equal(agg_rsm_block(r, OWNER("honest"), NULL, 64, body + 64, 64, 1, 20), AGG_BLOCK_CONTINUE);
    assert_int_equal(agg_rsm_block(r, OWNER("third"), NULL, 0, body, 64, 1, 30), AGG_BLOCK_BUSY);
    /* 60 s after its last block, the greedy device's body may go */
    assert_int_equal(agg_rsm_block(r, OWNER("third"), NULL, 0, body, 64, 1, 70), AGG_BLOCK_CONTINUE);
    assert_int_equal(agg_rsm_block(r, OWNER("greedy"), NULL, 64, body + 64, 64, 1, 71), AGG_BLOCK_INCOMPLETE);
    assert_int_equal(send_blocks(r, "honest", 300, 64, 2), AGG_BLOCK_COMPLETE);
    expect_body(r, "honest", 300);
    agg_rsm_free(r);
}

static void test_dedup(void **state)
{
    (void)state;
    agg_dedup_t *d = agg_dedup_new(64, 247);
    int sessions[3];
    const uint8_t tok[2] = {0xa1, 0xb2};
    agg_reply_t reply = {.code = 204, .content_format = 60, .body = {1, 2, 3}, .body_len = 3};
    agg_dedup_put(d, &sessions[0], 0x1000, tok, 2, &reply, 100);
    const agg_reply_t *got = agg_dedup_get(d, &sessions[0], 0x1000, tok, 2, 110);
    assert_non_null(got);
    assert_int_equal(got->code, 204);
    assert_int_equal(got->body_len, 3);
    /* another session, Message ID or token is another request */
    assert_null(agg_dedup_get(d, &sessions[1], 0x1000, tok, 2, 110));
    assert_null(agg_dedup_get(d, &sessions[0], 0x1001, tok, 2, 110));
    assert_null(agg_dedup_get(d, &sessions[0], 0x1000, tok, 1, 110));
    /* EXCHANGE_LIFETIME later the Message ID may be reused */
    assert_null(agg_dedup_get(d, &sessions[0], 0x1000, tok, 2, 348));
    /* a session's entries go with it */
    agg_dedup_put(d, &sessions[2], 7, tok, 2, &reply, 100);
    agg_dedup_forget(d, &sessions[2]);
    assert_null(agg_dedup_get(d, &sessions[2], 7, tok, 2, 100));
    /* many requests: the newest are kept */
    for (uint16_t mid = 0; mid < 1000; mid++) {
        reply.code = 200 + mid % 50;
        agg_dedup_put(d, &sessions[1], mid, tok, 2, &reply, 200 + mid);
    }
    got = agg_dedup_get(d, &sessions[1], 999, tok, 2, 1200);
    assert_non_null(got);
    assert_int_equal(got->code, 200 + 999 % 50);
    agg_dedup_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_by_offset),
        cmocka_unit_test(test_sessions_do_not_mix),
        cmocka_unit_test(test_slots_fair_per_device),
        cmocka_unit_test(test_dedup),
    };
    return cmocka_run_group_tests_name("reassembly", tests, NULL, NULL);
}
