/*
 * The device's sync (device/sync/sync.c) against a scripted aggregator in
 * this file, over a simulated link on a virtual clock. The aggregator reads
 * every request with libcoap (coap_pdu_parse, coap_get_block: the
 * independent truth for what the device sends) and answers as
 * docs/protocol.md says the real one does; the real one is test_e2e's and
 * test_lossy's. Asserted:
 *  - a newer signed model is installed and written to the state; a GET
 *    carries the installed version as its ETag and an unchanged model is
 *    answered 2.03 and not downloaded; a model signed with another key, or
 *    larger than the buffer, is refused and the learner keeps its own;
 *  - an update is sent under a counter persisted before signing; the
 *    residual is committed on an "accepted" receipt only; 5.03 is retried
 *    after a back-off of 250-500 ms, then 500-1000 ms; a "counter used"
 *    receipt moves the counter past the aggregator's last one and the
 *    update is stored under the new counter (a second one is a refusal,
 *    and one that would jump more than 2^32 is not obeyed);
 *    4.12, 4.01 and a receipt for another counter end it with their own
 *    errors, nothing committed; a relayed update is never re-signed;
 *  - a silent aggregator ends it with MFL_ERR_COAP_TIMEOUT after
 *    max_attempts requests; a definitive port error ends it at once;
 *  - with 30 % loss each way on 20 seeds, every fetch and every update
 *    completes, each update stored exactly once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <coap3/coap.h>

#include "mfl/cose.h"
#include "mfl/delta.h"
#include "mfl/error.h"
#include "mfl/model_identity.h"
#include "mfl/sync.h"
#include "mfl/update_builder.h"
#include "test_support.h"

enum { MAX_QUEUE = 256, MAX_BODY = 4096 };

static uint64_t rng = 0x9E3779B97F4A7C15ull;

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

/* The scripted aggregator and the link to it. */
typedef struct {
    queue_t to_server, to_device;
    int loss_permille;
    uint32_t now;
    int port_error;            /* the port's send fails with this (0: works) */
    /* the aggregator */
    uint8_t model[MAX_BODY];
    size_t model_len;
    uint64_t version;
    uint8_t body[MAX_BODY];    /* Block1 reassembly */
    size_t body_len;
    uint64_t last_counter;     /* the device's last stored counter */
    uint64_t claim_last;       /* a "counter used" receipt's last counter instead of the true one (0: true) */
    uint8_t stored[MAX_BODY];  /* the last stored update's bytes */
    size_t stored_len;
    int stored_count;          /* updates stored (duplicates not counted) */
    int unavailable;           /* answer 5.03 to this many more requests */
    int silent;                /* answer nothing */
    uint8_t refuse;            /* answer POSTs with this code (0: no) */
    int stale, foreign_receipt, always_used;
    int gets_with_etag, gets;  /* GETs seen, and those carrying the version as ETag */
    uint32_t request_at[32];   /* when each request message (block 0) arrived */
    int requests;
} world_t;

static world_t w;

static void enqueue(queue_t *q, const uint8_t *d, size_t len, uint32_t now)
{
    if ((int)(next() % 1000) < w.loss_permille || q->n == MAX_QUEUE) {
        return;
    }
    datagram_t *g = &q->q[q->n++];
    memcpy(g->data, d, len);
    g->len = len;
    g->at = now + 40 + next() % 80; /* 40..120 ms one way: some overtake others */
}

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

static int port_send(void *ctx, const uint8_t *d, size_t len)
{
    (void)ctx;
    if (w.port_error) {
        return w.port_error;
    }
    enqueue(&w.to_server, d, len, w.now);
    return 0;
}

static int port_receive(void *ctx, uint8_t *buf, size_t cap)
{
    (void)ctx;
    const int i = due(&w.to_device, w.now);
    if (i < 0) {
        return 0;
    }
    const datagram_t d = w.to_device.q[i];
    w.to_device.q[i] = w.to_device.q[--w.to_device.n];
    assert_true(d.len <= cap);
    memcpy(buf, d.data, d.len);
    return (int)d.len;
}

/* A piggybacked answer to req. */
static void respond(const coap_pdu_t *req, uint8_t code, const mfl_coap_block_t *b1, const mfl_coap_block_t *b2,
                    const uint8_t *payload, size_t len)
{
    const coap_bin_const_t token = coap_pdu_get_token(req);
    uint8_t out[MFL_COAP_MAX_DATAGRAM];
    size_t out_len;
    mfl_coap_writer_t wr;
    mfl_coap_writer_init(&wr, out, sizeof(out), MFL_COAP_ACK, code, (uint16_t)coap_pdu_get_mid(req), token.s,
                         (uint8_t)token.length);
    if (b2) {
        mfl_coap_add_block(&wr, MFL_COAP_OPT_BLOCK2, b2);
    }
    if (b1) {
        mfl_coap_add_block(&wr, MFL_COAP_OPT_BLOCK1, b1);
    }
    mfl_coap_set_payload(&wr, payload, len);
    assert_int_equal(mfl_coap_writer_end(&wr, &out_len), 0);
    enqueue(&w.to_device, out, out_len, w.now);
}

static void answer_get(const coap_pdu_t *req)
{
    coap_block_t b2;
    const int has_b2 = coap_get_block(req, COAP_OPTION_BLOCK2, &b2);
    coap_opt_iterator_t it;
    const coap_opt_t *etag = coap_check_option(req, COAP_OPTION_ETAG, &it);
    uint8_t want[8];
    size_t want_len = 0;
    for (uint64_t v = w.version; v; v >>= 8) {
        want_len++;
    }
    for (size_t i = 0; i < want_len; i++) {
        want[i] = (uint8_t)(w.version >> (8 * (want_len - 1 - i)));
    }
    const int current = etag && coap_opt_length(etag) == want_len && !memcmp(coap_opt_value(etag), want, want_len);
    if (!has_b2 || b2.num == 0) {
        w.gets++;
        w.gets_with_etag += current;
    }
    if (current) {
        respond(req, MFL_COAP_CODE(2, 3), NULL, NULL, NULL, 0);
        return;
    }
    const unsigned szx = has_b2 ? b2.szx : 6;
    const size_t size = (size_t)16 << szx, at = has_b2 ? (size_t)b2.num * size : 0;
    assert_true(at <= w.model_len);
    const size_t n = w.model_len - at < size ? w.model_len - at : size;
    const mfl_coap_block_t ob2 = {(uint32_t)(at / size), at + n < w.model_len, (uint8_t)szx};
    respond(req, MFL_COAP_CONTENT, NULL, &ob2, w.model + at, n);
}

static void receipt(const coap_pdu_t *req, uint8_t code, const mfl_update_t *u, uint32_t status)
{
    uint64_t last = w.last_counter > u->counter || status != MFL_RECEIPT_COUNTER_USED ? w.last_counter : u->counter;
    last = w.claim_last && status == MFL_RECEIPT_COUNTER_USED ? w.claim_last : last;
    const mfl_receipt_t r = {u->device_id, u->device_id_len, w.foreign_receipt ? u->counter + 1 : u->counter,
                             status, w.version, last};
    uint8_t out[256];
    size_t len;
    assert_int_equal(mfl_receipt_encode(&r, out, sizeof(out), &len), 0);
    respond(req, code, NULL, NULL, out, len);
}

/* A complete update body: the aggregator's rules (docs/protocol.md). */
static void answer_update(const coap_pdu_t *req)
{
    mfl_cose_sign1_t c;
    mfl_update_t u;
    assert_int_equal(mfl_cose_sign1_decode(w.body, w.body_len, &c), 0);
    assert_int_equal(mfl_update_decode(c.payload, c.payload_len, 0, 0, &u), 0);
    if (w.refuse) {
        static const char text[] = "signature does not verify";
        respond(req, w.refuse, NULL, NULL, (const uint8_t *)text, sizeof(text) - 1);
    } else if (w.stale) {
        receipt(req, MFL_COAP_CODE(4, 12), &u, MFL_RECEIPT_STALE);
    } else if (u.counter == w.last_counter && w.body_len == w.stored_len && !memcmp(w.body, w.stored, w.body_len)) {
        receipt(req, MFL_COAP_CHANGED, &u, MFL_RECEIPT_DUPLICATE);
    } else if (u.counter <= w.last_counter || w.always_used) {
        receipt(req, MFL_COAP_CODE(4, 9), &u, MFL_RECEIPT_COUNTER_USED);
    } else {
        w.last_counter = u.counter;
        memcpy(w.stored, w.body, w.body_len);
        w.stored_len = w.body_len;
        w.stored_count++;
        receipt(req, MFL_COAP_CHANGED, &u, MFL_RECEIPT_ACCEPTED);
    }
}

static void answer_post(const coap_pdu_t *req)
{
    coap_block_t b1;
    const int has_b1 = coap_get_block(req, COAP_OPTION_BLOCK1, &b1);
    size_t len = 0;
    const uint8_t *data = NULL;
    coap_get_data(req, &len, &data);
    const size_t at = has_b1 ? (size_t)b1.num << (b1.szx + 4) : 0;
    assert_true(at + len <= MAX_BODY);
    memcpy(w.body + at, data, len);
    if (has_b1 && b1.m) {
        const mfl_coap_block_t ob1 = {b1.num, 1, (uint8_t)b1.szx};
        respond(req, MFL_COAP_CONTINUE, &ob1, NULL, NULL, 0);
        return;
    }
    w.body_len = at + len;
    answer_update(req);
}

static void serve(const datagram_t *d)
{
    coap_pdu_t *req = coap_pdu_init(0, 0, 0, d->len + 16);
    assert_true(coap_pdu_parse(COAP_PROTO_UDP, d->data, d->len, req));
    coap_block_t b;
    const int first = !coap_get_block(req, COAP_OPTION_BLOCK1, &b) || b.num == 0;
    if (first && (!coap_get_block(req, COAP_OPTION_BLOCK2, &b) || b.num == 0) && w.requests < 32) {
        w.request_at[w.requests++] = w.now;
    }
    if (w.silent) {
        /* nothing */
    } else if (w.unavailable > 0) {
        w.unavailable--;
        respond(req, MFL_COAP_CODE(5, 3), NULL, NULL, NULL, 0);
    } else if (coap_pdu_get_code(req) == COAP_REQUEST_CODE_GET) {
        answer_get(req);
    } else {
        answer_post(req);
    }
    coap_delete_pdu(req);
}

/* Polls the sync to the end of its operation on the virtual clock. */
static int drive(mfl_sync_t *s)
{
    for (int guard = 0; guard < 200000; guard++) {
        int i;
        while ((i = due(&w.to_server, w.now)) >= 0) {
            const datagram_t d = w.to_server.q[i];
            w.to_server.q[i] = w.to_server.q[--w.to_server.n];
            serve(&d);
        }
        const int rc = mfl_sync_poll(s, w.now);
        if (rc != MFL_SYNC_PENDING) {
            return rc;
        }
        uint32_t at = s->wake_ms;
        for (int k = 0; k < w.to_server.n; k++) {
            at = (int32_t)(w.to_server.q[k].at - at) < 0 ? w.to_server.q[k].at : at;
        }
        for (int k = 0; k < w.to_device.n; k++) {
            at = (int32_t)(w.to_device.q[k].at - at) < 0 ? w.to_device.q[k].at : at;
        }
        w.now = (int32_t)(at - w.now) > 0 ? at : w.now + 1;
    }
    fail_msg("the sync never ended");
    return 0;
}

/* The device: a model, a learner, state on RAM flash, keys and buffers. */
static uint8_t *model_image;
static size_t model_size;
static mfl_model_t model;
static mfl_es256_private_t agg_key, dev_key, other_key;
static mfl_es256_public_t agg_pub;
static mfl_learner_t learner;
static mfl_state_t state;
static mfl_storage_t storage;
static mfl_ram_flash_t flash;
static uint8_t flash_mem[16 * 4096], arena[64 * 1024], mem[32 * 1024];
static uint8_t model_buf[4096], update_buf[4096];
static uint64_t work[4096];
static int32_t residual[10 * 17], residual_work[10 * 17];
static mfl_sync_t sync;

/* The aggregator's model message of a version, signed with key. */
static void publish(uint64_t version, const mfl_es256_private_t *key)
{
    w.model_len = ts_signed_model_msg(learner.head.units, learner.head.features, version, key, w.model,
                                      sizeof(w.model));
    w.version = version;
}

static int setup(void **st)
{
    (void)st;
    const int err = ts_small_fmnist_model(&model_image, &model_size, &model);
    memset(agg_key.d, 0x42, sizeof(agg_key.d));
    memset(dev_key.d, 0x24, sizeof(dev_key.d));
    memset(other_key.d, 0x33, sizeof(other_key.d));
    return err || mfl_es256_public_from_private(&agg_key, &agg_pub) ? -1 : 0;
}

static int teardown(void **st)
{
    (void)st;
    free(model_image);
    return 0;
}

/* A fresh device and aggregator (model version 2 published), loss in permille. */
static void start(int loss_permille, uint64_t seed)
{
    memset(&w, 0, sizeof(w));
    w.loss_permille = loss_permille;
    w.now = 0xFFFF0000u; /* the clock wraps during the run */
    rng = 0x9E3779B97F4A7C15ull ^ seed;
    assert_int_equal(mfl_learner_init(&learner, &model, arena, sizeof(arena), mem, sizeof(mem), 8, NULL), 0);
    assert_int_equal(learner.head.units * (learner.head.features + 1), 10 * 17);
    assert_int_equal(mfl_storage_ram_init(&storage, &flash, flash_mem, sizeof(flash_mem), 4096), 0);
    assert_int_equal(mfl_state_open(&state, &storage), 0);
    memset(residual, 0, sizeof(residual));
    publish(2, &agg_key);
    mfl_sync_config_t c = mfl_sync_default_config();
    c.port = (mfl_datagram_port_t){port_send, port_receive, NULL, NULL};
    c.learner = &learner;
    c.state = &state;
    c.aggregator = &agg_pub;
    c.key = &dev_key;
    c.device_id = (const uint8_t *)"dev1";
    c.device_id_len = 4;
    c.residual = residual;
    c.residual_work = residual_work;
    c.model_buf = model_buf;
    c.model_cap = sizeof(model_buf);
    c.update_buf = update_buf;
    c.update_cap = sizeof(update_buf);
    c.work = work;
    c.work_size = sizeof(work);
    c.coap.max_retransmit = loss_permille ? 6 : 4; /* a thin link's setting */
    c.seed = (uint32_t)seed + 1;
    assert_true(mfl_update_work_size(&learner, 0) <= sizeof(work));
    assert_true(mfl_sync_model_max_size(&learner) <= sizeof(model_buf));
    assert_int_equal(mfl_sync_init(&sync, &c), 0);
}

/* Learns a few samples so that there is an update to send. */
static void learn_some(void)
{
    int8_t in[784];
    for (int s = 0; s < 4; s++) {
        for (int i = 0; i < 784; i++) {
            in[i] = (int8_t)((i * 31 + s * 17) % 200 - 100);
        }
        assert_int_equal(mfl_learner_learn(&learner, in, 784, (uint8_t)s), 0);
    }
}

static int residual_is_zero(void)
{
    for (size_t i = 0; i < sizeof(residual) / sizeof(residual[0]); i++) {
        if (residual[i]) {
            return 0;
        }
    }
    return 1;
}

static void test_fetch_installs_then_validates(void **st)
{
    (void)st;
    start(0, 1);
    assert_int_equal(mfl_sync_fetch_model(&sync, w.now), 0);
    assert_int_equal(drive(&sync), 0);
    assert_int_equal(sync.outcome, MFL_SYNC_MODEL_INSTALLED);
    assert_int_equal(sync.version, 2);
    assert_int_equal(state.model.version[state.model.current], 2); /* stored before it was reported */
    /* unchanged: the GET names version 2 and gets 2.03, no body */
    const uint32_t received = sync.stats.bytes_received;
    assert_int_equal(mfl_sync_fetch_model(&sync, w.now), 0);
    assert_int_equal(drive(&sync), 0);
    assert_int_equal(sync.outcome, MFL_SYNC_MODEL_CURRENT);
    assert_int_equal(w.gets_with_etag, 1);
    assert_true(sync.stats.bytes_received - received < 32);
    /* a newer one */
    publish(3, &agg_key);
    assert_int_equal(mfl_sync_fetch_model(&sync, w.now), 0);
    assert_int_equal(drive(&sync), 0);
    assert_int_equal(sync.outcome, MFL_SYNC_MODEL_INSTALLED);
    assert_int_equal(sync.version, 3);
    /* forged: version 4 signed with another key; the learner keeps 3 */
    publish(4, &other_key);
    assert_int_equal(mfl_sync_fetch_model(&sync, w.now), 0);
    assert_int_equal(drive(&sync), MFL_ERR_COSE_SIGNATURE);
    assert_int_equal(sync.version, 3);
    assert_int_equal(state.model.version[state.model.current], 3);
}

/* A head for another base model (its message names another backbone) is
 * refused and the learner keeps the head it has; the right one installs. */
static void test_head_for_another_backbone_refused(void **st)
{
    (void)st;
    uint8_t mine[MFL_BACKBONE_ID_BYTES], other[MFL_BACKBONE_ID_BYTES];
    assert_int_equal(mfl_model_backbone_id(&model, mine), 0);
    memcpy(other, mine, sizeof(other));
    other[31] ^= 1;
    start(0, 2);
    w.model_len = ts_signed_model_msg_for(learner.head.units, learner.head.features, 2, other, &agg_key, w.model,
                                          sizeof(w.model));
    assert_int_equal(mfl_sync_fetch_model(&sync, w.now), 0);
    assert_int_equal(drive(&sync), MFL_ERR_PROTO_BACKBONE);
    assert_int_equal(sync.version, 0);
    assert_int_equal(learner.global_installed, 0);
    w.model_len = ts_signed_model_msg_for(learner.head.units, learner.head.features, 2, mine, &agg_key, w.model,
                                          sizeof(w.model));
    assert_int_equal(mfl_sync_fetch_model(&sync, w.now), 0);
    assert_int_equal(drive(&sync), 0);
    assert_int_equal(sync.outcome, MFL_SYNC_MODEL_INSTALLED);
    assert_int_equal(sync.version, 2);
}

static void test_model_too_large_for_the_buffer(void **st)
{
    (void)st;
    start(0, 2);
    sync.cfg.model_cap = 100;
    assert_int_equal(mfl_sync_fetch_model(&sync, w.now), 0);
    assert_int_equal(drive(&sync), MFL_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(sync.version, 0);
    assert_int_equal(learner.global_installed, 0);
}

static void test_update_accepted_commits_the_residual(void **st)
{
    (void)st;
    start(0, 3);
    assert_int_equal(mfl_sync_send_update(&sync, w.now), MFL_ERR_NO_SAMPLES);
    learn_some();
    assert_int_equal(mfl_sync_send_update(&sync, w.now), 0);
    assert_int_equal(state.counter, 1); /* persisted before anything went out */
    assert_int_equal(drive(&sync), 0);
    assert_int_equal(sync.outcome, MFL_SYNC_UPDATE_STORED);
    assert_int_equal(sync.receipt.status, MFL_RECEIPT_ACCEPTED);
    assert_int_equal(w.stored_count, 1);
    assert_int_equal(w.last_counter, 1);
    assert_int_equal(memcmp(residual, residual_work, sizeof(residual)), 0);
    assert_false(residual_is_zero()); /* top-k 0 still rounds: the residual holds the rounding */
}

static void test_unavailable_is_retried_with_backoff(void **st)
{
    (void)st;
    start(0, 4);
    learn_some();
    w.unavailable = 2;
    assert_int_equal(mfl_sync_send_update(&sync, w.now), 0);
    assert_int_equal(drive(&sync), 0);
    assert_int_equal(sync.outcome, MFL_SYNC_UPDATE_STORED);
    assert_int_equal(w.requests, 3);
    assert_int_equal(sync.stats.attempts, 3);
    /* 500 ms doubling, times [0.5, 1], plus the link's two ways */
    const uint32_t gap1 = w.request_at[1] - w.request_at[0], gap2 = w.request_at[2] - w.request_at[1];
    assert_in_range(gap1, 250 + 80, 500 + 240);
    assert_in_range(gap2, 500 + 80, 1000 + 240);
    assert_int_equal(w.stored_count, 1);
}

static void test_counter_used_moves_past_the_aggregator(void **st)
{
    (void)st;
    start(0, 5);
    learn_some();
    w.last_counter = 10; /* the device's journal was lost */
    assert_int_equal(mfl_sync_send_update(&sync, w.now), 0);
    assert_int_equal(drive(&sync), 0);
    assert_int_equal(sync.outcome, MFL_SYNC_UPDATE_STORED);
    assert_int_equal(sync.counter_used, 1);
    assert_int_equal(sync.aggregator_last, 10);
    assert_int_equal(sync.counter, 11);
    assert_int_equal(w.last_counter, 11);
    assert_true(state.counter >= 11);
    /* an aggregator that says "used" whatever the counter: once only */
    learn_some();
    w.always_used = 1;
    assert_int_equal(mfl_sync_send_update(&sync, w.now), 0);
    assert_int_equal(drive(&sync), MFL_ERR_SYNC_REFUSED);
    assert_int_equal(w.stored_count, 1);
    /* a receipt that would spend the counter space is not obeyed */
    const uint64_t counter = state.counter;
    w.claim_last = UINT64_C(0x7FFFFFFFFFFFFFFE);
    assert_int_equal(mfl_sync_send_update(&sync, w.now), 0);
    assert_int_equal(drive(&sync), MFL_ERR_SYNC_RECEIPT);
    assert_int_equal(state.counter, counter + 1);
    assert_int_equal(sync.receipt.last_counter, 0);
}

static void test_definitive_answers_commit_nothing(void **st)
{
    (void)st;
    int32_t before[10 * 17];
    start(0, 6);
    learn_some();
    memcpy(before, residual, sizeof(before));
    w.stale = 1;
    assert_int_equal(mfl_sync_send_update(&sync, w.now), 0);
    assert_int_equal(drive(&sync), MFL_ERR_SYNC_STALE);
    assert_int_equal(sync.receipt.model_version, 2);
    w.stale = 0;
    w.refuse = MFL_COAP_CODE(4, 1);
    assert_int_equal(mfl_sync_send_update(&sync, w.now), 0);
    assert_int_equal(drive(&sync), MFL_ERR_SYNC_REFUSED);
    assert_int_equal(sync.response_code, MFL_COAP_CODE(4, 1));
    assert_int_equal(sync.attempt, 1); /* not retried */
    w.refuse = 0;
    w.foreign_receipt = 1;
    assert_int_equal(mfl_sync_send_update(&sync, w.now), 0);
    assert_int_equal(drive(&sync), MFL_ERR_SYNC_RECEIPT);
    assert_int_equal(memcmp(residual, before, sizeof(before)), 0);
    assert_int_equal(sync.outcome, MFL_SYNC_NONE);
    assert_int_equal(state.counter, 3); /* each try spent its counter */
}

static void test_relayed_update_is_not_resigned(void **st)
{
    (void)st;
    start(0, 7);
    learn_some();
    const mfl_update_params_t p = {(const uint8_t *)"dev1", 4, 2, 5, 0};
    size_t len;
    assert_int_equal(mfl_update_build(&learner, &p, residual_work, &dev_key, work, sizeof(work), update_buf,
                                      sizeof(update_buf), &len),
                     0);
    w.last_counter = 9;
    assert_int_equal(mfl_sync_post_signed(&sync, len, 5, w.now), 0);
    assert_int_equal(drive(&sync), MFL_ERR_SYNC_REFUSED);
    assert_int_equal(state.counter, 0);
    w.last_counter = 4;
    assert_int_equal(mfl_sync_post_signed(&sync, len, 5, w.now), 0);
    assert_int_equal(drive(&sync), 0);
    assert_true(residual_is_zero());
    /* the same bytes again: already counted */
    assert_int_equal(mfl_sync_post_signed(&sync, len, 5, w.now), 0);
    assert_int_equal(drive(&sync), 0);
    assert_int_equal(sync.receipt.status, MFL_RECEIPT_DUPLICATE);
    assert_int_equal(w.stored_count, 1);
}

static void test_silence_and_dead_links_end_it(void **st)
{
    (void)st;
    start(0, 8);
    w.silent = 1;
    const uint32_t t0 = w.now;
    assert_int_equal(mfl_sync_fetch_model(&sync, w.now), 0);
    assert_int_equal(drive(&sync), MFL_ERR_COAP_TIMEOUT);
    assert_int_equal(sync.stats.attempts, 8);
    /* eight exchanges of at most 93 s, and back-offs of at most 30 s */
    assert_true(w.now - t0 < 8u * 93000u + 7u * 30000u);
    w.silent = 0;
    w.port_error = MFL_ERR_DTLS_REFUSED;
    assert_int_equal(mfl_sync_fetch_model(&sync, w.now), 0);
    assert_int_equal(drive(&sync), MFL_ERR_DTLS_REFUSED);
    assert_int_equal(sync.stats.attempts, 9);
}

static void test_lossy_link_every_update_stored_once(void **st)
{
    (void)st;
    for (uint64_t seed = 100; seed < 120; seed++) {
        start(300, seed);
        assert_int_equal(mfl_sync_fetch_model(&sync, w.now), 0);
        assert_int_equal(drive(&sync), 0);
        assert_int_equal(sync.version, 2);
        for (int u = 1; u <= 3; u++) {
            learn_some();
            assert_int_equal(mfl_sync_send_update(&sync, w.now), 0);
            assert_int_equal(drive(&sync), 0);
            assert_int_equal(sync.outcome, MFL_SYNC_UPDATE_STORED);
        }
        assert_int_equal(w.stored_count, 3);
        assert_int_equal(w.last_counter, 3);
    }
}

int main(void)
{
    coap_startup();
    coap_set_log_level(LOG_EMERG);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetch_installs_then_validates),
        cmocka_unit_test(test_head_for_another_backbone_refused),
        cmocka_unit_test(test_model_too_large_for_the_buffer),
        cmocka_unit_test(test_update_accepted_commits_the_residual),
        cmocka_unit_test(test_unavailable_is_retried_with_backoff),
        cmocka_unit_test(test_counter_used_moves_past_the_aggregator),
        cmocka_unit_test(test_definitive_answers_commit_nothing),
        cmocka_unit_test(test_relayed_update_is_not_resigned),
        cmocka_unit_test(test_silence_and_dead_links_end_it),
        cmocka_unit_test(test_lossy_link_every_update_stored_once),
    };
    const int failed = cmocka_run_group_tests(tests, setup, teardown);
    coap_cleanup();
    return failed;
}
