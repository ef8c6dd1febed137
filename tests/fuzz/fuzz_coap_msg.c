/* The device's CoAP message parser (device/sync/coap_msg.c) on any
 * datagram. Invariants: an accepted message's options iterate to the end
 * of its option bytes in nondecreasing number order, each value inside the
 * datagram; the writer rebuilds exactly the same bytes from the parsed
 * fields (RFC 7252's option encoding is canonical); block option values
 * decode or are refused without reading past their length; no memory
 * error (ASan) or undefined behaviour (UBSan). */
#include <stdlib.h>
#include <string.h>

#include "mfl/coap_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mfl_coap_msg_t m;
    if (mfl_coap_parse(data, size, &m) != 0) {
        return 0;
    }
    uint8_t *copy = malloc(size + 1);
    if (!copy) {
        return 0;
    }
    mfl_coap_writer_t w;
    mfl_coap_writer_init(&w, copy, size + 1, m.type, m.code, m.message_id, m.token, m.token_len);
    mfl_coap_option_iter_t it;
    uint16_t number, len, last = 0;
    const uint8_t *value;
    mfl_coap_options(&m, &it);
    while (mfl_coap_option_next(&it, &number, &value, &len)) {
        if (number < last || value < data || value + len > data + size) {
            abort();
        }
        last = number;
        mfl_coap_block_t b;
        if ((number == MFL_COAP_OPT_BLOCK1 || number == MFL_COAP_OPT_BLOCK2) && mfl_coap_block_decode(value, len, &b) == 0 &&
            (b.szx > 6 || b.more > 1 || b.num >= (1u << 20))) {
            abort();
        }
        mfl_coap_add_option(&w, number, value, len);
    }
    if (it.at != m.options + m.options_len) {
        abort(); /* iteration ended early */
    }
    mfl_coap_set_payload(&w, m.payload, m.payload_len);
    size_t out_len;
    if (mfl_coap_writer_end(&w, &out_len) != 0 || out_len != size || memcmp(copy, data, size) != 0) {
        abort();
    }
    free(copy);
    return 0;
}
