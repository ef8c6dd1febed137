/*
 * One CoAP request and its response over an unreliable datagram link, for
 * the device: confirmable messages retransmitted with exponential back-off
 * (RFC 7252 section 4.2: ACK_TIMEOUT, ACK_RANDOM_FACTOR, MAX_RETRANSMIT),
 * piggybacked and separate responses (section 5.2), reset, and block-wise
 * transfer (RFC 7959): a request body above the block size goes up in
 * Block1 blocks (with Size1), a response body comes down in Block2 blocks
 * (GET only) into the caller's buffer.
 *
 * A state machine with no I/O, clock or allocation of its own: the caller
 * (a bare-metal super-loop or an RTOS task) sends what it hands out (from
 * a poll, or the ACK a separate response gets from a receive), feeds back
 * what arrives, and polls it with a millisecond clock:
 *
 *   mfl_coap_exchange_start(&x, &params, &req, mid, token, 4, seed, now);
 *   while (!mfl_coap_exchange_done(&x)) {
 *       if (mfl_coap_exchange_poll(&x, now, &out, &out_len) == 0 && out) send(out, out_len);
 *       ... wait for a datagram or until x.wake_ms ...
 *       if (got) { mfl_coap_exchange_receive(&x, d, n, now, &out, &out_len); if (out) send(out, out_len); }
 *   }
 *   x.error == 0: x.response_code, x.response_len bytes in req.response
 *
 * The request's buffers belong to the caller and must outlive the exchange.
 */
#ifndef MFL_COAP_EXCHANGE_H
#define MFL_COAP_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>

#include "mfl/coap_msg.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest datagram an exchange sends or the sync receives: a block of
 * 16 << szx bytes and up to MFL_COAP_HEADROOM bytes of header, token and
 * options. 1,152 by default (1,024-byte blocks); a device that keeps to
 * smaller blocks sets it lower for the whole build (CMake's
 * -DMFL_COAP_MAX_DATAGRAM=384 for 256-byte blocks, as the firmware does):
 * every buffer of a datagram shrinks with it. */
#define MFL_COAP_HEADROOM 128
#ifndef MFL_COAP_MAX_DATAGRAM
#define MFL_COAP_MAX_DATAGRAM 1152
#endif
#define MFL_COAP_MAX_PATH 4

typedef struct {
    uint32_t ack_timeout_ms;        /* ACK_TIMEOUT, RFC 7252 section 4.8: 2000 */
    uint16_t ack_random_permille;   /* ACK_RANDOM_FACTOR x 1000: 1500 */
    uint8_t max_retransmit;         /* MAX_RETRANSMIT: 4 */
    uint8_t szx;                    /* block size 16 << szx, 0..6: 4 (256 bytes) */
    uint32_t separate_timeout_ms;   /* how long to wait for a separate response after its empty ACK: 90000 */
} mfl_coap_params_t;

/* RFC 7252 section 4.8's defaults and 256-byte blocks. */
mfl_coap_params_t mfl_coap_default_params(void);

typedef struct {
    uint8_t code;                   /* MFL_COAP_GET, MFL_COAP_POST, ... */
    const char *path[MFL_COAP_MAX_PATH]; /* Uri-Path segments (NUL-terminated, up to 255 bytes each) */
    uint8_t path_len;
    int32_t content_format;         /* Content-Format of the body, or -1 for none */
    const uint8_t *body;            /* request payload (Block1 above the block size); may be NULL if 0 bytes */
    size_t body_len;
    uint8_t *response;              /* the response body's buffer */
    size_t response_cap;
    const uint8_t *etag;            /* ETag to validate (RFC 7252 section 5.10.6.2): the server answers 2.03 */
    uint8_t etag_len;               /* Valid with no body if it is current; 0: none, at most 8 */
} mfl_coap_request_t;

typedef struct {
    mfl_coap_params_t params;
    mfl_coap_request_t req;
    uint16_t mid;                   /* the current message's ID */
    uint8_t token[MFL_COAP_MAX_TOKEN], token_len;
    uint32_t rng;                   /* back-off jitter */
    uint8_t msg[MFL_COAP_MAX_DATAGRAM]; /* the current confirmable message, kept for retransmission */
    size_t msg_len;
    uint8_t reply[16];              /* an empty ACK for a separate response */
    int pending_send;               /* msg is due now */
    int acked;                      /* an empty ACK came: waiting for the separate response */
    uint8_t retransmits;
    uint32_t timeout_ms, wake_ms;   /* the current time-out and when to poll next (absolute) */
    uint8_t szx1, szx2;             /* block sizes in use up and down */
    size_t sent;                    /* request body bytes acknowledged so far */
    size_t received;                /* response body bytes so far */
    uint32_t block2_num;            /* the next Block2 block to ask for */
    uint16_t last_separate_mid;     /* the separate response last ACKed (duplicates are ACKed again) */
    int has_separate_mid;
    int done;
    int error;                      /* 0, or why it failed (see mfl_coap_exchange_poll) */
    uint8_t response_code;
    size_t response_len;
    uint32_t transmissions;         /* datagrams handed out, retransmissions and ACKs included */
    uint32_t messages;              /* request messages so far (one per block) */
} mfl_coap_exchange_t;

/*
 * Starts an exchange at time now_ms (a wrapping millisecond clock): the
 * first message is due at once. first_mid and token (1..8 bytes) should be
 * fresh per exchange (RFC 7252 sections 4.4 and 5.3.1); each further
 * message (a block) takes the next ID, and the token with the message's
 * number added to its last byte (a late answer to an earlier block is then
 * told apart, and only ACKed). seed drives the back-off jitter. Returns
 * 0, or MFL_ERR_INVALID_ARG (more than MFL_COAP_MAX_PATH segments or one
 * above 255 bytes, an ETag above 8 bytes or missing for its length, token
 * length outside 1..8, szx above 6 or a block that does not fit
 * MFL_COAP_MAX_DATAGRAM, a body or response buffer missing for its
 * length, ack_random_permille below 1000).
 */
int mfl_coap_exchange_start(mfl_coap_exchange_t *x, const mfl_coap_params_t *params, const mfl_coap_request_t *req,
                            uint16_t first_mid, const uint8_t *token, uint8_t token_len, uint32_t seed,
                            uint32_t now_ms);

/*
 * What is due at now_ms: *out is a datagram to send (the message, a
 * retransmission of it) or NULL; x->wake_ms says when to poll again.
 * Returns 0, or when the exchange ends by time-out MFL_ERR_COAP_TIMEOUT (no
 * answer after MAX_RETRANSMIT retransmissions, or no separate response in
 * separate_timeout_ms) — then also x->error and x->done.
 */
int mfl_coap_exchange_poll(mfl_coap_exchange_t *x, uint32_t now_ms, const uint8_t **out, size_t *out_len);

/*
 * A datagram from the peer. Datagrams that are not for this exchange
 * (other token or message ID, malformed) are ignored (returns 0, *out
 * NULL). A confirmable separate response gets an empty ACK in *out (and
 * so does its duplicate). Returns 0, or ends the exchange with
 * MFL_ERR_COAP_RESET (the peer reset the message), MFL_ERR_BUFFER_TOO_SMALL
 * (the response body does not fit), MFL_ERR_COAP_BLOCK (an inconsistent
 * block: wrong number, size grown, a Continue after the last block, more
 * Block2 blocks on a request other than GET) —
 * then also x->error and x->done.
 */
int mfl_coap_exchange_receive(mfl_coap_exchange_t *x, const uint8_t *d, size_t len, uint32_t now_ms,
                              const uint8_t **out, size_t *out_len);

/* Whether it has ended (x->error 0: x->response_code and x->response_len
 * bytes in the request's response buffer). */
static inline int mfl_coap_exchange_done(const mfl_coap_exchange_t *x)
{
    return x->done;
}

#ifdef __cplusplus
}
#endif

#endif /* MFL_COAP_EXCHANGE_H */
