/*
 * Strict deterministic CBOR on libcbor (see include/mfl/cbor.h).
 *
 * Encoding uses libcbor's cbor_encode_* functions, which always pick the
 * shortest form. Decoding uses libcbor's streaming decoder, which calls
 * back once per item header and allocates nothing; on top of it this file
 * checks what libcbor accepts but the profile refuses (non-shortest
 * arguments, indefinite lengths, floats and simple values) and re-checks
 * every string length against the bytes present, so that a length near
 * 2^64 cannot wrap a bounds check.
 */
#include <string.h>

#include <cbor.h>

#include "mfl/cbor.h"
#include "mfl/error.h"

/* ---- writer ---- */

/* Bytes of a header whose argument is v. */
static size_t header_size(uint64_t v)
{
    return v < 24 ? 1 : v <= 0xFF ? 2 : v <= 0xFFFF ? 3 : v <= 0xFFFFFFFFu ? 5 : 9;
}

void mfl_cbor_writer_init(mfl_cbor_writer_t *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = buf ? cap : 0;
    w->len = 0;
    w->err = 0;
}

/* Runs one libcbor encoder at the end of the buffer, or only counts. */
#define PUT(w, expected, call)                                                      \
    do {                                                                            \
        const size_t need_ = (expected);                                            \
        if ((w)->buf && !(w)->err && (w)->cap - (w)->len >= need_) {                \
            unsigned char *at_ = (w)->buf + (w)->len;                               \
            const size_t size_ = (w)->cap - (w)->len;                               \
            (void)at_, (void)size_;                                                 \
            if ((call) != need_) {                                                  \
                (w)->err = MFL_ERR_BUFFER_TOO_SMALL;                                \
            }                                                                       \
        } else if ((w)->buf) {                                                      \
            (w)->err = MFL_ERR_BUFFER_TOO_SMALL;                                    \
        }                                                                           \
        (w)->len += need_;                                                          \
    } while (0)

void mfl_cbor_put_uint(mfl_cbor_writer_t *w, uint64_t v)
{
    PUT(w, header_size(v), cbor_encode_uint(v, at_, size_));
}

void mfl_cbor_put_int(mfl_cbor_writer_t *w, int64_t v)
{
    if (v >= 0) {
        mfl_cbor_put_uint(w, (uint64_t)v);
    } else {
        const uint64_t n = (uint64_t)(-(v + 1)); /* -1 - n = v */
        PUT(w, header_size(n), cbor_encode_negint(n, at_, size_));
    }
}

void mfl_cbor_put_raw(mfl_cbor_writer_t *w, const void *data, size_t len)
{
    PUT(w, len, (memcpy(at_, data, len), len));
}

void mfl_cbor_put_bytes(mfl_cbor_writer_t *w, const void *data, size_t len)
{
    PUT(w, header_size(len), cbor_encode_bytestring_start(len, at_, size_));
    if (len) {
        mfl_cbor_put_raw(w, data, len);
    }
}

void mfl_cbor_put_text(mfl_cbor_writer_t *w, const char *text, size_t len)
{
    PUT(w, header_size(len), cbor_encode_string_start(len, at_, size_));
    if (len) {
        mfl_cbor_put_raw(w, text, len);
    }
}

void mfl_cbor_put_array(mfl_cbor_writer_t *w, size_t n)
{
    PUT(w, header_size(n), cbor_encode_array_start(n, at_, size_));
}

void mfl_cbor_put_map(mfl_cbor_writer_t *w, size_t n)
{
    PUT(w, header_size(n), cbor_encode_map_start(n, at_, size_));
}

void mfl_cbor_put_tag(mfl_cbor_writer_t *w, uint64_t tag)
{
    PUT(w, header_size(tag), cbor_encode_tag(tag, at_, size_));
}

/* ---- reader ---- */

enum { KIND_NONE, KIND_OK, KIND_INDEFINITE, KIND_DISALLOWED };

typedef struct {
    int kind;
    mfl_cbor_item_t item;
    size_t length;     /* string length, to re-check */
} decoded_t;

static void on_uint(decoded_t *d, uint64_t v)
{
    d->kind = KIND_OK;
    d->item.type = MFL_CBOR_UINT;
    d->item.value = v;
}
static void cb_u8(void *c, uint8_t v) { on_uint(c, v); }
static void cb_u16(void *c, uint16_t v) { on_uint(c, v); }
static void cb_u32(void *c, uint32_t v) { on_uint(c, v); }
static void cb_u64(void *c, uint64_t v) { on_uint(c, v); }

static void on_negint(decoded_t *d, uint64_t v)
{
    d->kind = KIND_OK;
    d->item.type = MFL_CBOR_NEGINT;
    d->item.value = v;
}
static void cb_n8(void *c, uint8_t v) { on_negint(c, v); }
static void cb_n16(void *c, uint16_t v) { on_negint(c, v); }
static void cb_n32(void *c, uint32_t v) { on_negint(c, v); }
static void cb_n64(void *c, uint64_t v) { on_negint(c, v); }

static void on_string(decoded_t *d, int type, cbor_data data, size_t len)
{
    d->kind = KIND_OK;
    d->item.type = type;
    d->item.value = len;
    d->item.data = data;
    d->length = len;
}
static void cb_bytes(void *c, cbor_data data, size_t len) { on_string(c, MFL_CBOR_BYTES, data, len); }
static void cb_text(void *c, cbor_data data, size_t len) { on_string(c, MFL_CBOR_TEXT, data, len); }

static void on_container(decoded_t *d, int type, uint64_t n)
{
    d->kind = KIND_OK;
    d->item.type = type;
    d->item.value = n;
}
static void cb_array(void *c, size_t n) { on_container(c, MFL_CBOR_ARRAY, n); }
static void cb_map(void *c, size_t n) { on_container(c, MFL_CBOR_MAP, n); }
static void cb_tag(void *c, uint64_t t) { on_container(c, MFL_CBOR_TAG, t); }

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

void mfl_cbor_reader_init(mfl_cbor_reader_t *r, const uint8_t *buf, size_t len)
{
    r->buf = buf;
    r->len = buf ? len : 0;
    r->pos = 0;
}

int mfl_cbor_next(mfl_cbor_reader_t *r, mfl_cbor_item_t *item)
{
    if (r->pos >= r->len) {
        return MFL_ERR_CBOR_TRUNCATED;
    }
    const size_t avail = r->len - r->pos;
    const uint8_t initial = r->buf[r->pos];
    if (initial >= 0xC6 && initial <= 0xD4) {
        /* libcbor 0.8's streaming decoder rejects tags 6..20 written in the
         * initial byte as "unassigned", but COSE_Sign1 is tag 18 (0xD2):
         * decode these one-byte tags here. */
        item->type = MFL_CBOR_TAG;
        item->value = initial & 0x1Fu;
        item->data = NULL;
        r->pos++;
        return 0;
    }
    decoded_t d = {.kind = KIND_NONE};
    const struct cbor_decoder_result res = cbor_stream_decode(r->buf + r->pos, avail, &strict_callbacks, &d);
    if (res.status == CBOR_DECODER_NEDATA) {
        return MFL_ERR_CBOR_TRUNCATED;
    }
    if (res.status != CBOR_DECODER_FINISHED || d.kind == KIND_NONE || d.kind == KIND_DISALLOWED) {
        return MFL_ERR_CBOR_MALFORMED;
    }
    if (d.kind == KIND_INDEFINITE) {
        return MFL_ERR_CBOR_INDEFINITE;
    }
    const int is_string = d.item.type == MFL_CBOR_BYTES || d.item.type == MFL_CBOR_TEXT;
    const size_t head = header_size(d.item.value);
    /* Re-derive what the item must occupy: header, plus the string bytes. */
    if (res.read > avail || (is_string && (d.length > avail || res.read < d.length))) {
        return MFL_ERR_CBOR_TRUNCATED;
    }
    const size_t header_read = is_string ? res.read - d.length : res.read;
    if (header_read != head) {
        return header_read > head ? MFL_ERR_CBOR_NON_SHORTEST : MFL_ERR_CBOR_MALFORMED;
    }
    *item = d.item;
    r->pos += res.read;
    return 0;
}

static int expect(mfl_cbor_reader_t *r, int type, mfl_cbor_item_t *item)
{
    int err = mfl_cbor_next(r, item);
    return err ? err : item->type == type ? 0 : MFL_ERR_PROTO_TYPE;
}

int mfl_cbor_get_uint(mfl_cbor_reader_t *r, uint64_t *v)
{
    mfl_cbor_item_t it;
    int err = expect(r, MFL_CBOR_UINT, &it);
    *v = err ? 0 : it.value;
    return err;
}

int mfl_cbor_get_int(mfl_cbor_reader_t *r, int64_t *v)
{
    mfl_cbor_item_t it;
    int err = mfl_cbor_next(r, &it);
    if (err) {
        return err;
    }
    if ((it.type != MFL_CBOR_UINT && it.type != MFL_CBOR_NEGINT) || it.value > (uint64_t)INT64_MAX) {
        return it.type == MFL_CBOR_UINT || it.type == MFL_CBOR_NEGINT ? MFL_ERR_PROTO_VALUE : MFL_ERR_PROTO_TYPE;
    }
    *v = it.type == MFL_CBOR_UINT ? (int64_t)it.value : -1 - (int64_t)it.value;
    return 0;
}

int mfl_cbor_get_bytes(mfl_cbor_reader_t *r, const uint8_t **data, size_t *len, size_t max)
{
    mfl_cbor_item_t it;
    int err = expect(r, MFL_CBOR_BYTES, &it);
    if (err) {
        return err;
    }
    if (it.value > max) {
        return MFL_ERR_PROTO_SIZE;
    }
    *data = it.data;
    *len = (size_t)it.value;
    return 0;
}

int mfl_cbor_get_text(mfl_cbor_reader_t *r, const char **text, size_t *len, size_t max)
{
    mfl_cbor_item_t it;
    int err = expect(r, MFL_CBOR_TEXT, &it);
    if (err) {
        return err;
    }
    if (it.value > max) {
        return MFL_ERR_PROTO_SIZE;
    }
    for (uint64_t i = 0; i < it.value; i++) {
        if (it.data[i] < 0x20 || it.data[i] > 0x7E) {
            return MFL_ERR_PROTO_VALUE;
        }
    }
    *text = (const char *)it.data;
    *len = (size_t)it.value;
    return 0;
}

int mfl_cbor_get_array(mfl_cbor_reader_t *r, uint64_t *n)
{
    mfl_cbor_item_t it;
    int err = expect(r, MFL_CBOR_ARRAY, &it);
    *n = err ? 0 : it.value;
    return err;
}

int mfl_cbor_get_map(mfl_cbor_reader_t *r, uint64_t *n)
{
    mfl_cbor_item_t it;
    int err = expect(r, MFL_CBOR_MAP, &it);
    *n = err ? 0 : it.value;
    return err;
}

int mfl_cbor_get_key(mfl_cbor_reader_t *r, int64_t *key, int64_t *last)
{
    int err = mfl_cbor_get_int(r, key);
    if (err) {
        return err;
    }
    if (*last != INT64_MIN && *key <= *last) {
        return *key == *last ? MFL_ERR_PROTO_DUP_KEY : MFL_ERR_PROTO_KEY_ORDER;
    }
    *last = *key;
    return 0;
}

/* Skips `count` items iteratively: `pending` counts items still to read,
 * so containers need no recursion. depth tracks open containers for the
 * depth limit (only meaningful from mfl_cbor_check). */
static int skip_items(mfl_cbor_reader_t *r, uint64_t count, int max_depth)
{
    /* open[d]: items left in the container at depth d */
    uint64_t open[17];
    int depth = 0;
    open[0] = count;
    if (max_depth > 16) {
        max_depth = 16;
    }
    while (depth >= 0) {
        if (open[depth] == 0) {
            depth--;
            continue;
        }
        open[depth]--;
        mfl_cbor_item_t it;
        int err = mfl_cbor_next(r, &it);
        if (err) {
            return err;
        }
        uint64_t children = 0;
        if (it.type == MFL_CBOR_ARRAY) {
            children = it.value;
        } else if (it.type == MFL_CBOR_MAP) {
            if (it.value > UINT64_MAX / 2) {
                return MFL_ERR_CBOR_TRUNCATED;
            }
            children = it.value * 2;
        } else if (it.type == MFL_CBOR_TAG) {
            children = 1;
        } else {
            continue;
        }
        /* every child takes at least one byte: more than remain is truncation */
        if (children > r->len - r->pos) {
            return MFL_ERR_CBOR_TRUNCATED;
        }
        if (depth + 1 > max_depth) {
            return MFL_ERR_CBOR_DEPTH;
        }
        open[++depth] = children;
    }
    return 0;
}

int mfl_cbor_skip(mfl_cbor_reader_t *r)
{
    return skip_items(r, 1, 16);
}

int mfl_cbor_check(const uint8_t *buf, size_t len, int max_depth)
{
    mfl_cbor_reader_t r;
    mfl_cbor_reader_init(&r, buf, len);
    int err = skip_items(&r, 1, max_depth);
    return err ? err : r.pos == len ? 0 : MFL_ERR_CBOR_TRAILING;
}
