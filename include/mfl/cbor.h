/*
 * CBOR for microfl's messages, on libcbor, in a strict deterministic
 * profile (RFC 8949 §4.2.1): shortest integers and lengths, definite
 * lengths only, integer map keys in ascending order, no floats or simple
 * values. Nothing allocates; readers point into the input.
 *
 * Writer: a sticky error, checked once at the end. With buf == NULL the
 * writer only counts, which gives the size an encoding needs.
 *
 * Reader: mfl_cbor_check() first validates a whole input (well-formed,
 * strict, depth-bounded, no trailing bytes); typed reads then walk it.
 */
#ifndef MFL_CBOR_H
#define MFL_CBOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint8_t *buf;   /* NULL: count only */
    size_t cap;
    size_t len;     /* bytes written (or needed) so far */
    int err;        /* first error: MFL_ERR_BUFFER_TOO_SMALL */
} mfl_cbor_writer_t;

void mfl_cbor_writer_init(mfl_cbor_writer_t *w, uint8_t *buf, size_t cap);
void mfl_cbor_put_uint(mfl_cbor_writer_t *w, uint64_t v);
void mfl_cbor_put_int(mfl_cbor_writer_t *w, int64_t v);
void mfl_cbor_put_bytes(mfl_cbor_writer_t *w, const void *data, size_t len);
void mfl_cbor_put_text(mfl_cbor_writer_t *w, const char *text, size_t len);
void mfl_cbor_put_array(mfl_cbor_writer_t *w, size_t n);
void mfl_cbor_put_map(mfl_cbor_writer_t *w, size_t n);
void mfl_cbor_put_tag(mfl_cbor_writer_t *w, uint64_t tag);
/* Appends already-encoded CBOR bytes. */
void mfl_cbor_put_raw(mfl_cbor_writer_t *w, const void *data, size_t len);

enum mfl_cbor_type {
    MFL_CBOR_UINT, MFL_CBOR_NEGINT, MFL_CBOR_BYTES, MFL_CBOR_TEXT, MFL_CBOR_ARRAY, MFL_CBOR_MAP, MFL_CBOR_TAG,
};

typedef struct {
    int type;            /* enum mfl_cbor_type */
    uint64_t value;      /* uint; negint n means -1 - n; length; count; tag */
    const uint8_t *data; /* bytes and text */
} mfl_cbor_item_t;

typedef struct {
    const uint8_t *buf;
    size_t len, pos;
} mfl_cbor_reader_t;

/* Validates buf[0..len) as exactly one strict item nested at most max_depth
 * containers deep. Returns 0 or MFL_ERR_CBOR_* (truncated, trailing,
 * indefinite, non-shortest, depth, malformed). */
int mfl_cbor_check(const uint8_t *buf, size_t len, int max_depth);

void mfl_cbor_reader_init(mfl_cbor_reader_t *r, const uint8_t *buf, size_t len);

/* The next item header (strings include their bytes). MFL_ERR_CBOR_* on
 * bad input. */
int mfl_cbor_next(mfl_cbor_reader_t *r, mfl_cbor_item_t *item);

/* Typed reads: MFL_ERR_PROTO_TYPE when the item has another type. */
int mfl_cbor_get_uint(mfl_cbor_reader_t *r, uint64_t *v);
int mfl_cbor_get_int(mfl_cbor_reader_t *r, int64_t *v);
/* A byte string of at most max bytes (MFL_ERR_PROTO_SIZE beyond). */
int mfl_cbor_get_bytes(mfl_cbor_reader_t *r, const uint8_t **data, size_t *len, size_t max);
/* A text string of at most max bytes of printable ASCII (microfl's names
 * and ids; MFL_ERR_PROTO_VALUE for other bytes). */
int mfl_cbor_get_text(mfl_cbor_reader_t *r, const char **text, size_t *len, size_t max);
int mfl_cbor_get_array(mfl_cbor_reader_t *r, uint64_t *n);
int mfl_cbor_get_map(mfl_cbor_reader_t *r, uint64_t *n);

/* Skips one complete item (containers included). */
int mfl_cbor_skip(mfl_cbor_reader_t *r);

/* Map keys: reads the next key of a map with integer keys, requiring it to
 * be greater than *last (pass INT64_MIN first): MFL_ERR_PROTO_DUP_KEY or
 * MFL_ERR_PROTO_KEY_ORDER otherwise. */
int mfl_cbor_get_key(mfl_cbor_reader_t *r, int64_t *key, int64_t *last);

#ifdef __cplusplus
}
#endif

#endif /* MFL_CBOR_H */
