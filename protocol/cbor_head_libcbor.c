/*
 * CBOR item heads on libcbor: cbor_encode_* write shortest heads, and the
 * streaming decoder parses one item per call with callbacks (no allocation).
 * A string's bytes must be present for libcbor to report the item at all;
 * that gives MFL_ERR_CBOR_TRUNCATED, as the built-in backend's caller does.
 */
#include <cbor.h>

#include "cbor_head.h"
#include "mfl/error.h"

size_t mfl_cbor_head_encode(int major, uint64_t arg, uint8_t *buf, size_t cap)
{
    switch (major) {
    case 0: return cbor_encode_uint(arg, buf, cap);
    case 1: return cbor_encode_negint(arg, buf, cap);
    case 2: return cbor_encode_bytestring_start((size_t)arg, buf, cap);
    case 3: return cbor_encode_string_start((size_t)arg, buf, cap);
    case 4: return cbor_encode_array_start((size_t)arg, buf, cap);
    case 5: return cbor_encode_map_start((size_t)arg, buf, cap);
    default: return cbor_encode_tag(arg, buf, cap);
    }
}

enum { KIND_NONE, KIND_OK, KIND_INDEFINITE, KIND_DISALLOWED };

typedef struct {
    int kind;
    int major;
    uint64_t arg;
    size_t string_len;
} decoded_t;

static void item(decoded_t *d, int major, uint64_t arg)
{
    d->kind = KIND_OK;
    d->major = major;
    d->arg = arg;
}
static void cb_u8(void *c, uint8_t v) { item(c, 0, v); }
static void cb_u16(void *c, uint16_t v) { item(c, 0, v); }
static void cb_u32(void *c, uint32_t v) { item(c, 0, v); }
static void cb_u64(void *c, uint64_t v) { item(c, 0, v); }
static void cb_n8(void *c, uint8_t v) { item(c, 1, v); }
static void cb_n16(void *c, uint16_t v) { item(c, 1, v); }
static void cb_n32(void *c, uint32_t v) { item(c, 1, v); }
static void cb_n64(void *c, uint64_t v) { item(c, 1, v); }
static void cb_bytes(void *c, cbor_data data, size_t len)
{
    (void)data;
    item(c, 2, len);
    ((decoded_t *)c)->string_len = len;
}
static void cb_text(void *c, cbor_data data, size_t len)
{
    (void)data;
    item(c, 3, len);
    ((decoded_t *)c)->string_len = len;
}
static void cb_array(void *c, size_t n) { item(c, 4, n); }
static void cb_map(void *c, size_t n) { item(c, 5, n); }
static void cb_tag(void *c, uint64_t t) { item(c, 6, t); }
static void cb_indefinite(void *c) { ((decoded_t *)c)->kind = KIND_INDEFINITE; }
static void cb_simple(void *c) { ((decoded_t *)c)->kind = KIND_DISALLOWED; }
static void cb_float(void *c, float f) { (void)f; ((decoded_t *)c)->kind = KIND_DISALLOWED; }
static void cb_double(void *c, double f) { (void)f; ((decoded_t *)c)->kind = KIND_DISALLOWED; }
static void cb_bool(void *c, bool b) { (void)b; ((decoded_t *)c)->kind = KIND_DISALLOWED; }

static const struct cbor_callbacks strict_callbacks = {
    .uint8 = cb_u8, .uint16 = cb_u16, .uint32 = cb_u32, .uint64 = cb_u64,
    .negint8 = cb_n8, .negint16 = cb_n16, .negint32 = cb_n32, .negint64 = cb_n64,
    .byte_string = cb_bytes, .byte_string_start = cb_indefinite,
    .string = cb_text, .string_start = cb_indefinite,
    .array_start = cb_array, .indef_array_start = cb_indefinite,
    .map_start = cb_map, .indef_map_start = cb_indefinite,
    .tag = cb_tag,
    .float2 = cb_float, .float4 = cb_float, .float8 = cb_double,
    .undefined = cb_simple, .null = cb_simple, .boolean = cb_bool, .indef_break = cb_indefinite,
};

int mfl_cbor_head_decode(const uint8_t *buf, size_t len, mfl_cbor_head_t *h)
{
    if (len == 0) {
        return MFL_ERR_CBOR_TRUNCATED;
    }
    if (buf[0] >= 0xC6 && buf[0] <= 0xD4) {
        /* libcbor 0.8's streaming decoder rejects tags 6..20 written in the
         * initial byte as "unassigned", but COSE_Sign1 is tag 18 (0xD2). */
        h->major = 6;
        h->arg = buf[0] & 0x1Fu;
        h->head_len = 1;
        return 0;
    }
    decoded_t d = {.kind = KIND_NONE};
    const struct cbor_decoder_result res = cbor_stream_decode(buf, len, &strict_callbacks, &d);
    if (res.status == CBOR_DECODER_NEDATA) {
        return MFL_ERR_CBOR_TRUNCATED;
    }
    if (d.kind == KIND_INDEFINITE) {
        return MFL_ERR_CBOR_INDEFINITE;
    }
    if (res.status != CBOR_DECODER_FINISHED || d.kind != KIND_OK) {
        return MFL_ERR_CBOR_MALFORMED;
    }
    /* the head's own length: what libcbor read, minus a string's bytes */
    if (res.read > len || ((d.major == 2 || d.major == 3) && res.read <= d.string_len)) {
        return MFL_ERR_CBOR_TRUNCATED;
    }
    h->major = d.major;
    h->arg = d.arg;
    h->head_len = d.major == 2 || d.major == 3 ? res.read - d.string_len : res.read;
    return 0;
}
