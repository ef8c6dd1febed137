/*
 * CoAP message format (RFC 7252 section 3) and block option values
 * (RFC 7959 section 2.2) for the device; see include/mfl/coap_msg.h.
 */
#include <string.h>

#include "mfl/coap_msg.h"
#include "mfl/error.h"

#define HEADER 4
#define PAYLOAD_MARKER 0xFF

/* An option's delta or length from its 4-bit nibble and the extended bytes
 * after it (section 3.1): 0..12 as is, 13 one more byte + 13, 14 two more
 * bytes + 269, 15 reserved. Returns 0 or MFL_ERR_COAP_FORMAT. */
static int extended(uint8_t nibble, const uint8_t **at, const uint8_t *end, uint32_t *v)
{
    if (nibble < 13) {
        *v = nibble;
        return 0;
    }
    const size_t extra = nibble == 13 ? 1 : nibble == 14 ? 2 : 0;
    if (extra == 0 || (size_t)(end - *at) < extra) {
        return MFL_ERR_COAP_FORMAT;
    }
    *v = extra == 1 ? 13u + (*at)[0] : 269u + ((uint32_t)(*at)[0] << 8 | (*at)[1]);
    *at += extra;
    return 0;
}

/* One option at *at (not the payload marker): its number after `number`,
 * its value and length; *at moves past it. */
static int read_option(const uint8_t **at, const uint8_t *end, uint16_t *number, const uint8_t **value,
                       uint16_t *len)
{
    const uint8_t first = *(*at)++;
    uint32_t delta, length;
    if (extended(first >> 4, at, end, &delta) || extended(first & 0x0F, at, end, &length)) {
        return MFL_ERR_COAP_FORMAT;
    }
    if (*number + delta > 0xFFFFu || length > 0xFFFFu || (size_t)(end - *at) < length) {
        return MFL_ERR_COAP_FORMAT;
    }
    *number = (uint16_t)(*number + delta);
    *value = *at;
    *len = (uint16_t)length;
    *at += length;
    return 0;
}

int mfl_coap_parse(const uint8_t *buf, size_t len, mfl_coap_msg_t *m)
{
    if (!buf || !m) {
        return MFL_ERR_INVALID_ARG;
    }
    memset(m, 0, sizeof(*m));
    if (len < HEADER || buf[0] >> 6 != 1 || (buf[0] & 0x0F) > MFL_COAP_MAX_TOKEN) {
        return MFL_ERR_COAP_FORMAT;
    }
    m->type = (buf[0] >> 4) & 3;
    m->token_len = buf[0] & 0x0F;
    m->code = buf[1];
    m->message_id = (uint16_t)(buf[2] << 8 | buf[3]);
    if (len < (size_t)HEADER + m->token_len || (m->code == MFL_COAP_EMPTY && len != (size_t)HEADER)) {
        return MFL_ERR_COAP_FORMAT; /* section 4.1: an empty message is the header alone, no token */
    }
    memcpy(m->token, buf + HEADER, m->token_len);
    const uint8_t *at = buf + HEADER + m->token_len, *end = buf + len;
    m->options = at;
    uint16_t number = 0;
    while (at < end && *at != PAYLOAD_MARKER) {
        const uint8_t *value;
        uint16_t vlen;
        if (read_option(&at, end, &number, &value, &vlen)) {
            return MFL_ERR_COAP_FORMAT;
        }
    }
    m->options_len = (size_t)(at - m->options);
    if (at < end) { /* the marker: a payload must follow it */
        at++;
        if (at == end) {
            return MFL_ERR_COAP_FORMAT;
        }
        m->payload = at;
        m->payload_len = (size_t)(end - at);
    }
    return 0;
}

void mfl_coap_options(const mfl_coap_msg_t *m, mfl_coap_option_iter_t *it)
{
    it->at = m->options;
    it->end = m->options + m->options_len;
    it->number = 0;
}

int mfl_coap_option_next(mfl_coap_option_iter_t *it, uint16_t *number, const uint8_t **value, uint16_t *len)
{
    if (it->at >= it->end || read_option(&it->at, it->end, &it->number, value, len)) {
        return 0;
    }
    *number = it->number;
    return 1;
}

int mfl_coap_option_find(const mfl_coap_msg_t *m, uint16_t number, const uint8_t **value, uint16_t *len)
{
    mfl_coap_option_iter_t it;
    uint16_t n;
    mfl_coap_options(m, &it);
    while (mfl_coap_option_next(&it, &n, value, len)) {
        if (n == number) {
            return 1;
        }
        if (n > number) {
            break; /* options come in number order */
        }
    }
    return 0;
}

int mfl_coap_uint(const uint8_t *value, uint16_t len, uint32_t *v)
{
    if (len > 4) {
        return MFL_ERR_COAP_FORMAT;
    }
    uint32_t x = 0;
    for (uint16_t i = 0; i < len; i++) {
        x = x << 8 | value[i];
    }
    *v = x;
    return 0;
}

static void put(mfl_coap_writer_t *w, const void *data, size_t n)
{
    if (w->err) {
        return;
    }
    if (w->cap - w->len < n) {
        w->err = MFL_ERR_BUFFER_TOO_SMALL;
        return;
    }
    if (n) {
        memcpy(w->buf + w->len, data, n);
    }
    w->len += n;
}

void mfl_coap_writer_init(mfl_coap_writer_t *w, uint8_t *buf, size_t cap, uint8_t type, uint8_t code,
                          uint16_t message_id, const uint8_t *token, uint8_t token_len)
{
    memset(w, 0, sizeof(*w));
    w->buf = buf;
    w->cap = buf ? cap : 0;
    if (type > MFL_COAP_RST || token_len > MFL_COAP_MAX_TOKEN || (token_len && !token)) {
        w->err = MFL_ERR_INVALID_ARG;
        return;
    }
    const uint8_t header[HEADER] = {(uint8_t)(1u << 6 | (unsigned)type << 4 | token_len), code,
                                    (uint8_t)(message_id >> 8), (uint8_t)message_id};
    put(w, header, HEADER);
    put(w, token, token_len);
}

/* A delta or length as its nibble and 0..2 extended bytes (section 3.1). */
static uint8_t nibble_of(uint32_t v, uint8_t *ext, size_t *ext_len)
{
    if (v < 13) {
        *ext_len = 0;
        return (uint8_t)v;
    }
    if (v < 269) {
        ext[0] = (uint8_t)(v - 13);
        *ext_len = 1;
        return 13;
    }
    ext[0] = (uint8_t)((v - 269) >> 8);
    ext[1] = (uint8_t)(v - 269);
    *ext_len = 2;
    return 14;
}

void mfl_coap_add_option(mfl_coap_writer_t *w, uint16_t number, const void *value, uint16_t len)
{
    if (w->err) {
        return;
    }
    if (number < w->last_number || w->has_payload || (len && !value)) {
        w->err = MFL_ERR_INVALID_ARG;
        return;
    }
    uint8_t head[5];
    size_t delta_len, len_len;
    const uint8_t d = nibble_of((uint32_t)(number - w->last_number), head + 1, &delta_len);
    const uint8_t l = nibble_of(len, head + 1 + delta_len, &len_len);
    head[0] = (uint8_t)(d << 4 | l);
    put(w, head, 1 + delta_len + len_len);
    put(w, value, len);
    w->last_number = number;
}

void mfl_coap_add_uint(mfl_coap_writer_t *w, uint16_t number, uint32_t v)
{
    uint8_t b[4];
    uint16_t n = 0;
    for (int shift = 24; shift >= 0; shift -= 8) {
        if (n || (v >> shift) & 0xFF) {
            b[n++] = (uint8_t)(v >> shift);
        }
    }
    mfl_coap_add_option(w, number, b, n);
}

void mfl_coap_set_payload(mfl_coap_writer_t *w, const void *data, size_t len)
{
    if (w->err) {
        return;
    }
    if (w->has_payload || (len && !data)) {
        w->err = MFL_ERR_INVALID_ARG;
        return;
    }
    if (len == 0) {
        return;
    }
    const uint8_t marker = PAYLOAD_MARKER;
    put(w, &marker, 1);
    put(w, data, len);
    w->has_payload = 1;
}

int mfl_coap_writer_end(const mfl_coap_writer_t *w, size_t *len)
{
    if (len) {
        *len = w->err ? 0 : w->len;
    }
    return w->err;
}

int mfl_coap_block_decode(const uint8_t *value, uint16_t len, mfl_coap_block_t *b)
{
    uint32_t v;
    if (len > 3 || mfl_coap_uint(value, len, &v) || (v & 7) == 7) {
        return MFL_ERR_COAP_FORMAT;
    }
    b->num = v >> 4;
    b->more = (uint8_t)((v >> 3) & 1);
    b->szx = (uint8_t)(v & 7);
    return 0;
}

void mfl_coap_add_block(mfl_coap_writer_t *w, uint16_t number, const mfl_coap_block_t *b)
{
    if (!w->err && (b->num >= (1u << 20) || b->szx > 6 || b->more > 1)) {
        w->err = MFL_ERR_INVALID_ARG;
        return;
    }
    mfl_coap_add_uint(w, number, b->num << 4 | (uint32_t)b->more << 3 | b->szx);
}
