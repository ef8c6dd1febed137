/*
 * CBOR item heads without libcbor (RFC 8949 §3): the initial byte holds the
 * major type (3 bits) and additional information (5 bits): 0..23 is the
 * argument itself, 24..27 announce a 1, 2, 4 or 8-byte big-endian argument,
 * 28..30 are reserved, 31 means indefinite length (or "break").
 */
#include "cbor_head.h"
#include "mfl/error.h"

size_t mfl_cbor_head_encode(int major, uint64_t arg, uint8_t *buf, size_t cap)
{
    const uint8_t mt = (uint8_t)(major << 5);
    size_t n;
    uint8_t info;
    if (arg < 24) {
        n = 0, info = (uint8_t)arg;
    } else if (arg <= 0xFF) {
        n = 1, info = 24;
    } else if (arg <= 0xFFFF) {
        n = 2, info = 25;
    } else if (arg <= 0xFFFFFFFFu) {
        n = 4, info = 26;
    } else {
        n = 8, info = 27;
    }
    if (cap < n + 1) {
        return 0;
    }
    buf[0] = (uint8_t)(mt | info);
    for (size_t i = 0; i < n; i++) {
        buf[1 + i] = (uint8_t)(arg >> (8 * (n - 1 - i)));
    }
    return n + 1;
}

int mfl_cbor_head_decode(const uint8_t *buf, size_t len, mfl_cbor_head_t *h)
{
    if (len == 0) {
        return MFL_ERR_CBOR_TRUNCATED;
    }
    const int major = buf[0] >> 5;
    const int info = buf[0] & 31;
    if (info == 31) {
        return major >= 2 && major <= 5 ? MFL_ERR_CBOR_INDEFINITE
               : major == 7                ? MFL_ERR_CBOR_INDEFINITE /* break */
                                           : MFL_ERR_CBOR_MALFORMED;
    }
    if (info >= 28 || major == 7) {
        return MFL_ERR_CBOR_MALFORMED;
    }
    const size_t n = info < 24 ? 0 : (size_t)1 << (info - 24);
    if (len < 1 + n) {
        return MFL_ERR_CBOR_TRUNCATED;
    }
    uint64_t arg = info < 24 ? (uint64_t)info : 0;
    for (size_t i = 0; i < n; i++) {
        arg = arg << 8 | buf[1 + i];
    }
    h->major = major;
    h->arg = arg;
    h->head_len = 1 + n;
    return 0;
}
