/* Internal: encoding and decoding of one CBOR item head (major type and
 * argument), with two backends: libcbor (host) and built-in (device). */
#ifndef MFL_CBOR_HEAD_H
#define MFL_CBOR_HEAD_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int major;       /* 0..6 (7, floats and simple values, is refused) */
    uint64_t arg;    /* value, length, count or tag */
    size_t head_len; /* bytes of the head itself */
} mfl_cbor_head_t;

/* Writes the shortest head; returns its length, or 0 if cap is too small. */
size_t mfl_cbor_head_encode(int major, uint64_t arg, uint8_t *buf, size_t cap);

/* Reads one head. Returns 0, MFL_ERR_CBOR_TRUNCATED, MFL_ERR_CBOR_INDEFINITE
 * or MFL_ERR_CBOR_MALFORMED (major type 7, reserved additional info). A
 * string's bytes are not checked here. */
int mfl_cbor_head_decode(const uint8_t *buf, size_t len, mfl_cbor_head_t *h);

#endif
