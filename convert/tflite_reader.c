/*
 * Bounds-checked reader of .tflite flatbuffers (host only).
 *
 * Flatbuffer facts this relies on: the file starts with a uint32 offset to
 * the root table; a table starts with an int32 that, subtracted from the
 * table's position, gives its vtable; a vtable is uint16 [vtable bytes,
 * table bytes, field offsets...], 0 meaning "field absent"; reference fields
 * hold a uint32 offset relative to the field's own position; vectors and
 * strings start with a uint32 element count. Field ids follow the schema's
 * declaration order (a union takes two ids: type, then value).
 *
 * Errors are sticky in the reader: the first failure is kept, later reads
 * return zeros, and the caller checks once per object.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mfl/error.h"
#include "tflite_reader.h"

typedef struct {
    const uint8_t *buf;
    size_t len;
    int err;
    char *msg;
    size_t msg_cap;
} fb_t;

__attribute__((format(printf, 3, 4))) static void fail(fb_t *fb, int err, const char *fmt, ...)
{
    if (fb->err) {
        return;
    }
    fb->err = err;
    if (fb->msg && fb->msg_cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(fb->msg, fb->msg_cap, fmt, ap);
        va_end(ap);
    }
}

static int in_bounds(fb_t *fb, size_t pos, size_t n)
{
    if (fb->err || pos > fb->len || n > fb->len - pos) {
        fail(fb, MFL_ERR_TFLITE_FORMAT, "offset %zu+%zu is outside the %zu-byte file", pos, n, fb->len);
        return 0;
    }
    return 1;
}

static uint32_t rd_u32(fb_t *fb, size_t pos)
{
    uint32_t v = 0;
    if (in_bounds(fb, pos, 4)) {
        memcpy(&v, fb->buf + pos, 4);
    }
    return v;
}

static uint16_t rd_u16(fb_t *fb, size_t pos)
{
    uint16_t v = 0;
    if (in_bounds(fb, pos, 2)) {
        memcpy(&v, fb->buf + pos, 2);
    }
    return v;
}

/* Position of field `id` of the table at `table`, or 0 when absent. */
static size_t field_pos(fb_t *fb, size_t table, int id)
{
    const int32_t soff = (int32_t)rd_u32(fb, table);
    const int64_t vt = (int64_t)table - soff;
    if (fb->err || vt < 0 || (uint64_t)vt > fb->len) {
        fail(fb, MFL_ERR_TFLITE_FORMAT, "table at %zu has a vtable outside the file", table);
        return 0;
    }
    const uint16_t vt_size = rd_u16(fb, (size_t)vt);
    const uint16_t table_size = rd_u16(fb, (size_t)vt + 2);
    if (fb->err || vt_size < 4 || (vt_size & 1) || !in_bounds(fb, (size_t)vt, vt_size) ||
        !in_bounds(fb, table, table_size)) {
        fail(fb, MFL_ERR_TFLITE_FORMAT, "malformed vtable for table at %zu", table);
        return 0;
    }
    const size_t slot = 4 + 2 * (size_t)id;
    if (slot + 2 > vt_size) {
        return 0; /* field newer than the writer's schema: absent */
    }
    const uint16_t off = rd_u16(fb, (size_t)vt + slot);
    if (off == 0) {
        return 0;
    }
    if (off + 1u > table_size) {
        fail(fb, MFL_ERR_TFLITE_FORMAT, "field %d of table at %zu lies outside the table", id, table);
        return 0;
    }
    return table + off;
}

static int32_t field_i32(fb_t *fb, size_t table, int id, int32_t dflt)
{
    const size_t p = field_pos(fb, table, id);
    return p ? (int32_t)rd_u32(fb, p) : dflt;
}

static int32_t field_i8(fb_t *fb, size_t table, int id, int32_t dflt)
{
    const size_t p = field_pos(fb, table, id);
    return p && in_bounds(fb, p, 1) ? (int32_t)(int8_t)fb->buf[p] : dflt;
}

static uint8_t field_u8(fb_t *fb, size_t table, int id)
{
    const size_t p = field_pos(fb, table, id);
    return p && in_bounds(fb, p, 1) ? fb->buf[p] : 0;
}

/* Target of a reference field (table, vector or string), or 0 when absent. */
static size_t field_ref(fb_t *fb, size_t table, int id)
{
    const size_t p = field_pos(fb, table, id);
    if (!p) {
        return 0;
    }
    const uint64_t target = (uint64_t)p + rd_u32(fb, p);
    if (fb->err || target >= fb->len) {
        fail(fb, MFL_ERR_TFLITE_FORMAT, "reference at %zu points outside the file", p);
        return 0;
    }
    return (size_t)target;
}

typedef struct {
    size_t pos;   /* first element */
    uint32_t n;
} fb_vec_t;

/* A vector field whose n elements of elem_size bytes lie inside the file. */
static fb_vec_t field_vec(fb_t *fb, size_t table, int id, size_t elem_size)
{
    fb_vec_t v = {0, 0};
    const size_t p = field_ref(fb, table, id);
    if (!p) {
        return v;
    }
    v.n = rd_u32(fb, p);
    v.pos = p + 4;
    if (!in_bounds(fb, v.pos, (size_t)v.n * elem_size)) {
        v.n = 0;
    }
    return v;
}

/* Element i of a vector of tables. */
static size_t vec_table(fb_t *fb, fb_vec_t v, uint32_t i)
{
    const size_t p = v.pos + 4 * (size_t)i;
    const uint64_t target = (uint64_t)p + rd_u32(fb, p);
    if (fb->err || target >= fb->len) {
        fail(fb, MFL_ERR_TFLITE_FORMAT, "vector element at %zu points outside the file", p);
        return 0;
    }
    return (size_t)target;
}

static int32_t vec_i32(fb_t *fb, fb_vec_t v, uint32_t i)
{
    return (int32_t)rd_u32(fb, v.pos + 4 * (size_t)i);
}

static void read_string(fb_t *fb, size_t table, int id, char *dst, size_t cap)
{
    fb_vec_t s = field_vec(fb, table, id, 1);
    size_t n = s.n < cap - 1 ? s.n : cap - 1;
    if (n) {
        memcpy(dst, fb->buf + s.pos, n);
    }
    dst[n] = '\0';
}

/* Tensor fields: shape 0, type 1, buffer 2, name 3, quantization 4.
 * QuantizationParameters: scale 2, zero_point 3, quantized_dimension 6. */
static void read_quantization(fb_t *fb, size_t q, tfl_tensor_t *t)
{
    fb_vec_t scales = field_vec(fb, q, 2, 4);
    fb_vec_t zps = field_vec(fb, q, 3, 8);
    t->quantized_dimension = field_i32(fb, q, 6, 0);
    if (fb->err) {
        return;
    }
    t->scales = calloc(scales.n ? scales.n : 1, sizeof(float));
    t->zero_points = calloc(zps.n ? zps.n : 1, sizeof(int64_t));
    if (!t->scales || !t->zero_points) {
        fail(fb, MFL_ERR_NO_MEMORY, "out of memory reading quantization of %s", t->name);
        return;
    }
    memcpy(t->scales, fb->buf + scales.pos, (size_t)scales.n * 4);
    memcpy(t->zero_points, fb->buf + zps.pos, (size_t)zps.n * 8);
    t->n_scales = scales.n;
    t->n_zero_points = zps.n;
}

/* Buffer fields: data 0, offset 1 (u64), size 2 (u64); offset/size are used
 * by files over 2 GB that keep buffers after the flatbuffer. */
static void read_buffer(fb_t *fb, size_t buffer, tfl_tensor_t *t)
{
    fb_vec_t data = field_vec(fb, buffer, 0, 1);
    if (data.n) {
        t->data = fb->buf + data.pos;
        t->data_size = data.n;
        return;
    }
    const size_t off_pos = field_pos(fb, buffer, 1);
    const size_t size_pos = field_pos(fb, buffer, 2);
    if (off_pos && size_pos && in_bounds(fb, off_pos, 8) && in_bounds(fb, size_pos, 8)) {
        uint64_t off, size;
        memcpy(&off, fb->buf + off_pos, 8);
        memcpy(&size, fb->buf + size_pos, 8);
        if (off > 1 && size && in_bounds(fb, (size_t)off, (size_t)size) && off <= SIZE_MAX) {
            t->data = fb->buf + off;
            t->data_size = (size_t)size;
        }
    }
}

static void read_tensor(fb_t *fb, size_t table, fb_vec_t buffers, tfl_tensor_t *t)
{
    read_string(fb, table, 3, t->name, sizeof(t->name));
    fb_vec_t shape = field_vec(fb, table, 0, 4);
    if (shape.n > TFL_MAX_RANK) {
        fail(fb, MFL_ERR_TFLITE_UNSUPPORTED, "tensor %s has rank %u (at most %d)", t->name, shape.n,
             TFL_MAX_RANK);
        return;
    }
    t->rank = (int32_t)shape.n;
    for (uint32_t i = 0; i < shape.n; i++) {
        t->dims[i] = vec_i32(fb, shape, i);
    }
    t->type = field_i8(fb, table, 1, TFL_TYPE_FLOAT32);
    const uint32_t buffer = (uint32_t)field_i32(fb, table, 2, 0);
    const size_t q = field_ref(fb, table, 4);
    if (q) {
        read_quantization(fb, q, t);
    }
    if (buffer >= buffers.n && buffer != 0) {
        fail(fb, MFL_ERR_TFLITE_FORMAT, "tensor %s refers to buffer %u of %u", t->name, buffer, buffers.n);
        return;
    }
    if (buffer) {
        read_buffer(fb, vec_table(fb, buffers, buffer), t);
    }
}

/* Options tables by union type (BuiltinOptions): Conv2DOptions = 1,
 * DepthwiseConv2DOptions = 2, Pool2DOptions = 5, FullyConnectedOptions = 8,
 * SoftmaxOptions = 9, ConcatenationOptions = 10, AddOptions = 11,
 * ReshapeOptions = 17, MulOptions = 21, ReducerOptions = 27,
 * SubOptions = 28, StridedSliceOptions = 32, LeakyReluOptions = 75. */
static void read_options(fb_t *fb, size_t o, uint8_t type, tfl_op_t *op)
{
    op->has_options = 1;
    switch (type) {
    case 1: /* padding, stride_w, stride_h, activation, dilation_w, dilation_h */
        op->padding = field_i8(fb, o, 0, 0);
        op->stride_w = field_i32(fb, o, 1, 0);
        op->stride_h = field_i32(fb, o, 2, 0);
        op->activation = field_i8(fb, o, 3, 0);
        op->dilation_w = field_i32(fb, o, 4, 1);
        op->dilation_h = field_i32(fb, o, 5, 1);
        break;
    case 2: /* padding, stride_w, stride_h, depth_multiplier, activation, dilations */
        op->padding = field_i8(fb, o, 0, 0);
        op->stride_w = field_i32(fb, o, 1, 0);
        op->stride_h = field_i32(fb, o, 2, 0);
        op->depth_multiplier = field_i32(fb, o, 3, 0);
        op->activation = field_i8(fb, o, 4, 0);
        op->dilation_w = field_i32(fb, o, 5, 1);
        op->dilation_h = field_i32(fb, o, 6, 1);
        break;
    case 5: /* padding, stride_w, stride_h, filter_width, filter_height, activation */
        op->padding = field_i8(fb, o, 0, 0);
        op->stride_w = field_i32(fb, o, 1, 0);
        op->stride_h = field_i32(fb, o, 2, 0);
        op->filter_w = field_i32(fb, o, 3, 0);
        op->filter_h = field_i32(fb, o, 4, 0);
        op->activation = field_i8(fb, o, 5, 0);
        break;
    case 8: /* activation, weights_format, keep_num_dims, asymmetric_quantize_inputs */
        op->activation = field_i8(fb, o, 0, 0);
        op->weights_format = field_i8(fb, o, 1, 0);
        break;
    case 9: { /* beta */
        const size_t p = field_pos(fb, o, 0);
        if (p && in_bounds(fb, p, 4)) {
            memcpy(&op->beta, fb->buf + p, 4);
        }
        break;
    }
    case 10: /* axis, activation */
        op->axis = field_i32(fb, o, 0, 0);
        op->activation = field_i8(fb, o, 1, 0);
        break;
    case 11: /* AddOptions, MulOptions, SubOptions: activation (first field) */
    case 21:
    case 28:
        op->activation = field_i8(fb, o, 0, 0);
        break;
    case 27: /* keep_dims */
        op->keep_dims = field_i8(fb, o, 0, 0);
        break;
    case 32: /* begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask, offset */
        op->begin_mask = field_i32(fb, o, 0, 0);
        op->end_mask = field_i32(fb, o, 1, 0);
        op->ellipsis_mask = field_i32(fb, o, 2, 0);
        op->new_axis_mask = field_i32(fb, o, 3, 0);
        op->shrink_axis_mask = field_i32(fb, o, 4, 0);
        op->offset = field_i8(fb, o, 5, 0);
        break;
    case 49: /* TransposeConvOptions: padding, stride_w, stride_h, activation */
        op->padding = field_i8(fb, o, 0, 0);
        op->stride_w = field_i32(fb, o, 1, 0);
        op->stride_h = field_i32(fb, o, 2, 0);
        op->activation = field_i8(fb, o, 3, 0);
        break;
    case 75: { /* alpha */
        const size_t p = field_pos(fb, o, 0);
        if (p && in_bounds(fb, p, 4)) {
            memcpy(&op->alpha, fb->buf + p, 4);
        }
        break;
    }
    default:
        op->has_options = 0; /* options microfl does not need */
        break;
    }
}

/* A CUSTOM operator's custom_code (OperatorCode field 1), printable
 * characters only: it goes into an error message and comes from the file. */
static void read_custom_code(fb_t *fb, size_t code, char *dst, size_t cap)
{
    read_string(fb, code, 1, dst, cap);
    for (char *c = dst; *c; c++) {
        if (*c < 0x20 || *c > 0x7E) {
            *c = '?';
        }
    }
}

/* Operator: opcode_index 0, inputs 1, outputs 2, options type 3, options 4.
 * OperatorCode: deprecated_builtin_code 0 (byte), custom_code 1 (string),
 * builtin_code 3 (int). microfl runs no custom operator, so one is refused
 * here, by its custom name (what the user's converter log shows). */
static void read_op(fb_t *fb, size_t table, fb_vec_t codes, uint32_t index, tfl_op_t *op)
{
    const uint32_t code_index = (uint32_t)field_i32(fb, table, 0, 0);
    if (code_index >= codes.n) {
        fail(fb, MFL_ERR_TFLITE_FORMAT, "operator refers to opcode %u of %u", code_index, codes.n);
        return;
    }
    const size_t code = vec_table(fb, codes, code_index);
    const int32_t deprecated = field_i8(fb, code, 0, 0);
    const int32_t builtin = field_i32(fb, code, 3, 0);
    /* Writers fill one or both; the larger is the real code (TFLite's rule). */
    op->builtin = builtin > deprecated ? builtin : deprecated;
    if (op->builtin == TFL_OP_CUSTOM) {
        char custom[48];
        read_custom_code(fb, code, custom, sizeof(custom));
        fail(fb, MFL_ERR_TFLITE_UNSUPPORTED, "operator %u (CUSTOM:%s): custom operators are not supported",
             index, custom);
        return;
    }

    fb_vec_t in = field_vec(fb, table, 1, 4);
    fb_vec_t out = field_vec(fb, table, 2, 4);
    if (in.n > TFL_MAX_OP_INPUTS || out.n != 1) {
        fail(fb, MFL_ERR_TFLITE_UNSUPPORTED, "operator %u (%s, builtin code %d) with %u inputs and %u outputs: "
             "not supported", index, tfl_op_name(op->builtin), op->builtin, in.n, out.n);
        return;
    }
    op->n_inputs = (int32_t)in.n;
    for (uint32_t i = 0; i < in.n; i++) {
        op->inputs[i] = vec_i32(fb, in, i);
    }
    op->n_outputs = 1;
    op->output = vec_i32(fb, out, 0);
    op->dilation_w = op->dilation_h = 1;
    const uint8_t options_type = field_u8(fb, table, 3);
    const size_t options = field_ref(fb, table, 4);
    if (options) {
        read_options(fb, options, options_type, op);
    }
}

/* The subgraph's inputs (id 1) or outputs (id 2): 1 .. TFL_MAX_IO indices. */
static uint32_t io_indices(fb_t *fb, size_t subgraph, int id, const char *what, int32_t *dst)
{
    fb_vec_t v = field_vec(fb, subgraph, id, 4);
    if (v.n < 1 || v.n > TFL_MAX_IO) {
        fail(fb, MFL_ERR_TFLITE_UNSUPPORTED, "the model has %u %ss (microfl takes 1 to %d)", v.n, what, TFL_MAX_IO);
        return 0;
    }
    for (uint32_t i = 0; i < v.n; i++) {
        dst[i] = vec_i32(fb, v, i);
    }
    return v.n;
}

static void read_subgraph(fb_t *fb, size_t sg, fb_vec_t codes, fb_vec_t buffers, tfl_model_t *m)
{
    fb_vec_t tensors = field_vec(fb, sg, 0, 4);
    fb_vec_t ops = field_vec(fb, sg, 3, 4);
    m->n_inputs = io_indices(fb, sg, 1, "input", m->inputs);
    m->n_outputs = fb->err ? 0 : io_indices(fb, sg, 2, "output", m->outputs);
    if (fb->err) {
        return;
    }
    m->tensors = calloc(tensors.n ? tensors.n : 1, sizeof(tfl_tensor_t));
    m->ops = calloc(ops.n ? ops.n : 1, sizeof(tfl_op_t));
    if (!m->tensors || !m->ops) {
        fail(fb, MFL_ERR_NO_MEMORY, "out of memory");
        return;
    }
    m->n_tensors = tensors.n;
    m->n_ops = ops.n;
    for (uint32_t i = 0; i < tensors.n && !fb->err; i++) {
        read_tensor(fb, vec_table(fb, tensors, i), buffers, &m->tensors[i]);
    }
    for (uint32_t i = 0; i < ops.n && !fb->err; i++) {
        read_op(fb, vec_table(fb, ops, i), codes, i, &m->ops[i]);
    }
}

int tfl_read(const uint8_t *buf, size_t len, tfl_model_t *m, char *msg, size_t msg_cap)
{
    fb_t fb = {buf, len, 0, msg, msg_cap};
    memset(m, 0, sizeof(*m));
    if (msg && msg_cap) {
        msg[0] = '\0';
    }
    if (!buf || len < 8 || memcmp(buf + 4, "TFL3", 4) != 0) {
        fail(&fb, MFL_ERR_TFLITE_FORMAT, "not a .tflite file (no TFL3 identifier)");
        return fb.err;
    }
    const size_t root = rd_u32(&fb, 0);
    /* Model: version 0, operator_codes 1, subgraphs 2, description 3, buffers 4. */
    const uint32_t version = (uint32_t)field_i32(&fb, root, 0, 0);
    fb_vec_t codes = field_vec(&fb, root, 1, 4);
    fb_vec_t subgraphs = field_vec(&fb, root, 2, 4);
    fb_vec_t buffers = field_vec(&fb, root, 4, 4);
    if (!fb.err && version != 3) {
        fail(&fb, MFL_ERR_TFLITE_UNSUPPORTED, "schema version %u (microfl reads version 3)", version);
    }
    if (!fb.err && subgraphs.n != 1) {
        fail(&fb, MFL_ERR_TFLITE_UNSUPPORTED, "the model has %u subgraphs (microfl runs exactly one)",
             subgraphs.n);
    }
    if (!fb.err) {
        read_subgraph(&fb, vec_table(&fb, subgraphs, 0), codes, buffers, m);
    }
    if (fb.err) {
        tfl_free(m);
    }
    return fb.err;
}

void tfl_free(tfl_model_t *m)
{
    if (!m) {
        return;
    }
    for (uint32_t i = 0; m->tensors && i < m->n_tensors; i++) {
        free(m->tensors[i].scales);
        free(m->tensors[i].zero_points);
    }
    free(m->tensors);
    free(m->ops);
    memset(m, 0, sizeof(*m));
}
