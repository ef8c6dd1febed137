/*
 * The strict CBOR profile: every kind of malformed or non-deterministic
 * input gets its own error; the writer's output is what RFC 8949 gives.
 */
#include <stdio.h>
#include <string.h>

#include "mfl/cbor.h"
#include "test_support.h"

static int check_hex(const char *hex, int depth)
{
    uint8_t buf[64];
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        buf[i] = (uint8_t)v;
    }
    return mfl_cbor_check(buf, n, depth);
}

static void test_profile_errors(void **state)
{
    (void)state;
    assert_int_equal(check_hex("a201020304", 4), 0);                          /* {1: 2, 3: 4} */
    assert_int_equal(check_hex("a2010203", 4), MFL_ERR_CBOR_TRUNCATED);       /* a value missing */
    assert_int_equal(check_hex("", 4), MFL_ERR_CBOR_TRUNCATED);
    assert_int_equal(check_hex("4301", 4), MFL_ERR_CBOR_TRUNCATED);           /* bstr of 3, 1 byte */
    assert_int_equal(check_hex("0101", 4), MFL_ERR_CBOR_TRAILING);
    assert_int_equal(check_hex("9f01ff", 4), MFL_ERR_CBOR_INDEFINITE);        /* [_ 1] */
    assert_int_equal(check_hex("5f4101ff", 4), MFL_ERR_CBOR_INDEFINITE);      /* (_ h'01') */
    assert_int_equal(check_hex("bf0102ff", 4), MFL_ERR_CBOR_INDEFINITE);
    assert_int_equal(check_hex("1817", 4), MFL_ERR_CBOR_NON_SHORTEST);        /* 23 in two bytes */
    assert_int_equal(check_hex("190017", 4), MFL_ERR_CBOR_NON_SHORTEST);
    assert_int_equal(check_hex("1a000000ff", 4), MFL_ERR_CBOR_NON_SHORTEST);
    assert_int_equal(check_hex("3800", 4), MFL_ERR_CBOR_NON_SHORTEST);        /* -1 in two bytes */
    assert_int_equal(check_hex("5801ff", 4), MFL_ERR_CBOR_NON_SHORTEST);      /* length 1 in two bytes */
    assert_int_equal(check_hex("9800", 4), MFL_ERR_CBOR_NON_SHORTEST);        /* [] with a 1-byte count */
    assert_int_equal(check_hex("818181818101", 4), MFL_ERR_CBOR_DEPTH);       /* [[[[[1]]]]] */
    assert_int_equal(check_hex("8181818101", 4), 0);
    assert_int_equal(check_hex("f93c00", 4), MFL_ERR_CBOR_MALFORMED);         /* half float 1.0 */
    assert_int_equal(check_hex("f5", 4), MFL_ERR_CBOR_MALFORMED);             /* true */
    assert_int_equal(check_hex("f6", 4), MFL_ERR_CBOR_MALFORMED);             /* null */
    assert_int_equal(check_hex("1c", 4), MFL_ERR_CBOR_MALFORMED);             /* reserved additional info */
    /* a declared length near 2^64 cannot pass a bounds check by wrapping */
    assert_int_equal(check_hex("5bffffffffffffffff00", 4), MFL_ERR_CBOR_TRUNCATED);
    assert_int_equal(check_hex("9bffffffffffffffff", 4), MFL_ERR_CBOR_TRUNCATED);
    /* a small tag in the initial byte (libcbor 0.8 refuses 6..20 itself) */
    assert_int_equal(check_hex("d24101", 4), 0);
}

static void test_map_key_rules(void **state)
{
    (void)state;
    const uint8_t dup[] = {0xa2, 0x01, 0x00, 0x01, 0x00}, order[] = {0xa2, 0x02, 0x00, 0x01, 0x00};
    mfl_cbor_reader_t r;
    uint64_t n;
    int64_t key, last = INT64_MIN;
    mfl_cbor_reader_init(&r, dup, sizeof(dup));
    assert_int_equal(mfl_cbor_get_map(&r, &n), 0);
    assert_int_equal(mfl_cbor_get_key(&r, &key, &last), 0);
    assert_int_equal(mfl_cbor_skip(&r), 0);
    assert_int_equal(mfl_cbor_get_key(&r, &key, &last), MFL_ERR_PROTO_DUP_KEY);
    last = INT64_MIN;
    mfl_cbor_reader_init(&r, order, sizeof(order));
    assert_int_equal(mfl_cbor_get_map(&r, &n), 0);
    assert_int_equal(mfl_cbor_get_key(&r, &key, &last), 0);
    assert_int_equal(mfl_cbor_skip(&r), 0);
    assert_int_equal(mfl_cbor_get_key(&r, &key, &last), MFL_ERR_PROTO_KEY_ORDER);
    /* wrong type, oversize */
    const uint8_t bytes[] = {0x43, 1, 2, 3};
    const uint8_t *data;
    size_t len;
    mfl_cbor_reader_init(&r, bytes, sizeof(bytes));
    assert_int_equal(mfl_cbor_get_uint(&r, &n), MFL_ERR_PROTO_TYPE);
    mfl_cbor_reader_init(&r, bytes, sizeof(bytes));
    assert_int_equal(mfl_cbor_get_bytes(&r, &data, &len, 2), MFL_ERR_PROTO_SIZE);
}

static void test_writer_is_deterministic_and_counts(void **state)
{
    (void)state;
    uint8_t buf[64];
    mfl_cbor_writer_t w;
    mfl_cbor_writer_init(&w, buf, sizeof(buf));
    mfl_cbor_put_map(&w, 3);
    mfl_cbor_put_uint(&w, 1);
    mfl_cbor_put_int(&w, -7);
    mfl_cbor_put_uint(&w, 2);
    mfl_cbor_put_uint(&w, 500);
    mfl_cbor_put_uint(&w, 3);
    mfl_cbor_put_bytes(&w, "ab", 2);
    const uint8_t want[] = {0xa3, 0x01, 0x26, 0x02, 0x19, 0x01, 0xf4, 0x03, 0x42, 'a', 'b'}; /* RFC 8949 forms */
    assert_int_equal(w.err, 0);
    assert_int_equal(w.len, sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
    /* count-only, and too small */
    mfl_cbor_writer_init(&w, NULL, 0);
    mfl_cbor_put_uint(&w, UINT64_MAX);
    mfl_cbor_put_int(&w, INT64_MIN);
    assert_int_equal(w.len, 18);
    assert_int_equal(w.err, 0);
    mfl_cbor_writer_init(&w, buf, 5);
    mfl_cbor_put_uint(&w, UINT64_MAX);
    assert_int_equal(w.err, MFL_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(w.len, 9); /* the size needed */
    /* round trip of extremes */
    mfl_cbor_writer_init(&w, buf, sizeof(buf));
    mfl_cbor_put_int(&w, INT64_MIN);
    mfl_cbor_put_int(&w, INT64_MAX);
    mfl_cbor_reader_t r;
    int64_t a, b;
    mfl_cbor_reader_init(&r, buf, w.len);
    assert_int_equal(mfl_cbor_get_int(&r, &a), 0);
    assert_int_equal(mfl_cbor_get_int(&r, &b), 0);
    assert_true(a == INT64_MIN && b == INT64_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profile_errors),
        cmocka_unit_test(test_map_key_rules),
        cmocka_unit_test(test_writer_is_deterministic_and_counts),
    };
    return cmocka_run_group_tests_name("cbor", tests, NULL, NULL);
}
