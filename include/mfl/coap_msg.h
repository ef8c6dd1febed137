/*
 * CoAP messages on the device: the message format of RFC 7252 section 3
 * (header, token, options, payload) and the Block1/Block2 option values of
 * RFC 7959 section 2.2, parsed in place and written into the caller's
 * buffer. No allocation, no floating point; the device's sync speaks CoAP
 * with it (libcoap does on hosts).
 *
 * A parsed message points into the datagram it came from: the datagram
 * must outlive it. Options are checked in full when parsing (so iterating
 * them cannot fail later) and come back in the order of the datagram,
 * which is by option number (section 3.1: each number is a delta).
 */
#ifndef MFL_COAP_MSG_H
#define MFL_COAP_MSG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Message types (RFC 7252 section 3). */
enum { MFL_COAP_CON = 0, MFL_COAP_NON = 1, MFL_COAP_ACK = 2, MFL_COAP_RST = 3 };

/* Codes as c.dd: class in the top 3 bits, detail in the low 5 (section 3). */
#define MFL_COAP_CODE(c, dd) ((uint8_t)(((c) << 5) | (dd)))
enum {
    MFL_COAP_EMPTY = 0,
    MFL_COAP_GET = MFL_COAP_CODE(0, 1),
    MFL_COAP_POST = MFL_COAP_CODE(0, 2),
    MFL_COAP_CHANGED = MFL_COAP_CODE(2, 4),
    MFL_COAP_CONTENT = MFL_COAP_CODE(2, 5),
    MFL_COAP_CONTINUE = MFL_COAP_CODE(2, 31),
};

/* Option numbers used by microfl (RFC 7252 section 5.10, RFC 7959 section 2.1). */
enum {
    MFL_COAP_OPT_ETAG = 4,
    MFL_COAP_OPT_URI_PATH = 11,
    MFL_COAP_OPT_CONTENT_FORMAT = 12,
    MFL_COAP_OPT_BLOCK2 = 23,
    MFL_COAP_OPT_BLOCK1 = 27,
    MFL_COAP_OPT_SIZE2 = 28,
    MFL_COAP_OPT_SIZE1 = 60,
};

#define MFL_COAP_MAX_TOKEN 8

typedef struct {
    uint8_t type;                      /* MFL_COAP_CON .. MFL_COAP_RST */
    uint8_t code;                      /* MFL_COAP_CODE(c, dd) */
    uint16_t message_id;
    uint8_t token_len;                 /* 0..8 */
    uint8_t token[MFL_COAP_MAX_TOKEN];
    const uint8_t *options;            /* the options' bytes, in the datagram */
    size_t options_len;
    const uint8_t *payload;            /* after the 0xFF marker; NULL when absent */
    size_t payload_len;                /* > 0 when present (section 3: no empty payload after a marker) */
} mfl_coap_msg_t;

/*
 * Parses a datagram of len bytes (RFC 7252 section 3): version 1, a token
 * of at most 8 bytes, options whose deltas and lengths use the extended
 * forms of section 3.1 (13: one more byte, 14: two), the payload after
 * 0xFF. An empty message (code 0.00) must have nothing after the header
 * (section 4.1). Returns 0, or MFL_ERR_COAP_FORMAT (too short, version
 * not 1, token length 9..15, a nibble of 15 outside the payload marker, an
 * option or extended field past the end, option numbers beyond 65535 or
 * values longer than 65535 bytes, a marker with no payload, a token or
 * bytes after an empty message's header); *m is then not to be used.
 */
int mfl_coap_parse(const uint8_t *buf, size_t len, mfl_coap_msg_t *m);

/* Walks a parsed message's options. */
typedef struct {
    const uint8_t *at, *end;
    uint16_t number;
} mfl_coap_option_iter_t;

void mfl_coap_options(const mfl_coap_msg_t *m, mfl_coap_option_iter_t *it);

/* The next option: its number, value (pointing into the datagram) and
 * length (0..65535). Returns 1, or 0 at the end. Only for a message
 * mfl_coap_parse accepted. */
int mfl_coap_option_next(mfl_coap_option_iter_t *it, uint16_t *number, const uint8_t **value, uint16_t *len);

/* The first option with this number: 1 and its value, or 0 if absent. */
int mfl_coap_option_find(const mfl_coap_msg_t *m, uint16_t number, const uint8_t **value, uint16_t *len);

/* An unsigned-integer option value (section 3.2: 0..4 bytes, big-endian,
 * leading zeros allowed): 0 and *v, or MFL_ERR_COAP_FORMAT when longer. */
int mfl_coap_uint(const uint8_t *value, uint16_t len, uint32_t *v);

/* Writes a message into buf[cap]: the header and token first, then
 * options in nondecreasing number order, then at most one payload. The
 * first error sticks: later calls do nothing and mfl_coap_writer_end
 * returns it. */
typedef struct {
    uint8_t *buf;
    size_t cap, len;
    uint16_t last_number;
    int has_payload;
    int err;
} mfl_coap_writer_t;

/* Starts a message; MFL_ERR_INVALID_ARG for a token longer than 8 bytes or
 * a type above 3, MFL_ERR_BUFFER_TOO_SMALL when header and token do not fit. */
void mfl_coap_writer_init(mfl_coap_writer_t *w, uint8_t *buf, size_t cap, uint8_t type, uint8_t code,
                          uint16_t message_id, const uint8_t *token, uint8_t token_len);

/* Adds an option of len bytes (section 3.1). MFL_ERR_INVALID_ARG when its
 * number is below the last one's or a payload was set;
 * MFL_ERR_BUFFER_TOO_SMALL when it does not fit. */
void mfl_coap_add_option(mfl_coap_writer_t *w, uint16_t number, const void *value, uint16_t len);

/* Adds an unsigned-integer option in its shortest form (0 is no bytes). */
void mfl_coap_add_uint(mfl_coap_writer_t *w, uint16_t number, uint32_t v);

/* Sets the payload (the 0xFF marker and len > 0 bytes; len 0 adds nothing).
 * MFL_ERR_INVALID_ARG when a payload is already set. */
void mfl_coap_set_payload(mfl_coap_writer_t *w, const void *data, size_t len);

/* The message's length in *len; 0 or the first error. */
int mfl_coap_writer_end(const mfl_coap_writer_t *w, size_t *len);

/* A Block1 or Block2 value (RFC 7959 section 2.2): block number NUM
 * (0..2^20 - 1), more flag M, and size 2^(SZX + 4) bytes for SZX 0..6
 * (16..1024; SZX 7, BERT, is for CoAP over TCP and is refused here). */
typedef struct {
    uint32_t num;
    uint8_t more;
    uint8_t szx;
} mfl_coap_block_t;

/* The block's size in bytes: 16 << szx. */
static inline uint32_t mfl_coap_block_size(const mfl_coap_block_t *b)
{
    return 16u << b->szx;
}

/* Decodes a block option's value (0..3 bytes); 0, or MFL_ERR_COAP_FORMAT
 * (longer than 3 bytes, or SZX 7). */
int mfl_coap_block_decode(const uint8_t *value, uint16_t len, mfl_coap_block_t *b);

/* Adds a block option (number MFL_COAP_OPT_BLOCK1 or _BLOCK2);
 * MFL_ERR_INVALID_ARG for num >= 2^20 or szx > 6. */
void mfl_coap_add_block(mfl_coap_writer_t *w, uint16_t number, const mfl_coap_block_t *b);

#ifdef __cplusplus
}
#endif

#endif /* MFL_COAP_MSG_H */
