/*
 * COSE_Sign1 and microfl's messages, built once per crypto backend (Mbed TLS
 * and OpenSSL): both must pass the same checks, including the public COSE
 * vectors read from shared/testvectors/cose.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/cbor.h"
#include "mfl/messages.h"
#include "test_support.h"

/* ---- reading fields of the JSON vectors (flat string values only) ---- */

static int json_string(const char *json, const char *field, char *out, size_t cap)
{
    char pattern[64];
    snprintf(pattern, sizeof(pattern), "\"%s\"", field);
    const char *p = strstr(json, pattern);
    if (!p) {
        return -1;
    }
    p += strlen(pattern);
    while (*p == ' ' || *p == ':') {
        p++;
    }
    if (*p++ != '"') {
        return -1;
    }
    size_t n = 0;
    while (p[n] && p[n] != '"' && n + 1 < cap) {
        out[n] = p[n];
        n++;
    }
    out[n] = '\0';
    return 0;
}

static size_t from_hex(const char *hex, uint8_t *out)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    return n;
}

static size_t from_b64url(const char *s, uint8_t *out)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (; *s; s++) {
        const char c = *s;
        const int v = c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26
                    : c >= '0' && c <= '9' ? c - '0' + 52 : c == '-' ? 62 : c == '_' ? 63 : -1;
        if (v < 0) {
            continue;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return n;
}

typedef struct {
    mfl_es256_public_t key;
    uint8_t msg[512], tbs[512], aad[64];
    size_t msg_len, tbs_len, aad_len;
} vector_t;

static void load_vector(const char *rel, vector_t *v)
{
    size_t size;
    char *json = (char *)ts_read_shared(rel, &size);
    char *text = realloc(json, size + 1);
    text[size] = '\0';
    char field[2048];
    assert_int_equal(json_string(text, "x", field, sizeof(field)), 0);
    v->key.q[0] = 4;
    assert_int_equal(from_b64url(field, v->key.q + 1), 32);
    assert_int_equal(json_string(text, "y", field, sizeof(field)), 0);
    assert_int_equal(from_b64url(field, v->key.q + 33), 32);
    v->aad_len = json_string(text, "external", field, sizeof(field)) == 0 ? from_hex(field, v->aad) : 0;
    assert_int_equal(json_string(text, "cbor", field, sizeof(field)), 0);
    v->msg_len = from_hex(field, v->msg);
    assert_int_equal(json_string(text, "ToBeSign_hex", field, sizeof(field)), 0);
    v->tbs_len = from_hex(field, v->tbs);
    free(text);
}

static int verify_tbs(const vector_t *v)
{
    uint8_t hash[32];
    mfl_sha256_t sha;
    assert_int_equal(mfl_sha256_start(&sha), 0);
    assert_int_equal(mfl_sha256_update(&sha, v->tbs, v->tbs_len), 0);
    assert_int_equal(mfl_sha256_finish(&sha, hash), 0);
    return mfl_es256_verify(&v->key, hash, v->msg + v->msg_len - 64);
}

static void test_public_vectors(void **state)
{
    (void)state;
    vector_t v;
    mfl_cose_sign1_t m;
    print_message("crypto backend: %s\n", mfl_crypto_backend());
    /* ES256 itself on the vectors' to-be-signed bytes, even where the envelope is refused */
    const char *valid[] = {"testvectors/cose/sign1-tests/sign-pass-02.json",
                           "testvectors/cose/sign1-tests/sign-pass-03.json",
                           "testvectors/cose/ecdsa-examples/ecdsa-sig-01.json"};
    for (int i = 0; i < 3; i++) {
        load_vector(valid[i], &v);
        assert_int_equal(verify_tbs(&v), 0);
    }
    load_vector("testvectors/cose/sign1-tests/sign-fail-02.json", &v); /* payload changed after signing */
    assert_int_equal(mfl_cose_sign1_decode(v.msg, v.msg_len, &m), 0);
    assert_int_equal(mfl_cose_sign1_verify(&m, NULL, 0, &v.key), MFL_ERR_COSE_SIGNATURE);
    /* the envelope: pass-02 verifies with its external AAD and not without */
    load_vector("testvectors/cose/sign1-tests/sign-pass-02.json", &v);
    assert_int_equal(mfl_cose_sign1_decode(v.msg, v.msg_len, &m), 0);
    assert_int_equal(mfl_cose_sign1_verify(&m, v.aad, v.aad_len, &v.key), 0);
    assert_int_equal(mfl_cose_sign1_verify(&m, NULL, 0, &v.key), MFL_ERR_COSE_SIGNATURE);
    load_vector("testvectors/cose/sign1-tests/sign-pass-03.json", &v);
    assert_int_equal(mfl_cose_sign1_decode(v.msg, v.msg_len, &m), MFL_ERR_COSE_TAG);
}

/* ---- keys and COSE round trips ---- */

static mfl_es256_private_t device_key;
static mfl_es256_public_t device_pub;

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < 32; i++) device_key.d[i] = (uint8_t)(i * 7 + 1);
    return mfl_es256_public_from_private(&device_key, &device_pub);
}

static void test_cose_round_trip_and_tamper(void **state)
{
    (void)state;
    const uint8_t payload[] = "hello, aggregator";
    uint8_t msg[256], again[256];
    size_t len, len2;
    mfl_cose_sign1_t m;
    assert_int_equal(mfl_cose_sign1_encode((const uint8_t *)"dev1", 4, payload, sizeof(payload), NULL, 0,
                                           &device_key, msg, sizeof(msg), &len), 0);
    assert_int_equal(len, mfl_cose_sign1_size(4, sizeof(payload)));
    assert_int_equal(mfl_cose_sign1_decode(msg, len, &m), 0);
    assert_true(m.kid_protected && m.kid_len == 4 && m.unprotected_count == 0);
    assert_int_equal(mfl_cose_sign1_verify(&m, NULL, 0, &device_pub), 0);
    if (!strcmp(mfl_crypto_backend(), "mbedtls")) { /* RFC 6979: the same bytes every time */
        assert_int_equal(mfl_cose_sign1_encode((const uint8_t *)"dev1", 4, payload, sizeof(payload), NULL, 0,
                                               &device_key, again, sizeof(again), &len2), 0);
        assert_memory_equal(msg, again, len);
    }
    for (size_t i = 0; i < len; i++) { /* any flipped byte: decode error or bad signature */
        memcpy(again, msg, len);
        again[i] ^= 0x01;
        int err = mfl_cose_sign1_decode(again, len, &m);
        if (!err) {
            err = mfl_cose_sign1_verify(&m, NULL, 0, &device_pub);
        }
        assert_true(err < 0);
    }
    assert_int_equal(mfl_cose_sign1_encode((const uint8_t *)"dev1", 4, payload, sizeof(payload), NULL, 0,
                                           &device_key, msg, 10, &len), MFL_ERR_BUFFER_TOO_SMALL);
}

/* A COSE_Sign1 built field by field, for the structural errors. */
static size_t build(uint8_t *buf, uint64_t tag, const uint8_t *prot, size_t prot_len, int extra_unprotected,
                    size_t sig_len)
{
    static const uint8_t sig[80];
    mfl_cbor_writer_t w;
    mfl_cbor_writer_init(&w, buf, 256);
    mfl_cbor_put_tag(&w, tag);
    mfl_cbor_put_array(&w, 4);
    mfl_cbor_put_bytes(&w, prot, prot_len);
    mfl_cbor_put_map(&w, extra_unprotected ? 1 : 0);
    if (extra_unprotected) {
        mfl_cbor_put_uint(&w, 33); /* x5chain */
        mfl_cbor_put_bytes(&w, "x", 1);
    }
    mfl_cbor_put_bytes(&w, "p", 1);
    mfl_cbor_put_bytes(&w, sig, sig_len);
    return w.len;
}

static void test_cose_profile_errors(void **state)
{
    (void)state;
    const uint8_t good[] = {0xa2, 0x01, 0x26, 0x04, 0x41, 'k'};        /* {1: -7, 4: h'6b'} */
    const uint8_t es384[] = {0xa2, 0x01, 0x38, 0x22, 0x04, 0x41, 'k'}; /* alg -35 */
    const uint8_t ctype[] = {0xa2, 0x01, 0x26, 0x03, 0x00};            /* content type */
    const uint8_t empty[] = {0xa0};
    const uint8_t no_alg[] = {0xa1, 0x04, 0x41, 'k'};
    uint8_t buf[256];
    mfl_cose_sign1_t m;
    size_t n = build(buf, 18, good, sizeof(good), 0, 64);
    assert_int_equal(mfl_cose_sign1_decode(buf, n, &m), 0);
    n = build(buf, 98, good, sizeof(good), 0, 64);
    assert_int_equal(mfl_cose_sign1_decode(buf, n, &m), MFL_ERR_COSE_TAG);
    n = build(buf, 18, es384, sizeof(es384), 0, 64);
    assert_int_equal(mfl_cose_sign1_decode(buf, n, &m), MFL_ERR_COSE_ALG);
    n = build(buf, 18, ctype, sizeof(ctype), 0, 64);
    assert_int_equal(mfl_cose_sign1_decode(buf, n, &m), MFL_ERR_COSE_HEADER);
    n = build(buf, 18, empty, sizeof(empty), 0, 64);
    assert_int_equal(mfl_cose_sign1_decode(buf, n, &m), MFL_ERR_COSE_HEADER);
    n = build(buf, 18, empty, 0, 0, 64);
    assert_int_equal(mfl_cose_sign1_decode(buf, n, &m), MFL_ERR_COSE_HEADER);
    n = build(buf, 18, no_alg, sizeof(no_alg), 0, 64);
    assert_int_equal(mfl_cose_sign1_decode(buf, n, &m), MFL_ERR_COSE_ALG);
    n = build(buf, 18, good, sizeof(good), 1, 64);
    assert_int_equal(mfl_cose_sign1_decode(buf, n, &m), MFL_ERR_COSE_HEADER);
    n = build(buf, 18, good, sizeof(good), 0, 63);
    assert_int_equal(mfl_cose_sign1_decode(buf, n, &m), MFL_ERR_COSE_SIG_SIZE);
    n = build(buf, 18, good, sizeof(good), 0, 72);
    assert_int_equal(mfl_cose_sign1_decode(buf, n, &m), MFL_ERR_COSE_SIG_SIZE);
    n = build(buf, 18, good, sizeof(good), 0, 64);
    assert_int_equal(mfl_cose_sign1_decode(buf, n - 1, &m), MFL_ERR_CBOR_TRUNCATED);
    buf[n] = 0;
    assert_int_equal(mfl_cose_sign1_decode(buf, n + 1, &m), MFL_ERR_CBOR_TRAILING);
}

/* ---- messages ---- */

enum { ROWS = 10, COLS = 65 };

static void make_update(mfl_update_t *u, int8_t *shift, int8_t *values, uint32_t *index, uint32_t k)
{
    int32_t delta[ROWS * COLS];
    for (int i = 0; i < ROWS * COLS; i++) delta[i] = (i * 7919 % 2001 - 1000) * 1000;
    memset(u, 0, sizeof(*u));
    u->device_id = (const uint8_t *)"dev1";
    u->device_id_len = 4;
    u->base_version = 3;
    u->counter = 41;
    u->samples = 120;
    u->delta.shift = shift;
    u->delta.values = values;
    u->delta.index = k < ROWS * COLS ? index : NULL;
    assert_int_equal(mfl_delta_quantize(delta, NULL, ROWS, COLS, k, &u->delta), 0);
}

static void test_update_round_trip_and_size(void **state)
{
    (void)state;
    int8_t shift[ROWS], values[ROWS * COLS];
    uint32_t index[ROWS * COLS];
    uint8_t body[2048], msg[2048];
    size_t body_len, len;
    for (int sparse = 0; sparse < 2; sparse++) {
        const uint32_t k = sparse ? ROWS * COLS / 10 : ROWS * COLS;
        mfl_update_t u, d;
        make_update(&u, shift, values, index, k);
        u.n_metrics = 2;
        u.metrics[0] = (mfl_metric_t){1, 873};
        u.metrics[1] = (mfl_metric_t){2, -5};
        assert_int_equal(mfl_update_encode(&u, body, sizeof(body), &body_len), 0);
        assert_int_equal(mfl_update_decode(body, body_len, ROWS, COLS, &d), 0);
        assert_int_equal(d.counter, 41);
        assert_int_equal(d.delta.k, k);
        assert_memory_equal(d.delta.values, values, k);
        assert_int_equal(d.n_metrics, 2);
        assert_int_equal(d.metrics[1].value, -5);
        if (sparse) {
            uint32_t back[ROWS * COLS];
            assert_int_equal(mfl_delta_index_decode(d.index_bytes, d.index_len, k, ROWS * COLS, back), 0);
            assert_memory_equal(back, index, k * sizeof(uint32_t));
        }
        assert_int_equal(mfl_update_decode(body, body_len, ROWS, COLS + 1, &d), MFL_ERR_PROTO_DIMENSION);
        assert_int_equal(mfl_update_decode(body, body_len, ROWS + 1, COLS, &d), MFL_ERR_PROTO_DIMENSION);
        /* signed: overhead beyond the int8 values */
        u.n_metrics = 0;
        assert_int_equal(mfl_update_sign(&u, &device_key, body, sizeof(body), msg, sizeof(msg), &len), 0);
        print_message("signed %s update, 10x65 head, 4-byte device id: %zu bytes = %u values + %zu overhead\n",
                      sparse ? "top-10%" : "dense", len, k, len - k);
        if (!sparse) {
            assert_true(len - k <= 120);
        }
    }
}

/* Edits one byte of an encoded update body and expects an error. */
static void expect_body_error(const uint8_t *body, size_t len, size_t at, uint8_t value, int want)
{
    uint8_t copy[2048];
    mfl_update_t d;
    memcpy(copy, body, len);
    copy[at] = value;
    const int err = mfl_update_decode(copy, len, 0, 0, &d);
    if (err != want) {
        fail_msg("byte %zu = 0x%02x: got %d (%s), want %d (%s)", at, value, err, mfl_strerror(err), want,
                 mfl_strerror(want));
    }
}

static void test_odd_row_count_round_trips(void **state)
{
    (void)state;
    int32_t delta[7 * 5];
    int8_t shift[7], values[35];
    uint8_t body[512];
    size_t len;
    for (int i = 0; i < 35; i++) delta[i] = (i % 7 + 1) * (1 << (2 * (i / 5))) * (i % 2 ? 1 : -1);
    mfl_update_t u = {.device_id = (const uint8_t *)"x", .device_id_len = 1, .base_version = 1, .counter = 1,
                      .samples = 1}, d;
    u.delta.shift = shift;
    u.delta.values = values;
    assert_int_equal(mfl_delta_quantize(delta, NULL, 7, 5, 35, &u.delta), 0);
    assert_int_equal(mfl_update_encode(&u, body, sizeof(body), &len), 0);
    assert_int_equal(mfl_update_decode(body, len, 7, 5, &d), 0);
    assert_int_equal(d.delta.rows, 7);
    assert_memory_equal(d.delta.shift, shift, 7);
    assert_memory_equal(d.delta.values, values, 35);
}

static void test_update_schema_errors(void **state)
{
    (void)state;
    int8_t shift[ROWS], values[ROWS * COLS];
    uint8_t body[2048];
    size_t len;
    mfl_update_t u, d;
    make_update(&u, shift, values, NULL, ROWS * COLS);
    assert_int_equal(mfl_update_encode(&u, body, sizeof(body), &len), 0);
    /* body: a8 01 11 02 44 'dev1' 03 03 04 18 29 05 18 78 06 ... */
    assert_int_equal(body[0], 0xa8);
    expect_body_error(body, len, 2, 0x01, MFL_ERR_PROTO_VERSION);   /* format version 0 */
    expect_body_error(body, len, 2, 0x12, MFL_ERR_PROTO_MSG_TYPE);  /* a model's format */
    expect_body_error(body, len, 1, 0x02, MFL_ERR_PROTO_MISSING_KEY); /* first key not 1 */
    expect_body_error(body, len, 3, 0x01, MFL_ERR_PROTO_DUP_KEY);   /* key 1 twice */
    expect_body_error(body, len, 9, 0x02, MFL_ERR_PROTO_DUP_KEY);   /* 3 -> 2 after 2 */
    expect_body_error(body, len, 9, 0x01, MFL_ERR_PROTO_KEY_ORDER); /* 3 -> 1 after 2 */
    expect_body_error(body, len, 9, 0x0c, MFL_ERR_PROTO_UNKNOWN_KEY); /* key 12 */
    expect_body_error(body, len, 10, 0x40, MFL_ERR_PROTO_TYPE);     /* base version as h"" */
    expect_body_error(body, len, 0, 0xa9, MFL_ERR_CBOR_TRUNCATED);  /* one more field declared */
    expect_body_error(body, len, 0, 0xa7, MFL_ERR_CBOR_TRAILING);   /* one fewer */
    /* an unknown key, at the end */
    uint8_t extra[2048];
    memcpy(extra, body, len);
    extra[0] = 0xa9;
    extra[len] = 0x18;
    extra[len + 1] = 0x63; /* key 99 */
    extra[len + 2] = 0x00;
    assert_int_equal(mfl_update_decode(extra, len + 3, 0, 0, &d), MFL_ERR_PROTO_UNKNOWN_KEY);
    /* a delta whose values do not fill whole rows */
    for (size_t i = 0; i + 3 < len; i++) {
        if (body[i] == 0x08 && body[i + 1] == 0x59 && body[i + 2] == 0x02 && body[i + 3] == 0x8a) {
            memcpy(extra, body, len);
            extra[i + 3] = 0x89; /* 649 values, one byte left over */
            assert_int_equal(mfl_update_decode(extra, len, 0, 0, &d), MFL_ERR_CBOR_TRAILING);
        }
    }
}

/* Encodes u and decodes it again. */
static int round_trip(const mfl_update_t *u)
{
    uint8_t body[2048];
    size_t len;
    mfl_update_t d;
    assert_int_equal(mfl_update_encode(u, body, sizeof(body), &len), 0);
    return mfl_update_decode(body, len, 0, 0, &d);
}

/* The ranges microfl.cddl gives: counters and versions 1..2^63-1, samples
 * 1..2^32-1, and no row step above one real unit. */
static void test_update_ranges(void **state)
{
    (void)state;
    int8_t shift[ROWS], values[ROWS * COLS];
    mfl_update_t u;
    make_update(&u, shift, values, NULL, ROWS * COLS);
    const struct {
        uint64_t *field, value;
        int want;
    } cases[] = {
        {&u.counter, 0, MFL_ERR_PROTO_COUNTER},
        {&u.counter, 1, 0},
        {&u.counter, MFL_COUNTER_MAX, 0},
        {&u.counter, MFL_COUNTER_MAX + 1, MFL_ERR_PROTO_COUNTER},
        {&u.counter, UINT64_MAX, MFL_ERR_PROTO_COUNTER},
        {&u.base_version, 0, MFL_ERR_PROTO_MODEL_VERSION},
        {&u.base_version, MFL_VERSION_MAX + 1, MFL_ERR_PROTO_MODEL_VERSION},
        {&u.samples, 0, MFL_ERR_PROTO_SAMPLES},
        {&u.samples, MFL_SAMPLES_MAX, 0},
        {&u.samples, MFL_SAMPLES_MAX + 1, MFL_ERR_PROTO_SAMPLES},
        {&u.samples, UINT64_MAX, MFL_ERR_PROTO_SAMPLES},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const uint64_t keep = *cases[i].field;
        *cases[i].field = cases[i].value;
        assert_int_equal(round_trip(&u), cases[i].want);
        *cases[i].field = keep;
    }
    /* steps: m * 2^(e + s_r) <= 2^24 in every row */
    const struct {
        uint16_t m;
        int16_t e;
        int8_t shift0;
        int want;
    } steps[] = {
        {255, 64, 0, MFL_ERR_PROTO_SCALE}, /* every value ~3.6e16: the hostile case */
        {255, 16, 0, 0},                   /* 255 * 2^16 < 2^24 */
        {128, 17, 0, 0},                   /* exactly 2^24 */
        {129, 17, 0, MFL_ERR_PROTO_SCALE},
        {255, 18, -2, 0},                  /* row offsets count */
        {255, -64, 0, 0},
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        make_update(&u, shift, values, NULL, ROWS * COLS);
        for (int r = 0; r < ROWS; r++) {
            shift[r] = steps[i].shift0;
        }
        u.delta.m = steps[i].m;
        u.delta.e = steps[i].e;
        assert_int_equal(round_trip(&u), steps[i].want);
    }
    /* the device's encoder never makes a step the aggregator refuses: a
     * delta near the int32 limits is capped at 2^24 per step, the excess
     * left in the residual */
    int32_t delta[ROWS * COLS], residual[ROWS * COLS];
    for (int i = 0; i < ROWS * COLS; i++) {
        delta[i] = i % 2 ? INT32_MAX : INT32_MIN + 1;
        residual[i] = delta[i] / 2;
    }
    u.delta.shift = shift;
    u.delta.values = values;
    u.delta.index = NULL;
    assert_int_equal(mfl_delta_quantize(delta, residual, ROWS, COLS, ROWS * COLS, &u.delta), 0);
    assert_int_equal(round_trip(&u), 0);
}

static void test_model_receipt_status(void **state)
{
    (void)state;
    int8_t shift[ROWS], values[ROWS * COLS];
    int32_t bias[ROWS];
    uint8_t buf[2048];
    size_t len;
    mfl_update_t u;
    make_update(&u, shift, values, NULL, ROWS * COLS);
    for (int i = 0; i < ROWS; i++) bias[i] = -1000 * i;
    mfl_model_msg_t m = {.model_id = "fmnist-base", .model_id_len = 11, .version = 7, .head = u.delta,
                         .bias = bias, .bounds = {4, 1u << 24, 1u << 20}};
    memset(m.prev_hash, 0xab, 32);
    mfl_model_msg_t d;
    assert_int_equal(mfl_model_msg_encode(&m, buf, sizeof(buf), &len), 0);
    assert_int_equal(mfl_msg_type(buf, len), MFL_MSG_MODEL);
    assert_int_equal(mfl_model_msg_decode(buf, len, ROWS, COLS, &d), 0);
    assert_int_equal(d.version, 7);
    assert_int_equal(mfl_model_msg_bias(&d, 9), -9000);
    assert_int_equal(d.bounds.max_staleness, 4);
    assert_memory_equal(d.head.values, values, ROWS * COLS);
    assert_int_equal(mfl_model_msg_decode(buf, len, ROWS, COLS - 1, &d), MFL_ERR_PROTO_DIMENSION);
    mfl_update_t wrong;
    assert_int_equal(mfl_update_decode(buf, len, 0, 0, &wrong), MFL_ERR_PROTO_MSG_TYPE);

    mfl_receipt_t r = {(const uint8_t *)"dev1", 4, 41, MFL_RECEIPT_DUPLICATE, 7, 41}, rd;
    assert_int_equal(mfl_receipt_encode(&r, buf, sizeof(buf), &len), 0);
    assert_int_equal(mfl_receipt_decode(buf, len, &rd), 0);
    assert_int_equal(rd.status, MFL_RECEIPT_DUPLICATE);
    assert_int_equal(rd.counter, 41);
    assert_int_equal(rd.last_counter, 41);
    /* counter used: the receipt says which counter the device must pass */
    r.status = MFL_RECEIPT_COUNTER_USED;
    r.counter = 2;
    r.last_counter = 1234567;
    assert_int_equal(mfl_receipt_encode(&r, buf, sizeof(buf), &len), 0);
    assert_int_equal(mfl_receipt_decode(buf, len, &rd), 0);
    assert_int_equal(rd.status, MFL_RECEIPT_COUNTER_USED);
    assert_int_equal(rd.last_counter, 1234567);
    assert_string_equal(mfl_receipt_status_name(rd.status), "counter used");
    /* an older aggregator's five-key receipt still decodes (no last counter) */
    const uint8_t five[] = {0xa5, 0x01, 0x13, 0x02, 0x41, 'd', 0x03, 0x05, 0x04, 0x00, 0x05, 0x02};
    assert_int_equal(mfl_receipt_decode(five, sizeof(five), &rd), 0);
    assert_int_equal(rd.last_counter, 0);
    assert_int_equal(rd.counter, 5);
    const uint8_t bad_status[] = {0xa5, 0x01, 0x13, 0x02, 0x41, 'd', 0x03, 0x05, 0x04, 0x05, 0x05, 0x02};
    assert_int_equal(mfl_receipt_decode(bad_status, sizeof(bad_status), &rd), MFL_ERR_PROTO_VALUE);

    /* a norm bound above 2^32 (256 real units) travels whole */
    m.bounds.max_delta_norm_q24 = 300ull << 24;
    assert_int_equal(mfl_model_msg_encode(&m, buf, sizeof(buf), &len), 0);
    assert_int_equal(mfl_model_msg_decode(buf, len, ROWS, COLS, &d), 0);
    assert_true(d.bounds.max_delta_norm_q24 == 300ull << 24);
    assert_int_equal(d.has_backbone, 0); /* key 10 is optional */
    /* the backbone identity (key 10) travels whole, last */
    m.has_backbone = 1;
    for (int i = 0; i < 32; i++) m.backbone[i] = (uint8_t)(0xc0 + i);
    assert_int_equal(mfl_model_msg_encode(&m, buf, sizeof(buf), &len), 0);
    assert_int_equal(buf[0], 0xaa); /* a map of 10 */
    assert_int_equal(mfl_model_msg_decode(buf, len, ROWS, COLS, &d), 0);
    assert_int_equal(d.has_backbone, 1);
    assert_memory_equal(d.backbone, m.backbone, 32);
    assert_int_equal(buf[len - 35], 0x0a); /* key 10, then bstr(32): 0x58 0x20 and 32 bytes */
    assert_int_equal(buf[len - 34], 0x58);
    buf[len - 35] = 0x0b; /* an unknown 10th key */
    assert_int_equal(mfl_model_msg_decode(buf, len, ROWS, COLS, &d), MFL_ERR_PROTO_UNKNOWN_KEY);
    buf[len - 35] = 0x0a;
    buf[len - 33] = 0x1f; /* a bstr of 31 (the message one byte shorter) */
    assert_int_equal(mfl_model_msg_decode(buf, len - 1, ROWS, COLS, &d), MFL_ERR_PROTO_VALUE);
    m.version = 0; /* versions start at 1 */
    assert_int_equal(mfl_model_msg_encode(&m, buf, sizeof(buf), &len), 0);
    assert_int_equal(mfl_model_msg_decode(buf, len, ROWS, COLS, &d), MFL_ERR_PROTO_MODEL_VERSION);

    mfl_status_t s = {.round = 3, .model_version = 7, .accepted = 100, .rejected = 2, .n_groups = 2};
    s.groups[0] = (mfl_group_status_t){"north", 5, 60, 40};
    s.groups[1] = (mfl_group_status_t){"south", 5, 40, 60};
    mfl_status_t sd;
    assert_int_equal(mfl_status_encode(&s, buf, sizeof(buf), &len), 0);
    assert_int_equal(mfl_status_decode(buf, len, &sd), 0);
    assert_int_equal(sd.n_groups, 2);
    assert_int_equal(sd.groups[1].accepted, 60);
    assert_int_equal(sd.groups[0].name_len, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_public_vectors),
        cmocka_unit_test(test_cose_round_trip_and_tamper),
        cmocka_unit_test(test_cose_profile_errors),
        cmocka_unit_test(test_update_round_trip_and_size),
        cmocka_unit_test(test_odd_row_count_round_trips),
        cmocka_unit_test(test_update_schema_errors),
        cmocka_unit_test(test_update_ranges),
        cmocka_unit_test(test_model_receipt_status),
    };
    return cmocka_run_group_tests_name("protocol", tests, setup, NULL);
}
