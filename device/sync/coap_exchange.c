/*
 * One CoAP request/response exchange with RFC 7252 reliability and RFC 7959
 * block-wise transfer, as a state machine (include/mfl/coap_exchange.h).
 */
#include <string.h>

#include "mfl/coap_exchange.h"
#include "mfl/error.h"

mfl_coap_params_t mfl_coap_default_params(void)
{
    const mfl_coap_params_t p = {2000, 1500, 4, 4, 90000};
    return p;
}

static uint32_t next_random(uint32_t *s)
{
    uint32_t x = *s ? *s : 0x9E3779B9u;
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    return *s = x;
}

/* A first time-out in [ACK_TIMEOUT, ACK_TIMEOUT * ACK_RANDOM_FACTOR] (section 4.2). */
static uint32_t initial_timeout(mfl_coap_exchange_t *x)
{
    const uint32_t base = x->params.ack_timeout_ms;
    const uint32_t spread = (uint32_t)((uint64_t)base * (x->params.ack_random_permille - 1000u) / 1000u);
    return base + next_random(&x->rng) % (spread + 1);
}

static int reached(uint32_t now, uint32_t when)
{
    return (int32_t)(now - when) >= 0; /* a wrapping clock */
}

static int fail(mfl_coap_exchange_t *x, int err)
{
    x->error = err;
    x->done = 1;
    return err;
}

static uint32_t block1_size(const mfl_coap_exchange_t *x)
{
    return 16u << x->szx1;
}

/* Whether the body goes up in Block1 blocks. */
static int uses_block1(const mfl_coap_exchange_t *x)
{
    return x->req.body_len > (16u << x->params.szx);
}

/* The token of the exchange's message number `index`: the base token with
 * `index` added to its last byte, so that a late response to an earlier
 * block (a server retransmitting a separate response whose ACK was lost)
 * cannot be taken for the current block's. */
static void message_token(const mfl_coap_exchange_t *x, uint8_t index, uint8_t *token)
{
    memcpy(token, x->token, x->token_len);
    token[x->token_len - 1] = (uint8_t)(token[x->token_len - 1] + index);
}

/* The current request message (a new message ID and token), due now. */
static int next_message(mfl_coap_exchange_t *x, uint32_t now)
{
    mfl_coap_writer_t w;
    uint8_t token[MFL_COAP_MAX_TOKEN];
    message_token(x, (uint8_t)x->messages, token);
    mfl_coap_writer_init(&w, x->msg, sizeof(x->msg), MFL_COAP_CON, x->req.code, x->mid, token, x->token_len);
    if (x->req.etag_len) {
        mfl_coap_add_option(&w, MFL_COAP_OPT_ETAG, x->req.etag, x->req.etag_len);
    }
    for (uint8_t i = 0; i < x->req.path_len; i++) {
        mfl_coap_add_option(&w, MFL_COAP_OPT_URI_PATH, x->req.path[i], (uint16_t)strlen(x->req.path[i]));
    }
    const uint8_t *chunk = x->req.body;
    size_t chunk_len = x->req.body_len;
    if (x->req.body_len && x->req.content_format >= 0) {
        mfl_coap_add_uint(&w, MFL_COAP_OPT_CONTENT_FORMAT, (uint32_t)x->req.content_format);
    }
    if (x->req.code == MFL_COAP_GET) { /* the block size we want, from the first request on (RFC 7959 section 2.4) */
        const mfl_coap_block_t b2 = {x->block2_num, 0, x->szx2};
        mfl_coap_add_block(&w, MFL_COAP_OPT_BLOCK2, &b2);
    }
    if (uses_block1(x)) {
        const uint32_t size = block1_size(x);
        const size_t left = x->req.body_len - x->sent;
        const mfl_coap_block_t b1 = {(uint32_t)(x->sent / size), left > size, x->szx1};
        chunk = x->req.body + x->sent;
        chunk_len = left > size ? size : left;
        mfl_coap_add_block(&w, MFL_COAP_OPT_BLOCK1, &b1);
        if (x->sent == 0) {
            mfl_coap_add_uint(&w, MFL_COAP_OPT_SIZE1, (uint32_t)x->req.body_len); /* RFC 7959 section 4 */
        }
    }
    mfl_coap_set_payload(&w, chunk, chunk_len);
    const int err = mfl_coap_writer_end(&w, &x->msg_len);
    if (err) {
        return fail(x, err);
    }
    x->messages++;
    x->pending_send = 1;
    x->acked = 0;
    x->retransmits = 0;
    x->timeout_ms = initial_timeout(x);
    x->wake_ms = now;
    return 0;
}

int mfl_coap_exchange_start(mfl_coap_exchange_t *x, const mfl_coap_params_t *params, const mfl_coap_request_t *req,
                            uint16_t first_mid, const uint8_t *token, uint8_t token_len, uint32_t seed,
                            uint32_t now_ms)
{
    if (!x || !params || !req || !token || token_len < 1 || token_len > MFL_COAP_MAX_TOKEN || params->szx > 6 ||
        req->path_len > MFL_COAP_MAX_PATH || (!req->response && req->response_cap) ||
        (req->body_len && !req->body) || req->etag_len > 8 || (req->etag_len && !req->etag) ||
        (16u << params->szx) + MFL_COAP_HEADROOM > MFL_COAP_MAX_DATAGRAM ||
        params->ack_random_permille < 1000) {
        return MFL_ERR_INVALID_ARG;
    }
    for (uint8_t i = 0; i < req->path_len; i++) {
        if (!req->path[i] || strlen(req->path[i]) > 255) {
            return MFL_ERR_INVALID_ARG;
        }
    }
    memset(x, 0, sizeof(*x));
    x->params = *params;
    x->req = *req;
    x->mid = first_mid;
    memcpy(x->token, token, token_len);
    x->token_len = token_len;
    x->rng = seed;
    x->szx1 = x->szx2 = params->szx;
    return next_message(x, now_ms);
}

int mfl_coap_exchange_poll(mfl_coap_exchange_t *x, uint32_t now_ms, const uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (x->done) {
        return x->error;
    }
    if (x->pending_send) {
        x->pending_send = 0;
    } else if (!reached(now_ms, x->wake_ms)) {
        return 0;
    } else if (x->acked || x->retransmits >= x->params.max_retransmit) {
        return fail(x, MFL_ERR_COAP_TIMEOUT);
    } else { /* section 4.2: retransmit, doubling the time-out */
        x->retransmits++;
        x->timeout_ms *= 2;
    }
    *out = x->msg;
    *out_len = x->msg_len;
    x->transmissions++;
    x->wake_ms = now_ms + x->timeout_ms;
    return 0;
}

/* Copies a response payload at offset `at` of the response body. */
static int take_payload(mfl_coap_exchange_t *x, const mfl_coap_msg_t *m, size_t at)
{
    if (at != x->received) {
        return fail(x, MFL_ERR_COAP_BLOCK);
    }
    if (m->payload_len > x->req.response_cap - x->received) {
        return fail(x, MFL_ERR_BUFFER_TOO_SMALL);
    }
    if (m->payload_len) {
        memcpy(x->req.response + x->received, m->payload, m->payload_len);
    }
    x->received += m->payload_len;
    return 0;
}

/* A 2.31 Continue for the Block1 block in flight: the next block, at the
 * size the server asks for if smaller (RFC 7959 section 2.5). */
static int continue_block1(mfl_coap_exchange_t *x, const mfl_coap_block_t *b1, uint32_t now)
{
    const uint32_t size = block1_size(x);
    if (!uses_block1(x) || b1->num != x->sent / size || x->sent + size >= x->req.body_len || b1->szx > x->szx1) {
        return fail(x, MFL_ERR_COAP_BLOCK);
    }
    x->sent += size;
    x->szx1 = b1->szx; /* a multiple of the smaller size: the numbering carries on */
    x->mid++;
    return next_message(x, now);
}

/* A response (piggybacked or separate) to the message in flight. */
static int on_response(mfl_coap_exchange_t *x, const mfl_coap_msg_t *m, uint32_t now)
{
    const uint8_t *v;
    uint16_t vlen;
    mfl_coap_block_t b1, b2;
    const int has_b1 = mfl_coap_option_find(m, MFL_COAP_OPT_BLOCK1, &v, &vlen) && !mfl_coap_block_decode(v, vlen, &b1);
    if (m->code == MFL_COAP_CONTINUE) {
        return has_b1 ? continue_block1(x, &b1, now) : fail(x, MFL_ERR_COAP_BLOCK);
    }
    if (m->code >> 5 == 2 && uses_block1(x) && x->sent + block1_size(x) < x->req.body_len) {
        return fail(x, MFL_ERR_COAP_BLOCK); /* success before the last block went up */
    }
    if (m->code == MFL_COAP_CODE(4, 13) && has_b1 && x->sent == 0 && uses_block1(x) && b1.szx < x->szx1) {
        x->szx1 = b1.szx; /* Request Entity Too Large with a smaller size: start again with it (section 2.9.3) */
        x->mid++;
        return next_message(x, now);
    }
    if (!mfl_coap_option_find(m, MFL_COAP_OPT_BLOCK2, &v, &vlen)) {
        const int err = x->received ? fail(x, MFL_ERR_COAP_BLOCK) : take_payload(x, m, 0);
        if (err) {
            return err;
        }
    } else {
        if (mfl_coap_block_decode(v, vlen, &b2) || b2.num != x->block2_num || b2.szx > x->szx2) {
            return fail(x, MFL_ERR_COAP_BLOCK);
        }
        const int err = take_payload(x, m, (size_t)b2.num << (b2.szx + 4));
        if (err) {
            return err;
        }
        if (b2.more) {
            if (x->req.code != MFL_COAP_GET || (m->payload_len != (16u << b2.szx))) {
                return fail(x, MFL_ERR_COAP_BLOCK);
            }
            x->szx2 = b2.szx;
            x->block2_num = b2.num + 1; /* ask for the next one, in its size */
            x->mid++;
            return next_message(x, now);
        }
    }
    x->response_code = m->code;
    x->response_len = x->received;
    x->done = 1;
    return 0;
}

/* Whether m answers the message in flight (1), an earlier message of this
 * exchange (2: up to 255 messages back), or something else (0). */
static int token_matches(const mfl_coap_exchange_t *x, const mfl_coap_msg_t *m)
{
    uint8_t token[MFL_COAP_MAX_TOKEN];
    if (m->token_len != x->token_len) {
        return 0;
    }
    for (unsigned back = 1; back <= x->messages && back <= 256; back++) {
        message_token(x, (uint8_t)(x->messages - back), token);
        if (memcmp(m->token, token, x->token_len) == 0) {
            return back == 1 ? 1 : 2;
        }
        if (x->token_len > 1 && memcmp(m->token, token, x->token_len - 1) != 0) {
            return 0; /* another prefix: not this exchange */
        }
    }
    return 0;
}

/* An empty ACK for a confirmable separate response (section 5.2.2). */
static void ack(mfl_coap_exchange_t *x, uint16_t mid, const uint8_t **out, size_t *out_len)
{
    mfl_coap_writer_t w;
    mfl_coap_writer_init(&w, x->reply, sizeof(x->reply), MFL_COAP_ACK, MFL_COAP_EMPTY, mid, NULL, 0);
    if (mfl_coap_writer_end(&w, out_len) == 0) {
        *out = x->reply;
        x->transmissions++;
    }
}

int mfl_coap_exchange_receive(mfl_coap_exchange_t *x, const uint8_t *d, size_t len, uint32_t now_ms,
                              const uint8_t **out, size_t *out_len)
{
    mfl_coap_msg_t m;
    *out = NULL;
    *out_len = 0;
    if (mfl_coap_parse(d, len, &m) != 0) {
        return x->done ? x->error : 0; /* section 4.2: a malformed message is silently ignored */
    }
    const int response = m.code >> 5 >= 2 && m.code >> 5 <= 5;
    const int ours = response ? token_matches(x, &m) : 0;
    if (m.type == MFL_COAP_CON && (ours == 2 || (ours == 1 && x->has_separate_mid && m.message_id == x->last_separate_mid))) {
        ack(x, m.message_id, out, out_len); /* a separate response taken before: ACK it again, nothing more */
        return x->done ? x->error : 0;
    }
    if (x->done) {
        return x->error;
    }
    if (m.type == MFL_COAP_RST) {
        return m.message_id == x->mid && !x->acked ? fail(x, MFL_ERR_COAP_RESET) : 0;
    }
    if (m.type == MFL_COAP_ACK) {
        if (m.message_id != x->mid) {
            return 0; /* another message's, or a late duplicate */
        }
        if (m.code == MFL_COAP_EMPTY) { /* the response will come separately */
            if (!x->acked) {
                x->acked = 1;
                x->wake_ms = now_ms + x->params.separate_timeout_ms;
            }
            return 0;
        }
        return ours == 1 ? on_response(x, &m, now_ms) : 0;
    }
    if (ours != 1) {
        return 0;
    }
    if (m.type == MFL_COAP_CON) { /* a separate response: ACK it, even before our message's own ACK */
        ack(x, m.message_id, out, out_len);
        x->has_separate_mid = 1;
        x->last_separate_mid = m.message_id;
    }
    return on_response(x, &m, now_ms);
}
