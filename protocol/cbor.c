/*
 * Strict deterministic CBOR (see include/mfl/cbor.h).
 *
 * On the host, item heads are encoded with libcbor's cbor_encode_*
 * functions (always the shortest form) and decoded with libcbor's streaming
 * decoder, which calls back once per item and allocates nothing. On top of
 * it this file checks what libcbor accepts but the profile refuses
 * (non-shortest arguments, indefinite lengths, floats and simple values)
 * and re-checks every string length against the bytes present, so that a
 * length near 2^64 cannot wrap a bounds check.
 *
 * For the device (MFL_CBOR_BUILTIN), libcbor cannot be built here: its
 * Debian source is not reachable from this build environment. The few lines
 * of cbor_head.c encode and decode item heads instead; the host tests run
 * both implementations on the same inputs (tests/unit/test_cbor.c).
 */
#include <string.h>

#include "cbor_head.h"
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

/* Writes one item head (major type, argument) in its shortest form. */
static void put_head(mfl_cbor_writer_t *w, int major, uint64_t arg)
{
    const size_t need = header_size(arg);
    if (w->buf && !w->err) {
        if (w->cap - w->len < need || mfl_cbor_head_encode(major, arg, w->buf + w->len, w->cap - w->len) != need) {
            w->err = MFL_ERR_BUFFER_TOO_SMALL;
        }
    }
    w->len += need;
}

void mfl_cbor_put_uint(mfl_cbor_writer_t *w, uint64_t v)
{
    put_head(w, 0, v);
}

void mfl_cbor_put_int(mfl_cbor_writer_t *w, int64_t v)
{
    if (v >= 0) {
        put_head(w, 0, (uint64_t)v);
    } else {
        put_head(w, 1, (uint64_t)(-(v + 1))); /* -1 - n = v */
    }
}

void mfl_cbor_put_raw(mfl_cbor_writer_t *w, const void *data, size_t len)
{
    if (w->buf && !w->err) {
        if (w->cap - w->len < len) {
            w->err = MFL_ERR_BUFFER_TOO_SMALL;
        } else if (len) {
            memcpy(w->buf + w->len, data, len);
        }
    }
    w->len += len;
}

void mfl_cbor_put_bytes(mfl_cbor_writer_t *w, const void *data, size_t len)
{
    put_head(w, 2, len);
    mfl_cbor_put_raw(w, data, len);
}

void mfl_cbor_put_text(mfl_cbor_writer_t *w, const char *text, size_t len)
{
    put_head(w, 3, len);
    mfl_cbor_put_raw(w, text, len);
}

void mfl_cbor_put_array(mfl_cbor_writer_t *w, size_t n)
{
    put_head(w, 4, n);
}

void mfl_cbor_put_map(mfl_cbor_writer_t *w, size_t n)
{
    put_head(w, 5, n);
}

void mfl_cbor_put_tag(mfl_cbor_writer_t *w, uint64_t tag)
{
    put_head(w, 6, tag);
}

/* ---- reader ---- */

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
    mfl_cbor_head_t h;
    const size_t avail = r->len - r->pos;
    int err = mfl_cbor_head_decode(r->buf + r->pos, avail, &h);
    if (err) {
        return err;
    }
    if (h.head_len != header_size(h.arg)) {
        return h.head_len > header_size(h.arg) ? MFL_ERR_CBOR_NON_SHORTEST : MFL_ERR_CBOR_MALFORMED;
    }
    size_t used = h.head_len;
    item->data = NULL;
    item->value = h.arg;
    switch (h.major) {
    case 0: item->type = MFL_CBOR_UINT; break;
    case 1: item->type = MFL_CBOR_NEGINT; break;
    case 2:
    case 3:
        /* re-derive the string's extent: its length against the bytes left */
        if (h.arg > avail - h.head_len) {
            return MFL_ERR_CBOR_TRUNCATED;
        }
        item->type = h.major == 2 ? MFL_CBOR_BYTES : MFL_CBOR_TEXT;
        item->data = r->buf + r->pos + h.head_len;
        used += (size_t)h.arg;
        break;
    case 4: item->type = MFL_CBOR_ARRAY; break;
    case 5: item->type = MFL_CBOR_MAP; break;
    default: item->type = MFL_CBOR_TAG; break;
    }
    r->pos += used;
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
