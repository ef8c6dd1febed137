/*
 * The device's CoAP message codec (device/sync/coap_msg.c) against
 * libcoap, the independent truth:
 *  - every message the writer makes (random types, codes, tokens, options
 *    with every form of delta and length, payloads) parses in libcoap
 *    (coap_pdu_parse) to the same header, token, options and payload;
 *  - on random and mutated datagrams, the parser accepts what libcoap
 *    accepts, with the same fields, and refuses what it refuses, with three
 *    differences: libcoap takes a token or bytes after an empty message's
 *    header, which RFC 7252 section 4.1 calls a format error; it
 *    refuses a known option whose value length is out of range, which
 *    section 5.4.3 treats like an unrecognized option (the codec passes it
 *    to the reader of the option); and with a 7.xx code it checks the
 *    signaling options of CoAP over TCP (RFC 8323), which UDP does not
 *    have;
 *  - block option values (RFC 7959 section 2.2) decode as libcoap's
 *    coap_get_block does; the writer's errors stick.
 */
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <coap3/coap.h>

#include "mfl/coap_msg.h"
#include "mfl/error.h"
#include "test_support.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t next(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static uint32_t range(uint32_t lo, uint32_t hi)
{
    return lo + next() % (hi - lo + 1);
}

/* The value lengths Debian's libcoap (4.3.1) enforces for the options it
 * knows, probed option by option (RFC 7252 table 4 and later RFCs, with
 * Uri-Query at least 1 byte). A value outside them is, by RFC 7252 section
 * 5.4.3, to be treated like an unrecognized option, not a message format
 * error; libcoap refuses the datagram, the device's codec leaves it to
 * whoever reads the option. */
static int known_option_bad_length(uint16_t number, uint16_t len)
{
    static const struct {
        uint16_t number, min, max;
    } known[] = {
        {1, 0, 8},    {3, 1, 255},  {4, 1, 8},   {5, 0, 0},   {6, 0, 3},    {7, 0, 2},
        {8, 0, 255},  {9, 0, 255},  {11, 0, 255}, {12, 0, 2}, {14, 0, 4},   {15, 1, 255},
        {16, 1, 1},   {17, 0, 2},   {20, 0, 255}, {23, 0, 3}, {27, 0, 3},   {28, 0, 4},
        {35, 1, 1034}, {39, 1, 255}, {60, 0, 4},  {252, 0, 40}, {258, 0, 1}, {292, 0, 8},
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (known[i].number == number) {
            return len < known[i].min || len > known[i].max;
        }
    }
    return 0;
}

static int has_known_option_of_bad_length(const mfl_coap_msg_t *m)
{
    mfl_coap_option_iter_t it;
    uint16_t number, len;
    const uint8_t *value;
    mfl_coap_options(m, &it);
    while (mfl_coap_option_next(&it, &number, &value, &len)) {
        if (known_option_bad_length(number, len)) {
            return 1;
        }
    }
    return 0;
}

static int option_length_differences, signaling_differences;

/* Our parse and libcoap's of the same datagram: same verdict, same fields. */
static void compare_with_libcoap(const uint8_t *d, size_t len, int *accepted)
{
    mfl_coap_msg_t m;
    const int ours = mfl_coap_parse(d, len, &m) == 0;
    coap_pdu_t *pdu = coap_pdu_init(0, 0, 0, len + 16);
    assert_non_null(pdu);
    int theirs = coap_pdu_parse(COAP_PROTO_UDP, d, len, pdu) != 0;
    if (theirs && len >= 4 && d[1] == 0 && len != 4) {
        theirs = 0; /* RFC 7252 section 4.1: a token or bytes after an empty message are a format error */
    }
    if (ours && !theirs && m.code >> 5 == 7) {
        signaling_differences++; /* 7.xx: libcoap checks RFC 8323's signaling options, which UDP does not have */
        *accepted = -1;
        coap_delete_pdu(pdu);
        return;
    }
    if (ours && !theirs && has_known_option_of_bad_length(&m)) {
        option_length_differences++;
        *accepted = -1;
        coap_delete_pdu(pdu);
        return;
    }
    assert_int_equal(ours, theirs);
    *accepted = ours;
    if (ours) {
        assert_int_equal(m.type, coap_pdu_get_type(pdu));
        assert_int_equal(m.code, coap_pdu_get_code(pdu));
        assert_int_equal(m.message_id, coap_pdu_get_mid(pdu));
        const coap_bin_const_t token = coap_pdu_get_token(pdu);
        assert_int_equal(m.token_len, token.length);
        assert_memory_equal(m.token, token.s, token.length);
        coap_opt_iterator_t oi;
        coap_option_iterator_init(pdu, &oi, COAP_OPT_ALL);
        mfl_coap_option_iter_t it;
        mfl_coap_options(&m, &it);
        uint16_t number, vlen;
        const uint8_t *value;
        coap_opt_t *opt;
        while ((opt = coap_option_next(&oi)) != NULL) {
            assert_true(mfl_coap_option_next(&it, &number, &value, &vlen));
            assert_int_equal(number, oi.number);
            assert_int_equal(vlen, coap_opt_length(opt));
            assert_memory_equal(value, coap_opt_value(opt), vlen);
        }
        assert_false(mfl_coap_option_next(&it, &number, &value, &vlen));
        size_t data_len = 0;
        const uint8_t *data = NULL;
        const int has_data = coap_get_data(pdu, &data_len, &data);
        assert_int_equal(m.payload_len, has_data ? data_len : 0);
        if (m.payload_len) {
            assert_memory_equal(m.payload, data, data_len);
        }
    }
    coap_delete_pdu(pdu);
}

/* A random message through our writer; returns its length. */
static size_t random_message(uint8_t *buf, size_t cap)
{
    mfl_coap_writer_t w;
    uint8_t token[8], value[400];
    const uint8_t token_len = (uint8_t)range(0, 8);
    for (int i = 0; i < token_len; i++) {
        token[i] = (uint8_t)next();
    }
    const uint8_t code = next() % 8 == 0 ? 0 : (uint8_t)range(1, 255);
    mfl_coap_writer_init(&w, buf, cap, (uint8_t)range(0, 3), code, (uint16_t)next(), token,
                         code == 0 ? 0 : token_len);
    if (code != 0) {
        uint16_t number = 0;
        const int options = (int)range(0, 8);
        for (int o = 0; o < options; o++) {
            /* deltas of every form: 0..12, 13..268, 269 and up */
            const uint32_t form = range(0, 3);
            const uint32_t delta = form == 0 ? range(0, 12) : form == 1 ? range(13, 268) : form == 2 ? range(269, 2000) : 0;
            if ((uint32_t)number + delta > 65000) {
                break;
            }
            number = (uint16_t)(number + delta);
            if (next() % 3 == 0) {
                const uint32_t shift = range(0, 32); /* values of every length, 0 included */
                mfl_coap_add_uint(&w, number, shift == 32 ? 0 : next() >> shift);
                continue;
            }
            const uint32_t lf = range(0, 2);
            const uint16_t len = (uint16_t)(lf == 0 ? range(0, 12) : lf == 1 ? range(13, 268) : range(269, 300));
            for (int i = 0; i < len; i++) {
                value[i] = (uint8_t)next();
            }
            mfl_coap_add_option(&w, number, value, len);
        }
        const size_t payload = next() % 3 == 0 ? 0 : range(1, 300);
        for (size_t i = 0; i < payload; i++) {
            value[i] = (uint8_t)next();
        }
        mfl_coap_set_payload(&w, value, payload);
    }
    size_t len;
    assert_int_equal(mfl_coap_writer_end(&w, &len), 0);
    return len;
}

static void test_writer_output_parses_in_libcoap(void **state)
{
    (void)state;
    static uint8_t buf[8192];
    for (int trial = 0; trial < 3000; trial++) {
        int accepted;
        const size_t len = random_message(buf, sizeof(buf));
        compare_with_libcoap(buf, len, &accepted);
        assert_true(accepted != 0); /* -1: a known option's length libcoap refuses (see above) */
    }
}

static void test_parser_agrees_with_libcoap_on_hostile_datagrams(void **state)
{
    (void)state;
    static uint8_t buf[8192];
    int accepted = 0, refused = 0;
    for (int trial = 0; trial < 40000; trial++) {
        size_t len;
        if (trial % 4 == 0) { /* random bytes behind a version-1 header */
            len = range(0, 64);
            for (size_t i = 0; i < len; i++) {
                buf[i] = (uint8_t)next();
            }
            if (len) {
                buf[0] = (uint8_t)(0x40 | (buf[0] & 0x3F));
            }
        } else { /* a valid message with a few bytes changed, cut or extended */
            len = random_message(buf, sizeof(buf));
            for (uint32_t k = range(1, 3); k > 0 && len; k--) {
                buf[next() % len] = (uint8_t)next();
            }
            if (next() % 3 == 0 && len) {
                len = next() % len;
            }
        }
        int ok;
        compare_with_libcoap(buf, len, &ok);
        accepted += ok == 1;
        refused += ok == 0;
    }
    print_message("hostile datagrams: %d accepted, %d refused, all as libcoap; accepted here, refused by libcoap: "
                  "%d with a known option's value length out of range, %d with a 7.xx (signaling) code\n",
                  accepted, refused, option_length_differences, signaling_differences);
    assert_true(accepted > 1000 && refused > 1000);
}

static void test_block_values_as_libcoap(void **state)
{
    (void)state;
    uint8_t buf[64];
    for (int trial = 0; trial < 5000; trial++) {
        const mfl_coap_block_t b = {next() & 0xFFFFF, (uint8_t)(next() & 1), (uint8_t)range(0, 6)};
        mfl_coap_writer_t w;
        mfl_coap_writer_init(&w, buf, sizeof(buf), MFL_COAP_CON, MFL_COAP_POST, 1, NULL, 0);
        mfl_coap_add_block(&w, MFL_COAP_OPT_BLOCK1, &b);
        size_t len;
        assert_int_equal(mfl_coap_writer_end(&w, &len), 0);
        coap_pdu_t *pdu = coap_pdu_init(0, 0, 0, sizeof(buf));
        assert_true(coap_pdu_parse(COAP_PROTO_UDP, buf, len, pdu));
        coap_block_t theirs;
        assert_true(coap_get_block(pdu, COAP_OPTION_BLOCK1, &theirs));
        mfl_coap_msg_t m;
        const uint8_t *v;
        uint16_t vlen;
        mfl_coap_block_t ours;
        assert_int_equal(mfl_coap_parse(buf, len, &m), 0);
        assert_true(mfl_coap_option_find(&m, MFL_COAP_OPT_BLOCK1, &v, &vlen));
        assert_int_equal(mfl_coap_block_decode(v, vlen, &ours), 0);
        assert_int_equal(ours.num, theirs.num);
        assert_int_equal(ours.more, theirs.m);
        assert_int_equal(ours.szx, theirs.szx);
        assert_int_equal(ours.num, b.num);
        assert_int_equal(mfl_coap_block_size(&ours), 16u << b.szx);
        coap_delete_pdu(pdu);
    }
    const uint8_t bert = 0x0F, four[4] = {0, 0, 0, 0x10};
    mfl_coap_block_t b;
    assert_int_equal(mfl_coap_block_decode(&bert, 1, &b), MFL_ERR_COAP_FORMAT); /* SZX 7: BERT, TCP only */
    assert_int_equal(mfl_coap_block_decode(four, 4, &b), MFL_ERR_COAP_FORMAT);
}

static void test_writer_errors_stick(void **state)
{
    (void)state;
    uint8_t buf[16];
    size_t len = 99;
    mfl_coap_writer_t w;
    mfl_coap_writer_init(&w, buf, sizeof(buf), MFL_COAP_CON, MFL_COAP_GET, 7, (const uint8_t *)"tok", 3);
    mfl_coap_add_option(&w, MFL_COAP_OPT_URI_PATH, "fl", 2);
    mfl_coap_add_option(&w, MFL_COAP_OPT_ETAG, "x", 1); /* below the last number */
    mfl_coap_add_option(&w, MFL_COAP_OPT_URI_PATH, "v1", 2);
    assert_int_equal(mfl_coap_writer_end(&w, &len), MFL_ERR_INVALID_ARG);
    assert_int_equal(len, 0);
    mfl_coap_writer_init(&w, buf, sizeof(buf), MFL_COAP_CON, MFL_COAP_GET, 7, NULL, 0);
    mfl_coap_set_payload(&w, "0123456789abcdef", 16); /* 4 + 1 + 16 > 16 */
    assert_int_equal(mfl_coap_writer_end(&w, &len), MFL_ERR_BUFFER_TOO_SMALL);
    mfl_coap_writer_init(&w, buf, sizeof(buf), 4, MFL_COAP_GET, 7, NULL, 0);
    assert_int_equal(mfl_coap_writer_end(&w, &len), MFL_ERR_INVALID_ARG);
    mfl_coap_writer_init(&w, buf, sizeof(buf), MFL_COAP_CON, MFL_COAP_GET, 7, buf, 9);
    assert_int_equal(mfl_coap_writer_end(&w, &len), MFL_ERR_INVALID_ARG);
    mfl_coap_writer_init(&w, buf, sizeof(buf), MFL_COAP_CON, MFL_COAP_POST, 7, NULL, 0);
    mfl_coap_set_payload(&w, "a", 1);
    mfl_coap_add_option(&w, MFL_COAP_OPT_SIZE1, NULL, 0); /* an option after the payload */
    assert_int_equal(mfl_coap_writer_end(&w, &len), MFL_ERR_INVALID_ARG);
    /* RFC 7252 section 3: a marker with no payload, and an empty message with a token */
    const uint8_t marker_only[] = {0x40, 0x01, 0x00, 0x01, 0xFF}, empty_token[] = {0x41, 0x00, 0x00, 0x01, 0xAA};
    mfl_coap_msg_t m;
    assert_int_equal(mfl_coap_parse(marker_only, sizeof(marker_only), &m), MFL_ERR_COAP_FORMAT);
    assert_int_equal(mfl_coap_parse(empty_token, sizeof(empty_token), &m), MFL_ERR_COAP_FORMAT);
    uint32_t v;
    assert_int_equal(mfl_coap_uint((const uint8_t *)"\x01\x02\x03\x04\x05", 5, &v), MFL_ERR_COAP_FORMAT);
}

int main(void)
{
    coap_startup();
    coap_set_log_level(LOG_EMERG); /* libcoap's warning for each datagram it refuses */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_output_parses_in_libcoap),
        cmocka_unit_test(test_parser_agrees_with_libcoap_on_hostile_datagrams),
        cmocka_unit_test(test_block_values_as_libcoap),
        cmocka_unit_test(test_writer_errors_stick),
    };
    const int rc = cmocka_run_group_tests_name("coap_msg", tests, NULL, NULL);
    coap_cleanup();
    return rc;
}
