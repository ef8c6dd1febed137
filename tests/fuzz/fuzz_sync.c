/* The device's sync (device/sync/sync.c) posting an update to a hostile
 * aggregator: every datagram the device receives comes from the input,
 * with clock steps between them. Invariants: an operation ends with 0 only
 * on a 2.04 whose receipt names this device and counter as stored, the
 * counter never changes for a relayed update, datagrams handed to the port
 * stay within MFL_COAP_MAX_DATAGRAM, the sync never asks to be woken in the
 * past forever (it ends within a bounded number of polls); no memory error
 * (ASan) or undefined behaviour (UBSan). */
#include <stdlib.h>
#include <string.h>

#include "mfl/error.h"
#include "mfl/sync.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    const uint8_t *data;
    size_t size, at;
} feed_t;

static int fuzz_send(void *ctx, const uint8_t *d, size_t len)
{
    (void)ctx, (void)d;
    if (len == 0 || len > MFL_COAP_MAX_DATAGRAM) {
        abort();
    }
    return 0;
}

/* Each record: length (1 byte), datagram. */
static int fuzz_receive(void *ctx, uint8_t *buf, size_t cap)
{
    feed_t *f = ctx;
    if (f->at >= f->size) {
        return 0;
    }
    size_t len = f->data[f->at++];
    len = len < f->size - f->at ? len : f->size - f->at;
    len = len < cap ? len : cap;
    memcpy(buf, f->data + f->at, len);
    f->at += len;
    return (int)len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t update[600];
    static mfl_sync_t s;
    if (size < 2) {
        return 0;
    }
    feed_t f = {data + 1, size - 1, 0};
    mfl_sync_config_t c = mfl_sync_default_config();
    c.port = (mfl_datagram_port_t){fuzz_send, fuzz_receive, NULL, &f};
    c.device_id = (const uint8_t *)"dev1";
    c.device_id_len = 4;
    c.update_buf = update;
    c.update_cap = sizeof(update);
    c.coap.szx = data[0] % 7;
    c.max_attempts = 3;
    memset(update, 0xA5, sizeof(update));
    if (mfl_sync_init(&s, &c) || mfl_sync_post_signed(&s, 100u + data[0], 7, 1000)) {
        abort();
    }
    uint32_t now = 1000;
    int rc = MFL_SYNC_PENDING;
    for (int polls = 0; rc == MFL_SYNC_PENDING; polls++) {
        if (polls > 100000) {
            abort(); /* it must end: every attempt times out within its schedule */
        }
        rc = mfl_sync_poll(&s, now);
        if (rc == MFL_SYNC_PENDING) {
            now = (int32_t)(s.wake_ms - now) > 0 ? s.wake_ms : now + 1;
        }
    }
    if (s.counter != 7 ||
        (rc == 0 && (s.outcome != MFL_SYNC_UPDATE_STORED || s.receipt.counter != 7 || s.receipt.device_id_len != 4 ||
                     memcmp(s.receipt.device_id, "dev1", 4) ||
                     (s.receipt.status != MFL_RECEIPT_ACCEPTED && s.receipt.status != MFL_RECEIPT_DUPLICATE)))) {
        abort();
    }
    return 0;
}
