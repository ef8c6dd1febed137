/*
 * The device's sync with the aggregator: fetch the signed global model and
 * install it, and send a signed update and read its receipt, over the
 * protocol of docs/protocol.md (CoAP, RFC 7252 and RFC 7959, on the
 * datagram port). No heap, no floating point, no blocking call: a
 * bare-metal super-loop or an RTOS task starts an operation and polls it
 * with a millisecond clock until it ends.
 *
 *   mfl_sync_init(&s, &cfg);
 *   mfl_sync_fetch_model(&s, now());            // or mfl_sync_send_update()
 *   while ((rc = mfl_sync_poll(&s, now())) == MFL_SYNC_PENDING) {
 *       wait_for_datagram_or_until(s.wake_ms);
 *   }
 *   rc == 0: s.outcome says what happened; rc < 0: why it failed
 *
 * What it guarantees (the rules of docs/protocol.md):
 *  - a model is installed only once its signature (the pinned aggregator
 *    key) verifies and its version is above the installed one; it is then
 *    written to the state's model slot before the operation reports it;
 *  - the update's counter is persisted (mfl_state_next_counter) before the
 *    update is signed, and a retry resends the same signed bytes, so the
 *    aggregator stores it at most once;
 *  - the error-feedback residual is committed only on a receipt saying the
 *    update is stored (accepted, or this very update already counted);
 *  - a receipt saying the counter was used (the device's counter journal
 *    was lost or rolled back) moves the counter past the aggregator's last
 *    one (if that is at most 2^32 above the counter sent) and sends the
 *    update again under the new counter, once;
 *  - a model message that verifies but is not newer is "current"; one with
 *    a field out of range is refused with its error;
 *  - a lost datagram is retransmitted (RFC 7252 section 4.2); a request
 *    that times out, or that the aggregator answers 5.xx, 4.08 or 4.29, is
 *    tried again after an exponential back-off with jitter, up to
 *    max_attempts times.
 * The ETag of a GET is the installed version (big-endian, shortest form, as
 * the aggregator tags its model), so an unchanged model is answered 2.03
 * Valid and not downloaded again.
 */
#ifndef MFL_SYNC_H
#define MFL_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "mfl/coap_exchange.h"
#include "mfl/crypto.h"
#include "mfl/datagram_port.h"
#include "mfl/device_state.h"
#include "mfl/learner.h"
#include "mfl/messages.h"

#ifdef __cplusplus
extern "C" {
#endif

/* mfl_sync_poll(): the operation goes on; poll again by s->wake_ms or when
 * a datagram arrives. */
#define MFL_SYNC_PENDING 1

typedef enum {
    MFL_SYNC_NONE = 0,           /* no operation has ended yet */
    MFL_SYNC_MODEL_INSTALLED,    /* a newer model was verified, installed and stored (s->version) */
    MFL_SYNC_MODEL_CURRENT,      /* the aggregator has no newer model (2.03, or the same version) */
    MFL_SYNC_UPDATE_STORED,      /* the receipt says stored: accepted now (s->receipt.status
                                  * MFL_RECEIPT_ACCEPTED) or this very update before (DUPLICATE);
                                  * the residual is committed */
} mfl_sync_outcome_t;

typedef struct {
    mfl_datagram_port_t port;      /* the link to the aggregator */
    mfl_learner_t *learner;        /* installs models into it, builds updates from it */
    mfl_state_t *state;            /* persisted counters and model slots (mfl/device_state.h); a
                                    * fetch without it installs a model but does not store it (a
                                    * simulated device); sending an update needs it */
    const mfl_es256_public_t *aggregator; /* the pinned key models must be signed with */
    const mfl_es256_private_t *key;       /* the device's signing key */
    const uint8_t *device_id;      /* = the DTLS PSK identity and the update's COSE kid, 1..64 bytes */
    size_t device_id_len;
    uint32_t top_k;                /* update sparsity (mfl/update_builder.h): 0 = dense */
    int32_t *residual;             /* the committed error-feedback residual: units * (features + 1)
                                    * int32 (zero at first); updated only on a stored receipt */
    int32_t *residual_work;        /* the same size: the residual of the update in flight */
    uint8_t *model_buf;            /* a model message downloads here: at least the message's size */
    size_t model_cap;              /* (mfl_sync_model_max_size()) */
    uint8_t *update_buf;           /* the signed update: mfl_update_max_size() bytes */
    size_t update_cap;
    void *work;                    /* the update builder's scratch: mfl_update_work_size() bytes, */
    size_t work_size;              /* 8-byte aligned */
    mfl_coap_params_t coap;        /* retransmission and block size (mfl_coap_default_params()) */
    uint32_t retry_base_ms;        /* back-off before the first retry (500), doubled per retry, */
    uint32_t retry_max_ms;         /* up to this (30000), times a random factor in [0.5, 1] */
    uint8_t max_attempts;          /* tries of one request before giving up (8) */
    uint32_t seed;                 /* jitter, message IDs and tokens: from the device's entropy */
    uint64_t version;              /* the installed model version (from mfl_state_restore()): 1 for
                                    * the model the device was built with (the aggregator's version
                                    * 1); 0: none, so the first fetch downloads whatever is current */
} mfl_sync_config_t;

typedef struct {
    uint32_t datagrams_sent, datagrams_received; /* retransmissions and ACKs included */
    uint32_t bytes_sent, bytes_received;         /* CoAP bytes (a DTLS port adds its own) */
    uint32_t attempts;                           /* requests started, retries included */
} mfl_sync_stats_t;

typedef struct {
    mfl_sync_config_t cfg;
    uint64_t version;              /* the installed model version */
    mfl_sync_outcome_t outcome;    /* what the last operation that ended did */
    int op;                        /* internal: the operation in progress (0: none) */
    int in_exchange;               /* internal: a request is on the link (else waiting to retry) */
    int counter_moved;             /* internal: the counter was moved past the aggregator's once */
    int relayed;                   /* internal: the update was signed elsewhere */
    int link_error;                /* internal: the port's definitive error, pending */
    uint8_t attempt;               /* tries of the current request so far */
    uint32_t wake_ms;              /* poll again by then (absolute, wrapping) */
    uint32_t rng;
    uint16_t next_mid;
    uint64_t counter;              /* the update in flight's counter */
    size_t update_len;
    uint8_t etag[8];
    mfl_coap_exchange_t x;
    uint8_t response[256];         /* a receipt or a diagnostic */
    uint8_t rx[MFL_COAP_MAX_DATAGRAM];
    uint8_t response_code;         /* the last answer's CoAP code (class << 5 | detail), 0: none */
    int last_error;                /* why the last try failed (0: it was answered) */
    mfl_receipt_t receipt;         /* the last update's receipt (device_id points into response) */
    uint64_t counter_used;         /* a counter the aggregator said was used, before the update was
                                    * sent again under a new one (0: none) */
    uint64_t aggregator_last;      /* the aggregator's last counter for the device, then */
    mfl_sync_stats_t stats;        /* since mfl_sync_init() */
} mfl_sync_t;

/* The config's defaults: RFC 7252's CoAP parameters with 256-byte blocks,
 * retries from 500 ms to 30 s, 8 attempts; every pointer NULL. */
mfl_sync_config_t mfl_sync_default_config(void);

/* The largest model message for the learner's head (its COSE_Sign1 with a
 * dense int8 head): the size model_buf needs. */
size_t mfl_sync_model_max_size(const mfl_learner_t *l);

/* Takes the configuration (the buffers stay the caller's and must outlive
 * s). Returns 0, or MFL_ERR_INVALID_ARG (a missing port function, a device
 * id outside 1..64 bytes, max_attempts 0). What each operation needs
 * besides is checked when it starts. */
int mfl_sync_init(mfl_sync_t *s, const mfl_sync_config_t *cfg);

/* Starts fetching the global model at now_ms. Returns 0, MFL_ERR_BUSY (an
 * operation is in progress), or MFL_ERR_INVALID_ARG (no learner,
 * aggregator key or model_buf). */
int mfl_sync_fetch_model(mfl_sync_t *s, uint32_t now_ms);

/* Starts sending what the learner learned since the installed model: takes
 * a new counter (persisted first), signs the update and posts it. Returns
 * 0, MFL_ERR_BUSY, MFL_ERR_INVALID_ARG (no learner, state, key, residuals,
 * or update_buf / work below the sizes they need, or work not 8-byte aligned), MFL_ERR_NO_SAMPLES
 * (nothing learned), or the state's or the update builder's error
 * (MFL_ERR_FLASH, ...). */
int mfl_sync_send_update(mfl_sync_t *s, uint32_t now_ms);

/* Starts posting an update signed elsewhere (a gateway relaying a device's
 * queue, a firmware's stored update): len bytes the caller put in
 * update_buf, with its counter (the receipt must name it). Nothing is
 * re-signed: a "counter used" receipt ends it with MFL_ERR_SYNC_REFUSED, and
 * no residual is touched. Returns 0, MFL_ERR_BUSY, or MFL_ERR_INVALID_ARG
 * (no update_buf, len 0 or above update_cap). */
int mfl_sync_post_signed(mfl_sync_t *s, size_t len, uint64_t counter, uint32_t now_ms);

/*
 * Drives the operation at now_ms: takes waiting datagrams from the port,
 * sends what is due. Returns MFL_SYNC_PENDING while it goes on (poll again
 * by s->wake_ms, or sooner when a datagram arrives); when it has ended, 0
 * (s->outcome says what it did) or its error:
 *   MFL_ERR_COAP_TIMEOUT  no answer, every attempt (a retransmission
 *                         timed out or a separate response never came)
 *   MFL_ERR_COAP_RESET / MFL_ERR_COAP_BLOCK   the same, the last attempt
 *                         reset or its block-wise transfer broken off
 *   MFL_ERR_SYNC_UNAVAILABLE  the aggregator answered 5.xx, 4.08 or 4.29
 *                         every attempt
 *   MFL_ERR_SYNC_REFUSED  a definitive refusal (another 4.xx, or a receipt
 *                         saying the counter was used after the counter
 *                         was already moved once): s->response_code and
 *                         the diagnostic in s->response
 *   MFL_ERR_SYNC_STALE    the update's base model is older than the
 *                         aggregator accepts (4.12): fetch and learn again
 *   MFL_ERR_SYNC_RECEIPT  an answer of 2.04 or 4.09 without a well-formed
 *                         receipt for this device and counter, with a
 *                         status its code does not allow, or a "counter
 *                         used" whose last counter is below the one sent
 *                         or more than 2^32 above it (never obeyed: it
 *                         would spend the counter space); s->receipt is
 *                         then all zero
 *   MFL_ERR_DTLS_REFUSED / MFL_ERR_DTLS_PEER  the port's secure session was
 *                         refused for good (see mfl/dtls_mbedtls.h)
 *   MFL_ERR_BUFFER_TOO_SMALL  the model is larger than model_buf
 *   a model's verification error (MFL_ERR_COSE_SIGNATURE, ...) or the
 *   state's (MFL_ERR_FLASH): the learner keeps its model
 * After an error the residual is unchanged and the counter stays spent.
 * With no operation in progress it returns 0.
 */
int mfl_sync_poll(mfl_sync_t *s, uint32_t now_ms);

/* Ends the operation in progress (a caller's deadline): nothing more is
 * sent for it and nothing is committed; a counter taken stays spent. */
void mfl_sync_cancel(mfl_sync_t *s);

#ifdef __cplusplus
}
#endif

#endif /* MFL_SYNC_H */
