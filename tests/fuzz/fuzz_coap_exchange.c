/* The device's CoAP exchange (device/sync/coap_exchange.c) fed any
 * sequence of datagrams and clock steps, for a block-wise upload or a
 * block-wise download. Invariants: the response never grows past its
 * buffer, a finished exchange stays finished with the same result, a
 * datagram handed out is within MFL_COAP_MAX_DATAGRAM; no memory error
 * (ASan) or undefined behaviour (UBSan). */
#include <stdlib.h>
#include <string.h>

#include "mfl/coap_exchange.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t body[3000], response[700];
    if (size < 2) {
        return 0;
    }
    mfl_coap_params_t p = mfl_coap_default_params();
    p.szx = data[0] % 7;
    const int get = data[1] & 1;
    const mfl_coap_request_t req = {get ? MFL_COAP_GET : MFL_COAP_POST, {"fl", "v1"}, 2, 18, get ? NULL : body,
                                    get ? 0 : (size_t)(data[1] >> 1) * 23, response, sizeof(response), NULL, 0};
    const uint8_t token[2] = {0xA1, 0xB2};
    mfl_coap_exchange_t x;
    uint32_t now = 0xFFFFFF00u;
    if (mfl_coap_exchange_start(&x, &p, &req, 0x1000, token, 2, 7, now)) {
        abort();
    }
    size_t at = 2;
    int was_done = 0, done_error = 0;
    /* each record: clock step (1 byte, x 64 ms), length (1 byte), datagram */
    while (at + 2 <= size) {
        now += (uint32_t)data[at] * 64u;
        const size_t len = data[at + 1] < size - at - 2 ? data[at + 1] : size - at - 2;
        const uint8_t *out;
        size_t out_len;
        mfl_coap_exchange_poll(&x, now, &out, &out_len);
        if (out && (out_len == 0 || out_len > MFL_COAP_MAX_DATAGRAM)) {
            abort();
        }
        mfl_coap_exchange_receive(&x, data + at + 2, len, now, &out, &out_len);
        if (x.received > sizeof(response) || x.response_len > sizeof(response) ||
            (was_done && (!x.done || x.error != done_error))) {
            abort();
        }
        was_done = x.done;
        done_error = x.error;
        at += 2 + len;
    }
    return 0;
}
