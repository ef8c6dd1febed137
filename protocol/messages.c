/*
 * Encoding and strict decoding of microfl's messages (include/mfl/messages.h,
 * protocol/microfl.cddl). Encoders write keys in ascending order with
 * shortest forms (deterministic CBOR); decoders check the whole input with
 * mfl_cbor_check() first, then walk the schema: every key known, ascending,
 * required ones present, every length bounded, every value in range.
 */
#include <string.h>

#include "mfl/cbor.h"
#include "mfl/error.h"
#include "mfl/messages.h"

#define MAX_DEPTH 3 /* body map -> groups array -> group map */

/* ---- shared pieces ---- */

/* Opens a body: the map, and key 1 = format with this version and type. */
static int open_body(mfl_cbor_reader_t *r, const uint8_t *src, size_t len, int type, uint64_t *fields,
                     int64_t *last)
{
    int err = mfl_cbor_check(src, len, MAX_DEPTH);
    if (err) {
        return err;
    }
    mfl_cbor_reader_init(r, src, len);
    int64_t key;
    uint64_t format;
    *last = INT64_MIN;
    err = mfl_cbor_get_map(r, fields);
    err = err ? err : *fields == 0 ? MFL_ERR_PROTO_MISSING_KEY : 0;
    err = err ? err : mfl_cbor_get_key(r, &key, last);
    err = err ? err : key != 1 ? MFL_ERR_PROTO_MISSING_KEY : 0;
    err = err ? err : mfl_cbor_get_uint(r, &format);
    if (err) {
        return err;
    }
    if ((format >> 4) != MFL_PROTO_VERSION) {
        return MFL_ERR_PROTO_VERSION;
    }
    return (int)(format & 15) == type ? 0 : MFL_ERR_PROTO_MSG_TYPE;
}

int mfl_msg_type(const uint8_t *src, size_t len)
{
    mfl_cbor_reader_t r;
    uint64_t fields, format;
    int64_t key, last = INT64_MIN;
    int err = mfl_cbor_check(src, len, MAX_DEPTH);
    mfl_cbor_reader_init(&r, src, len);
    err = err ? err : mfl_cbor_get_map(&r, &fields);
    err = err ? err : fields == 0 ? MFL_ERR_PROTO_MISSING_KEY : 0;
    err = err ? err : mfl_cbor_get_key(&r, &key, &last);
    err = err ? err : key != 1 ? MFL_ERR_PROTO_MISSING_KEY : 0;
    err = err ? err : mfl_cbor_get_uint(&r, &format);
    if (err) {
        return err;
    }
    if ((format >> 4) != MFL_PROTO_VERSION) {
        return MFL_ERR_PROTO_VERSION;
    }
    const int type = (int)(format & 15);
    return type >= MFL_MSG_UPDATE && type <= MFL_MSG_STATUS ? type : MFL_ERR_PROTO_VALUE;
}

static void put_key(mfl_cbor_writer_t *w, uint64_t key)
{
    mfl_cbor_put_uint(w, key);
}

static int finish(const mfl_cbor_writer_t *w, size_t *len)
{
    *len = w->len;
    return w->err;
}

/* base scale [m, e], then the per-row shifts as nibbles: -s_r in 0..15,
 * two rows per byte, the first row in the high nibble */
static void put_scales(mfl_cbor_writer_t *w, uint64_t key, const mfl_delta_q_t *q)
{
    uint8_t packed[MFL_DELTA_MAX_ROWS / 2];
    put_key(w, key);
    mfl_cbor_put_array(w, 2);
    mfl_cbor_put_uint(w, q->m);
    mfl_cbor_put_int(w, q->e);
    memset(packed, 0, sizeof(packed));
    for (uint16_t r = 0; r < q->rows; r++) {
        packed[r / 2] = (uint8_t)(packed[r / 2] | (uint8_t)(-q->shift[r]) << (r % 2 ? 0 : 4));
    }
    if (q->rows % 2) {
        packed[q->rows / 2] |= 0x0F; /* no row: padding */
    }
    put_key(w, key + 1);
    mfl_cbor_put_bytes(w, packed, (q->rows + 1u) / 2);
}

static int get_scales(mfl_cbor_reader_t *r, mfl_delta_q_t *q)
{
    uint64_t n, m;
    int64_t e;
    int err = mfl_cbor_get_array(r, &n);
    err = err ? err : n != 2 ? MFL_ERR_PROTO_TYPE : 0;
    err = err ? err : mfl_cbor_get_uint(r, &m);
    err = err ? err : mfl_cbor_get_int(r, &e);
    if (err) {
        return err;
    }
    if ((m != 0 && (m < (1u << 7) || m >= (1u << 8))) || e < -64 || e > 64) {
        return MFL_ERR_PROTO_VALUE;
    }
    q->m = (uint16_t)m;
    q->e = (int16_t)e;
    return 0;
}

/* Unpacks the shift nibbles into q->shift (MFL_DELTA_MAX_ROWS entries) and
 * sets q->rows; a final low nibble of 15 pads an odd row count. */
static int get_shifts(mfl_cbor_reader_t *r, mfl_delta_q_t *q)
{
    const uint8_t *bytes;
    size_t n;
    int err = mfl_cbor_get_bytes(r, &bytes, &n, MFL_DELTA_MAX_ROWS / 2);
    if (err) {
        return err;
    }
    if (n == 0) {
        return MFL_ERR_PROTO_DIMENSION;
    }
    const int odd = (bytes[n - 1] & 15) == 15;
    for (size_t i = 0; i < 2 * n - (size_t)odd; i++) {
        const int nibble = i % 2 ? bytes[i / 2] & 15 : bytes[i / 2] >> 4;
        if (nibble > -MFL_DELTA_MIN_SHIFT) {
            return MFL_ERR_PROTO_VALUE;
        }
        q->shift[i] = (int8_t)-nibble;
    }
    q->rows = (uint16_t)(2 * n - (size_t)odd);
    return 0;
}

/* ---- update ---- */

enum { U_FORMAT = 1, U_DEVICE, U_BASE, U_COUNTER, U_SAMPLES, U_SCALE, U_SHIFTS, U_VALUES, U_INDEX, U_COLS,
       U_METRICS };

int mfl_update_encode(const mfl_update_t *u, uint8_t *dst, size_t cap, size_t *len)
{
    const mfl_delta_q_t *q = &u->delta;
    const int sparse = q->index != NULL && q->k < (uint32_t)q->rows * q->cols;
    uint8_t leb[5 * 1024];
    size_t leb_len = 0;
    if (!u->device_id || u->device_id_len == 0 || u->device_id_len > MFL_DEVICE_ID_MAX || !q->shift ||
        !q->values || u->n_metrics > MFL_METRICS_MAX) {
        return MFL_ERR_INVALID_ARG;
    }
    if (sparse && (leb_len = mfl_delta_index_encode(q->index, q->k, leb, sizeof(leb))) == 0) {
        return MFL_ERR_INVALID_ARG; /* more than ~1000 sparse entries: send dense */
    }
    mfl_cbor_writer_t w;
    mfl_cbor_writer_init(&w, dst, cap);
    mfl_cbor_put_map(&w, 8 + (sparse ? 2 : 0) + (u->n_metrics ? 1 : 0));
    put_key(&w, U_FORMAT);
    mfl_cbor_put_uint(&w, MFL_PROTO_FORMAT(MFL_MSG_UPDATE));
    put_key(&w, U_DEVICE);
    mfl_cbor_put_bytes(&w, u->device_id, u->device_id_len);
    put_key(&w, U_BASE);
    mfl_cbor_put_uint(&w, u->base_version);
    put_key(&w, U_COUNTER);
    mfl_cbor_put_uint(&w, u->counter);
    put_key(&w, U_SAMPLES);
    mfl_cbor_put_uint(&w, u->samples);
    put_scales(&w, U_SCALE, q);
    put_key(&w, U_VALUES);
    mfl_cbor_put_bytes(&w, q->values, q->k);
    if (sparse) {
        put_key(&w, U_INDEX);
        mfl_cbor_put_bytes(&w, leb, leb_len);
        put_key(&w, U_COLS);
        mfl_cbor_put_uint(&w, q->cols);
    }
    if (u->n_metrics) {
        put_key(&w, U_METRICS);
        mfl_cbor_put_map(&w, u->n_metrics);
        for (uint32_t i = 0; i < u->n_metrics; i++) { /* the caller gives ascending keys */
            mfl_cbor_put_uint(&w, u->metrics[i].key);
            mfl_cbor_put_int(&w, u->metrics[i].value);
        }
    }
    return finish(&w, len);
}

static int get_metrics(mfl_cbor_reader_t *r, mfl_update_t *u)
{
    uint64_t n;
    int64_t last = INT64_MIN;
    int err = mfl_cbor_get_map(r, &n);
    if (err) {
        return err;
    }
    if (n > MFL_METRICS_MAX) {
        return MFL_ERR_PROTO_SIZE;
    }
    for (uint64_t i = 0; i < n && !err; i++) {
        int64_t key;
        err = mfl_cbor_get_key(r, &key, &last);
        if (!err && (key < 0 || key > UINT32_MAX)) {
            err = MFL_ERR_PROTO_VALUE;
        }
        err = err ? err : mfl_cbor_get_int(r, &u->metrics[i].value);
        u->metrics[i].key = (uint32_t)key;
    }
    u->n_metrics = (uint32_t)n;
    return err;
}

/* Every row's step m * 2^(e + s_r) at most MFL_UPDATE_STEP_MAX, so no
 * value q * step (|q| <= 128) leaves int32: a signed but hostile update
 * could otherwise declare a step of 2^72 and saturate every entry. */
static int check_steps(const mfl_delta_q_t *q)
{
    for (uint16_t r = 0; q->m && r < q->rows; r++) {
        const int sh = q->e + q->shift[r];
        if (sh > 24 || (sh >= 0 && ((uint64_t)q->m << sh) > MFL_UPDATE_STEP_MAX)) {
            return MFL_ERR_PROTO_SCALE;
        }
    }
    return 0;
}

/* The ranges microfl.cddl gives an update's integers. */
static int check_update_ranges(const mfl_update_t *u)
{
    if (u->base_version == 0 || u->base_version > MFL_VERSION_MAX) {
        return MFL_ERR_PROTO_MODEL_VERSION;
    }
    if (u->counter == 0 || u->counter > MFL_COUNTER_MAX) {
        return MFL_ERR_PROTO_COUNTER;
    }
    if (u->samples == 0 || u->samples > MFL_SAMPLES_MAX) {
        return MFL_ERR_PROTO_SAMPLES;
    }
    return check_steps(&u->delta);
}

/* Dimensions of a decoded delta, against the expected head shape. */
static int check_delta_shape(mfl_update_t *u, uint64_t cols, uint16_t rows_expected, uint16_t cols_expected)
{
    mfl_delta_q_t *q = &u->delta;
    const int sparse = u->index_bytes != NULL;
    if (!sparse) {
        if (q->k % q->rows != 0) {
            return MFL_ERR_PROTO_DIMENSION;
        }
        cols = q->k / q->rows;
    }
    if (cols == 0 || cols > MFL_DELTA_MAX_COLS || (rows_expected && q->rows != rows_expected) ||
        (cols_expected && cols != cols_expected)) {
        return MFL_ERR_PROTO_DIMENSION;
    }
    q->cols = (uint16_t)cols;
    if (sparse) {
        if (q->k == 0 || q->k >= (uint32_t)q->rows * q->cols) {
            return MFL_ERR_PROTO_DIMENSION;
        }
        return mfl_delta_index_decode(u->index_bytes, u->index_len, q->k, (uint32_t)q->rows * q->cols, NULL);
    }
    return 0;
}

int mfl_update_decode(const uint8_t *src, size_t len, uint16_t rows, uint16_t cols, mfl_update_t *out)
{
    mfl_cbor_reader_t r;
    mfl_update_t u;
    uint64_t fields, sparse_cols = 0;
    int64_t last;
    memset(&u, 0, sizeof(u));
    u.delta.shift = u.shift_storage;
    int err = open_body(&r, src, len, MFL_MSG_UPDATE, &fields, &last);
    uint32_t seen = 1u << U_FORMAT;
    for (uint64_t i = 1; i < fields && !err; i++) {
        int64_t key;
        const uint8_t *bytes;
        size_t n;
        err = mfl_cbor_get_key(&r, &key, &last);
        if (err) {
            break;
        }
        switch (key) {
        case U_DEVICE:
            err = mfl_cbor_get_bytes(&r, &u.device_id, &u.device_id_len, MFL_DEVICE_ID_MAX);
            err = err ? err : u.device_id_len == 0 ? MFL_ERR_PROTO_VALUE : 0;
            break;
        case U_BASE: err = mfl_cbor_get_uint(&r, &u.base_version); break;
        case U_COUNTER: err = mfl_cbor_get_uint(&r, &u.counter); break;
        case U_SAMPLES: err = mfl_cbor_get_uint(&r, &u.samples); break;
        case U_SCALE: err = get_scales(&r, &u.delta); break;
        case U_SHIFTS: err = get_shifts(&r, &u.delta); break;
        case U_VALUES:
            err = mfl_cbor_get_bytes(&r, &bytes, &n, (size_t)MFL_DELTA_MAX_ROWS * MFL_DELTA_MAX_COLS);
            u.delta.values = (int8_t *)(uintptr_t)bytes;
            u.delta.k = (uint32_t)n;
            break;
        case U_INDEX:
            err = mfl_cbor_get_bytes(&r, &u.index_bytes, &u.index_len, (size_t)5 * MFL_DELTA_MAX_ROWS * MFL_DELTA_MAX_COLS);
            break;
        case U_COLS: err = mfl_cbor_get_uint(&r, &sparse_cols); break;
        case U_METRICS: err = get_metrics(&r, &u); break;
        default: err = MFL_ERR_PROTO_UNKNOWN_KEY; break;
        }
        seen |= 1u << (key & 31);
    }
    const uint32_t required = (1u << U_FORMAT) | (1u << U_DEVICE) | (1u << U_BASE) | (1u << U_COUNTER) |
                              (1u << U_SAMPLES) | (1u << U_SCALE) | (1u << U_SHIFTS) | (1u << U_VALUES);
    if (!err && ((seen & required) != required || !!(seen & (1u << U_INDEX)) != !!(seen & (1u << U_COLS)))) {
        err = MFL_ERR_PROTO_MISSING_KEY;
    }
    err = err ? err : check_delta_shape(&u, sparse_cols, rows, cols);
    err = err ? err : check_update_ranges(&u);
    if (!err) {
        *out = u;
        out->delta.shift = out->shift_storage;
    }
    return err;
}

int mfl_update_sign(const mfl_update_t *u, const mfl_es256_private_t *key, uint8_t *scratch, size_t scratch_cap,
                    uint8_t *dst, size_t cap, size_t *len)
{
    size_t body_len;
    int err = mfl_update_encode(u, scratch, scratch_cap, &body_len);
    if (err) {
        *len = mfl_cose_sign1_size(u->device_id_len, body_len);
        return err;
    }
    return mfl_cose_sign1_encode(u->device_id, u->device_id_len, scratch, body_len, NULL, 0, key, dst, cap, len);
}

/* ---- model ---- */

enum { M_FORMAT = 1, M_ID, M_VERSION, M_PREV, M_SCALE, M_SHIFTS, M_WEIGHTS, M_BIAS, M_BOUNDS, M_BACKBONE };

int mfl_model_msg_encode(const mfl_model_msg_t *m, uint8_t *dst, size_t cap, size_t *len)
{
    const mfl_delta_q_t *q = &m->head;
    if (!m->model_id || m->model_id_len == 0 || m->model_id_len > MFL_MODEL_ID_MAX || !q->shift || !q->values ||
        !m->bias || q->k != (uint32_t)q->rows * q->cols) {
        return MFL_ERR_INVALID_ARG;
    }
    mfl_cbor_writer_t w;
    mfl_cbor_writer_init(&w, dst, cap);
    mfl_cbor_put_map(&w, m->has_backbone ? 10 : 9);
    put_key(&w, M_FORMAT);
    mfl_cbor_put_uint(&w, MFL_PROTO_FORMAT(MFL_MSG_MODEL));
    put_key(&w, M_ID);
    mfl_cbor_put_text(&w, m->model_id, m->model_id_len);
    put_key(&w, M_VERSION);
    mfl_cbor_put_uint(&w, m->version);
    put_key(&w, M_PREV);
    mfl_cbor_put_bytes(&w, m->prev_hash, sizeof(m->prev_hash));
    put_scales(&w, M_SCALE, q);
    put_key(&w, M_WEIGHTS);
    mfl_cbor_put_bytes(&w, q->values, q->k);
    put_key(&w, M_BIAS);
    uint8_t be[4 * MFL_DELTA_MAX_ROWS];
    for (uint16_t i = 0; i < q->rows; i++) {
        const uint32_t v = (uint32_t)m->bias[i];
        be[4 * i] = (uint8_t)(v >> 24), be[4 * i + 1] = (uint8_t)(v >> 16);
        be[4 * i + 2] = (uint8_t)(v >> 8), be[4 * i + 3] = (uint8_t)v;
    }
    mfl_cbor_put_bytes(&w, be, 4u * q->rows);
    put_key(&w, M_BOUNDS);
    mfl_cbor_put_map(&w, 3);
    mfl_cbor_put_uint(&w, 1);
    mfl_cbor_put_uint(&w, m->bounds.max_staleness);
    mfl_cbor_put_uint(&w, 2);
    mfl_cbor_put_uint(&w, m->bounds.max_delta_norm_q24);
    mfl_cbor_put_uint(&w, 3);
    mfl_cbor_put_uint(&w, m->bounds.drift_max_q24);
    if (m->has_backbone) {
        put_key(&w, M_BACKBONE);
        mfl_cbor_put_bytes(&w, m->backbone, sizeof(m->backbone));
    }
    return finish(&w, len);
}

static int get_bounds(mfl_cbor_reader_t *r, mfl_bounds_t *b)
{
    uint64_t n, v[3];
    int64_t last = INT64_MIN;
    int err = mfl_cbor_get_map(r, &n);
    err = err ? err : n != 3 ? MFL_ERR_PROTO_MISSING_KEY : 0;
    for (int i = 0; i < 3 && !err; i++) {
        int64_t key;
        err = mfl_cbor_get_key(r, &key, &last);
        err = err ? err : key != i + 1 ? MFL_ERR_PROTO_UNKNOWN_KEY : 0;
        err = err ? err : mfl_cbor_get_uint(r, &v[i]);
        err = err ? err : i != 1 && v[i] > UINT32_MAX ? MFL_ERR_PROTO_VALUE : 0; /* the norm bound has 64 bits */
    }
    if (!err) {
        b->max_staleness = (uint32_t)v[0];
        b->max_delta_norm_q24 = v[1];
        b->drift_max_q24 = (uint32_t)v[2];
    }
    return err;
}

int mfl_model_msg_decode(const uint8_t *src, size_t len, uint16_t rows, uint16_t cols, mfl_model_msg_t *out)
{
    mfl_cbor_reader_t r;
    mfl_model_msg_t m;
    uint64_t fields;
    int64_t last;
    memset(&m, 0, sizeof(m));
    m.head.shift = m.shift_storage;
    int err = open_body(&r, src, len, MFL_MSG_MODEL, &fields, &last);
    size_t bias_len = 0;
    for (int64_t expect_key = M_ID; expect_key <= M_BOUNDS && !err; expect_key++) {
        int64_t key;
        const uint8_t *bytes;
        size_t n;
        err = mfl_cbor_get_key(&r, &key, &last);
        if (!err && key != expect_key) { /* every key is required, in order */
            err = key > M_BOUNDS ? MFL_ERR_PROTO_UNKNOWN_KEY : MFL_ERR_PROTO_MISSING_KEY;
        }
        if (err) {
            break;
        }
        switch (key) {
        case M_ID: err = mfl_cbor_get_text(&r, &m.model_id, &m.model_id_len, MFL_MODEL_ID_MAX); break;
        case M_VERSION: err = mfl_cbor_get_uint(&r, &m.version); break;
        case M_PREV:
            err = mfl_cbor_get_bytes(&r, &bytes, &n, sizeof(m.prev_hash));
            err = err ? err : n != sizeof(m.prev_hash) ? MFL_ERR_PROTO_VALUE : 0;
            if (!err) {
                memcpy(m.prev_hash, bytes, n);
            }
            break;
        case M_SCALE: err = get_scales(&r, &m.head); break;
        case M_SHIFTS: err = get_shifts(&r, &m.head); break;
        case M_WEIGHTS:
            err = mfl_cbor_get_bytes(&r, &bytes, &n, (size_t)MFL_DELTA_MAX_ROWS * MFL_DELTA_MAX_COLS);
            m.head.values = (int8_t *)(uintptr_t)bytes;
            m.head.k = (uint32_t)n;
            break;
        case M_BIAS: err = mfl_cbor_get_bytes(&r, &m.bias_bytes, &bias_len, 4 * MFL_DELTA_MAX_ROWS); break;
        default: err = get_bounds(&r, &m.bounds); break;
        }
    }
    if (!err && fields == M_BACKBONE) { /* optional, last: the base model's backbone identity */
        int64_t key;
        const uint8_t *bytes;
        size_t n = 0;
        err = mfl_cbor_get_key(&r, &key, &last);
        err = err ? err : key != M_BACKBONE ? MFL_ERR_PROTO_UNKNOWN_KEY : 0;
        err = err ? err : mfl_cbor_get_bytes(&r, &bytes, &n, sizeof(m.backbone));
        err = err ? err : n != sizeof(m.backbone) ? MFL_ERR_PROTO_VALUE : 0;
        if (!err) {
            memcpy(m.backbone, bytes, n);
            m.has_backbone = 1;
        }
    } else if (!err && fields != M_BOUNDS) {
        err = MFL_ERR_PROTO_UNKNOWN_KEY;
    }
    if (!err && (m.version == 0 || m.version > MFL_VERSION_MAX)) {
        err = MFL_ERR_PROTO_MODEL_VERSION;
    }
    if (!err) { /* dimensions */
        const uint32_t c = m.head.k / m.head.rows;
        if (m.head.k % m.head.rows || c == 0 || c > MFL_DELTA_MAX_COLS || bias_len != 4u * m.head.rows ||
            (rows && m.head.rows != rows) || (cols && c != cols)) {
            err = MFL_ERR_PROTO_DIMENSION;
        }
        m.head.cols = (uint16_t)c;
    }
    if (!err) {
        *out = m;
        out->head.shift = out->shift_storage;
    }
    return err;
}

int32_t mfl_model_msg_bias(const mfl_model_msg_t *m, uint16_t row)
{
    const uint8_t *b = m->bias_bytes + 4 * (size_t)row;
    return (int32_t)((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]);
}

/* ---- receipt ---- */

const char *mfl_receipt_status_name(uint32_t status)
{
    static const char *const names[] = {"accepted", "duplicate", "stale", "rejected", "counter used"};
    return status < sizeof(names) / sizeof(names[0]) ? names[status] : "?";
}

int mfl_receipt_encode(const mfl_receipt_t *rc, uint8_t *dst, size_t cap, size_t *len)
{
    if (!rc->device_id || rc->device_id_len == 0 || rc->device_id_len > MFL_DEVICE_ID_MAX) {
        return MFL_ERR_INVALID_ARG;
    }
    mfl_cbor_writer_t w;
    mfl_cbor_writer_init(&w, dst, cap);
    mfl_cbor_put_map(&w, 6);
    put_key(&w, 1);
    mfl_cbor_put_uint(&w, MFL_PROTO_FORMAT(MFL_MSG_RECEIPT));
    put_key(&w, 2);
    mfl_cbor_put_bytes(&w, rc->device_id, rc->device_id_len);
    put_key(&w, 3);
    mfl_cbor_put_uint(&w, rc->counter);
    put_key(&w, 4);
    mfl_cbor_put_uint(&w, rc->status);
    put_key(&w, 5);
    mfl_cbor_put_uint(&w, rc->model_version);
    put_key(&w, 6);
    mfl_cbor_put_uint(&w, rc->last_counter);
    return finish(&w, len);
}

int mfl_receipt_decode(const uint8_t *src, size_t len, mfl_receipt_t *out)
{
    mfl_cbor_reader_t r;
    mfl_receipt_t rc;
    uint64_t fields, status = 0;
    int64_t last;
    memset(&rc, 0, sizeof(rc));
    int err = open_body(&r, src, len, MFL_MSG_RECEIPT, &fields, &last);
    /* key 6 (last counter) is optional: aggregators before it sent five keys */
    err = err ? err : fields < 5 ? MFL_ERR_PROTO_MISSING_KEY : fields > 6 ? MFL_ERR_PROTO_UNKNOWN_KEY : 0;
    for (int64_t k = 2; k <= (int64_t)fields && !err; k++) {
        int64_t key;
        err = mfl_cbor_get_key(&r, &key, &last);
        err = err ? err : key != k ? MFL_ERR_PROTO_UNKNOWN_KEY : 0;
        if (err) {
            break;
        }
        if (k == 2) {
            err = mfl_cbor_get_bytes(&r, &rc.device_id, &rc.device_id_len, MFL_DEVICE_ID_MAX);
        } else {
            err = mfl_cbor_get_uint(&r, k == 3 ? &rc.counter : k == 4 ? &status : k == 5 ? &rc.model_version
                                                                                        : &rc.last_counter);
        }
    }
    if (!err && (status > MFL_RECEIPT_COUNTER_USED || rc.device_id_len == 0)) {
        err = MFL_ERR_PROTO_VALUE;
    }
    if (!err) {
        rc.status = (uint32_t)status;
        *out = rc;
    }
    return err;
}

/* ---- status ---- */

int mfl_status_encode(const mfl_status_t *s, uint8_t *dst, size_t cap, size_t *len)
{
    if (s->n_groups > MFL_GROUPS_MAX) {
        return MFL_ERR_INVALID_ARG;
    }
    mfl_cbor_writer_t w;
    mfl_cbor_writer_init(&w, dst, cap);
    mfl_cbor_put_map(&w, 6);
    put_key(&w, 1);
    mfl_cbor_put_uint(&w, MFL_PROTO_FORMAT(MFL_MSG_STATUS));
    const uint64_t v[4] = {s->round, s->model_version, s->accepted, s->rejected};
    for (int i = 0; i < 4; i++) {
        put_key(&w, (uint64_t)i + 2);
        mfl_cbor_put_uint(&w, v[i]);
    }
    put_key(&w, 6);
    mfl_cbor_put_array(&w, s->n_groups);
    for (uint32_t g = 0; g < s->n_groups; g++) {
        mfl_cbor_put_map(&w, 3);
        mfl_cbor_put_uint(&w, 1);
        mfl_cbor_put_text(&w, s->groups[g].name, s->groups[g].name_len);
        mfl_cbor_put_uint(&w, 2);
        mfl_cbor_put_uint(&w, s->groups[g].devices);
        mfl_cbor_put_uint(&w, 3);
        mfl_cbor_put_uint(&w, s->groups[g].accepted);
    }
    return finish(&w, len);
}

static int get_group(mfl_cbor_reader_t *r, mfl_group_status_t *g)
{
    uint64_t n;
    int64_t last = INT64_MIN, key;
    int err = mfl_cbor_get_map(r, &n);
    err = err ? err : n != 3 ? MFL_ERR_PROTO_MISSING_KEY : 0;
    err = err ? err : mfl_cbor_get_key(r, &key, &last);
    err = err ? err : key != 1 ? MFL_ERR_PROTO_UNKNOWN_KEY : mfl_cbor_get_text(r, &g->name, &g->name_len, 64);
    err = err ? err : mfl_cbor_get_key(r, &key, &last);
    err = err ? err : key != 2 ? MFL_ERR_PROTO_UNKNOWN_KEY : mfl_cbor_get_uint(r, &g->devices);
    err = err ? err : mfl_cbor_get_key(r, &key, &last);
    err = err ? err : key != 3 ? MFL_ERR_PROTO_UNKNOWN_KEY : mfl_cbor_get_uint(r, &g->accepted);
    return err;
}

int mfl_status_decode(const uint8_t *src, size_t len, mfl_status_t *out)
{
    mfl_cbor_reader_t r;
    mfl_status_t s;
    uint64_t fields, *v[4];
    int64_t last;
    memset(&s, 0, sizeof(s));
    v[0] = &s.round, v[1] = &s.model_version, v[2] = &s.accepted, v[3] = &s.rejected;
    int err = open_body(&r, src, len, MFL_MSG_STATUS, &fields, &last);
    err = err ? err : fields != 6 ? (fields < 6 ? MFL_ERR_PROTO_MISSING_KEY : MFL_ERR_PROTO_UNKNOWN_KEY) : 0;
    for (int64_t k = 2; k <= 6 && !err; k++) {
        int64_t key;
        uint64_t n;
        err = mfl_cbor_get_key(&r, &key, &last);
        err = err ? err : key != k ? MFL_ERR_PROTO_UNKNOWN_KEY : 0;
        if (err) {
            break;
        }
        if (k < 6) {
            err = mfl_cbor_get_uint(&r, v[k - 2]);
            continue;
        }
        err = mfl_cbor_get_array(&r, &n);
        err = err ? err : n > MFL_GROUPS_MAX ? MFL_ERR_PROTO_SIZE : 0;
        for (uint64_t g = 0; g < n && !err; g++) {
            err = get_group(&r, &s.groups[g]);
        }
        s.n_groups = (uint32_t)n;
    }
    if (!err) {
        *out = s;
    }
    return err;
}
