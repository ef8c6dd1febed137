/*
 * The device's CoAP exchange (device/sync/coap_exchange.c) against a
 * simulated lossy link and a server in this file that reads every request
 * with libcoap (coap_pdu_parse, coap_get_block: the independent truth for
 * what the device sends):
 *  - a 3,000-byte body goes up in Block1 blocks and comes back down in
 *    Block2 blocks, piggybacked or as separate responses, at the device's
 *    block size or a smaller one the server asks for, on 40 seeds with 30 %
 *    loss each way and duplicates: every exchange completes with the right
 *    bytes, with MAX_RETRANSMIT 6 (a thin link's setting), and started
 *    again (as the sync does) when one ends by time-out;
 *  - retransmissions follow RFC 7252 section 4.2 exactly: the first after
 *    2 to 3 s, each next after twice the previous wait, at most
 *    MAX_RETRANSMIT of them; with every datagram lost the exchange gives up
 *    after 5 transmissions within MAX_TRANSMIT_WAIT (93 s);
 *  - a reset, a response too large for the buffer and a broken block
 *    sequence end the exchange with their errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <coap3/coap.h>

#include "mfl/coap_exchange.h"
#include "mfl/error.h"
#include "test_support.h"

enum { BODY = 3000, MAX_QUEUE = 256 };

static uint64_t rng = 0x2545F4914F6CDD1Dull;

static uint32_t next(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

typedef struct {
    uint8_t data[MFL_COAP_MAX_DATAGRAM];
    size_t len;
    uint32_t at;
} datagram_t;

typedef struct {
    datagram_t q[MAX_QUEUE];
    int n;
} queue_t;

typedef struct {
    int loss_permille, duplicate_permille;
} link_t;

static void enqueue(queue_t *q, const link_t *l, const uint8_t *d, size_t len, uint32_t now)
{
    for (int copy = 0; copy < 2; copy++) {
        if (copy == 1 && (int)(next() % 1000) >= l->duplicate_permille) {
            break;
        }
        if ((int)(next() % 1000) < l->loss_permille || q->n == MAX_QUEUE) {
            continue;
        }
        datagram_t *g = &q->q[q->n++];
        memcpy(g->data, d, len);
        g->len = len;
        g->at = now + 50 + next() % 100; /* 50..150 ms one way, so some overtake others */
    }
}

/* The earliest datagram due at or before now (or -1). */
static int due(const queue_t *q, uint32_t now)
{
    int best = -1;
    for (int i = 0; i < q->n; i++) {
        if ((int32_t)(now - q->q[i].at) >= 0 && (best < 0 || (int32_t)(q->q[i].at - q->q[best].at) < 0)) {
            best = i;
        }
    }
    return best;
}

static void take(queue_t *q, int i, datagram_t *out)
{
    *out = q->q[i];
    q->q[i] = q->q[--q->n];
}

typedef struct {
    int separate;            /* answer with an empty ACK, then a CON response */
    uint8_t szx;             /* the server's largest block */
    uint8_t stored[BODY];
    size_t stored_len;
    uint16_t mid;            /* its own message IDs, for separate responses */
    /* RFC 7252 section 4.5 deduplication: the answer to the last request per message ID */
    uint16_t last_mid[16];
    datagram_t last_answer[16][2];
    int last_count[16], slots;
    queue_t pending;         /* separate responses to send later */
    int reset_all;
} server_t;

/* The server's answer(s) to one request read with libcoap. */
static int answer(server_t *s, const coap_pdu_t *req, datagram_t *out)
{
    const coap_bin_const_t token = coap_pdu_get_token(req);
    const uint16_t mid = (uint16_t)coap_pdu_get_mid(req);
    const coap_pdu_code_t code = coap_pdu_get_code(req);
    coap_block_t b1, b2;
    const int has_b1 = coap_get_block(req, COAP_OPTION_BLOCK1, &b1), has_b2 = coap_get_block(req, COAP_OPTION_BLOCK2, &b2);
    size_t data_len = 0;
    const uint8_t *data = NULL;
    coap_get_data(req, &data_len, &data);
    uint8_t rcode = MFL_COAP_CODE(4, 4), payload[1024];
    size_t payload_len = 0;
    int with_b1 = 0, with_b2 = 0;
    mfl_coap_block_t ob1 = {0, 0, 0}, ob2 = {0, 0, 0};
    if (code == COAP_REQUEST_CODE_POST) {
        const unsigned szx = has_b1 && b1.szx > s->szx ? s->szx : (has_b1 ? b1.szx : 0);
        if (has_b1) {
            const size_t at = (size_t)b1.num << (b1.szx + 4);
            assert_true(at + data_len <= BODY);
            memcpy(s->stored + at, data, data_len);
            if (!b1.m) {
                s->stored_len = at + data_len;
            }
        } else {
            memcpy(s->stored, data, data_len);
            s->stored_len = data_len;
        }
        /* 2.31 for a block with more to come, at the server's size if smaller */
        rcode = has_b1 && b1.m ? MFL_COAP_CONTINUE : MFL_COAP_CHANGED;
        with_b1 = has_b1;
        /* RFC 7959 figure 6: the block's own NUM, with the size the server wants */
        ob1 = (mfl_coap_block_t){has_b1 ? b1.num : 0, (uint8_t)(has_b1 ? b1.m : 0), (uint8_t)szx};
        payload_len = (size_t)snprintf((char *)payload, sizeof(payload), "stored");
    } else if (code == COAP_REQUEST_CODE_GET) {
        const unsigned szx = has_b2 && b2.szx < s->szx ? b2.szx : s->szx;
        const size_t size = (size_t)16 << szx, at = has_b2 ? (size_t)b2.num << (b2.szx + 4) : 0;
        assert_true(at % size == 0 && at <= s->stored_len);
        payload_len = s->stored_len - at < size ? s->stored_len - at : size;
        memcpy(payload, s->stored + at, payload_len);
        rcode = MFL_COAP_CONTENT;
        with_b2 = 1;
        ob2 = (mfl_coap_block_t){(uint32_t)(at / size), at + payload_len < s->stored_len, (uint8_t)szx};
    }
    int n = 0;
    mfl_coap_writer_t w;
    if (s->separate) { /* an empty ACK now, the response as a CON of its own */
        mfl_coap_writer_init(&w, out[n].data, sizeof(out[n].data), MFL_COAP_ACK, MFL_COAP_EMPTY, mid, NULL, 0);
        assert_int_equal(mfl_coap_writer_end(&w, &out[n].len), 0);
        n++;
    }
    mfl_coap_writer_init(&w, out[n].data, sizeof(out[n].data), s->separate ? MFL_COAP_CON : MFL_COAP_ACK, rcode,
                         s->separate ? s->mid++ : mid, token.s, (uint8_t)token.length);
    if (with_b2) {
        mfl_coap_add_block(&w, MFL_COAP_OPT_BLOCK2, &ob2);
    }
    if (with_b1) {
        mfl_coap_add_block(&w, MFL_COAP_OPT_BLOCK1, &ob1);
    }
    mfl_coap_set_payload(&w, payload, payload_len);
    assert_int_equal(mfl_coap_writer_end(&w, &out[n].len), 0);
    return n + 1;
}

/* A datagram at the server: RFC 7252 deduplication, then the answer. */
static void serve(server_t *s, const datagram_t *d, queue_t *to_client, const link_t *l, uint32_t now)
{
    coap_pdu_t *req = coap_pdu_init(0, 0, 0, d->len + 16);
    assert_true(coap_pdu_parse(COAP_PROTO_UDP, d->data, d->len, req)); /* the device sends only what libcoap reads */
    const coap_pdu_type_t type = coap_pdu_get_type(req);
    if (type == COAP_MESSAGE_ACK) { /* the device's ACK of a separate response */
        coap_delete_pdu(req);
        return;
    }
    assert_int_equal(type, COAP_MESSAGE_CON);
    const uint16_t mid = (uint16_t)coap_pdu_get_mid(req);
    if (s->reset_all) {
        uint8_t rst[4] = {0x70, 0, (uint8_t)(mid >> 8), (uint8_t)mid};
        enqueue(to_client, l, rst, sizeof(rst), now);
        coap_delete_pdu(req);
        return;
    }
    int slot = -1;
    for (int i = 0; i < s->slots; i++) {
        slot = s->last_mid[i] == mid ? i : slot;
    }
    if (slot < 0) {
        slot = s->slots < 16 ? s->slots++ : (int)(next() % 16);
        s->last_mid[slot] = mid;
        s->last_count[slot] = answer(s, req, s->last_answer[slot]);
    }
    enqueue(to_client, l, s->last_answer[slot][0].data, s->last_answer[slot][0].len, now);
    if (s->last_count[slot] == 2) { /* a separate CON response, retransmitted as RFC 7252 section 4.2 has it */
        static const uint32_t after[5] = {300, 2300, 6300, 14300, 30300};
        for (int k = 0; k < 5; k++) {
            enqueue(to_client, l, s->last_answer[slot][1].data, s->last_answer[slot][1].len, now + after[k]);
        }
    }
    coap_delete_pdu(req);
}

typedef struct {
    uint32_t sent_at[64];
    uint16_t sent_mid[64];
    int sent;
} trace_t;

/* Runs one exchange to its end over the link; returns its error. */
static int run(mfl_coap_exchange_t *x, server_t *s, const link_t *up, const link_t *down, uint32_t *now,
               trace_t *trace)
{
    queue_t to_server = {.n = 0}, to_client = {.n = 0};
    for (int guard = 0; guard < 100000 && !mfl_coap_exchange_done(x); guard++) {
        const uint8_t *out;
        size_t out_len;
        mfl_coap_exchange_poll(x, *now, &out, &out_len);
        if (out) {
            if (trace && trace->sent < 64 && out_len > 4 && (out[0] >> 4 & 3) == MFL_COAP_CON) {
                trace->sent_at[trace->sent] = *now;
                trace->sent_mid[trace->sent++] = (uint16_t)(out[2] << 8 | out[3]);
            }
            enqueue(&to_server, up, out, out_len, *now);
        }
        if (mfl_coap_exchange_done(x)) {
            break; /* the clock stays at the moment it ended */
        }
        int i;
        datagram_t d;
        if ((i = due(&to_server, *now)) >= 0) {
            take(&to_server, i, &d);
            serve(s, &d, &to_client, down, *now);
            continue;
        }
        if ((i = due(&to_client, *now)) >= 0) {
            take(&to_client, i, &d);
            mfl_coap_exchange_receive(x, d.data, d.len, *now, &out, &out_len);
            if (out) {
                enqueue(&to_server, up, out, out_len, *now);
            }
            continue;
        }
        /* nothing due: the clock moves to the next event */
        uint32_t when = x->wake_ms;
        for (int k = 0; k < to_server.n; k++) {
            when = (int32_t)(to_server.q[k].at - when) < 0 ? to_server.q[k].at : when;
        }
        for (int k = 0; k < to_client.n; k++) {
            when = (int32_t)(to_client.q[k].at - when) < 0 ? to_client.q[k].at : when;
        }
        *now = (int32_t)(when - *now) > 0 ? when : *now + 1;
    }
    assert_true(mfl_coap_exchange_done(x));
    return x->error;
}

static const mfl_coap_params_t *params_szx(mfl_coap_params_t *p, uint8_t szx)
{
    *p = mfl_coap_default_params();
    p->szx = szx;
    return p;
}

/* A thin link's setting: MAX_RETRANSMIT 6, so that at 30 % loss each way a
 * message gets through with 99 % (RFC 7252's 4 give 96.5 %, too little for
 * the 24 messages of a body in 128-byte blocks). */
static const mfl_coap_params_t *thin_link(mfl_coap_params_t *p, uint8_t szx)
{
    params_szx(p, szx);
    p->max_retransmit = 6;
    return p;
}

static void test_upload_and_download_over_loss(void **state)
{
    (void)state;
    static uint8_t body[BODY], back[BODY + 16];
    static server_t s;
    int transmissions = 0, exchanges = 0, timeouts = 0;
    for (int seed = 1; seed <= 40; seed++) {
        memset(&s, 0, sizeof(s));
        s.separate = seed % 2;
        s.szx = (uint8_t)(seed % 3 == 0 ? 3 : 6); /* every third server wants 128-byte blocks */
        for (int i = 0; i < BODY; i++) {
            body[i] = (uint8_t)next();
        }
        const link_t lossy = {300, 50};
        mfl_coap_params_t p;
        mfl_coap_exchange_t x;
        uint32_t now = 0xFFFFF000u + (uint32_t)seed; /* the clock wraps during the run */
        const uint8_t token[4] = {(uint8_t)seed, 2, 3, 4};
        mfl_coap_request_t up = {MFL_COAP_POST, {"fl", "v1", "update"}, 3, 18, body, BODY, back, sizeof(back), NULL, 0};
        int err = MFL_ERR_COAP_TIMEOUT;
        for (int attempt = 0; err == MFL_ERR_COAP_TIMEOUT && attempt < 8; attempt++, timeouts += err != 0) {
            assert_int_equal(mfl_coap_exchange_start(&x, thin_link(&p, 4), &up, (uint16_t)(seed * 1000 + attempt * 100),
                                                     token, 4, (uint32_t)seed, now),
                             0);
            err = run(&x, &s, &lossy, &lossy, &now, NULL);
        }
        assert_int_equal(err, 0);
        assert_int_equal(x.response_code, MFL_COAP_CHANGED);
        assert_int_equal(x.response_len, 6);
        assert_memory_equal(back, "stored", 6);
        assert_int_equal(s.stored_len, BODY);
        assert_memory_equal(s.stored, body, BODY);
        transmissions += (int)x.transmissions;
        memset(back, 0, sizeof(back));
        mfl_coap_request_t down = {MFL_COAP_GET, {"fl", "v1", "update"}, 3, -1, NULL, 0, back, sizeof(back), NULL, 0};
        err = MFL_ERR_COAP_TIMEOUT;
        for (int attempt = 0; err == MFL_ERR_COAP_TIMEOUT && attempt < 8; attempt++, timeouts += err != 0) {
            assert_int_equal(mfl_coap_exchange_start(&x, thin_link(&p, 5), &down,
                                                     (uint16_t)(seed * 1000 + 500 + attempt * 100), token, 4,
                                                     (uint32_t)seed, now),
                             0);
            err = run(&x, &s, &lossy, &lossy, &now, NULL);
        }
        assert_int_equal(err, 0);
        assert_int_equal(x.response_code, MFL_COAP_CONTENT);
        assert_int_equal(x.response_len, BODY);
        assert_memory_equal(back, body, BODY);
        transmissions += (int)x.transmissions;
        exchanges += 2;
    }
    print_message("%d exchanges of 3,000 bytes at 30 %% loss each way: %.1f datagrams sent per exchange (the "
                  "last attempt's), %d attempts ended by time-out and were started again\n",
                  exchanges, (double)transmissions / exchanges, timeouts);
}

static void test_retransmissions_follow_rfc7252(void **state)
{
    (void)state;
    static server_t s;
    static uint8_t back[64];
    for (int seed = 1; seed <= 50; seed++) {
        memset(&s, 0, sizeof(s));
        const link_t dead = {1000, 0}, ok = {0, 0};
        mfl_coap_params_t p = mfl_coap_default_params();
        mfl_coap_exchange_t x;
        trace_t t = {.sent = 0};
        uint32_t now = (uint32_t)seed * 7919u;
        const uint32_t start = now;
        const uint8_t token[2] = {1, (uint8_t)seed};
        mfl_coap_request_t req = {MFL_COAP_POST, {"fl"}, 1, -1, (const uint8_t *)"x", 1, back, sizeof(back), NULL, 0};
        assert_int_equal(mfl_coap_exchange_start(&x, &p, &req, 77, token, 2, (uint32_t)seed, now), 0);
        assert_int_equal(run(&x, &s, &dead, &ok, &now, &t), MFL_ERR_COAP_TIMEOUT);
        assert_int_equal(t.sent, 1 + p.max_retransmit);
        const uint32_t first = t.sent_at[1] - t.sent_at[0];
        assert_true(first >= 2000 && first <= 3000); /* ACK_TIMEOUT .. ACK_TIMEOUT * ACK_RANDOM_FACTOR */
        for (int i = 1; i < t.sent; i++) {
            assert_int_equal(t.sent_mid[i], 77); /* a retransmission keeps its message ID */
            assert_int_equal(t.sent_at[i] - t.sent_at[i - 1], first << (i - 1));
        }
        /* given up 31 first waits after the first transmission: at most 3 s x 31 = 93 s, MAX_TRANSMIT_WAIT */
        assert_true(now - start == first * 31u && now - start <= 93000u);
    }
}

static void test_reset_overflow_and_broken_blocks(void **state)
{
    (void)state;
    static server_t s;
    static uint8_t body[BODY], small[100];
    const link_t ok = {0, 0};
    mfl_coap_params_t p;
    mfl_coap_exchange_t x;
    uint32_t now = 0;
    const uint8_t token[1] = {9};
    memset(&s, 0, sizeof(s));
    s.reset_all = 1;
    mfl_coap_request_t post = {MFL_COAP_POST, {"fl"}, 1, -1, body, 10, small, sizeof(small), NULL, 0};
    assert_int_equal(mfl_coap_exchange_start(&x, params_szx(&p, 4), &post, 1, token, 1, 1, now), 0);
    assert_int_equal(run(&x, &s, &ok, &ok, &now, NULL), MFL_ERR_COAP_RESET);
    /* a 3,000-byte response into 100 bytes */
    memset(&s, 0, sizeof(s));
    s.szx = 6;
    s.stored_len = BODY;
    mfl_coap_request_t get = {MFL_COAP_GET, {"fl"}, 1, -1, NULL, 0, small, sizeof(small), NULL, 0};
    assert_int_equal(mfl_coap_exchange_start(&x, params_szx(&p, 6), &get, 100, token, 1, 1, now), 0);
    assert_int_equal(run(&x, &s, &ok, &ok, &now, NULL), MFL_ERR_BUFFER_TOO_SMALL);
    /* a Block2 response numbered other than asked */
    uint8_t resp[64];
    mfl_coap_writer_t w;
    const mfl_coap_block_t wrong = {3, 1, 4};
    assert_int_equal(mfl_coap_exchange_start(&x, params_szx(&p, 4), &get, 200, token, 1, 1, now), 0);
    const uint8_t *out;
    size_t out_len, len;
    mfl_coap_exchange_poll(&x, now, &out, &out_len);
    mfl_coap_writer_init(&w, resp, sizeof(resp), MFL_COAP_ACK, MFL_COAP_CONTENT, 200, token, 1);
    mfl_coap_add_block(&w, MFL_COAP_OPT_BLOCK2, &wrong);
    mfl_coap_set_payload(&w, body, 16);
    assert_int_equal(mfl_coap_writer_end(&w, &len), 0);
    assert_int_equal(mfl_coap_exchange_receive(&x, resp, len, now, &out, &out_len), MFL_ERR_COAP_BLOCK);
    /* datagrams for other exchanges or malformed ones change nothing */
    assert_int_equal(mfl_coap_exchange_start(&x, params_szx(&p, 4), &get, 300, token, 1, 1, now), 0);
    mfl_coap_exchange_poll(&x, now, &out, &out_len);
    const uint8_t junk[3] = {1, 2, 3};
    assert_int_equal(mfl_coap_exchange_receive(&x, junk, sizeof(junk), now, &out, &out_len), 0);
    mfl_coap_writer_init(&w, resp, sizeof(resp), MFL_COAP_ACK, MFL_COAP_CONTENT, 301, token, 1); /* other ID */
    mfl_coap_set_payload(&w, "zz", 2);
    assert_int_equal(mfl_coap_writer_end(&w, &len), 0);
    assert_int_equal(mfl_coap_exchange_receive(&x, resp, len, now, &out, &out_len), 0);
    assert_false(mfl_coap_exchange_done(&x));
}

int main(void)
{
    coap_startup();
    coap_set_log_level(LOG_EMERG);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upload_and_download_over_loss),
        cmocka_unit_test(test_retransmissions_follow_rfc7252),
        cmocka_unit_test(test_reset_overflow_and_broken_blocks),
    };
    const int rc = cmocka_run_group_tests_name("coap_exchange", tests, NULL, NULL);
    coap_cleanup();
    return rc;
}
